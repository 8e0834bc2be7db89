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

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

func mustManifest(t *testing.T, src string) *manifest.Manifest {
	t.Helper()
	m, problems := manifest.Parse([]byte(src))
	if len(problems) > 0 {
		t.Fatalf("manifest: %v", problems)
	}
	return m
}

// mapDirectory holds the plugins a testHost answers for, by the id the test
// calls them with.
type mapDirectory map[string]*Plugin

// testHost binds a Host per call, as every invocation does.
type testHost struct {
	*Services
	plugins mapDirectory
}

func newTestHost(t *testing.T, plugins mapDirectory) *testHost {
	t.Helper()
	db := openSpec(t, storagetest.Spec(t, ""))
	data := storage.NewPluginData(db)
	for _, p := range plugins {
		if err := data.SyncIndexes(context.Background(), p.Manifest.ID, StorageCollections(p.Manifest), true); err != nil {
			t.Fatal(err)
		}
	}
	return &testHost{Services: &Services{Data: data, Egress: egress.New(egress.Options{UnsafeAllowLoopback: true})}, plugins: plugins}
}

// call makes one host call of plugin, bound with the capabilities the test
// gave it (the manifest's when none).
func call(t *testing.T, h *testHost, plugin, method string, args ...any) (string, error) {
	t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := h.plugins[plugin]
	if !ok {
		return "", errors.New("unknown plugin")
	}
	bound := *p
	if bound.Capabilities == nil {
		bound.Capabilities = p.Manifest.Capabilities
	}
	out, err := h.Bind(&bound, nil).Call(context.Background(), p.Manifest.ID, method, raw)
	return string(out), err
}

const auditManifest = `{"id": "audit", "version": "1.0.0", "name": "Audit",
  "storage": {"events": {"indexes": ["kind", ["entry", "at"]]}}}`

