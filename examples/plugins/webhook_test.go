package examples

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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

// TestWebhookHTTP: a plain-http receiver is refused, whatever the setting
// says: hosts from settings are https only, and nothing is sent.
func TestWebhookHTTP(t *testing.T) {
	ex := load(t, "webhook")
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	_, err := ex.run(t, plugins.LocalRun{
		Name: "content:afterPublish", Event: ex.fixture(t, "content.afterPublish.json"),
		Settings: map[string]any{"url": srv.URL + "/pilcrow"}, Secrets: map[string]string{"token": webhookSecret},
		UnsafeAllowLoopback: true,
	})
	if msg := scriptError(t, err).Message; !strings.Contains(msg, "not an https:// URL") {
		t.Errorf("error %q, want the http address refused", msg)
	}
	if n := len(rc.deliveries()); n != 0 {
		t.Fatalf("receiver got %d requests over http", n)
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
	var m *manifest.Manifest // the shipped one: its host comes from the setting
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

	if n := len(rc.deliveries()); n != 2 {
		t.Errorf("receiver got %d requests, want the 2 earlier ones", n)
	}
}

// TestWebhookSSRF: an address from the settings goes through every egress
// rule: loopback (when the site does not allow it), link-local metadata and
// private addresses are refused at dial time, and the token is not sent.
func TestWebhookSSRF(t *testing.T) {
	ex := load(t, "webhook")
	rc := &receiver{}
	srv := httptest.NewTLSServer(rc)
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	s := newSite(t, egress.Options{RootCAs: roots}, fakeContent{}) // loopback not allowed
	for _, target := range []string{srv.URL + "/hooks", "https://169.254.169.254/latest/meta-data", "https://10.0.0.1/", "https://[::1]:8443/"} {
		_, err := s.run(t, ex, nil, sandbox.KindHook, "content:afterPublish", ex.fixture(t, "content.afterPublish.json"),
			map[string]any{"url": target}, map[string]string{"token": webhookSecret})
		if msg := scriptError(t, err).Message; !strings.Contains(msg, "loopback") && !strings.Contains(msg, "metadata") && !strings.Contains(msg, "private") {
			t.Errorf("%s: error %q, want the address refused", target, msg)
		}
	}
	if n := len(rc.deliveries()); n != 0 {
		t.Fatalf("the loopback receiver got %d requests", n)
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
		{"http receiver", map[string]any{"url": "http://hooks.example.com/x"}, nil, "not an https:// URL"},
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
