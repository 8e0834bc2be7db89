package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// Plugin routes (/api/p/{pluginId}/{route}): the request a handler receives and
// the checks on what it returns. The HTTP side (auth, CSRF, rate limits) is the
// web package's; everything about the plugin's side of the exchange is here.

// ErrBadRouteResponse marks a route handler's return value that cannot be sent:
// a status out of range, a header off the allowlist, a body too large.
var ErrBadRouteResponse = errors.New("the plugin's route returned an invalid response")

// MaxRouteBody caps a route request's body and the body of its response.
const MaxRouteBody = 256 << 10

// RouteRequest is the request object a route handler gets (SPEC §5).
type RouteRequest struct {
	Method string `json:"method"`
	// Path is the route name: the URL path after /api/p/<plugin id>/.
	Path string `json:"path"`
	// Query holds the first value of each query parameter.
	Query map[string]string `json:"query"`
	// Headers holds the allowlisted request headers, with lower-case names.
	Headers map[string]string `json:"headers"`
	// Body is parsed JSON for a JSON request, the text otherwise, null when empty.
	Body json.RawMessage `json:"body"`
	// User is the signed-in caller of a private route; absent on public ones.
	User *RouteUser `json:"user,omitempty"`
	// IP is the client's address (X-Forwarded-For's first address only
	// behind a trusted proxy).
	IP string `json:"ip"`
	// URL is the absolute URL of the request.
	URL string `json:"url"`
}

// RouteUser is who called a private route: a public profile, never a credential.
type RouteUser struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Role string `json:"role"`
}

// RouteResponse is a checked response, ready to write.
type RouteResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// forwardedRequestHeaders are the request headers a plugin sees. Credentials
// (Cookie, Authorization, X-CSRF-Token) and hop-by-hop headers never reach it.
var forwardedRequestHeaders = []string{
	"accept", "accept-language", "content-type", "content-length", "user-agent", "referer", "origin",
	"if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
}

// refusedXHeaders are X- headers that carry credentials or that the server
// itself controls.
var refusedXHeaders = []string{"x-csrf-token", "x-content-type-options", "x-frame-options", "x-api-key", "x-auth-token"}

// refusedXHeaderPrefixes are X- headers that front proxies act on rather
// than pass to the browser: nginx's X-Accel-Redirect serves any file the
// proxy can read, X-Sendfile the same for Apache and lighttpd, LiteSpeed's
// likewise. A plugin answering one would read the server's disk. The
// legacy security headers are the server's to set, like the CSP.
var refusedXHeaderPrefixes = []string{"x-accel-", "x-sendfile", "x-lighttpd-", "x-litespeed-",
	"x-xss-protection", "x-permitted-cross-domain-policies", "x-dns-prefetch-control", "x-download-options"}

// checkLocation keeps a route's redirects on this site unless the route's
// manifest names the origin: a same-site path ("/thanks", not "//evil" or
// "/\evil", which browsers read as another host), or an absolute URL on one
// of the redirects origins. An open redirect on the CMS's origin is a
// phishing aid, so the default is closed.
func checkLocation(loc string, redirects []string) error {
	if strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && !strings.HasPrefix(loc, "/\\") && !strings.ContainsAny(loc, "\\\t\n\r") {
		return nil
	}
	u, err := url.Parse(loc)
	if err == nil && u.Scheme != "" && u.Host != "" && u.User == nil {
		origin := strings.ToLower(u.Scheme + "://" + u.Host)
		for _, o := range redirects {
			if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
				return nil
			}
		}
	}
	if len(redirects) == 0 {
		return fmt.Errorf("%w: Location %q must be a path on this site (starting with one \"/\"); to redirect elsewhere, declare the origin in the route's \"redirects\"", ErrBadRouteResponse, loc)
	}
	return fmt.Errorf("%w: Location %q is neither a path on this site nor on the route's redirects (%s)", ErrBadRouteResponse, loc, strings.Join(redirects, ", "))
}

// RequestHeaders returns the headers of h a route handler may see, lower-cased,
// each with its values joined by ", ".
func RequestHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for name, vals := range h {
		lc := strings.ToLower(name)
		ok := slices.Contains(forwardedRequestHeaders, lc) ||
			(strings.HasPrefix(lc, "x-") && !slices.Contains(refusedXHeaders, lc))
		if ok && len(vals) > 0 {
			out[lc] = strings.Join(vals, ", ")
		}
	}
	return out
}

