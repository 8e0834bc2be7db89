package egress

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// expectedBlocked is the test's own copy of every range that must be
// refused, written independently of the implementation's table so that
// deleting or narrowing an entry there makes these tests fail.
var expectedBlocked = []string{
	// IPv4 special-purpose registry
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24",
	"192.88.99.0/24", "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15", "198.51.100.0/24",
	"203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
	// IPv6 special-purpose registry and friends
	"::/128", "::1/128", "::ffff:0:0/96", "::/96", "64:ff9b::/96", "64:ff9b:1::/48",
	"100::/64", "100:0:0:1::/64", "2001::/23", "2001::/32", "2001:2::/48", "2001:20::/28",
	"2001:db8::/32", "2002::/16", "2620:4f:8000::/48", "3fff::/20", "5f00::/16",
	"fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
	// not global unicast at all
	"::/3", "4000::/2", "8000::/1",
}

// lastAddr is the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func TestCheckAddrBlocksEveryRangeEndToEnd(t *testing.T) {
	for _, s := range expectedBlocked {
		p := netip.MustParsePrefix(s)
		first, last := p.Addr(), lastAddr(p)
		for _, a := range []netip.Addr{first, first.Next(), last.Prev(), last} {
			if !p.Contains(a) {
				continue // /32 and /128 prefixes
			}
			err := CheckAddr(a)
			if !errors.Is(err, ErrBlockedAddress) {
				t.Errorf("%s (in %s): CheckAddr = %v, want ErrBlockedAddress", a, s, err)
			}
			if !IsBlocked(a) {
				t.Errorf("%s (in %s): IsBlocked = false", a, s)
			}
		}
	}
}

func TestCheckAddrReasons(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"10.0.0.5", "egress: 10.0.0.5 is a private address (RFC 1918)"},
		{"172.31.255.255", "egress: 172.31.255.255 is a private address (RFC 1918)"},
		{"192.168.1.1", "egress: 192.168.1.1 is a private address (RFC 1918)"},
		{"127.0.0.1", "egress: 127.0.0.1 is a loopback address (RFC 1122)"},
		{"169.254.169.254", "egress: 169.254.169.254 is the cloud metadata endpoint (link-local, RFC 3927)"},
		{"169.254.1.1", "egress: 169.254.1.1 is a link-local address (RFC 3927)"},
		{"100.64.0.1", "egress: 100.64.0.1 is a shared carrier-grade NAT address (RFC 6598)"},
		{"198.19.0.1", "egress: 198.19.0.1 is a benchmarking address (RFC 2544)"},
		{"255.255.255.255", "egress: 255.255.255.255 is the limited broadcast address (RFC 919)"},
		{"::1", "egress: ::1 is a loopback address (RFC 4291)"},
		{"::ffff:10.0.0.1", "egress: ::ffff:10.0.0.1 is an IPv4-mapped address of 10.0.0.1, a private address (RFC 1918)"},
		{"::ffff:8.8.8.8", "egress: ::ffff:8.8.8.8 is an IPv4-mapped address (RFC 4291)"},
		{"64:ff9b::a00:1", "egress: 64:ff9b::a00:1 is a NAT64 address (RFC 6052)"},
		{"2001::1", "egress: 2001::1 is a Teredo address (RFC 4380)"},
		{"2002:a00:1::1", "egress: 2002:a00:1::1 is a 6to4 address (RFC 3056)"},
		{"fd12::1", "egress: fd12::1 is a unique local address (RFC 4193)"},
		{"fe80::1", "egress: fe80::1 is a link-local address (RFC 4291)"},
		{"fe80::1%eth0", "egress: fe80::1%eth0 is an address with an IPv6 zone"},
		{"4000::1", "egress: 4000::1 is outside the IPv6 global unicast range 2000::/3"},
	}
	for _, tt := range tests {
		err := CheckAddr(netip.MustParseAddr(tt.addr))
		if err == nil || err.Error() != tt.want {
			t.Errorf("CheckAddr(%s) = %v, want %q", tt.addr, err, tt.want)
		}
	}
	if !IsBlocked(netip.Addr{}) {
		t.Error("the zero Addr must be blocked")
	}
}

func TestCheckAddrAllowsPublicAddresses(t *testing.T) {
	// Neighbours of blocked ranges included on purpose: an over-wide prefix
	// would block them.
	for _, s := range []string{
		"8.8.8.8", "1.1.1.1", "93.184.215.14", "9.255.255.255", "11.0.0.0",
		"100.63.255.255", "100.128.0.0", "126.255.255.255", "128.0.0.0",
		"169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0",
		"192.0.1.0", "192.0.3.0", "192.88.98.255", "192.167.255.255", "192.169.0.0",
		"198.17.255.255", "198.20.0.0", "203.0.112.255", "223.255.255.255",
		"2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "2001:200::1",
		"2001:db9::1", "2003::1", "2620:4f:8001::1", "3ffe:ffff::1",
	} {
		if err := CheckAddr(netip.MustParseAddr(s)); err != nil {
			t.Errorf("CheckAddr(%s) = %v, want nil", s, err)
		}
	}
}

func TestLoopbackOptionAllowsOnlyLoopback(t *testing.T) {
	d := newSafeDialer(newStubResolver(), true, 0)
	for _, s := range []string{"127.0.0.1", "127.255.255.254", "::1"} {
		if err := d.check("", netip.MustParseAddr(s)); err != nil {
			t.Errorf("with UnsafeAllowLoopback, %s: %v, want allowed", s, err)
		}
	}
	for _, s := range []string{"::ffff:127.0.0.1", "::127.0.0.1", "0.0.0.0", "10.0.0.1", "169.254.169.254", "fe80::1", "fd00::1", "64:ff9b::7f00:1"} {
		if err := d.check("", netip.MustParseAddr(s)); !errors.Is(err, ErrBlockedAddress) {
			t.Errorf("with UnsafeAllowLoopback, %s: %v, want ErrBlockedAddress", s, err)
		}
	}
	strict := newSafeDialer(newStubResolver(), false, 0)
	if err := strict.check("", netip.MustParseAddr("127.0.0.1")); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("without the option, 127.0.0.1: %v, want ErrBlockedAddress", err)
	}
}

func TestControlHookChecksSocketAddress(t *testing.T) {
	d := newSafeDialer(newStubResolver(), false, 0)
	for addr, blocked := range map[string]bool{
		"10.0.0.1:80": true, "[::1]:443": true, "[::ffff:10.0.0.1]:80": true,
		"not-an-address": true, "8.8.8.8:53": false, "[2606:4700::1]:443": false,
	} {
		err := d.control("tcp", addr, nil)
		if got := errors.Is(err, ErrBlockedAddress); got != blocked {
			t.Errorf("control(%q) = %v, blocked %v want %v", addr, err, got, blocked)
		}
	}
}

func TestBlockedErrorNamesHost(t *testing.T) {
	err := &BlockedError{Host: "api.example.test", Addr: netip.MustParseAddr("10.0.0.5"), Reason: "a private address (RFC 1918)"}
	if got := err.Error(); !strings.Contains(got, "api.example.test resolves to 10.0.0.5, a private address") {
		t.Errorf("message %q does not name host and address", got)
	}
}