func TestHostScopesKVAndStorageByPlugin(t *testing.T) {
	h := newTestHost(t, mapDirectory{
		"audit": {Manifest: mustManifest(t, auditManifest)},
		"evil":  {Manifest: mustManifest(t, `{"id": "evil", "version": "1.0.0", "name": "Evil", "storage": {"events": {"indexes": ["kind"]}}}`)},
	})
	if _, err := call(t, h, "audit", "kv.set", "token", map[string]any{"v": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := call(t, h, "audit", "storage.events.put", "e1", map[string]any{"kind": "save", "entry": "x"}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"token", "audit:token", "../audit/token", "audit/token"} {
		if out, err := call(t, h, "evil", "kv.get", key); err != nil || out != "null" {
			t.Errorf("evil kv.get(%q) = %s, %v; want null", key, out, err)
		}
	}
	if out, err := call(t, h, "evil", "storage.events.get", "e1"); err != nil || out != "null" {
		t.Errorf("evil reads audit's document: %s, %v", out, err)
	}
	if out, _ := call(t, h, "evil", "storage.events.query", map[string]any{"where": map[string]any{"kind": "save"}}); strings.Contains(out, "e1") {
		t.Errorf("evil's query sees audit's document: %s", out)
	}
	if out, err := call(t, h, "audit", "kv.get", "token"); err != nil || out != `{"v":1}` {
		t.Errorf("audit kv.get = %s, %v", out, err)
	}
}

func TestHostStorageRules(t *testing.T) {
	// Granted content:read and email:send, whose services this site lacks.
	h := newTestHost(t, mapDirectory{"audit": {Manifest: mustManifest(t, auditManifest),
		Capabilities: []manifest.Capability{manifest.ContentRead, manifest.EmailSend}}})
	for i, kind := range []string{"save", "delete", "save"} {
		if _, err := call(t, h, "audit", "storage.events.put", string(rune('a'+i)), map[string]any{"kind": kind, "entry": "e", "body": "x"}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := call(t, h, "audit", "storage.events.query", map[string]any{"where": map[string]any{"kind": "save"}, "limit": 1})
	if err != nil || !strings.Contains(out, `"cursor":"`) || !strings.Contains(out, `"hasMore":true`) || strings.Contains(out, `"id":"c"`) {
		t.Fatalf("paged query: %s, %v", out, err)
	}
	if out, err := call(t, h, "audit", "storage.events.count", map[string]any{"entry": "e"}); err != nil || out != "3" {
		t.Fatalf("count on a composite index field: %s, %v", out, err)
	}
	cases := []struct {
		method string
		args   []any
		want   string
	}{
		{"storage.events.query", []any{map[string]any{"where": map[string]any{"body": "x"}}}, `field "body" is not indexed`},
		{"storage.undeclared.get", []any{"a"}, "not declared"},
		{"storage.events.get", []any{42}, "id must be a string"},
		{"storage.events.put", []any{"a"}, "needs a document"},
		{"storage.events.put", []any{"a", []int{1}}, "JSON object"},
		{"kv.set", []any{"k"}, "needs a value"},
		{"kv.get", []any{}, "missing argument key"},
		{"nope.method", nil, "unknown method"},
		{"email.send", []any{map[string]any{"to": []string{"a@b.c"}}}, "no mail transport is configured"},
		{"content.get", []any{"posts", "1"}, "not available"},
	}
	for _, tc := range cases {
		_, err := call(t, h, "audit", tc.method, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s%v: err %v, want %q", tc.method, tc.args, err, tc.want)
		}
	}
}

func TestHostFetchInjectsBoundSecretsOnly(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("X-Api-Key"))
		mu.Unlock()
		w.Header().Set("X-Reply", "yes")
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("short and stout"))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	m := mustManifest(t, `{"id": "hook", "version": "1.0.0", "name": "Hook",
	  "capabilities": ["network:request"],
	  "network": {"allowedHosts": ["`+host+`"]},
	  "settings": [{"key": "apiKey", "label": "API key", "type": "secret",
	                "inject": {"host": "`+host+`", "header": "X-Api-Key: {value}"}}]}`)
	h := newTestHost(t, mapDirectory{"hook": {Manifest: m, Secrets: map[string]string{"apiKey": "s3cret"}}})

	out, err := call(t, h, "hook", "http.fetch", srv.URL+"/ping", map[string]any{"method": "POST", "body": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	var res fetchResponse
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusTeapot || res.Body == nil || *res.Body != "short and stout" || res.Headers["x-reply"] != "yes" || res.OK {
		t.Fatalf("response %+v", res)
	}
	if strings.Contains(out, "s3cret") {
		t.Fatal("the secret reached the plugin in the response")
	}
	// The egress client only injects over https; over plain http the secret
	// must not be sent at all.
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] == "s3cret" {
		t.Fatalf("server saw X-Api-Key %q over plain http", seen)
	}
	if _, err := call(t, h, "hook", "http.fetch", "http://example.invalid/"); !errors.Is(err, egress.ErrHostNotAllowed) {
		t.Fatalf("unlisted host: %v", err)
	}
}

func TestHostFetchInjectsSecretOverHTTPS(t *testing.T) {
	var got string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	m := mustManifest(t, `{"id": "hook", "version": "1.0.0", "name": "Hook",
	  "capabilities": ["network:request"],
	  "network": {"allowedHosts": ["`+host+`"]},
	  "settings": [{"key": "token", "label": "Token", "type": "secret",
	                "inject": {"host": "`+host+`", "header": "Authorization: Bearer {value}"}}]}`)
	h := newTestHost(t, mapDirectory{"hook": {Manifest: m, Secrets: map[string]string{"token": "s3cret"}}})
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	h.Egress = egress.New(egress.Options{UnsafeAllowLoopback: true, RootCAs: roots})
	out, err := call(t, h, "hook", "http.fetch", srv.URL+"/v1")
	if err != nil {
		t.Fatal(err)
	}
	if got != "Bearer s3cret" {
		t.Fatalf("server got Authorization %q", got)
	}
	if strings.Contains(out, "s3cret") {
		t.Fatal("the secret leaked into the plugin's response")
	}
}

func TestHostKVListReturnsEntries(t *testing.T) {
	h := newTestHost(t, mapDirectory{"p": {Manifest: mustManifest(t, `{"id": "p1", "version": "1.0.0", "name": "P"}`)}})
	for _, k := range []string{"a:1", "a:2", "b:1"} {
		if _, err := call(t, h, "p", "kv.set", k, k); err != nil {
			t.Fatal(err)
		}
	}
	out, err := call(t, h, "p", "kv.list", "a:")
	if err != nil || out != `[{"key":"a:1","value":"a:1"},{"key":"a:2","value":"a:2"}]` {
		t.Fatalf("kv.list = %s, %v", out, err)
	}
	if out, _ := call(t, h, "p", "kv.list", "zzz"); out != "[]" {
		t.Fatalf("empty kv.list = %s", out)
	}
}
