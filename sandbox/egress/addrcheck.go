package egress

import (
	"net/netip"
)

// blockedRange is one entry of the special-purpose table. More specific
// prefixes come before the ranges that contain them so the reason reported is
// the most precise one (255.255.255.255 before 240.0.0.0/4, ::1 before ::/96).
type blockedRange struct {
	prefix netip.Prefix
	reason string
}

func mustRange(p, reason string) blockedRange {
	return blockedRange{prefix: netip.MustParsePrefix(p), reason: reason}
}

// blocked4 holds the IANA IPv4 Special-Purpose Address Registry
// (https://www.iana.org/assignments/iana-ipv4-special-registry), every entry,
// including the few marked "globally reachable" (AS112, AMT, 6to4 relay):
// none of them is a legitimate target for a plugin's fetch.
var blocked4 = []blockedRange{
	mustRange("0.0.0.0/8", `a "this network" address (RFC 791)`),
	mustRange("10.0.0.0/8", "a private address (RFC 1918)"),
	mustRange("100.64.0.0/10", "a shared carrier-grade NAT address (RFC 6598)"),
	mustRange("127.0.0.0/8", "a loopback address (RFC 1122)"),
	mustRange("169.254.169.254/32", "the cloud metadata endpoint (link-local, RFC 3927)"),
	mustRange("169.254.0.0/16", "a link-local address (RFC 3927)"),
	mustRange("172.16.0.0/12", "a private address (RFC 1918)"),
	mustRange("192.0.0.0/24", "an IETF protocol assignment address (RFC 6890)"),
	mustRange("192.0.2.0/24", "a documentation address (TEST-NET-1, RFC 5737)"),
	mustRange("192.31.196.0/24", "an AS112 address (RFC 7535)"),
	mustRange("192.52.193.0/24", "an AMT address (RFC 7450)"),
	mustRange("192.88.99.0/24", "a 6to4 relay anycast address (RFC 7526)"),
	mustRange("192.168.0.0/16", "a private address (RFC 1918)"),
	mustRange("192.175.48.0/24", "an AS112 direct delegation address (RFC 7534)"),
	mustRange("198.18.0.0/15", "a benchmarking address (RFC 2544)"),
	mustRange("198.51.100.0/24", "a documentation address (TEST-NET-2, RFC 5737)"),
	mustRange("203.0.113.0/24", "a documentation address (TEST-NET-3, RFC 5737)"),
	mustRange("224.0.0.0/4", "a multicast address (RFC 5771)"),
	mustRange("255.255.255.255/32", "the limited broadcast address (RFC 919)"),
	mustRange("240.0.0.0/4", "a reserved address (RFC 1112)"),
}

// blocked6 holds the IANA IPv6 Special-Purpose Address Registry
// (https://www.iana.org/assignments/iana-ipv6-special-registry) plus the
// deprecated site-local and multicast ranges. Anything outside 2000::/3
// (global unicast) is refused afterwards as well, so unassigned space added
// to the registry later is covered without an update.
var blocked6 = []blockedRange{
	mustRange("::/128", "the unspecified address (RFC 4291)"),
	mustRange("::1/128", "a loopback address (RFC 4291)"),
	mustRange("::ffff:0:0/96", "an IPv4-mapped address (RFC 4291)"),
	mustRange("::/96", "an IPv4-compatible address (deprecated, RFC 4291)"),
	mustRange("64:ff9b::/96", "a NAT64 address (RFC 6052)"),
	mustRange("64:ff9b:1::/48", "a local-use NAT64 address (RFC 8215)"),
	mustRange("100::/64", "a discard-only address (RFC 6666)"),
	mustRange("100:0:0:1::/64", "a dummy address (RFC 9780)"),
	mustRange("2001::/32", "a Teredo address (RFC 4380)"),
	mustRange("2001:2::/48", "a benchmarking address (RFC 5180)"),
	mustRange("2001:20::/28", "an ORCHIDv2 address (RFC 7343)"),
	mustRange("2001::/23", "an IETF protocol assignment address (RFC 2928)"),
	mustRange("2001:db8::/32", "a documentation address (RFC 3849)"),
	mustRange("2002::/16", "a 6to4 address (RFC 3056)"),
	mustRange("2620:4f:8000::/48", "an AS112 direct delegation address (RFC 7534)"),
	mustRange("3fff::/20", "a documentation address (RFC 9637)"),
	mustRange("5f00::/16", "an SRv6 SID address (RFC 9602)"),
	mustRange("fc00::/7", "a unique local address (RFC 4193)"),
	mustRange("fe80::/10", "a link-local address (RFC 4291)"),
	mustRange("fec0::/10", "a site-local address (deprecated, RFC 3879)"),
	mustRange("ff00::/8", "a multicast address (RFC 4291)"),
}

var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// CheckAddr reports whether a may be dialled: nil when it is an ordinary
// public unicast address, otherwise a *BlockedError (wrapping
// ErrBlockedAddress) naming the reason. An IPv4-mapped IPv6 address is
// always refused; when the embedded IPv4 address is itself special the
// reason names it too.
func CheckAddr(a netip.Addr) error {
	if reason := blockedReason(a); reason != "" {
		return &BlockedError{Addr: a, Reason: reason}
	}
	return nil
}

// IsBlocked is CheckAddr as a boolean.
func IsBlocked(a netip.Addr) bool { return blockedReason(a) != "" }

func blockedReason(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "not a valid IP address"
	case a.Zone() != "":
		// A zone only makes sense for link-local addresses, which are blocked;
		// refusing every zoned address keeps the prefix checks zone-agnostic.
		return "an address with an IPv6 zone"
	case a.Is4():
		for i := range blocked4 {
			if blocked4[i].prefix.Contains(a) {
				return blocked4[i].reason
			}
		}
		return ""
	case a.Is4In6():
		if inner := blockedReason(a.Unmap()); inner != "" {
			return "an IPv4-mapped address of " + a.Unmap().String() + ", " + inner
		}
		return "an IPv4-mapped address (RFC 4291)"
	}
	for i := range blocked6 {
		if blocked6[i].prefix.Contains(a) {
			return blocked6[i].reason
		}
	}
	if !globalUnicast6.Contains(a) {
		return "outside the IPv6 global unicast range 2000::/3"
	}
	return ""
}

// allowedByLoopbackOption reports whether a is a loopback address that the
// UnsafeAllowLoopback option lets through. Only 127.0.0.0/8 and ::1 qualify;
// IPv4-mapped loopback (::ffff:127.0.0.1) stays blocked.
func allowedByLoopbackOption(a netip.Addr) bool {
	return a.Zone() == "" && !a.Is4In6() && a.IsLoopback()
}