// allowedResponseHeaders are the headers a route may set. Set-Cookie,
// CORS, CSP, HSTS and framing stay the server's: a plugin must not be able to
// plant cookies on the CMS's origin or loosen its browser protections.
var allowedResponseHeaders = []string{
	"content-type", "cache-control", "content-language", "content-disposition", "etag", "last-modified",
	"expires", "location", "vary", "retry-after", "link", "allow",
}

// RouteBody turns a request body into the route's body value: parsed JSON
// when contentType is JSON, the text otherwise, null when empty. A JSON body
// that does not parse, or a non-JSON body that is not UTF-8 text, is refused
// with a message naming the problem.
func RouteBody(contentType string, body []byte) (json.RawMessage, error) {
	if len(body) == 0 {
		return json.RawMessage("null"), nil
	}
	mt, _, _ := strings.Cut(strings.ToLower(contentType), ";")
	mt = strings.TrimSpace(mt)
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		// The isolate's own rules, checked here: a body it would refuse is
		// the client's mistake (400), not a failed invocation.
		if err := sandbox.CheckJSON(body); err != nil {
			if err.Error() == "not valid JSON" {
				return nil, errors.New("the body is declared as JSON but is not valid JSON")
			}
			return nil, fmt.Errorf("the JSON body cannot be given to a plugin: %w", err)
		}
		return json.RawMessage(body), nil
	}
	if !utf8.Valid(body) {
		return nil, errors.New("the body is not UTF-8 text; plugin routes accept JSON or text")
	}
	b, _ := json.Marshal(string(body))
	return b, nil
}

// ParseRouteResult checks what a route handler returned. An object whose keys
// are among status, headers and body, with a numeric status, is a full
// response; any other JSON value is sent as 200 JSON.
//
// redirects are the origins ("https://host[:port]") a Location header may
// point to besides same-site paths: the route's manifest "redirects".
func ParseRouteResult(value json.RawMessage, redirects ...string) (*RouteResponse, error) {
	if len(bytes.TrimSpace(value)) == 0 {
		value = json.RawMessage("null")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(value, &obj); err != nil || !isResponseShape(obj) {
		return jsonResponse(http.StatusOK, nil, value)
	}
	var status float64
	if err := json.Unmarshal(obj["status"], &status); err != nil || status != float64(int(status)) || status < 200 || status > 599 {
		return nil, fmt.Errorf("%w: status must be an integer from 200 to 599, got %s", ErrBadRouteResponse, obj["status"])
	}
	header := http.Header{}
	if raw, ok := obj["headers"]; ok && string(raw) != "null" {
		var hs map[string]string
		if err := json.Unmarshal(raw, &hs); err != nil {
			return nil, fmt.Errorf("%w: headers must be an object of strings", ErrBadRouteResponse)
		}
		for _, name := range sortedKeys(hs) {
			if err := checkResponseHeader(name, hs[name]); err != nil {
				return nil, err
			}
			if strings.EqualFold(name, "Location") {
				if err := checkLocation(hs[name], redirects); err != nil {
					return nil, err
				}
			}
			header.Set(name, hs[name])
		}
	}
	code := int(status)
	raw, hasBody := obj["body"]
	if !hasBody || string(raw) == "null" {
		return &RouteResponse{Status: code, Header: header}, nil
	}
	if code == http.StatusNoContent || code == http.StatusNotModified {
		return nil, fmt.Errorf("%w: status %d cannot have a body", ErrBadRouteResponse, code)
	}
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		if len(text) > MaxRouteBody {
			return nil, bodyTooLarge(len(text))
		}
		if header.Get("Content-Type") == "" {
			header.Set("Content-Type", "text/plain; charset=utf-8")
		}
		return &RouteResponse{Status: code, Header: header, Body: []byte(text)}, nil
	}
	return jsonResponse(code, header, raw)
}

func jsonResponse(code int, header http.Header, value json.RawMessage) (*RouteResponse, error) {
	if len(value) > MaxRouteBody {
		return nil, bodyTooLarge(len(value))
	}
	if header == nil {
		header = http.Header{}
	}
	if header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/json")
	}
	return &RouteResponse{Status: code, Header: header, Body: append(bytes.TrimSpace(value), '\n')}, nil
}

func bodyTooLarge(n int) error {
	return fmt.Errorf("%w: the body is %d bytes; the limit is %d", ErrBadRouteResponse, n, MaxRouteBody)
}

