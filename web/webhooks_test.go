package web_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
)

// verifyStandardWebhook checks a request the way a receiver following the
// Standard Webhooks specification would, written from the specification's
// text: the signed content is "<webhook-id>.<webhook-timestamp>.<body>", the
// key is the base64 part of the secret after the whsec_ prefix, the
// signature is HMAC-SHA256 in base64, and webhook-signature is a
// space-separated list of "<version>,<signature>" of which one v1 must match.
func verifyStandardWebhook(secret string, h http.Header, body []byte) (ok bool, why string) {
	id, ts, sigs := h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), h.Get("Webhook-Signature")
	if id == "" || ts == "" || sigs == "" {
		return false, "a webhook-* header is missing"
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false, "timestamp is not integer seconds"
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return false, "timestamp outside tolerance"
	}
	b64 := secret[len("whsec_"):]
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return false, "secret not base64"
	}
	signed := strings.Join([]string{id, ts, string(body)}, ".")
	m := hmac.New(sha256.New, key)
	io.WriteString(m, signed)
	want := m.Sum(nil)
	for _, part := range strings.Fields(sigs) {
		version, value, found := strings.Cut(part, ",")
		if !found || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(value)
		if err == nil && hmac.Equal(got, want) {
			return true, ""
		}
	}
	return false, "no v1 signature matches"
}

type received struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP server on loopback that fails the first failFirst
// requests with 500 and records every request.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	got       []received
	srv       *httptest.Server
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	rc := &receiver{failFirst: failFirst}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{r.Header.Clone(), b})
		fail := len(rc.got) <= rc.failFirst
		rc.mu.Unlock()
		if fail {
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// wait returns the first n requests, waiting for them.
func (rc *receiver) wait(t *testing.T, n int) []received {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		rc.mu.Lock()
		got := append([]received(nil), rc.got...)
		rc.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver got %d requests, want %d", len(got), n)
		}
	}
}

func fastWebhooks(c *site.Config) {
	c.Plugins.UnsafeAllowLoopbackEgress = true
	c.Jobs.Poll = 20 * time.Millisecond
	c.WebhookDelays = []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}
}

