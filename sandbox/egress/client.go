package egress

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxRedirects is the number of redirects Fetch follows before failing with
// ErrTooManyRedirects (SPEC §6: at most 5).
const MaxRedirects = 5

// Defaults used when an Options field is zero.
const (
	DefaultConnectTimeout         = 5 * time.Second
	DefaultTimeout                = 10 * time.Second
	DefaultMaxResponseBytes       = 4 << 20
	DefaultMaxRequestBytes        = 1 << 20
	DefaultMaxRequestHeaders      = 64
	DefaultMaxRequestHeaderBytes  = 16 << 10
	DefaultMaxResponseHeaderBytes = 64 << 10
	DefaultUserAgent              = "Pilcrow-egress/1"
)

// Options configure a Client. The zero value is a safe production client.
type Options struct {
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
	// ConnectTimeout bounds each TCP connect and the TLS handshake.
	ConnectTimeout time.Duration
	// Timeout bounds a whole Fetch: every hop and reading the body.
	Timeout time.Duration
	// MaxResponseBytes caps a response body; Request.MaxResponseBytes can
	// only lower it.
	MaxResponseBytes int64
	// MaxRequestBytes caps a request body.
	MaxRequestBytes int64
	// MaxRequestHeaders and MaxRequestHeaderBytes cap the plugin's headers
	// (count, and the sum of names and values).
	MaxRequestHeaders     int
	MaxRequestHeaderBytes int
	// MaxResponseHeaderBytes caps the response header block.
	MaxResponseHeaderBytes int64
	// UserAgent is sent when the plugin sets none.
	UserAgent string
	// RootCAs verifies servers; nil means the system roots. Tests and sites
	// with a private CA set it.
	RootCAs *x509.CertPool
	// Logger receives one debug line per hop (method, host, path, status;
	// never headers, query strings or bodies). nil means slog.Default().
	Logger *slog.Logger

	// UnsafeAllowLoopback lets requests reach 127.0.0.0/8 and ::1. It exists
	// only so tests and local development can run real servers on loopback;
	// it must never be set in production. Every other blocked range stays
	// blocked, and IPv4-mapped loopback (::ffff:127.0.0.1) too.
	UnsafeAllowLoopback bool
}

// Client is the outbound HTTP client behind ctx.http.fetch. It is safe for
// concurrent use and pools connections across Fetch calls (a pooled
// connection was checked when it was dialled).
type Client struct {
	transport             *http.Transport
	dialer                *safeDialer
	logger                *slog.Logger
	allowLoopback         bool
	timeout               time.Duration
	maxResponseBytes      int64
	maxRequestBytes       int64
	maxRequestHeaders     int
	maxRequestHeaderBytes int
	userAgent             string
}

