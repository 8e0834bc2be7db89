package egress

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// allowAll is a policy that allows every URL, so tests can show the address
// checks work on their own.
type allowAll struct{}

func (allowAll) Allows(*url.URL) bool { return true }

// hostList allows the listed host names on any port.
type hostList []string

func (h hostList) Allows(u *url.URL) bool {
	for _, name := range h {
		if u.Hostname() == name {
			return true
		}
	}
	return false
}

// stubResolver answers from a table. A host with several answers returns
// them in turn, one per lookup, repeating the last (DNS rebinding).
type stubResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	lookups map[string]int
}

func newStubResolver() *stubResolver {
	return &stubResolver{answers: map[string][][]netip.Addr{}, lookups: map[string]int{}}
}

// set registers the successive answers for host; each answer is a
// comma-separated address list.
func (r *stubResolver) set(host string, answers ...string) *stubResolver {
	r.mu.Lock()
	defer r.mu.Unlock()
	var seq [][]netip.Addr
	for _, a := range answers {
		var addrs []netip.Addr
		for _, s := range strings.Split(a, ",") {
			addrs = append(addrs, netip.MustParseAddr(s))
		}
		seq = append(seq, addrs)
	}
	r.answers[host] = seq
	return r
}

func (r *stubResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, ok := r.answers[host]
	if !ok {
		return nil, fmt.Errorf("stub resolver: no such host %q", host)
	}
	n := r.lookups[host]
	r.lookups[host]++
	if n >= len(seq) {
		n = len(seq) - 1
	}
	return append([]netip.Addr(nil), seq[n]...), nil
}

func (r *stubResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lookups[host]
}

func (r *stubResolver) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.lookups {
		n += v
	}
	return n
}

// testOptions are short timeouts so a broken protection that lets a dial to
// a blackholed private address through fails quickly instead of hanging.
func testOptions(r Resolver, allowLoopback bool) Options {
	return Options{
		Resolver:            r,
		ConnectTimeout:      500 * time.Millisecond,
		Timeout:             3 * time.Second,
		UnsafeAllowLoopback: allowLoopback,
	}
}

// recorder is a test server that records what each request carried.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method string
	path   string
	header http.Header
	body   string
}

func (r *recorder) add(req *http.Request) {
	var b strings.Builder
	if req.Body != nil {
		buf := make([]byte, 4096)
		for {
			n, err := req.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, recorded{method: req.Method, path: req.URL.Path, header: req.Header.Clone(), body: b.String()})
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// serve starts a loopback server whose handler records every request before
// running h.
func serve(t *testing.T, h http.HandlerFunc) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

// serveTLS is serve over TLS; the certificate is valid for example.com and
// *.example.com. It returns a pool trusting it.
func serveTLS(t *testing.T, h http.HandlerFunc) (*httptest.Server, *recorder, *x509.CertPool) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv, rec, pool
}

// port returns the port of a test server.
func port(srv *httptest.Server) string {
	u, _ := url.Parse(srv.URL)
	return u.Port()
}

// at is a URL for host on srv's port.
func at(srv *httptest.Server, scheme, host, path string) string {
	return scheme + "://" + host + ":" + port(srv) + path
}