func isResponseShape(obj map[string]json.RawMessage) bool {
	raw, ok := obj["status"]
	if !ok || len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return false
	}
	for k := range obj {
		if k != "status" && k != "headers" && k != "body" {
			return false
		}
	}
	return true
}

func checkResponseHeader(name, value string) error {
	lc := strings.ToLower(name)
	for _, p := range refusedXHeaderPrefixes {
		if strings.HasPrefix(lc, p) {
			return fmt.Errorf("%w: header %q may not be set by a plugin: a front proxy would act on it (serve a file, redirect internally, change its own limits)", ErrBadRouteResponse, name)
		}
	}
	allowed := slices.Contains(allowedResponseHeaders, lc) || (strings.HasPrefix(lc, "x-") && !slices.Contains(refusedXHeaders, lc))
	if !allowed || !validHeaderName(name) {
		return fmt.Errorf("%w: header %q may not be set by a plugin (allowed: %s, and X-…)", ErrBadRouteResponse, name, strings.Join(allowedResponseHeaders, ", "))
	}
	if strings.ContainsAny(value, "\r\n\x00") || len(value) > 8<<10 {
		return fmt.Errorf("%w: header %q has a value with line breaks or over 8 KiB", ErrBadRouteResponse, name)
	}
	return nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// FindRoute returns the running version of an enabled plugin and the route
// it declares under name. A plugin that is unknown, never activated or
// deactivated, and a route it does not declare, are all ErrNotFound: to the
// outside world they do not exist. Whether a plugin is enabled, and which
// version runs, is the active set (see Active), which follows every write
// of it: a deactivated plugin's routes vanish at once in this process (and
// within a re-check of the generations in another), and while an upgrade
// awaits consent the consented version keeps serving.
func (m *Manager) FindRoute(ctx context.Context, pluginID, name string) (*ActivePlugin, manifest.Route, error) {
	ap, err := m.activePlugin(ctx, pluginID)
	if err != nil {
		return nil, manifest.Route{}, err
	}
	rt, ok := ap.Manifest.Route(name)
	if !ok {
		return nil, manifest.Route{}, fmt.Errorf("%w: %s has no route %q", ErrNotFound, pluginID, name)
	}
	return ap, rt, nil
}

// RouteError is a route invocation that failed on the plugin's side: it threw,
// hit a limit, or returned something that cannot be sent.
type RouteError struct {
	Plugin string
	Route  string
	// Limit names the limit hit, if that is why it failed.
	Limit string
	Err   error
}

func (e *RouteError) Error() string {
	return fmt.Sprintf("plugin %s, route %s: %v", e.Plugin, e.Route, e.Err)
}

func (e *RouteError) Unwrap() error { return e.Err }

// ServeRoute runs a route found by FindRoute in a fresh isolate and checks
// its response. Failures of the plugin are *RouteError; other errors are the
// server's.
func (m *Manager) ServeRoute(ctx context.Context, ap *ActivePlugin, route manifest.Route, req RouteRequest) (*RouteResponse, error) {
	req.Path = route.Name
	if req.Query == nil {
		req.Query = map[string]string{}
	}
	if req.Headers == nil {
		req.Headers = map[string]string{}
	}
	if req.Body == nil {
		req.Body = json.RawMessage("null")
	}
	res, err := m.Invoke(ctx, ap, sandbox.KindRoute, route.Name, req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if isPluginFault(err) {
			re := &RouteError{Plugin: ap.ID, Route: route.Name, Err: err}
			var le *sandbox.LimitError
			if errors.As(err, &le) {
				re.Limit = le.Limit
			}
			return nil, re
		}
		return nil, err
	}
	resp, err := ParseRouteResult(res.Value, route.Redirects...)
	if err != nil {
		return nil, &RouteError{Plugin: ap.ID, Route: route.Name, Err: err}
	}
	return resp, nil
}

// isPluginFault: the failure was the plugin's doing (or a broken worker the
// sandbox could not run it around), not the server's.
func isPluginFault(err error) bool {
	if errors.Is(err, sandbox.ErrWorkerFault) {
		return false // the sandbox's, not the plugin's: 503, retry later
	}
	return isScriptFault(err) || errors.Is(err, sandbox.ErrWorkerCrashed) || errors.Is(err, sandbox.ErrDenied) ||
		errors.Is(err, sandbox.ErrNotImplemented) || errors.Is(err, ErrBadCall)
}
