package egress

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

var expectedBlockedPrefixes = func() []netip.Prefix {
	ps := make([]netip.Prefix, len(expectedBlocked))
	for i, s := range expectedBlocked {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}()

// FuzzIsBlocked: the checker never panics, agrees with CheckAddr, blocks
// every address inside the test's own list of special-purpose prefixes, and
// blocks every IPv4-mapped address.
func FuzzIsBlocked(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "8.8.8.8", "::1", "::ffff:127.0.0.1", "2606:4700::1", "fe80::1", "64:ff9b::1"} {
		f.Add(netip.MustParseAddr(s).AsSlice())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var a netip.Addr
		switch {
		case len(b) >= 16:
			a = netip.AddrFrom16([16]byte(b[:16]))
		case len(b) >= 4:
			a = netip.AddrFrom4([4]byte(b[:4]))
		}
		blocked := IsBlocked(a)
		err := CheckAddr(a)
		if blocked != (err != nil) || (err != nil && !errors.Is(err, ErrBlockedAddress)) {
			t.Fatalf("%s: IsBlocked=%v but CheckAddr=%v", a, blocked, err)
		}
		if err != nil && err.Error() == "" {
			t.Fatalf("%s: empty error message", a)
		}
		for _, p := range expectedBlockedPrefixes {
			if p.Contains(a) && !blocked {
				t.Fatalf("%s is inside %s but not blocked", a, p)
			}
		}
		if a.Is4In6() && !blocked {
			t.Fatalf("IPv4-mapped %s not blocked", a)
		}
	})
}

// whatwgIPv4 is the test's own implementation of the WHATWG URL IPv4 parser
// (what browsers and inet_aton accept): 1–4 parts, each decimal, 0-octal or
// 0x-hex, the last filling the remaining bytes.
func whatwgIPv4(h string) (netip.Addr, bool) {
	h = strings.TrimSuffix(h, ".")
	parts := strings.Split(h, ".")
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X"):
			p, base = p[2:], 16
			if p == "" {
				p = "0"
			}
		case len(p) >= 2 && p[0] == '0':
			p, base = p[1:], 8
		}
		if p == "" || p[0] == '+' || p[0] == '-' {
			return netip.Addr{}, false
		}
		n, err := strconv.ParseUint(p, base, 64)
		if err != nil {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
		v |= n << (8 * (3 - i))
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// FuzzParseURL: URL checking never panics, and any host it accepts that a
// browser-style parser would read as an IPv4 address is in canonical form
// and not blocked, so no encoding can smuggle a special-purpose address.
func FuzzParseURL(f *testing.F) {
	for _, s := range numericHostCases {
		f.Add(s.url)
	}
	f.Add("https://api.example.com:8443/x?y#z")
	f.Add("HTTP://Example.COM./")
	f.Fuzz(func(t *testing.T, raw string) {
		tgt, err := parseURL(raw, nil, false)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if s := tgt.u.Scheme; s != "http" && s != "https" {
			t.Fatalf("%q accepted with scheme %q", raw, s)
		}
		if tgt.u.User != nil {
			t.Fatalf("%q accepted with userinfo", raw)
		}
		if a, ok := whatwgIPv4(tgt.host); ok {
			if a.String() != tgt.host {
				t.Fatalf("%q: non-canonical numeric host %q (= %s) accepted", raw, tgt.host, a)
			}
			if IsBlocked(a) {
				t.Fatalf("%q: blocked address %s accepted", raw, a)
			}
		}
		if a, err := netip.ParseAddr(tgt.host); err == nil && IsBlocked(a) {
			t.Fatalf("%q: blocked literal %s accepted", raw, a)
		}
	})
}

func TestWhatwgIPv4Helper(t *testing.T) {
	// The fuzz oracle must itself be right for the fuzz test to mean anything.
	for in, want := range map[string]string{
		"2130706433": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "0x7f.1": "127.0.0.1",
		"127.1": "127.0.0.1", "0x7f000001": "127.0.0.1", "017700000001": "127.0.0.1",
		"127.0.1": "127.0.0.1", "10.0.0.1": "10.0.0.1", "0": "0.0.0.0", "1.2.3.04": "1.2.3.4",
	} {
		a, ok := whatwgIPv4(in)
		if !ok || a.String() != want {
			t.Errorf("whatwgIPv4(%q) = %v, %v; want %s", in, a, ok, want)
		}
	}
	for _, in := range []string{"example.com", "1.2.3.4.5", "256.1.1.1", "1..2"} {
		if _, ok := whatwgIPv4(in); ok {
			t.Errorf("whatwgIPv4(%q) parsed", in)
		}
	}
}
