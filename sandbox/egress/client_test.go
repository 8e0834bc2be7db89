package egress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestFetchRoundTrip(t *testing.T) {
	srv, rec := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Reply", "yes")
		w.Header().Add("Vary", "a")
		w.Header().Add("Vary", "b")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, "hello")
	})
	res := newStubResolver().set("api.example.test", "127.0.0.1")
	c := New(testOptions(res, true))
	resp, err := c.Fetch(context.Background(), hostList{"api.example.test"}, Request{
		Method:  "post",
		URL:     at(srv, "http", "api.example.test", "/things?q=1"),
		Headers: map[string]string{"Content-Type": "application/json", "X-Custom": "v"},
		Body:    []byte(`{"a":1}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 201 || string(resp.Body) != "hello" || resp.Headers["x-reply"] != "yes" ||
		resp.Headers["vary"] != "a, b" || resp.Redirected || resp.StatusText != "Created" {
		t.Fatalf("unexpected response %+v", resp)
	}
	got := rec.all()
	if len(got) != 1 {
		t.Fatalf("server got %d requests", len(got))
	}
	r := got[0]
	if r.method != "POST" || r.body != `{"a":1}` || r.header.Get("X-Custom") != "v" ||
		r.header.Get("User-Agent") != DefaultUserAgent || r.path != "/things" {
		t.Fatalf("server saw %+v", r)
	}
}

// TestResolvedAddressChecked: a host on the allow-list that resolves to a
// special-purpose address is refused at dial time, loopback option or not
// (except loopback itself with the option).
func TestResolvedAddressChecked(t *testing.T) {
	tests := []struct {
		answer        string
		allowLoopback bool
		wantIn        string
	}{
		{"127.0.0.1", false, "127.0.0.1, a loopback address"},
		{"10.0.0.5", false, "10.0.0.5, a private address (RFC 1918)"},
		{"10.0.0.5", true, "10.0.0.5, a private address (RFC 1918)"},
		{"169.254.169.254", true, "169.254.169.254, the cloud metadata endpoint"},
		{"100.64.1.1", true, "carrier-grade NAT"},
		{"::1", false, "::1, a loopback address"},
		{"fd00::1", true, "unique local"},
		{"::ffff:10.0.0.1", true, "10.0.0.1, a private address"}, // resolver's mapped form is unmapped, then judged
		{"::ffff:127.0.0.1,10.0.0.1", true, "10.0.0.1, a private address"},
		{"127.0.0.1,192.168.0.10", true, "192.168.0.10, a private address"}, // one bad candidate refuses all
		{"0.0.0.0", true, `0.0.0.0, a "this network" address`},
	}
	for _, tt := range tests {
		res := newStubResolver().set("api.example.test", tt.answer)
		c := New(testOptions(res, tt.allowLoopback))
		_, err := c.Fetch(context.Background(), hostList{"api.example.test"}, Request{URL: "http://api.example.test:9/"})
		var be *BlockedError
		if !errors.Is(err, ErrBlockedAddress) || !errors.As(err, &be) {
			t.Errorf("%s (loopback=%v): err = %v, want ErrBlockedAddress", tt.answer, tt.allowLoopback, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "api.example.test resolves to ") || !strings.Contains(msg, tt.wantIn) {
			t.Errorf("%s: message %q should name the host and %q", tt.answer, msg, tt.wantIn)
		}
	}
}

func TestResolveFailureIsReported(t *testing.T) {
	c := New(testOptions(newStubResolver(), true))
	_, err := c.Fetch(context.Background(), allowAll{}, Request{URL: "http://nowhere.test/"})
	if !errors.Is(err, ErrResolve) || !strings.Contains(err.Error(), "nowhere.test") {
		t.Fatalf("err = %v, want ErrResolve naming the host", err)
	}
}

// TestDNSRebinding: the first lookup answers loopback (allowed here by the
// option, standing in for a public address), every later one a private
// address. The fetch must dial the address it checked, with one lookup; a
// fresh connection later is checked afresh and refused.
func TestDNSRebinding(t *testing.T) {
	srv, rec := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	res := newStubResolver().set("rebind.example.test", "127.0.0.1", "10.0.0.1")
	c := New(testOptions(res, true))
	policy := hostList{"rebind.example.test"}
	u := at(srv, "http", "rebind.example.test", "/")

	resp, err := c.Fetch(context.Background(), policy, Request{URL: u})
	if err != nil {
		t.Fatalf("first fetch: %v", err)
	}
	if string(resp.Body) != "ok" || len(rec.all()) != 1 {
		t.Fatalf("first fetch did not reach the checked server: %+v", resp)
	}
	if n := res.count("rebind.example.test"); n != 1 {
		t.Fatalf("%d lookups for one fetch; a second lookup is what rebinding exploits", n)
	}

	c.CloseIdleConnections()
	_, err = c.Fetch(context.Background(), policy, Request{URL: u})
	if !errors.Is(err, ErrBlockedAddress) || !strings.Contains(err.Error(), "10.0.0.1") {
		t.Fatalf("second fetch after rebinding: err = %v, want ErrBlockedAddress for 10.0.0.1", err)
	}
	if len(rec.all()) != 1 {
		t.Fatal("second fetch reached the server")
	}
}

func redirectTo(loc string, code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", loc)
		w.WriteHeader(code)
	}
}

func TestRedirectsRechecked(t *testing.T) {
	res := newStubResolver().
		set("api.example.test", "127.0.0.1").
		set("evil.example.test", "10.0.0.2").
		set("other.example.test", "127.0.0.1")
	tests := []struct {
		name     string
		location string
		policy   HostPolicy
		want     error
	}{
		{"private literal", "http://10.0.0.1/", allowAll{}, ErrBlockedAddress},
		{"metadata literal", "http://169.254.169.254/latest/meta-data/", allowAll{}, ErrBlockedAddress},
		{"mapped literal", "http://[::ffff:10.0.0.1]/", allowAll{}, ErrBlockedAddress},
		{"octal host", "http://0177.0.0.1/", allowAll{}, ErrAmbiguousHost},
		{"decimal host", "http://167772161/", allowAll{}, ErrAmbiguousHost},
		{"allowed name resolving private", "http://evil.example.test/", allowAll{}, ErrBlockedAddress},
		{"host not allowed", "http://other.example.test/", hostList{"api.example.test"}, ErrHostNotAllowed},
		{"scheme", "file:///etc/passwd", allowAll{}, ErrScheme},
		{"credentials in URL", "http://u:p@api.example.test/", allowAll{}, ErrInvalidURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := serve(t, redirectTo(tt.location, http.StatusFound))
			c := New(testOptions(res, true))
			_, err := c.Fetch(context.Background(), tt.policy, Request{URL: at(srv, "http", "api.example.test", "/")})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), "redirect from http://api.example.test:") {
				t.Errorf("message %q should say which hop redirected", err)
			}
		})
	}
}

func TestRedirectLimitAndLoops(t *testing.T) {
	res := newStubResolver().set("a.example.test", "127.0.0.1").set("b.example.test", "127.0.0.1")
	c := New(testOptions(res, true))
	policy := hostList{"a.example.test", "b.example.test"}

	// /hop/N redirects to /hop/N-1; /hop/0 answers.
	chain, rec := serve(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Path, "/hop/%d", &n)
		if n == 0 {
			fmt.Fprint(w, "end")
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
	})
	resp, err := c.Fetch(context.Background(), policy, Request{URL: at(chain, "http", "a.example.test", "/hop/5")})
	if err != nil || string(resp.Body) != "end" || !resp.Redirected || !strings.HasSuffix(resp.URL, "/hop/0") {
		t.Fatalf("5 redirects: resp %+v err %v, want success", resp, err)
	}
	before := len(rec.all())
	_, err = c.Fetch(context.Background(), policy, Request{URL: at(chain, "http", "a.example.test", "/hop/6")})
	if !errors.Is(err, ErrTooManyRedirects) || !strings.Contains(err.Error(), "5 redirects") {
		t.Fatalf("6 redirects: err = %v, want ErrTooManyRedirects", err)
	}
	if n := len(rec.all()) - before; n != 6 {
		t.Fatalf("6-redirect chain made %d requests, want 6 (the original and 5 follows)", n)
	}

	self, _ := serve(t, redirectTo("/same", http.StatusMovedPermanently))
	_, err = c.Fetch(context.Background(), policy, Request{URL: at(self, "http", "a.example.test", "/same")})
	if !errors.Is(err, ErrRedirectLoop) {
		t.Fatalf("self redirect: err = %v, want ErrRedirectLoop", err)
	}

	// a → b → a across two servers.
	var aURL string
	b, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, aURL, http.StatusTemporaryRedirect) })
	a, _ := serve(t, redirectTo(at(b, "http", "b.example.test", "/b"), http.StatusTemporaryRedirect))
	aURL = at(a, "http", "a.example.test", "/a")
	_, err = c.Fetch(context.Background(), policy, Request{URL: aURL})
	if !errors.Is(err, ErrRedirectLoop) {
		t.Fatalf("a→b→a: err = %v, want ErrRedirectLoop", err)
	}
}

func TestRedirectMethodRewriting(t *testing.T) {
	res := newStubResolver().set("api.example.test", "127.0.0.1")
	c := New(testOptions(res, true))
	tests := []struct {
		method     string
		code       int
		wantMethod string
		wantBody   string
	}{
		{"POST", http.StatusSeeOther, "GET", ""},
		{"PUT", http.StatusSeeOther, "GET", ""},
		{"POST", http.StatusFound, "GET", ""},
		{"POST", http.StatusMovedPermanently, "GET", ""},
		{"PUT", http.StatusFound, "PUT", "payload"},
		{"POST", http.StatusTemporaryRedirect, "POST", "payload"},
		{"POST", http.StatusPermanentRedirect, "POST", "payload"},
	}
	for _, tt := range tests {
		srv, rec := serve(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/start" {
				w.Header().Set("Location", "/end")
				w.WriteHeader(tt.code)
			}
		})
		_, err := c.Fetch(context.Background(), allowAll{}, Request{
			Method: tt.method, URL: at(srv, "http", "api.example.test", "/start"),
			Headers: map[string]string{"Content-Type": "text/plain"}, Body: []byte("payload"),
		})
		if err != nil {
			t.Fatalf("%s %d: %v", tt.method, tt.code, err)
		}
		got := rec.all()
		if len(got) != 2 {
			t.Fatalf("%s %d: %d requests", tt.method, tt.code, len(got))
		}
		last := got[1]
		if last.method != tt.wantMethod || last.body != tt.wantBody {
			t.Errorf("%s %d: followed with %s body %q; want %s %q", tt.method, tt.code, last.method, last.body, tt.wantMethod, tt.wantBody)
		}
		if hasCT := last.header.Get("Content-Type") != ""; hasCT != (tt.wantBody != "") {
			t.Errorf("%s %d: Content-Type present=%v on the followed request", tt.method, tt.code, hasCT)
		}
	}
}

// TestCredentialsStrippedAcrossOrigins: a → a (same origin, keeps
// credentials) → b (other origin, loses them) → a (back, stays stripped).
func TestCredentialsStrippedAcrossOrigins(t *testing.T) {
	res := newStubResolver().set("a.example.test", "127.0.0.1").set("b.example.test", "127.0.0.1")
	c := New(testOptions(res, true))
	var aBase string
	b, bRec := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, aBase+"/final", http.StatusFound)
	})
	a, aRec := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/start":
			http.Redirect(w, r, "/same-origin", http.StatusFound)
		case "/same-origin":
			http.Redirect(w, r, at(b, "http", "b.example.test", "/b"), http.StatusFound)
		}
	})
	aBase = at(a, "http", "a.example.test", "")
	_, err := c.Fetch(context.Background(), hostList{"a.example.test", "b.example.test"}, Request{
		URL: aBase + "/start",
		Headers: map[string]string{
			"Authorization": "Bearer plugin-token", "Cookie": "session=1", "X-Custom": "kept",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	aReqs, bReqs := aRec.all(), bRec.all()
	if len(aReqs) != 3 || len(bReqs) != 1 {
		t.Fatalf("a got %d requests, b got %d; want 3 and 1", len(aReqs), len(bReqs))
	}
	for i, r := range aReqs[:2] {
		if r.header.Get("Authorization") != "Bearer plugin-token" || r.header.Get("Cookie") != "session=1" {
			t.Errorf("same-origin request %d (%s) lost its credentials: %v", i, r.path, r.header)
		}
	}
	for _, r := range []recorded{bReqs[0], aReqs[2]} {
		if r.header.Get("Authorization") != "" || r.header.Get("Cookie") != "" {
			t.Errorf("%s after a cross-origin redirect still carried credentials: %v", r.path, r.header)
		}
		if r.header.Get("X-Custom") != "kept" {
			t.Errorf("%s lost a non-credential header", r.path)
		}
	}
}

// TestSecretInjection: the injected header reaches the matching https
// origin, never a different origin even when its pattern matches it, never
// plain http, never a host its pattern does not match, and never logs.
func TestSecretInjection(t *testing.T) {
	const secret = "s3cr3t-value-never-shown"
	second, secondRec, pool := serveTLS(t, nil)
	first, firstRec, _ := serveTLS(t, redirectTo(at(second, "https", "api.example.com", "/next"), http.StatusFound))
	plain, plainRec := serve(t, nil)
	res := newStubResolver().set("api.example.com", "127.0.0.1").set("cdn.example.com", "127.0.0.1")
	var logs bytes.Buffer
	opts := testOptions(res, true)
	opts.RootCAs = pool
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := New(opts)

	inject := []HeaderInjection{{Hosts: hostList{"api.example.com"}, Header: "X-Api-Key", Value: secret}}
	policy := hostList{"api.example.com", "cdn.example.com"}
	req := Request{URL: at(first, "https", "api.example.com", "/start"), Inject: inject}
	if _, err := c.Fetch(context.Background(), policy, req); err != nil {
		t.Fatal(err)
	}
	if got := firstRec.all(); len(got) != 1 || got[0].header.Get("X-Api-Key") != secret {
		t.Fatalf("the matching origin did not receive the injected header: %+v", got)
	}
	if got := secondRec.all(); len(got) != 1 || got[0].header.Get("X-Api-Key") != "" {
		t.Fatalf("the injected header crossed to another origin (same host, other port): %+v", got)
	}

	// A host the injection's pattern does not match.
	if _, err := c.Fetch(context.Background(), policy, Request{URL: at(second, "https", "cdn.example.com", "/cdn"), Inject: inject}); err != nil {
		t.Fatal(err)
	}
	if got := secondRec.all(); len(got) != 2 || got[1].header.Get("X-Api-Key") != "" {
		t.Fatalf("injected into a non-matching host: %+v", got)
	}

	// Plain http to the matching host: secrets only travel over TLS.
	if _, err := c.Fetch(context.Background(), policy, Request{URL: at(plain, "http", "api.example.com", "/plain"), Inject: inject}); err != nil {
		t.Fatal(err)
	}
	if got := plainRec.all(); len(got) != 1 || got[0].header.Get("X-Api-Key") != "" {
		t.Fatalf("injected over plain http: %+v", got)
	}

	if strings.Contains(logs.String(), secret) {
		t.Fatal("the secret appeared in the log")
	}
	if !strings.Contains(logs.String(), "api.example.com") {
		t.Fatal("the log has no request lines; the secret check above proves nothing")
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(f, req); strings.Contains(s, secret) {
			t.Errorf("fmt %s of a Request shows the secret: %s", f, s)
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "inject", inject[0])
	if strings.Contains(buf.String(), secret) {
		t.Error("slog shows the secret")
	}
}

func TestInjectionValidated(t *testing.T) {
	c := New(testOptions(newStubResolver(), true))
	for _, inj := range []HeaderInjection{
		{Hosts: nil, Header: "X-Key", Value: "v"},
		{Hosts: allowAll{}, Header: "Host", Value: "v"},
		{Hosts: allowAll{}, Header: "X-Key", Value: "v\r\nEvil: 1"},
	} {
		_, err := c.Fetch(context.Background(), allowAll{}, Request{URL: "https://example.com/", Inject: []HeaderInjection{inj}})
		if !errors.Is(err, ErrInvalidInjection) || strings.Contains(err.Error(), "Evil") {
			t.Errorf("%v: err = %v, want ErrInvalidInjection without the value", inj, err)
		}
	}
}

// TestProxyEnvironmentIgnored runs the fetch in a child process (so the
// standard library's once-per-process proxy environment cache is fresh) with
// HTTP_PROXY and HTTPS_PROXY pointing at a recording server.
func TestProxyEnvironmentIgnored(t *testing.T) {
	if target := os.Getenv("EGRESS_PROXY_CHILD_TARGET"); target != "" {
		res := newStubResolver().set("api.example.test", "127.0.0.1")
		c := New(testOptions(res, true))
		resp, err := c.Fetch(context.Background(), allowAll{}, Request{URL: target})
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.Body) != "direct" {
			t.Fatalf("body %q", resp.Body)
		}
		return
	}
	proxy, proxyRec := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "via proxy") })
	target, targetRec := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "direct") })

	cmd := exec.Command(os.Args[0], "-test.run=^TestProxyEnvironmentIgnored$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"EGRESS_PROXY_CHILD_TARGET="+at(target, "http", "api.example.test", "/"),
		"HTTP_PROXY="+proxy.URL, "HTTPS_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "https_proxy="+proxy.URL,
		"ALL_PROXY="+proxy.URL, "NO_PROXY=", "no_proxy=",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if n := len(proxyRec.all()); n != 0 {
		t.Fatalf("the environment proxy received %d requests", n)
	}
	if n := len(targetRec.all()); n != 1 {
		t.Fatalf("the target received %d requests, want 1", n)
	}
}

func TestResponseBodyCap(t *testing.T) {
	big := strings.Repeat("x", 2048)
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			// No Content-Length: the cap must hold while streaming.
			for i := 0; i < 4; i++ {
				io.WriteString(w, big[:512])
				w.(http.Flusher).Flush()
			}
		case "/exact":
			io.WriteString(w, big[:1024])
		default:
			io.WriteString(w, big)
		}
	})
	res := newStubResolver().set("api.example.test", "127.0.0.1")
	opts := testOptions(res, true)
	opts.MaxResponseBytes = 1024
	c := New(opts)
	for _, path := range []string{"/length", "/chunked"} {
		_, err := c.Fetch(context.Background(), allowAll{}, Request{URL: at(srv, "http", "api.example.test", path)})
		if !errors.Is(err, ErrBodyTooLarge) || !strings.Contains(err.Error(), "1024-byte cap") || !strings.Contains(err.Error(), "api.example.test") {
			t.Errorf("%s: err = %v, want ErrBodyTooLarge naming the cap and host", path, err)
		}
	}
	resp, err := c.Fetch(context.Background(), allowAll{}, Request{URL: at(srv, "http", "api.example.test", "/exact")})
	if err != nil || len(resp.Body) != 1024 {
		t.Fatalf("a body exactly at the cap: %v", err)
	}
	_, err = c.Fetch(context.Background(), allowAll{}, Request{URL: at(srv, "http", "api.example.test", "/exact"), MaxResponseBytes: 100})
	if !errors.Is(err, ErrBodyTooLarge) || !strings.Contains(err.Error(), "100-byte cap") {
		t.Fatalf("per-request lower cap: err = %v", err)
	}
	resp, err = c.Fetch(context.Background(), allowAll{}, Request{URL: at(srv, "http", "api.example.test", "/exact"), MaxResponseBytes: 1 << 30})
	if err != nil || len(resp.Body) != 1024 {
		t.Fatalf("a per-request cap cannot raise the client's: %v", err)
	}
}

func TestRequestLimits(t *testing.T) {
	opts := testOptions(newStubResolver(), true)
	opts.MaxRequestBytes = 10
	opts.MaxRequestHeaders = 3
	opts.MaxRequestHeaderBytes = 100
	c := New(opts)
	many := map[string]string{"A": "1", "B": "2", "C": "3", "D": "4"}
	tests := []struct {
		name string
		req  Request
		want error
		msg  string
	}{
		{"body", Request{Method: "POST", Body: make([]byte, 11)}, ErrBodyTooLarge, "the cap is 10 bytes"},
		{"header count", Request{Headers: many}, ErrTooManyHeaders, "the limit is 3"},
		{"header bytes", Request{Headers: map[string]string{"X-Big": strings.Repeat("v", 100)}}, ErrTooManyHeaders, "100-byte limit"},
		{"host", Request{Headers: map[string]string{"Host": "internal"}}, ErrHeaderNotAllowed, "the host comes from the URL"},
		{"connection", Request{Headers: map[string]string{"connection": "close"}}, ErrHeaderNotAllowed, "hop-by-hop"},
		{"transfer-encoding", Request{Headers: map[string]string{"Transfer-Encoding": "chunked"}}, ErrHeaderNotAllowed, `"Transfer-Encoding"`},
		{"content-length", Request{Headers: map[string]string{"Content-Length": "5"}}, ErrHeaderNotAllowed, "computed from the body"},
		{"proxy-authorization", Request{Headers: map[string]string{"Proxy-Authorization": "x"}}, ErrHeaderNotAllowed, "proxy"},
		{"sec-", Request{Headers: map[string]string{"Sec-Fetch-Site": "x"}}, ErrHeaderNotAllowed, "reserved"},
		{"x-forwarded-for", Request{Headers: map[string]string{"X-Forwarded-For": "127.0.0.1"}}, ErrHeaderNotAllowed, "proxy"},
		{"method override", Request{Headers: map[string]string{"X-HTTP-Method-Override": "DELETE"}}, ErrHeaderNotAllowed, "overrides the method"},
		{"bad name", Request{Headers: map[string]string{"Bad Name": "x"}}, ErrHeaderNotAllowed, "not a valid header name"},
		{"CRLF value", Request{Headers: map[string]string{"X-A": "a\r\nHost: evil"}}, ErrHeaderNotAllowed, "control characters"},
		{"duplicate", Request{Headers: map[string]string{"X-A": "1", "x-a": "2"}}, ErrHeaderNotAllowed, "more than once"},
		{"TRACE", Request{Method: "TRACE"}, ErrMethod, `"TRACE"`},
		{"CONNECT", Request{Method: "CONNECT"}, ErrMethod, `"CONNECT"`},
		{"GET body", Request{Method: "GET", Body: []byte("x")}, ErrMethod, "cannot have a body"},
	}
	for _, tt := range tests {
		tt.req.URL = "http://api.example.test/"
		_, err := c.Fetch(context.Background(), allowAll{}, tt.req)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: err = %v, want %v mentioning %q", tt.name, err, tt.want, tt.msg)
		}
	}
}

func TestTimeouts(t *testing.T) {
	// A listener that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
		}
	}()
	// A server that sends headers, then stalls the body.
	stall := make(chan struct{})
	slowBody, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		<-stall
	})
	// Registered after serve so it runs first: the server's Close waits for
	// the stalled handler.
	t.Cleanup(func() { close(stall) })

	res := newStubResolver().set("api.example.test", "127.0.0.1")
	opts := testOptions(res, true)
	opts.Timeout = 300 * time.Millisecond
	c := New(opts)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, u := range []string{"http://api.example.test:" + port + "/", at(slowBody, "http", "api.example.test", "/")} {
		_, err := c.Fetch(context.Background(), allowAll{}, Request{URL: u})
		if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "api.example.test") || !strings.Contains(err.Error(), "300ms") {
			t.Errorf("%s: err = %v, want ErrTimeout naming host and limit", u, err)
		}
	}

	// The caller's own cancellation is not reported as our timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Fetch(ctx, allowAll{}, Request{URL: "http://api.example.test:" + port + "/"})
	if err == nil || errors.Is(err, ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v, want context.Canceled", err)
	}
}
