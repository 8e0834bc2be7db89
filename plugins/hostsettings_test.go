package plugins

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
)

const fromSettingsManifest = `{"id": "hook", "version": "1.0.0", "name": "Hook",
  "capabilities": ["network:request"],
  "network": {"allowedHostsFromSettings": ["url"]},
  "settings": [
    {"key": "url", "label": "Receiver URL", "type": "url"},
    {"key": "token", "label": "Token", "type": "secret", "inject": {"hostFromSetting": "url", "header": "Authorization: Bearer {value}"}}
  ]}`

// A url setting named by allowedHostsFromSettings allows its host, over
// https only, on its port only, and carries the secret bound to it; every
// other address stays refused, and with loopback not allowed the egress
// client refuses a setting pointing at loopback or the metadata address.
func TestHostsFromSettings(t *testing.T) {
	var mu sync.Mutex
	var auths []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	m := mustManifest(t, fromSettingsManifest)
	p := &Plugin{Manifest: m, Secrets: map[string]string{"token": "s3cret"}, Settings: map[string]any{"url": srv.URL + "/in"}}
	h := newTestHost(t, mapDirectory{"hook": p})
	h.Egress = egress.New(egress.Options{UnsafeAllowLoopback: true, RootCAs: roots})

	out, err := call(t, h, "hook", "http.fetch", srv.URL+"/other/path", map[string]any{"method": "POST", "body": "x"})
	if err != nil || !strings.Contains(out, `"status":204`) {
		t.Fatalf("fetch to the saved host: %s, %v", out, err)
	}
	mu.Lock()
	if len(auths) != 1 || auths[0] != "Bearer s3cret" {
		t.Errorf("Authorization = %v, want the token bound to the saved host", auths)
	}
	mu.Unlock()
	for _, refused := range []string{
		strings.Replace(srv.URL, "https://", "http://", 1) + "/in",               // https only
		"https://127.0.0.2:" + srv.URL[strings.LastIndex(srv.URL, ":")+1:] + "/", // another host
		"https://127.0.0.1:1/", // another port
		"https://elsewhere.example.net/",
	} {
		if _, err := call(t, h, "hook", "http.fetch", refused); err == nil || !strings.Contains(err.Error(), "not in the plugin's allowed hosts") {
			t.Errorf("fetch %s: %v, want it refused", refused, err)
		}
	}

	// Unset, or not https: nothing is allowed.
	for _, v := range []any{nil, "", "http://" + strings.TrimPrefix(srv.URL, "https://")} {
		p.Settings = map[string]any{"url": v}
		if _, err := call(t, h, "hook", "http.fetch", srv.URL+"/in"); err == nil {
			t.Errorf("setting %v: the fetch went through", v)
		}
	}

	// The egress rules still apply: a site that does not allow loopback
	// refuses the loopback receiver and the metadata address at dial time.
	h.Egress = egress.New(egress.Options{RootCAs: roots})
	for _, target := range []string{srv.URL + "/in", "https://169.254.169.254/latest/meta-data/"} {
		p.Settings = map[string]any{"url": target}
		_, err := call(t, h, "hook", "http.fetch", target)
		var be *egress.BlockedError
		if !errors.As(err, &be) {
			t.Errorf("fetch %s without loopback allowed: %v, want it blocked", target, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auths) != 1 {
		t.Errorf("the receiver got %d requests, want 1", len(auths))
	}
}

// The settings form says which host a saved address allows, and refuses
// an address that is not https.
func TestHostsFromSettingsForm(t *testing.T) {
	r := newRig(t, QueueConfig{})
	r.inline(fromSettingsManifest, `export default {};`)
	ctx := context.Background()
	if _, err := r.m.UpdateSettings(ctx, "hook", map[string]json.RawMessage{"url": json.RawMessage(`"http://hooks.example.com/x"`)}); err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("an http address was saved: %v", err)
	}
	view, err := r.m.Settings(ctx, "hook")
	if err != nil || view.AllowedHosts["url"] != "" {
		t.Fatalf("before saving: %+v, %v", view.AllowedHosts, err)
	}
	view, err = r.m.UpdateSettings(ctx, "hook", map[string]json.RawMessage{"url": json.RawMessage(`"https://Hooks.Example.com:8443/in"`)})
	if err != nil || view.AllowedHosts["url"] != "https://hooks.example.com:8443" {
		t.Fatalf("after saving: %+v, %v", view.AllowedHosts, err)
	}
	info, err := r.m.Get(ctx, "hook")
	if err != nil {
		t.Fatal(err)
	}
	want := `Send requests to the address you enter in "Receiver URL"`
	if !strings.Contains(strings.Join(info.Consent.Lines, "\n"), want) || len(info.Consent.HostsFromSettings) != 1 {
		t.Errorf("consent %+v, want the line %q", info.Consent, want)
	}
}