// A webhook receives signed entry events from the queue, retries after a
// 500, logs every attempt, and a redelivery resends the same message.
func TestWebhookDeliveryRetryAndRedeliver(t *testing.T) {
	ts := newTestSite(t, fastWebhooks)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(postsCollection)
	admin.mustCreateCollection(map[string]any{"name": "pages", "label": "Pages",
		"fields": []map[string]any{{"name": "title", "type": "string"}}})
	rc := newReceiver(t, 1)

	var created struct {
		ID, Secret, URL string
		Events          []string
	}
	admin.do("POST", "/api/webhooks", map[string]any{"url": rc.srv.URL + "/hook",
		"events": []string{"entry.created", "entry.published"}, "collections": []string{"posts"}}).
		want(http.StatusCreated).decode(&created)
	if created.ID == "" || !strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("create answered %+v", created)
	}
	// The secret is shown once: reads never carry it.
	if b := admin.do("GET", "/api/webhooks/"+created.ID, nil).want(http.StatusOK).Body; strings.Contains(string(b), created.Secret) || strings.Contains(string(b), "secret") {
		t.Fatalf("GET shows the secret: %s", b)
	}

	admin.createEntry("pages", map[string]any{"title": "not wanted"}) // another collection: no delivery
	e := admin.createEntry("posts", map[string]any{"title": "Hello"})
	got := rc.wait(t, 2) // a 500, then the retry
	for i, g := range got {
		if ok, why := verifyStandardWebhook(created.Secret, g.header, g.body); !ok {
			t.Fatalf("request %d: signature does not verify: %s", i, why)
		}
	}
	if got[0].header.Get("Webhook-Id") != got[1].header.Get("Webhook-Id") {
		t.Fatal("a retry changed webhook-id")
	}
	var msg struct {
		Type      string
		Timestamp time.Time
		Data      struct {
			Collection string
			Entry      struct{ ID string }
		}
	}
	if err := json.Unmarshal(got[1].body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "entry.created" || msg.Data.Collection != "posts" || msg.Data.Entry.ID != e.ID || msg.Timestamp.IsZero() {
		t.Fatalf("body %s", got[1].body)
	}
	if ok, _ := verifyStandardWebhook(created.Secret, got[1].header, append(got[1].body, ' ')); ok {
		t.Fatal("the verifier accepts a changed body")
	}

	admin.action("posts", e.ID, "publish", nil).want(http.StatusOK)
	got = rc.wait(t, 3)
	if !strings.Contains(string(got[2].body), `"type":"entry.published"`) {
		t.Fatalf("third delivery %s", got[2].body)
	}

	// The log: newest first; the created delivery succeeded on attempt 2.
	var list struct {
		Deliveries []struct {
			ID, Type, Status, MessageID string
			Attempts                    int
			ResponseCode                *int
		} `json:"items"`
	}
	var first struct {
		ID, Status string
		Attempts   int
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		admin.do("GET", "/api/webhooks/"+created.ID+"/deliveries", nil).want(http.StatusOK).decode(&list)
		if len(list.Deliveries) == 2 && list.Deliveries[0].Status == "succeeded" && list.Deliveries[1].Status == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries never all succeeded: %+v", list)
		}
	}
	d := list.Deliveries[1]
	if d.Type != "entry.created" || d.Attempts != 2 || d.ResponseCode == nil || *d.ResponseCode != 204 || d.MessageID != got[0].header.Get("Webhook-Id") {
		t.Fatalf("created delivery %+v", d)
	}
	var one struct {
		AttemptLog []struct {
			Attempt      int
			ResponseCode *int
			Error        string
		}
	}
	admin.do("GET", "/api/webhooks/"+created.ID+"/deliveries/"+d.ID, nil).want(http.StatusOK).decode(&one)
	if len(one.AttemptLog) != 2 || *one.AttemptLog[0].ResponseCode != 500 || !strings.Contains(one.AttemptLog[0].Error, "500") ||
		*one.AttemptLog[1].ResponseCode != 204 {
		t.Fatalf("attempt log %+v", one.AttemptLog)
	}

	admin.do("POST", "/api/webhooks/"+created.ID+"/deliveries/"+d.ID+"/redeliver", nil).want(http.StatusAccepted).decode(&first)
	got = rc.wait(t, 4)
	if got[3].header.Get("Webhook-Id") != d.MessageID || string(got[3].body) != string(got[1].body) {
		t.Fatalf("redelivery is not the same message: %s %s", got[3].header.Get("Webhook-Id"), got[3].body)
	}
	if ok, why := verifyStandardWebhook(created.Secret, got[3].header, got[3].body); !ok {
		t.Fatal(why)
	}
	admin.do("POST", "/api/webhooks/"+created.ID+"/deliveries/nope/redeliver", nil).problem(http.StatusNotFound)

	// PUT replaces the definition and keeps the secret; a bad one changes nothing.
	var put struct {
		URL    string
		Events []string
	}
	admin.do("PUT", "/api/webhooks/"+created.ID, map[string]any{"url": rc.srv.URL + "/v2", "events": []string{"*", "entry.updated"}}).
		want(http.StatusOK).decode(&put)
	if put.URL != rc.srv.URL+"/v2" || len(put.Events) != 1 || put.Events[0] != "*" {
		t.Fatalf("PUT answered %+v", put)
	}
	if p := admin.do("PUT", "/api/webhooks/"+created.ID, map[string]any{"url": rc.srv.URL, "events": []string{"page.viewed"}}).problem(http.StatusUnprocessableEntity); !hasErrorAt(p, "/events/0") {
		t.Fatalf("bad PUT: %+v", p)
	}
	admin.do("PUT", "/api/webhooks/nope", map[string]any{"url": rc.srv.URL, "events": []string{"*"}}).problem(http.StatusNotFound)

	// Deleting the webhook stops its deliveries.
	admin.do("DELETE", "/api/webhooks/"+created.ID, nil).want(http.StatusNoContent)
	admin.do("GET", "/api/webhooks/"+created.ID, nil).problem(http.StatusNotFound)
}

