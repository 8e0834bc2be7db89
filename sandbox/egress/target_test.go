package egress

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

// numericHostCases are hosts written as IP literals in every encoding an
// attacker might use. want is the sentinel; loopbackOK marks the ones that
// are canonical loopback and so pass when UnsafeAllowLoopback is on.
var numericHostCases = []struct {
	url        string
	want       error
	loopbackOK bool
}{
	// Non-canonical IPv4: refused outright, whatever they would mean.
	{"http://2130706433/", ErrAmbiguousHost, false},       // decimal
	{"http://0177.0.0.1/", ErrAmbiguousHost, false},       // octal
	{"http://0x7f.1/", ErrAmbiguousHost, false},           // hex, short form
	{"http://0x7f.0x0.0x0.0x1/", ErrAmbiguousHost, false}, // hex per part
	{"http://0x7f000001/", ErrAmbiguousHost, false},       // hex whole
	{"http://017700000001/", ErrAmbiguousHost, false},     // octal whole
	{"http://127.1/", ErrAmbiguousHost, false},            // short form
	{"http://127.0.1/", ErrAmbiguousHost, false},          // short form
	{"http://127.000.000.001/", ErrAmbiguousHost, false},  // zero padded
	{"http://0/", ErrAmbiguousHost, false},                // 0.0.0.0
	{"http://0x0a.0.0.1/", ErrAmbiguousHost, false},       // 10.0.0.1
	{"http://3232235521/", ErrAmbiguousHost, false},       // 192.168.0.1
	{"http://2852039166/", ErrAmbiguousHost, false},       // 169.254.169.254
	{"http://1.2.3.04/", ErrAmbiguousHost, false},         // public but ambiguous
	{"http://8.8.8.8.8/", ErrAmbiguousHost, false},        // five parts
	{"http://256.0.0.1/", ErrAmbiguousHost, false},        // out of range
	{"http://example.123/", ErrAmbiguousHost, false},      // ends in a number
	{"http://example.0x1f/", ErrAmbiguousHost, false},     // ends in hex
	{"http://０x7f.1/", ErrAmbiguousHost, false},           // full-width digits
	{"http://0x7F.1/", ErrAmbiguousHost, false},           // upper-case hex
	// Canonical IPv4 literals in blocked ranges.
	{"http://127.0.0.1/", ErrBlockedAddress, true},
	{"http://127.0.0.1./", ErrBlockedAddress, true}, // trailing dot
	{"http://１２７。０。０。１/", ErrBlockedAddress, true},  // full-width, ideographic dots → 127.0.0.1
	{"http://0.0.0.0/", ErrBlockedAddress, false},
	{"http://10.0.0.1/", ErrBlockedAddress, false},
	{"http://169.254.169.254/latest/meta-data/", ErrBlockedAddress, false},
	{"http://100.64.0.1/", ErrBlockedAddress, false},
	{"http://192.168.1.1:8080/", ErrBlockedAddress, false},
	{"http://224.0.0.1/", ErrBlockedAddress, false},
	{"http://255.255.255.255/", ErrBlockedAddress, false},
	// IPv6 forms.
	{"http://[::1]/", ErrBlockedAddress, true},
	{"http://[0:0:0:0:0:0:0:1]/", ErrBlockedAddress, true},
	{"http://[::]/", ErrBlockedAddress, false},
	{"http://[::ffff:127.0.0.1]/", ErrBlockedAddress, false},
	{"http://[0:0:0:0:0:ffff:7f00:1]/", ErrBlockedAddress, false},
	{"http://[::ffff:7f00:1]/", ErrBlockedAddress, false},
	{"http://[::ffff:a9fe:a9fe]/", ErrBlockedAddress, false}, // mapped metadata
	{"http://[::ffff:8.8.8.8]/", ErrBlockedAddress, false},   // every mapped form
	{"http://[::127.0.0.1]/", ErrBlockedAddress, false},      // IPv4-compatible
	{"http://[64:ff9b::7f00:1]/", ErrBlockedAddress, false},  // NAT64
	{"http://[64:ff9b::a9fe:a9fe]/", ErrBlockedAddress, false},
	{"http://[2002:7f00:1::]/", ErrBlockedAddress, false},                        // 6to4
	{"http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", ErrBlockedAddress, false}, // Teredo
	{"http://[fe80::1%25eth0]/", ErrBlockedAddress, false},
	{"http://[fe80::1]/", ErrBlockedAddress, false},
	{"http://[fd00::1]/", ErrBlockedAddress, false},
	{"http://[fec0::1]/", ErrBlockedAddress, false},
	{"http://[ff02::1]/", ErrBlockedAddress, false},
	{"http://[2001:db8::1]/", ErrBlockedAddress, false},
	{"http://[100::1]/", ErrBlockedAddress, false},
}

