package manifest

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// ErrBadHostPattern is wrapped by every error ParseHostPattern returns.
var ErrBadHostPattern = errors.New("invalid host pattern")

// HostPattern is one entry of network.allowedHosts, normalised. It is the only host
// matcher in Pilcrow: validation, consent, consent diffs and the egress client all use
// it, so what the admin approved is exactly what the plugin can reach.
//
// Rules:
//   - "api.example.com" matches that host only, on the default port of the request's
//     scheme (http 80, https 443). "api.example.com:8443" matches port 8443 only.
//   - "*.example.com" matches any host with at least one more label in front
//     (a.example.com, a.b.example.com). It does NOT match example.com itself: the
//     admin reads "any subdomain of example.com", and a plugin that needs the apex must
//     list it too. "*" is allowed only as the whole first label, and never in front of
//     a public suffix ("*.com", "*.co.uk").
//   - Hosts compare case-insensitively, one trailing dot is ignored, and
//     internationalised names are compared in their ASCII (punycode) form.
//   - IP literals (1.2.3.4, [2001:db8::1]) are allowed as exact hosts only. The
//     egress client still refuses special-purpose addresses (loopback, private, …)
//     when it dials, so listing one grants nothing there outside tests.
//   - Single-label names ("localhost") are refused: they resolve differently from
//     machine to machine.
type HostPattern struct {
	host     string     // ASCII, lower case, no trailing dot; for a wildcard the part after "*."
	addr     netip.Addr // valid for IP literals
	wildcard bool
	port     int // 0: the default port of the request's scheme
}

// hostProfile maps and validates names the way browsers look them up (UTS #46
// non-transitional, STD3 rules, Bidi rule, DNS lengths).
var hostProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.StrictDomainName(true),
	idna.VerifyDNSLength(true),
)

func badPattern(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadHostPattern, fmt.Sprintf(format, args...))
}

// ParseHostPattern parses and normalises one allowedHosts entry. Errors wrap
// ErrBadHostPattern and say what to write instead.
func ParseHostPattern(s string) (HostPattern, error) {
	switch {
	case s == "":
		return HostPattern{}, badPattern("empty host")
	case strings.Contains(s, "://"):
		return HostPattern{}, badPattern("write the host only, without a scheme such as \"https://\"")
	case strings.ContainsAny(s, "/?#@"):
		return HostPattern{}, badPattern("write the host only, without a path, query or user name")
	case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return HostPattern{}, badPattern("host contains spaces or control characters")
	}
	host, port, err := splitHostPort(s)
	if err != nil {
		return HostPattern{}, err
	}
	p := HostPattern{port: port}
	if strings.HasPrefix(host, "[") {
		addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return HostPattern{}, badPattern("%q is not an IPv6 address", host)
		}
		p.addr = addr
		return p, nil
	}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		p.wildcard = true
		host = rest
	}
	if strings.Contains(host, "*") {
		return HostPattern{}, badPattern("\"*\" is only allowed as the whole first label, as in \"*.example.com\"")
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if p.wildcard {
			return HostPattern{}, badPattern("an IP address cannot have a \"*.\" wildcard")
		}
		if addr.Is6() {
			return HostPattern{}, badPattern("write IPv6 addresses in brackets, as in \"[%s]\"", host)
		}
		p.addr = addr
		return p, nil
	}
	name, err := normalizeName(host)
	if err != nil {
		return HostPattern{}, badPattern("%q is not a valid host name: %v", host, err)
	}
	if !strings.Contains(name, ".") {
		if p.wildcard {
			return HostPattern{}, badPattern("\"*.%s\" would match every site under the top-level domain %q", name, name)
		}
		return HostPattern{}, badPattern("%q is a single-label name; use a fully qualified name like \"api.example.com\"", name)
	}
	if last := name[strings.LastIndexByte(name, '.')+1:]; strings.Trim(last, "0123456789") == "" {
		return HostPattern{}, badPattern("%q is neither a host name nor an IPv4 address", name)
	}
	if p.wildcard {
		if ps, icann := publicsuffix.PublicSuffix(name); ps == name && icann {
			return HostPattern{}, badPattern("\"*.%s\" would match every site under the public suffix %q", name, name)
		}
	}
	p.host = name
	return p, nil
}

// splitHostPort splits "host[:port]" and "[v6][:port]". The port must be a decimal
// 1-65535 without leading zeros, so each pattern has exactly one spelling.
func splitHostPort(s string) (string, int, error) {
	host, portStr := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, badPattern("missing \"]\" after the IPv6 address")
		}
		host, portStr = s[:end+1], s[end+1:]
		if portStr != "" {
			var ok bool
			if portStr, ok = strings.CutPrefix(portStr, ":"); !ok {
				return "", 0, badPattern("unexpected %q after the IPv6 address", portStr)
			}
		} else {
			return host, 0, nil
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if strings.Count(s, ":") > 1 {
			return "", 0, badPattern("write IPv6 addresses in brackets, as in \"[2001:db8::1]:443\"")
		}
		host, portStr = s[:i], s[i+1:]
	} else {
		return host, 0, nil
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 || strings.HasPrefix(portStr, "0") || strings.HasPrefix(portStr, "+") {
		return "", 0, badPattern("port %q must be a number from 1 to 65535", portStr)
	}
	return host, port, nil
}

