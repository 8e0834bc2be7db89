package egress

import (
	"errors"
	"fmt"
	"net/netip"
)

// Sentinel errors. Every error Fetch returns wraps at most one of these, so
// callers (the sandbox binding) can map them to plugin-visible messages with
// errors.Is while the message itself names the host or address and the reason.
var (
	ErrScheme           = errors.New("egress: scheme not allowed")
	ErrInvalidURL       = errors.New("egress: invalid URL")
	ErrAmbiguousHost    = errors.New("egress: non-canonical numeric host")
	ErrHostNotAllowed   = errors.New("egress: host not allowed")
	ErrBlockedAddress   = errors.New("egress: blocked address")
	ErrTooManyRedirects = errors.New("egress: too many redirects")
	ErrRedirectLoop     = errors.New("egress: redirect loop")
	ErrBodyTooLarge     = errors.New("egress: body too large")
	ErrHeaderNotAllowed = errors.New("egress: header not allowed")
	ErrTooManyHeaders   = errors.New("egress: headers too large")
	ErrMethod           = errors.New("egress: method not allowed")
	ErrTimeout          = errors.New("egress: timeout")
	ErrResolve          = errors.New("egress: host resolution failed")
	ErrInvalidInjection = errors.New("egress: invalid header injection")
)

// BlockedError reports an address refused by the special-purpose range check.
// It wraps ErrBlockedAddress.
type BlockedError struct {
	Host   string     // the host name that resolved to Addr; empty or equal to Addr for literals
	Addr   netip.Addr // the refused address
	Reason string     // e.g. "a private address (RFC 1918)"
}

func (e *BlockedError) Error() string {
	if e.Host != "" && e.Host != e.Addr.String() {
		return fmt.Sprintf("egress: %s resolves to %s, %s", e.Host, e.Addr, e.Reason)
	}
	return fmt.Sprintf("egress: %s is %s", e.Addr, e.Reason)
}

func (e *BlockedError) Unwrap() error { return ErrBlockedAddress }