// Request is one fetch as the plugin asked for it. Inject and
// MaxResponseBytes are set by the host, never decoded from plugin JSON.
type Request struct {
	Method  string            `json:"method,omitempty"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    []byte            `json:"body,omitempty"`

	// Inject adds secret headers on matching hops (see HeaderInjection).
	Inject []HeaderInjection `json:"-"`
	// MaxResponseBytes lowers the client's response cap for this request
	// (a manifest's lower limit); zero keeps the client's.
	MaxResponseBytes int64 `json:"-"`
}

// Response is the final (non-redirect) response.
type Response struct {
	Status     int               `json:"status"`
	StatusText string            `json:"statusText"`
	Headers    map[string]string `json:"headers"` // lower-case names, repeated values joined with ", "
	Body       []byte            `json:"body"`
	URL        string            `json:"url"` // the URL that produced this response, after redirects
	Redirected bool              `json:"redirected"`
}

// New returns a Client; zero Options fields take the defaults above.
func New(opts Options) *Client {
	c := &Client{
		allowLoopback:         opts.UnsafeAllowLoopback,
		timeout:               orDefault(opts.Timeout, DefaultTimeout),
		maxResponseBytes:      orDefault(opts.MaxResponseBytes, DefaultMaxResponseBytes),
		maxRequestBytes:       orDefault(opts.MaxRequestBytes, DefaultMaxRequestBytes),
		maxRequestHeaders:     orDefault(opts.MaxRequestHeaders, DefaultMaxRequestHeaders),
		maxRequestHeaderBytes: orDefault(opts.MaxRequestHeaderBytes, DefaultMaxRequestHeaderBytes),
		userAgent:             opts.UserAgent,
		logger:                opts.Logger,
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	var resolver Resolver = opts.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	connectTimeout := orDefault(opts.ConnectTimeout, DefaultConnectTimeout)
	c.dialer = newSafeDialer(resolver, opts.UnsafeAllowLoopback, connectTimeout)
	c.transport = &http.Transport{
		// Environment proxies are ignored on purpose: a proxy would dial on
		// our behalf and bypass the address checks.
		Proxy:                  nil,
		DialContext:            c.dialer.DialContext,
		TLSClientConfig:        &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    connectTimeout,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: orDefault(opts.MaxResponseHeaderBytes, DefaultMaxResponseHeaderBytes),
	}
	return c
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// CloseIdleConnections closes pooled connections, e.g. at shutdown.
func (c *Client) CloseIdleConnections() { c.transport.CloseIdleConnections() }

// allowedMethods are the methods a plugin may use; CONNECT and TRACE are not
// among them.
var allowedMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// Fetch performs req for a plugin whose reachable hosts are policy, following
// redirects by hand and re-checking every hop.
func (c *Client) Fetch(ctx context.Context, policy HostPolicy, req Request) (*Response, error) {
	if policy == nil {
		return nil, fmt.Errorf("%w: no host policy was given", ErrHostNotAllowed)
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	if !allowedMethods[method] {
		return nil, fmt.Errorf("%w: %q; use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS", ErrMethod, shorten(req.Method))
	}
	if len(req.Body) > 0 && (method == http.MethodGet || method == http.MethodHead) {
		return nil, fmt.Errorf("%w: a %s request cannot have a body", ErrMethod, method)
	}
	if int64(len(req.Body)) > c.maxRequestBytes {
		return nil, fmt.Errorf("%w: the request body is %d bytes; the cap is %d bytes", ErrBodyTooLarge, len(req.Body), c.maxRequestBytes)
	}
	headers, err := c.buildHeaders(req.Headers)
	if err != nil {
		return nil, err
	}
	if err := checkInjections(req.Inject); err != nil {
		return nil, err
	}
	maxBody := c.maxResponseBytes
	if req.MaxResponseBytes > 0 && req.MaxResponseBytes < maxBody {
		maxBody = req.MaxResponseBytes
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	t, err := c.checkTarget(req.URL, nil, policy)
	if err != nil {
		return nil, err
	}
	origin := t.origin
	body := req.Body
	crossed := false
	var visited map[string]struct{} // allocated on the first redirect only
	var prev *url.URL               // the URL that redirected to t, for messages

	for hop := 0; ; hop++ {
		if t.origin != origin {
			crossed = true // and stays so: credentials never come back
		}
		resp, err := c.roundTrip(ctx, method, t, hopHeaders(headers, req.Inject, t, crossed), body)
		if err != nil {
			if prev != nil {
				return nil, fmt.Errorf("redirect from %s: %w", shorten(prev.String()), err)
			}
			return nil, err
		}
		c.logger.DebugContext(ctx, "egress request", "method", method, "host", t.host, "path", t.u.Path, "status", resp.StatusCode, "hop", hop)

		loc := resp.Header.Get("Location")
		if !isRedirect(resp.StatusCode) || loc == "" {
			return c.readResponse(ctx, resp, t, hop > 0, maxBody)
		}
		drainAndClose(resp.Body)
		if hop == MaxRedirects {
			return nil, fmt.Errorf("%w: stopped after %d redirects at %s", ErrTooManyRedirects, MaxRedirects, shorten(t.u.String()))
		}
		next, err := c.checkTarget(loc, t.u, policy)
		if err != nil {
			return nil, fmt.Errorf("redirect from %s: %w", shorten(t.u.String()), err)
		}
		if visited == nil {
			visited = make(map[string]struct{}, MaxRedirects+1)
			visited[hopKey(method, t.u.String())] = struct{}{}
		}
		// 303, and 301/302 after a POST, turn into a GET without a body
		// (RFC 9110 §15.4; what browsers do).
		if resp.StatusCode == http.StatusSeeOther && method != http.MethodHead ||
			(resp.StatusCode == http.StatusMovedPermanently || resp.StatusCode == http.StatusFound) && method == http.MethodPost {
			if body != nil || method != http.MethodGet {
				headers = withoutBodyHeaders(headers)
			}
			method, body = http.MethodGet, nil
		}
		key := hopKey(method, next.u.String())
		if _, seen := visited[key]; seen {
			return nil, fmt.Errorf("%w: %s redirects back to %s", ErrRedirectLoop, shorten(t.u.String()), shorten(next.u.String()))
		}
		visited[key] = struct{}{}
		prev, t = t.u, next
	}
}

func hopKey(method, u string) string { return method + " " + u }

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// withoutBodyHeaders drops the headers that described a body that is no
// longer sent, on a copy (the caller's map stays intact).
func withoutBodyHeaders(h http.Header) http.Header {
	h = h.Clone()
	delete(h, "Content-Type")
	delete(h, "Content-Encoding")
	delete(h, "Content-Language")
	return h
}

// checkTarget parses and checks one hop's URL: syntax, scheme, numeric host
// forms, literal addresses and the host policy.
func (c *Client) checkTarget(raw string, base *url.URL, policy HostPolicy) (target, error) {
	t, err := parseURL(raw, base, c.allowLoopback)
	if err != nil {
		return target{}, err
	}
	if !policy.Allows(t.u) {
		return target{}, fmt.Errorf("%w: %s is not in the plugin's allowed hosts", ErrHostNotAllowed, t.u.Host)
	}
	return t, nil
}

func (c *Client) roundTrip(ctx context.Context, method string, t target, h http.Header, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, t.u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	hreq.Header = h
	resp, err := c.transport.RoundTrip(hreq)
	if err != nil {
		return nil, c.classify(ctx, method, t, err)
	}
	return resp, nil
}

// classify turns transport errors into this package's errors with a message
// naming the host, keeping the original error wrapped.
func (c *Client) classify(ctx context.Context, method string, t target, err error) error {
	var be *BlockedError
	if errors.As(err, &be) {
		if be.Host == "" {
			be.Host = t.host
		}
		return be
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s %s did not complete within %s: %w", ErrTimeout, method, t.host, c.timeout, err)
	}
	for _, sentinel := range []error{ErrTimeout, ErrResolve, ErrInvalidURL} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("egress: %s %s was cancelled: %w", method, t.host, err)
	}
	return fmt.Errorf("egress: %s %s failed: %w", method, t.host, err)
}

// readResponse streams the body under the cap and converts the response to
// its JSON-friendly form.
func (c *Client) readResponse(ctx context.Context, resp *http.Response, t target, redirected bool, maxBody int64) (*Response, error) {
	defer resp.Body.Close()
	if resp.ContentLength > maxBody {
		return nil, bodyTooLarge(t.host, maxBody)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength) + 1) // +1 so ReadFrom sees EOF without growing
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, c.classify(ctx, resp.Request.Method, t, err)
	}
	if n > maxBody {
		return nil, bodyTooLarge(t.host, maxBody)
	}
	out := &Response{
		Status:     resp.StatusCode,
		StatusText: http.StatusText(resp.StatusCode),
		Headers:    make(map[string]string, len(resp.Header)),
		Body:       buf.Bytes(),
		URL:        t.u.String(),
		Redirected: redirected,
	}
	for k, v := range resp.Header {
		out.Headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	return out, nil
}

func bodyTooLarge(host string, limit int64) error {
	return fmt.Errorf("%w: the response from %s exceeds the %d-byte cap", ErrBodyTooLarge, host, limit)
}

// drainAndClose reads a little of a redirect's body so the connection can be
// reused, without letting a server make us read much.
func drainAndClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 4<<10)
	_ = body.Close()
}
