package egress

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// HeaderInjection adds a header the plugin never sees, typically a secret
// setting bound to an allowed host ("Authorization: Bearer …"). It is applied
// to a hop only when the hop is https, Hosts allows the hop's URL and no
// redirect has left the original origin yet. Its value never appears in logs
// or formatted output.
type HeaderInjection struct {
	Hosts  HostPolicy
	Header string
	Value  string
}

// String redacts the value so %v and %+v of a Request cannot leak it.
func (h HeaderInjection) String() string {
	return "egress.HeaderInjection{Header: " + h.Header + ", Value: [redacted]}"
}

// GoString redacts the value for %#v.
func (h HeaderInjection) GoString() string { return h.String() }

// LogValue redacts the value for log/slog.
func (h HeaderInjection) LogValue() slog.Value {
	return slog.GroupValue(slog.String("header", h.Header), slog.String("value", "[redacted]"))
}

// forbiddenHeaders are request headers a plugin may not set, with the reason
// reported to it. They are the transport's business (framing, hop-by-hop,
// compression), would let a plugin impersonate a proxy or a different
// virtual host, or override the method behind the allow-list.
var forbiddenHeaders = map[string]string{
	"accept-charset":         "it is chosen by the client",
	"accept-encoding":        "compression is negotiated by the client",
	"connection":             "it is a hop-by-hop header",
	"content-length":         "it is computed from the body",
	"expect":                 "it is managed by the client",
	"forwarded":              "it is a proxy header",
	"host":                   "the host comes from the URL",
	"http2-settings":         "it is a hop-by-hop header",
	"keep-alive":             "it is a hop-by-hop header",
	"te":                     "it is a hop-by-hop header",
	"trailer":                "it is a hop-by-hop header",
	"transfer-encoding":      "it is computed from the body",
	"upgrade":                "it is a hop-by-hop header",
	"via":                    "it is a proxy header",
	"x-forwarded-for":        "it is a proxy header",
	"x-forwarded-host":       "it is a proxy header",
	"x-forwarded-proto":      "it is a proxy header",
	"x-real-ip":              "it is a proxy header",
	"x-http-method":          "it overrides the method",
	"x-http-method-override": "it overrides the method",
	"x-method-override":      "it overrides the method",
}

// credentialHeaders are dropped once a redirect leaves the original origin,
// like browsers and net/http do.
var credentialHeaders = [...]string{"Authorization", "Cookie", "Cookie2", "Proxy-Authorization"}

// headerProblem returns why name may not be sent, or "" when it may.
func headerProblem(name string) string {
	if !httpguts.ValidHeaderFieldName(name) {
		return "it is not a valid header name"
	}
	lower := strings.ToLower(name)
	if reason, ok := forbiddenHeaders[lower]; ok {
		return reason
	}
	if strings.HasPrefix(lower, "proxy-") {
		return "it is a proxy header"
	}
	if strings.HasPrefix(lower, "sec-") {
		return "it is reserved for browsers"
	}
	return ""
}

// buildHeaders validates the plugin's headers against the safe set and the
// caps and converts them to canonical form.
func (c *Client) buildHeaders(in map[string]string) (http.Header, error) {
	if len(in) > c.maxRequestHeaders {
		return nil, fmt.Errorf("%w: %d request headers; the limit is %d", ErrTooManyHeaders, len(in), c.maxRequestHeaders)
	}
	h := make(http.Header, len(in)+1)
	size := 0
	for name, value := range in {
		if reason := headerProblem(name); reason != "" {
			return nil, fmt.Errorf("%w: %q: %s", ErrHeaderNotAllowed, shorten(name), reason)
		}
		if !httpguts.ValidHeaderFieldValue(value) {
			return nil, fmt.Errorf("%w: the value of %q contains control characters", ErrHeaderNotAllowed, name)
		}
		size += len(name) + len(value)
		if size > c.maxRequestHeaderBytes {
			return nil, fmt.Errorf("%w: request headers exceed the %d-byte limit", ErrTooManyHeaders, c.maxRequestHeaderBytes)
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if _, dup := h[key]; dup {
			// Map order is random, so which spelling wins would be too.
			return nil, fmt.Errorf("%w: %q is given more than once (header names are case-insensitive)", ErrHeaderNotAllowed, name)
		}
		h[key] = []string{value}
	}
	if _, ok := h["User-Agent"]; !ok && c.userAgent != "" {
		h["User-Agent"] = []string{c.userAgent}
	}
	return h, nil
}

// checkInjections validates host-supplied injections once per Fetch; a bad
// one is a configuration error, reported without its value.
func checkInjections(inj []HeaderInjection) error {
	for i := range inj {
		if inj[i].Hosts == nil {
			return fmt.Errorf("%w: %q has no host policy", ErrInvalidInjection, inj[i].Header)
		}
		if reason := headerProblem(inj[i].Header); reason != "" {
			return fmt.Errorf("%w: %q: %s", ErrInvalidInjection, shorten(inj[i].Header), reason)
		}
		if !httpguts.ValidHeaderFieldValue(inj[i].Value) {
			return fmt.Errorf("%w: the value for %q contains control characters", ErrInvalidInjection, inj[i].Header)
		}
	}
	return nil
}

// hopHeaders returns the headers for one hop: the plugin's, minus
// credentials once the origin has changed, plus the injections that apply.
func hopHeaders(base http.Header, inj []HeaderInjection, t target, crossed bool) http.Header {
	h := base.Clone()
	if crossed {
		for _, k := range credentialHeaders {
			delete(h, k)
		}
		return h
	}
	if t.u.Scheme != "https" {
		return h
	}
	for i := range inj {
		if inj[i].Hosts.Allows(t.u) {
			h[textproto.CanonicalMIMEHeaderKey(inj[i].Header)] = []string{inj[i].Value}
		}
	}
	return h
}
