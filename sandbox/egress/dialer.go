package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// Resolver looks up a host's addresses. *net.Resolver implements it; tests
// inject stubs that map listed hosts to loopback, private or changing
// addresses.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// safeDialer resolves a host once, checks every candidate address and then
// dials the checked addresses themselves, never the name. It is the only way
// the Transport opens connections.
type safeDialer struct {
	resolver       Resolver
	allowLoopback  bool
	connectTimeout time.Duration
	net            net.Dialer
}

func newSafeDialer(r Resolver, allowLoopback bool, connectTimeout time.Duration) *safeDialer {
	d := &safeDialer{resolver: r, allowLoopback: allowLoopback, connectTimeout: connectTimeout}
	d.net = net.Dialer{
		Timeout:   connectTimeout,
		KeepAlive: 30 * time.Second,
		// Last line of defence: whatever path led here, the socket address
		// about to be connected is checked once more.
		Control: d.control,
	}
	return d
}

// check applies the special-purpose rules, with the loopback exception when
// the unsafe test option is on.
func (d *safeDialer) check(host string, a netip.Addr) error {
	if d.allowLoopback && allowedByLoopbackOption(a) {
		return nil
	}
	if reason := blockedReason(a); reason != "" {
		return &BlockedError{Host: host, Addr: a, Reason: reason}
	}
	return nil
}

func (d *safeDialer) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse the dialled address %q", ErrBlockedAddress, address)
	}
	return d.check("", ap.Addr())
}

// DialContext has the signature http.Transport expects.
func (d *safeDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURL, address, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("%w: port %q", ErrInvalidURL, portText)
	}

	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		// A literal was already checked with the URL; check again anyway so
		// the dialer is safe on its own.
		addrs = []netip.Addr{a}
	} else {
		addrs, err = d.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrResolve, host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("%w: %s has no addresses", ErrResolve, host)
		}
		// net.Resolver returns IPv4 answers from /etc/hosts in 16-byte form;
		// unmapping makes them plain IPv4 (which is what the kernel would
		// dial) before they are judged.
		for i := range addrs {
			addrs[i] = addrs[i].Unmap()
		}
	}
	// Every candidate must pass: a name that resolves to a private address
	// among public ones is refused rather than partly trusted.
	for _, a := range addrs {
		if err := d.check(host, a); err != nil {
			return nil, err
		}
	}

	var firstErr error
	for _, a := range addrs {
		conn, err := d.net.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			err = fmt.Errorf("%w: connecting to %s (%s) took longer than %s", ErrTimeout, host, a, d.connectTimeout)
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}
