package examples

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
)

// delivery is one request the test receiver got.
type delivery struct {
	method, path, contentType, auth string
	body                            []byte
}

// receiver is a webhook endpoint on loopback recording what it receives.
type receiver struct {
	mu     sync.Mutex
	got    []delivery
	status int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, delivery{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), body})
	status := rc.status
	rc.mu.Unlock()
	if status == 0 {
		status = http.StatusNoContent
	}
	w.WriteHeader(status)
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// pointedAt returns the webhook's manifest with the placeholder receiver host
// hooks.example.com replaced by the test server's host:port, in allowedHosts
// and in the token's inject binding, as an admin would for their receiver.
func pointedAt(t *testing.T, ex *example, serverURL string) *manifest.Manifest {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	raw := strings.ReplaceAll(string(ex.raw), `"hooks.example.com"`, `"`+u.Host+`"`)
	if raw == string(ex.raw) {
		t.Fatal("manifest.json no longer names hooks.example.com")
	}
	m, problems := manifest.Parse([]byte(raw))
	if len(problems) > 0 {
		t.Fatalf("rewritten manifest: %v", problems)
	}
	return m
}

// payload decodes a delivery's body.
func payload(t *testing.T, d delivery) map[string]any {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(d.body, &p); err != nil {
		t.Fatalf("body %q: %v", d.body, err)
	}
	return p
}

const webhookSecret = "s3cret-token-never-in-plugin-code"

// TestWebhookHTTP runs the hook through plugins.RunLocal against a plain-HTTP
// receiver on loopback: exactly one POST with the payload, and no token, since
// secrets are only ever injected over https.
func TestWebhookHTTP(t *testing.T) {
	ex := load(t, "webhook")
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	m := pointedAt(t, ex, srv.URL)

	res, err := ex.run(t, plugins.LocalRun{
		Manifest: m, Name: "content:afterPublish", Event: ex.fixture(t, "content.afterPublish.json"),
		Settings: map[string]any{"url": srv.URL + "/pilcrow"}, Secrets: map[string]string{"token": webhookSecret},
		UnsafeAllowLoopback: true,
	})
	if err != nil {
		t.Fatalf("hook failed: %v", err)
	}
	got := rc.deliveries()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	d := got[0]
	if d.method != http.MethodPost || d.path != "/pilcrow" || d.contentType != "application/json" {
		t.Errorf("got %s %s (%s), want POST /pilcrow (application/json)", d.method, d.path, d.contentType)
	}
	if d.auth != "" {
		t.Errorf("Authorization %q sent over plain http", d.auth)
	}
	// RunLocal's throwaway site has no content service, so the slug comes
	// from the entry's data and publishedAt is unknown.
	want := `{"collection":"posts","event":"content:afterPublish","id":"01JB7T0A1B2C3D4E5F6G7H8J9K","publishedAt":null,"slug":"hello-world"}`
	if p := mustJSON(t, payload(t, d)); p != want {
		t.Errorf("payload %s, want %s", p, want)
	}
	if res.Usage.Subrequests != 1 || !hasLog(res, "info", "delivered") {
		t.Errorf("subrequests %d, logs %+v: want one delivery logged", res.Usage.Subrequests, res.Logs)
	}
}

// fakeContent answers ctx.content.get with one published entry.
type fakeContent struct{ plugins.ContentAPI }

func (fakeContent) Get(_ context.Context, collection, id string) (any, error) {
	return map[string]any{
		"id": id, "collection": collection, "slug": "hello-world-2026", "status": "published", "version": 3,
		"data": map[string]any{"title": "Hello, world"}, "createdAt": "2026-03-01T08:00:00Z",
		"updatedAt": "2026-03-14T09:30:00Z", "publishedAt": "2026-03-14T09:30:00Z",
	}, nil
}

// TestWebhookHTTPS delivers over https, where the egress client injects the
// bound token. plugins.RunLocal cannot trust a test certificate (it builds
// its egress client without RootCAs), so this runs on a test site wired with
// the same host, grants and limits (see site).
func TestWebhookHTTPS(t *testing.T) {
	ex := load(t, "webhook")
	rc := &receiver{}
	srv := httptest.NewTLSServer(rc)
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	s := newSite(t, egress.Options{RootCAs: roots, UnsafeAllowLoopback: true}, fakeContent{})
	m := pointedAt(t, ex, srv.URL)
	settings := map[string]any{"url": srv.URL + "/hooks/pilcrow"}
	secrets := map[string]string{"token": webhookSecret}

	res, err := s.run(t, ex, m, sandbox.KindHook, "content:afterPublish", ex.fixture(t, "content.afterPublish.json"), settings, secrets)
	if err != nil {
		t.Fatalf("hook failed: %v", err)
	}
	got := rc.deliveries()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	if got[0].auth != "Bearer "+webhookSecret {
		t.Errorf("Authorization %q, want the injected bearer token", got[0].auth)
	}
	want := `{"collection":"posts","event":"content:afterPublish","id":"01JB7T0A1B2C3D4E5F6G7H8J9K","publishedAt":"2026-03-14T09:30:00Z","slug":"hello-world-2026"}`
	if p := mustJSON(t, payload(t, got[0])); p != want {
		t.Errorf("payload %s, want %s", p, want)
	}
	for _, l := range res.Logs {
		if strings.Contains(l.Message, webhookSecret) {
			t.Errorf("the token reached a log line: %q", l.Message)
		}
	}

	// A receiver error fails the invocation, so the after-hook queue retries it.
	rc.mu.Lock()
	rc.status = http.StatusServiceUnavailable
	rc.mu.Unlock()
	_, err = s.run(t, ex, m, sandbox.KindHook, "content:afterPublish", ex.fixture(t, "content.afterPublish.json"), settings, secrets)
	if msg := scriptError(t, err).Message; !strings.Contains(msg, "the receiver answered HTTP 503") {
		t.Errorf("error %q, want it to name the receiver's status", msg)
	}

	// A URL outside the allowed hosts is refused by the egress client.
	settings["url"] = "https://elsewhere.example.net/hook"
	_, err = s.run(t, ex, m, sandbox.KindHook, "content:afterPublish", ex.fixture(t, "content.afterPublish.json"), settings, secrets)
	// The refusal reaches the plugin as its fetch's rejection, which it
	// does not catch, so the hook fails with the egress client's message.
	if msg := scriptError(t, err).Message; !strings.Contains(msg, "host not allowed") {
		t.Errorf("error %q, want the egress refusal", msg)
	}
	if n := len(rc.deliveries()); n != 2 {
		t.Errorf("receiver got %d requests, want the 2 earlier ones only", n)
	}
}

// TestWebhookMisconfigured: without a receiver URL, or without the network
// capability, the hook fails with a message saying which.
func TestWebhookMisconfigured(t *testing.T) {
	ex := load(t, "webhook")
	tests := []struct {
		name     string
		settings map[string]any
		deny     []manifest.Capability
		want     string
	}{
		{"no receiver URL", nil, nil, "the Receiver URL setting is empty"},
		{"network withheld", map[string]any{"url": "https://hooks.example.com/x"}, []manifest.Capability{"network:request"}, "network:request capability is not granted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ex.run(t, plugins.LocalRun{Name: "content:afterPublish", Event: ex.fixture(t, "content.afterPublish.json"), Settings: tt.settings, Deny: tt.deny})
			if msg := scriptError(t, err).Message; !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want it to contain %q", msg, tt.want)
			}
		})
	}
}
