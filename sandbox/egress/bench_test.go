package egress

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func BenchmarkCheckAddr(b *testing.B) {
	for _, s := range []string{"93.184.215.14", "10.0.0.1", "2606:4700:4700::1111", "fd00::1"} {
		a := netip.MustParseAddr(s)
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				IsBlocked(a)
			}
		})
	}
}

// BenchmarkAllowCheck is the whole pre-dial check of one hop: parse,
// normalise, numeric-host rules and the host policy.
func BenchmarkAllowCheck(b *testing.B) {
	c := New(Options{})
	policy := hostList{"api.example.com"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.checkTarget("https://API.example.com/v1/items?limit=10", nil, policy); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFetchLoopback is a full Fetch against a loopback server over a
// pooled connection.
func BenchmarkFetchLoopback(b *testing.B) {
	srv := newBenchServer(b)
	res := newStubResolver().set("api.example.test", "127.0.0.1")
	c := New(Options{Resolver: res, UnsafeAllowLoopback: true})
	req := Request{URL: "http://api.example.test:" + srv + "/", Headers: map[string]string{"Accept": "application/json"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Fetch(context.Background(), hostList{"api.example.test"}, req); err != nil {
			b.Fatal(err)
		}
	}
}

func newBenchServer(b *testing.B) string {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	b.Cleanup(srv.Close)
	return port(srv)
}