// Hostile and mistaken definitions are refused with a problem naming the
// field; only admins manage webhooks.
func TestWebhookBadInput(t *testing.T) {
	ts := newTestSite(t) // no loopback switch: https only, private addresses refused
	admin := ts.as(cms.RoleAdmin)
	cases := []struct {
		name   string
		body   any
		status int
		path   string
		says   string
	}{
		{"no url", map[string]any{"events": []string{"*"}}, 422, "/url", "required"},
		{"not a url", map[string]any{"url": "::nope", "events": []string{"*"}}, 422, "/url", ""},
		{"ftp", map[string]any{"url": "ftp://example.com/", "events": []string{"*"}}, 422, "/url", "ftp"},
		{"plain http", map[string]any{"url": "http://example.com/", "events": []string{"*"}}, 422, "/url", "https"},
		{"credentials", map[string]any{"url": "https://u:p@example.com/", "events": []string{"*"}}, 422, "/url", "credentials"},
		{"private address", map[string]any{"url": "https://10.1.2.3/hook", "events": []string{"*"}}, 422, "/url", "10.1.2.3"},
		{"loopback", map[string]any{"url": "https://127.0.0.1/hook", "events": []string{"*"}}, 422, "/url", "127.0.0.1"},
		{"metadata", map[string]any{"url": "https://169.254.169.254/", "events": []string{"*"}}, 422, "/url", "169.254.169.254"},
		{"localhost name", map[string]any{"url": "https://localhost/hook", "events": []string{"*"}}, 422, "/url", "localhost"},
		{"odd numeric host", map[string]any{"url": "https://2130706433/", "events": []string{"*"}}, 422, "/url", ""},
		{"no events", map[string]any{"url": "https://example.com/"}, 422, "/events", "at least one"},
		{"unknown event", map[string]any{"url": "https://example.com/", "events": []string{"entry.created", "entry.exploded"}}, 422, "/events/1", "entry.exploded"},
		{"bad collection", map[string]any{"url": "https://example.com/", "events": []string{"*"}, "collections": []string{""}}, 422, "/collections/0", ""},
		{"unknown field", map[string]any{"url": "https://example.com/", "events": []string{"*"}, "secret": "x"}, 400, "/secret", ""},
		{"wrong type", map[string]any{"url": "https://example.com/", "events": "*"}, 400, "/events", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := admin.do("POST", "/api/webhooks", c.body).problem(c.status)
			if !hasErrorAt(p, c.path) {
				t.Fatalf("problem %+v names no error at %s", p, c.path)
			}
			if c.says != "" && !strings.Contains(p.Detail, c.says) {
				t.Fatalf("detail %q does not say %q", p.Detail, c.says)
			}
		})
	}
	if n := len(admin.do("GET", "/api/webhooks", nil).want(http.StatusOK).object()["items"].([]any)); n != 0 {
		t.Fatalf("%d webhooks stored after refusals", n)
	}
	ts.as(cms.RoleEditor).do("GET", "/api/webhooks", nil).problem(http.StatusForbidden)
	ts.anon().do("GET", "/api/webhooks", nil).problem(http.StatusUnauthorized)
	admin.do("GET", "/api/webhooks/x/deliveries?limit=0", nil).problem(http.StatusBadRequest)
}

// Media uploads and deletes reach a webhook subscribed to the media events;
// its collections filter (for entry events) does not hide them.
func TestWebhookMediaEvents(t *testing.T) {
	ts := newTestSite(t, fastWebhooks)
	admin := ts.as(cms.RoleAdmin)
	rc := newReceiver(t, 0)
	var created struct{ ID, Secret string }
	admin.do("POST", "/api/webhooks", map[string]any{"url": rc.srv.URL, "events": []string{"media.created", "media.deleted"},
		"collections": []string{"posts"}}).want(http.StatusCreated).decode(&created)
	m := admin.mustUpload(filePart("dot.png", "image/png", testPNG(t, 2, 2)))
	admin.do("DELETE", "/api/media/"+m.ID, nil).want(http.StatusNoContent)
	got := rc.wait(t, 2)
	types := map[string]bool{}
	for _, g := range got {
		if ok, why := verifyStandardWebhook(created.Secret, g.header, g.body); !ok {
			t.Fatal(why)
		}
		var msg struct {
			Type string
			Data struct{ Media struct{ ID string } }
		}
		if err := json.Unmarshal(g.body, &msg); err != nil || msg.Data.Media.ID != m.ID {
			t.Fatalf("body %s (%v)", g.body, err)
		}
		types[msg.Type] = true
	}
	if !types["media.created"] || !types["media.deleted"] {
		t.Fatalf("types %v", types)
	}
}
