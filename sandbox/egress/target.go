package egress

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// HostPolicy decides which URLs a plugin may reach. It is consulted with the
// normalised URL (lower-case ASCII host, no trailing dot, explicit port only
// when the URL had one) on the first request and on every redirect hop. The
// manifest package's HostSet implements it for a plugin's allowedHosts.
type HostPolicy interface {
	Allows(u *url.URL) bool
}

// maxURLLength bounds the URLs a plugin (or a redirecting server) can hand us,
// so parsing and error messages stay cheap.
const maxURLLength = 8 << 10

// target is one checked hop: the URL to request and what the checks learnt.
type target struct {
	u       *url.URL
	host    string     // lower-case ASCII host name or canonical IP text, no brackets
	literal netip.Addr // valid when the URL host is an IP literal
	origin  string     // scheme://host:port, port always explicit
}

// parseURL parses raw, resolving it against base when base is not nil (a
// redirect Location), and rejects what no hop may carry: other schemes,
// userinfo, opaque forms, bad ports and hosts that are not a DNS name or a
// canonical IP literal. It does not consult the host policy.
func parseURL(raw string, base *url.URL, allowLoopback bool) (target, error) {
	if len(raw) > maxURLLength {
		return target{}, fmt.Errorf("%w: URL is %d bytes; the limit is %d", ErrInvalidURL, len(raw), maxURLLength)
	}
	var (
		u   *url.URL
		err error
	)
	if base != nil {
		u, err = base.Parse(raw)
	} else {
		u, err = url.Parse(raw)
	}
	if err != nil {
		return target{}, fmt.Errorf("%w: %q: %v", ErrInvalidURL, shorten(raw), unwrapURLError(err))
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return target{}, fmt.Errorf("%w: %q in %q; only http and https are allowed", ErrScheme, u.Scheme, shorten(raw))
	}
	if u.Opaque != "" {
		return target{}, fmt.Errorf("%w: %q has no host (write %s://host/...)", ErrInvalidURL, shorten(raw), u.Scheme)
	}
	if u.User != nil {
		return target{}, fmt.Errorf("%w: %q contains credentials; send them in a header instead", ErrInvalidURL, shorten(raw))
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return target{}, fmt.Errorf("%w: port %q in %q is not a number from 1 to 65535", ErrInvalidURL, port, shorten(raw))
		}
	}
	host, literal, err := canonicalHost(u.Hostname())
	if err != nil {
		return target{}, err
	}
	if literal.IsValid() && !(allowLoopback && allowedByLoopbackOption(literal)) {
		if err := CheckAddr(literal); err != nil {
			return target{}, err
		}
	}

	urlHost := host // host as written in a URL: IPv6 literals in brackets
	if literal.Is6() {
		urlHost = "[" + host + "]"
	}
	u.Host = urlHost
	if port != "" {
		u.Host += ":" + port
	}
	u.Fragment, u.RawFragment = "", ""

	// The origin spells the default port out, so http://h and http://h:80
	// are the same origin when deciding whether credentials may follow.
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return target{u: u, host: host, literal: literal, origin: u.Scheme + "://" + urlHost + ":" + port}, nil
}

// canonicalHost returns the lower-case ASCII form of a URL host, and the
// address when the host is an IP literal.
//
// Numeric IPv4 hosts are refused unless they are in canonical dotted-decimal
// form, rather than normalised: "2130706433", "0177.0.0.1", "0x7f.1",
// "127.1" and "1.2.3.04" all mean 127.0.0.1 or something else depending on
// who parses them. A host counts as numeric the way the WHATWG URL standard
// decides it: its last label is all decimal digits or 0x-prefixed hex.
// IPv6 literals have a single unambiguous grammar, so they are parsed and the
// address is checked (which refuses IPv4-mapped and -compatible forms).
func canonicalHost(h string) (string, netip.Addr, error) {
	if h == "" {
		return "", netip.Addr{}, fmt.Errorf("%w: URL has no host", ErrInvalidURL)
	}
	if strings.IndexByte(h, ':') >= 0 {
		a, err := netip.ParseAddr(h)
		if err != nil {
			return "", netip.Addr{}, fmt.Errorf("%w: host %q is not a valid IPv6 address", ErrInvalidURL, shorten(h))
		}
		return a.String(), a, nil
	}
	// IDNA mapping first: it folds case, full-width digits and ideographic
	// full stops, so "１２７。０。０。１" is judged as the 127.0.0.1 it becomes.
	ascii, err := idna.Lookup.ToASCII(strings.TrimSuffix(h, "."))
	if err != nil {
		return "", netip.Addr{}, fmt.Errorf("%w: host %q is not a valid domain name: %v", ErrInvalidURL, shorten(h), err)
	}
	ascii = strings.TrimSuffix(ascii, ".")
	if ascii == "" || strings.Contains(ascii, "..") {
		return "", netip.Addr{}, fmt.Errorf("%w: host %q is not a valid domain name", ErrInvalidURL, shorten(h))
	}
	if !endsInNumber(ascii) {
		return ascii, netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(ascii)
	if err != nil || !a.Is4() || a.String() != ascii {
		return "", netip.Addr{}, fmt.Errorf("%w: %q; write an IPv4 address as four decimal numbers without leading zeros (like 93.184.215.14)", ErrAmbiguousHost, shorten(h))
	}
	return ascii, a, nil
}

// endsInNumber is the WHATWG URL "ends in a number" test: a host whose last
// label is decimal digits or 0x-prefixed hex is parsed as IPv4 by browsers.
func endsInNumber(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if len(last) >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		for i := 2; i < len(last); i++ {
			if !isHex(last[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// shorten keeps error messages readable when a URL is long.
func shorten(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// unwrapURLError drops url.Error's "parse <url>:" prefix, which would repeat
// the URL the caller's message already quotes.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// CheckURL applies the checks every hop gets before any connection is made:
// http or https, no credentials, a canonical host, and an IP-literal host
// outside the blocked ranges (loopback allowed only with allowLoopback). It
// returns the normalised URL. Host names are checked again, against what they
// resolve to, when a request dials; callers that store a URL for later (core
// webhooks) use this to refuse an unusable one up front.
func CheckURL(raw string, allowLoopback bool) (*url.URL, error) {
	t, err := parseURL(raw, nil, allowLoopback)
	if err != nil {
		return nil, err
	}
	return t.u, nil
}

// CheckHostAddrs reports the first of addrs that a request to host would be
// refused for, as the dialer decides it.
func CheckHostAddrs(host string, addrs []netip.Addr, allowLoopback bool) error {
	d := safeDialer{allowLoopback: allowLoopback}
	for _, a := range addrs {
		if err := d.check(host, a); err != nil {
			return err
		}
	}
	return nil
}

// AnyHost is the HostPolicy that lets every URL through (the address checks
// still apply): for site-configured targets such as core webhooks.
type AnyHost struct{}

// Allows implements HostPolicy.
func (AnyHost) Allows(*url.URL) bool { return true }