// normalizeName lower-cases a DNS name, strips one trailing dot and converts it to
// its ASCII form.
func normalizeName(h string) (string, error) {
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return "", errors.New("empty name")
	}
	if !utf8.ValidString(h) {
		return "", errors.New("not valid UTF-8")
	}
	a, err := hostProfile.ToASCII(h)
	if err != nil {
		return "", err
	}
	a = strings.ToLower(a)
	// The canonical form must be a fixed point, or the same pattern could be stored
	// and compared under two spellings.
	if again, err := hostProfile.ToASCII(a); err != nil || again != a {
		return "", fmt.Errorf("%q does not normalise to a stable ASCII name", h)
	}
	return a, nil
}

// String returns the canonical spelling ("*.example.com:8443", "[2001:db8::1]").
func (p HostPattern) String() string {
	var h string
	switch {
	case p.addr.Is6():
		h = "[" + p.addr.String() + "]"
	case p.addr.IsValid():
		h = p.addr.String()
	case p.wildcard:
		h = "*." + p.host
	default:
		h = p.host
	}
	if p.port != 0 {
		h += ":" + strconv.Itoa(p.port)
	}
	return h
}

// Wildcard reports whether the pattern is "*.suffix".
func (p HostPattern) Wildcard() bool { return p.wildcard }

// Host returns the normalised host (for a wildcard, the suffix after "*.").
func (p HostPattern) Host() string {
	if p.addr.IsValid() {
		return p.addr.String()
	}
	return p.host
}

// Port returns the explicit port, or 0 for "the scheme's default port".
func (p HostPattern) Port() int { return p.port }

// DefaultPort returns the port a URL of the scheme uses when it names none, or 0 for
// schemes plugins cannot use.
func DefaultPort(scheme string) int {
	switch strings.ToLower(scheme) {
	case "http":
		return 80
	case "https":
		return 443
	}
	return 0
}

// Match reports whether a request to scheme://host:port is allowed by the pattern.
// port 0 means the scheme's default port. Only http and https ever match.
func (p HostPattern) Match(scheme, host string, port int) bool {
	def := DefaultPort(scheme)
	if def == 0 {
		return false
	}
	if port == 0 {
		port = def
	}
	want := p.port
	if want == 0 {
		want = def
	}
	if port != want {
		return false
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return p.addr.IsValid() && addr == p.addr
	}
	if p.addr.IsValid() {
		return false
	}
	name, err := normalizeName(host)
	if err != nil {
		return false
	}
	if !p.wildcard {
		return name == p.host
	}
	return strings.HasSuffix(name, "."+p.host)
}

// Covers reports whether every request q allows is also allowed by p. The consent
// diff uses it to tell a new or broader host from one already approved.
func (p HostPattern) Covers(q HostPattern) bool {
	if p.port != q.port {
		return false
	}
	if p.addr.IsValid() || q.addr.IsValid() {
		return p.addr == q.addr && p.addr.IsValid()
	}
	if !p.wildcard {
		return !q.wildcard && p.host == q.host
	}
	// Same rule as Match: the apex is not a subdomain, so "*.a.com" covers
	// "*.a.com", "*.b.a.com" and "b.a.com" but not "a.com".
	return q.host == p.host && q.wildcard || strings.HasSuffix(q.host, "."+p.host)
}

// HostSet is a list of host patterns; a request is allowed if any pattern matches.
type HostSet []HostPattern

// ParseHostSet parses every pattern; the error names each bad entry.
func ParseHostSet(patterns []string) (HostSet, error) {
	set := make(HostSet, 0, len(patterns))
	var errs []error
	for _, s := range patterns {
		p, err := ParseHostPattern(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q: %w", s, err))
			continue
		}
		set = append(set, p)
	}
	return set, errors.Join(errs...)
}

// Match reports whether any pattern matches scheme://host:port.
func (s HostSet) Match(scheme, host string, port int) bool {
	for _, p := range s {
		if p.Match(scheme, host, port) {
			return true
		}
	}
	return false
}

// Allows reports whether a request to u is allowed: an absolute http or https URL
// whose host and port match a pattern.
func (s HostSet) Allows(u *url.URL) bool {
	if u == nil || u.Opaque != "" || u.Host == "" {
		return false
	}
	port := 0
	if ps := u.Port(); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 {
			return false
		}
		port = n
	}
	return s.Match(u.Scheme, u.Hostname(), port)
}

// Covers reports whether some pattern of s covers q.
func (s HostSet) Covers(q HostPattern) bool {
	for _, p := range s {
		if p.Covers(q) {
			return true
		}
	}
	return false
}

// Strings returns the canonical spelling of every pattern.
func (s HostSet) Strings() []string {
	out := make([]string, len(s))
	for i, p := range s {
		out[i] = p.String()
	}
	return out
}
