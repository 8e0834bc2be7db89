package manifest

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestParseHostPattern(t *testing.T) {
	for _, tc := range []struct {
		in, canon, errFrag string
	}{
		{in: "api.example.com", canon: "api.example.com"},
		{in: "API.Example.COM.", canon: "api.example.com"},
		{in: "api.example.com:8443", canon: "api.example.com:8443"},
		{in: "*.example.com", canon: "*.example.com"},
		{in: "*.Example.com.:444", canon: "*.example.com:444"},
		{in: "bücher.example", canon: "xn--bcher-kva.example"},
		{in: "ＡＰＩ.example.com", canon: "api.example.com"}, // full-width letters map to ASCII
		{in: "203.0.113.7", canon: "203.0.113.7"},
		{in: "203.0.113.7:8080", canon: "203.0.113.7:8080"},
		{in: "[2001:DB8::1]", canon: "[2001:db8::1]"},
		{in: "[2001:db8::1]:8443", canon: "[2001:db8::1]:8443"},
		{in: "*.github.io", canon: "*.github.io"}, // private-section suffixes are allowed
		{in: "", errFrag: "empty"},
		{in: "https://api.example.com", errFrag: "without a scheme"},
		{in: "api.example.com/path", errFrag: "without a path"},
		{in: "user@api.example.com", errFrag: "user name"},
		{in: "api example.com", errFrag: "spaces"},
		{in: "*.com", errFrag: "top-level domain"},
		{in: "*.co.uk", errFrag: "public suffix"},
		{in: "*example.com", errFrag: "whole first label"},
		{in: "a.*.example.com", errFrag: "whole first label"},
		{in: "*.*.example.com", errFrag: "whole first label"},
		{in: "*", errFrag: "whole first label"},
		{in: "localhost", errFrag: "single-label"},
		{in: "a.example.com:0", errFrag: "1 to 65535"},
		{in: "a.example.com:65536", errFrag: "1 to 65535"},
		{in: "a.example.com:080", errFrag: "1 to 65535"},
		{in: "a.example.com:", errFrag: "1 to 65535"},
		{in: "a.example.com:+80", errFrag: "1 to 65535"},
		{in: "2001:db8::1", errFrag: "brackets"},
		{in: "[2001:db8::1", errFrag: "missing \"]\""},
		{in: "[1.2.3.4]", errFrag: "not an IPv6"},
		{in: "[fe80::1%eth0]", errFrag: "not an IPv6"},
		{in: "*.1.2.3.4", errFrag: "IP address cannot have"},
		{in: "1.2.3", errFrag: "neither a host name nor an IPv4"},
		{in: "a..example.com", errFrag: "not a valid host name"},
		{in: "a_b.example.com", errFrag: "not a valid host name"},
		{in: "-a.example.com", errFrag: "not a valid host name"},
		{in: strings.Repeat("a", 64) + ".example.com", errFrag: "not a valid host name"},
	} {
		p, err := ParseHostPattern(tc.in)
		if tc.errFrag != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errFrag) || !errors.Is(err, ErrBadHostPattern) {
				t.Errorf("ParseHostPattern(%q) error = %v, want one containing %q", tc.in, err, tc.errFrag)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseHostPattern(%q): %v", tc.in, err)
			continue
		}
		if p.String() != tc.canon {
			t.Errorf("ParseHostPattern(%q) = %q, want %q", tc.in, p.String(), tc.canon)
		}
	}
}

func TestHostPatternMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, url string
		want         bool
	}{
		{"api.example.com", "https://api.example.com/x", true},
		{"api.example.com", "http://api.example.com/x", true},
		{"api.example.com", "https://API.EXAMPLE.COM./x", true},
		{"api.example.com", "https://api.example.com:443/x", true},
		{"api.example.com", "https://api.example.com:8443/x", false},
		{"api.example.com", "https://api.example.com:80/x", false}, // default port of the scheme only
		{"api.example.com", "http://api.example.com:443/x", false},
		{"api.example.com", "ftp://api.example.com/x", false},
		{"api.example.com", "https://example.com/x", false},
		{"api.example.com", "https://x.api.example.com/x", false},
		{"api.example.com", "https://api.example.com.evil.com/x", false},
		{"api.example.com:8443", "https://api.example.com:8443/x", true},
		{"api.example.com:8443", "http://api.example.com:8443/x", true},
		{"api.example.com:8443", "https://api.example.com/x", false},
		{"*.example.com", "https://a.example.com/", true},
		{"*.example.com", "https://a.b.example.com/", true},
		{"*.example.com", "https://example.com/", false}, // the apex is not a subdomain
		{"*.example.com", "https://evilexample.com/", false},
		{"*.example.com", "https://a.example.com.evil.com/", false},
		{"*.example.com", "https://.example.com/", false},
		{"bücher.example", "https://xn--bcher-kva.example/", true},
		{"xn--bcher-kva.example", "https://BÜCHER.example/", true},
		{"203.0.113.7", "http://203.0.113.7/", true},
		{"203.0.113.7", "http://203.0.113.8/", false},
		{"203.0.113.7", "http://[::ffff:203.0.113.7]/", false},
		{"[2001:db8::1]:8443", "https://[2001:db8:0::1]:8443/", true},
		{"[2001:db8::1]", "https://[2001:db8::1]:8443/", false},
		{"api.example.com", "https://api.example.com:99999/", false},
		{"api.example.com", "https://user:pw@api.example.com/", true}, // credentials are the egress client's business
	} {
		set, err := ParseHostSet([]string{tc.pattern})
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := set.Allows(u); got != tc.want {
			t.Errorf("%q allows %q = %v, want %v", tc.pattern, tc.url, got, tc.want)
		}
	}
	if (HostSet{}).Allows(nil) {
		t.Error("nil URL allowed")
	}
	if set, _ := ParseHostSet([]string{"a.example.com"}); set.Allows(&url.URL{Opaque: "a.example.com"}) {
		t.Error("opaque URL allowed")
	}
}