// TestNumericHostsRefused runs every encoding through Fetch with a policy
// that allows everything, with and without the loopback option, and checks
// that nothing was resolved or dialled.
func TestNumericHostsRefused(t *testing.T) {
	for _, allowLoopback := range []bool{false, true} {
		res := newStubResolver()
		c := New(testOptions(res, allowLoopback))
		for _, tt := range numericHostCases {
			if allowLoopback && tt.loopbackOK {
				continue
			}
			_, err := c.Fetch(context.Background(), allowAll{}, Request{URL: tt.url})
			if !errors.Is(err, tt.want) {
				t.Errorf("loopback=%v %s: err = %v, want %v", allowLoopback, tt.url, err, tt.want)
			}
		}
		if n := res.total(); n != 0 {
			t.Errorf("loopback=%v: resolver consulted %d times for literal hosts", allowLoopback, n)
		}
	}
}

func TestAmbiguousHostMessage(t *testing.T) {
	_, err := parseURL("http://0177.0.0.1/", nil, false)
	if err == nil || !strings.Contains(err.Error(), `"0177.0.0.1"`) || !strings.Contains(err.Error(), "four decimal numbers") {
		t.Errorf("message %v should quote the host and say how to write it", err)
	}
}

func TestParseURLRules(t *testing.T) {
	tests := []struct {
		url  string
		want error
	}{
		{"ftp://example.com/", ErrScheme},
		{"file:///etc/passwd", ErrScheme},
		{"gopher://example.com/", ErrScheme},
		{"javascript:alert(1)", ErrScheme},
		{"data:text/plain,hi", ErrScheme},
		{"ws://example.com/", ErrScheme},
		{"//example.com/", ErrScheme},
		{"/relative", ErrScheme},
		{"http:example.com", ErrInvalidURL},
		{"http://user:pass@example.com/", ErrInvalidURL},
		{"http://example.com@127.0.0.1/", ErrInvalidURL},
		{"http:///path", ErrInvalidURL},
		{"http://example.com:0/", ErrInvalidURL},
		{"http://example.com:65536/", ErrInvalidURL},
		{"http://example.com:0080/", ErrInvalidURL},
		{"http://exa mple.com/", ErrInvalidURL},
		{"http://exa_mple.com/", ErrInvalidURL},
		{"http://a..b/", ErrInvalidURL},
		{"http://[::1/", ErrInvalidURL},
		{"http://%31%32%37.0.0.1/", ErrInvalidURL},
		{"http://example.com/" + strings.Repeat("a", maxURLLength), ErrInvalidURL},
	}
	for _, tt := range tests {
		_, err := parseURL(tt.url, nil, true)
		if !errors.Is(err, tt.want) {
			t.Errorf("parseURL(%q) = %v, want %v", shorten(tt.url), err, tt.want)
		}
	}
}

func TestParseURLNormalises(t *testing.T) {
	tests := []struct{ in, url, origin string }{
		{"HTTP://Example.COM./a?b#frag", "http://example.com/a?b", "http://example.com:80"},
		{"https://bücher.example/", "https://xn--bcher-kva.example/", "https://xn--bcher-kva.example:443"},
		{"https://api.example.com:8443/x", "https://api.example.com:8443/x", "https://api.example.com:8443"},
		{"http://93.184.215.14/", "http://93.184.215.14/", "http://93.184.215.14:80"},
		{"http://[2606:4700:0:0::1111]:8080/", "http://[2606:4700::1111]:8080/", "http://[2606:4700::1111]:8080"},
	}
	for _, tt := range tests {
		got, err := parseURL(tt.in, nil, false)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tt.in, err)
			continue
		}
		if got.u.String() != tt.url || got.origin != tt.origin {
			t.Errorf("parseURL(%q) = %s origin %s; want %s origin %s", tt.in, got.u, got.origin, tt.url, tt.origin)
		}
	}
}

func TestPolicyConsultedWithNormalisedURL(t *testing.T) {
	var seen []string
	policy := policyFunc(func(u *url.URL) bool { seen = append(seen, u.Host); return false })
	c := New(testOptions(newStubResolver(), false))
	_, err := c.Fetch(context.Background(), policy, Request{URL: "https://API.Example.COM.:8443/x"})
	if !errors.Is(err, ErrHostNotAllowed) || !strings.Contains(err.Error(), "api.example.com:8443") {
		t.Fatalf("err = %v, want ErrHostNotAllowed naming api.example.com:8443", err)
	}
	if len(seen) != 1 || seen[0] != "api.example.com:8443" {
		t.Fatalf("policy saw %v", seen)
	}
	if _, err := c.Fetch(context.Background(), nil, Request{URL: "https://example.com/"}); !errors.Is(err, ErrHostNotAllowed) {
		t.Fatalf("nil policy: %v, want ErrHostNotAllowed", err)
	}
}

type policyFunc func(*url.URL) bool

func (f policyFunc) Allows(u *url.URL) bool { return f(u) }