func TestHostPatternCovers(t *testing.T) {
	for _, tc := range []struct {
		p, q string
		want bool
	}{
		{"a.example.com", "a.example.com", true},
		{"a.example.com", "A.example.com.", true},
		{"a.example.com", "a.example.com:443", false},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "*.a.example.com", true},
		{"*.example.com", "*.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "*.example.com:8443", false},
		{"*.a.example.com", "*.example.com", false},
		{"a.example.com", "*.example.com", false},
		{"*.example.com", "a.evilexample.com", false},
		{"203.0.113.7", "203.0.113.7", true},
		{"203.0.113.7", "203.0.113.8", false},
	} {
		p, err1 := ParseHostPattern(tc.p)
		q, err2 := ParseHostPattern(tc.q)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if got := p.Covers(q); got != tc.want {
			t.Errorf("%q covers %q = %v, want %v", tc.p, tc.q, got, tc.want)
		}
	}
}

func TestParseHostSetErrors(t *testing.T) {
	set, err := ParseHostSet([]string{"a.example.com", "*.com", "b.example.com"})
	if err == nil || !strings.Contains(err.Error(), `"*.com"`) || len(set) != 2 {
		t.Errorf("set = %v, err = %v", set, err)
	}
}

// FuzzHostPattern checks the matcher's invariants on arbitrary patterns and hosts:
// no panics, canonical spellings are fixed points, and a match always means the
// host is the pattern's host or (for a wildcard) a strict subdomain of it, at a label
// boundary, on the pattern's port.
func FuzzHostPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"api.example.com", "api.example.com"},
		{"*.example.com", "a.example.com"},
		{"*.example.com", "example.com"},
		{"*.example.com", "evilexample.com"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"[2001:db8::1]:8443", "[2001:db8::1]"},
		{"203.0.113.7", "203.0.113.7"},
		{"a.example.com:8080", "A.EXAMPLE.COM."},
	} {
		f.Add(s[0], s[1], 0, true)
		f.Add(s[0], s[1], 8443, false)
	}
	f.Fuzz(func(t *testing.T, pattern, host string, port int, https bool) {
		scheme := "http"
		if https {
			scheme = "https"
		}
		p, err := ParseHostPattern(pattern)
		if err != nil {
			if !errors.Is(err, ErrBadHostPattern) {
				t.Fatalf("error does not wrap ErrBadHostPattern: %v", err)
			}
			return
		}
		again, err := ParseHostPattern(p.String())
		if err != nil || again != p {
			t.Fatalf("canonical %q does not round-trip: %v %v", p.String(), again, err)
		}
		if !p.Covers(p) {
			t.Fatalf("%q does not cover itself", p)
		}
		if !p.Match(scheme, host, port) {
			return
		}
		wantPort := p.Port()
		if wantPort == 0 {
			wantPort = DefaultPort(scheme)
		}
		gotPort := port
		if gotPort == 0 {
			gotPort = DefaultPort(scheme)
		}
		if gotPort != wantPort {
			t.Fatalf("%q matched port %d", p, port)
		}
		if p.addr.IsValid() {
			return
		}
		name, err := normalizeName(host)
		if err != nil {
			t.Fatalf("%q matched unnormalisable host %q", p, host)
		}
		if p.Wildcard() {
			if name == p.Host() || !strings.HasSuffix(name, "."+p.Host()) {
				t.Fatalf("%q matched %q outside its subdomains", p, name)
			}
		} else if name != p.Host() {
			t.Fatalf("%q matched other host %q", p, name)
		}
		exact, err := ParseHostPattern(name + portSuffix(p.Port()))
		if err == nil && !p.Covers(exact) {
			t.Fatalf("%q matches %q but does not cover it", p, name)
		}
	})
}

func portSuffix(port int) string {
	if port == 0 {
		return ""
	}
	return ":" + strconv.Itoa(port)
}

func BenchmarkHostSetAllows(b *testing.B) {
	set, err := ParseHostSet([]string{"api.example.com", "*.cdn.example.com", "hooks.example.org:8443"})
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse("https://img.cdn.example.com/a.png")
	b.ReportAllocs()
	for b.Loop() {
		if !set.Allows(u) {
			b.Fatal("not allowed")
		}
	}
}
