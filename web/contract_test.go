package web_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
)

// The contract test: every /api response the end-to-end tests receive
// through the harness client (client.do) is validated against the served
// OpenAPI document by libopenapi-validator, so a handler that drifts from
// the document fails whichever test exercised it. The paths do not depend
// on the collections, so one validator serves the whole test binary.

type contract struct {
	v validator.Validator
	// ops are the document's operations, and seen those answered with a
	// documented success at least once (see TestMain).
	ops  []operationPattern
	mu   sync.Mutex // serialises validation (the validator caches lazily) and seen
	seen map[string]bool
}

type operationPattern struct {
	key string // "get /api/users/{id}"
	re  *regexp.Regexp
	// concrete counts the literal segments: /api/openapi.json beats a
	// template that would also match.
	concrete int
}

var (
	contractOnce sync.Once
	contractV    *contract
	contractErr  error
)

// newContract builds a validator from an OpenAPI document.
func newContract(doc []byte) (*contract, error) {
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("parse OpenAPI document: %w", err)
	}
	v, errs := validator.NewValidator(d, config.WithoutSecurityValidation())
	if len(errs) > 0 {
		return nil, fmt.Errorf("build validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("the document is not valid OpenAPI: %s", describe(verrs))
	}
	var paths struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &paths); err != nil {
		return nil, err
	}
	c := &contract{v: v, seen: map[string]bool{}}
	for p, item := range paths.Paths {
		pat := regexp.QuoteMeta(p)
		pat = strings.ReplaceAll(pat, `\{route\}`, `.+`)
		pat = regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(pat, `[^/]+`)
		re := regexp.MustCompile("^" + pat + "$")
		for m := range item {
			c.ops = append(c.ops, operationPattern{key: m + " " + p, re: re, concrete: strings.Count(p, "/") - strings.Count(p, "{")})
		}
	}
	return c, nil
}

// record notes which operation a successful exchange exercised.
func (c *contract) record(method, path string) {
	best := -1
	for i, op := range c.ops {
		if strings.HasPrefix(op.key, strings.ToLower(method)+" ") && op.re.MatchString(path) &&
			(best < 0 || op.concrete > c.ops[best].concrete) {
			best = i
		}
	}
	if best >= 0 {
		c.seen[c.ops[best].key] = true
	}
}

// unexercised lists the operations no test answered with a success.
func (c *contract) unexercised() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, op := range c.ops {
		plugin := strings.Contains(op.key, " /api/p/")
		if plugin && !strings.HasPrefix(op.key, "get ") && !strings.HasPrefix(op.key, "post ") {
			continue // the plugin route takes every method; GET and POST stand for them
		}
		if !c.seen[op.key] {
			out = append(out, op.key)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// siteContract is the validator of the document a test site serves, built
// the first time any test needs it.
func siteContract(ts *testSite) (*contract, error) {
	contractOnce.Do(func() {
		res, err := http.Get(ts.URL + "/api/openapi.json")
		if err != nil {
			contractErr = err
			return
		}
		defer res.Body.Close()
		doc, err := io.ReadAll(res.Body)
		if err != nil {
			contractErr = err
			return
		}
		if res.StatusCode != http.StatusOK {
			contractErr = fmt.Errorf("GET /api/openapi.json: %d %s", res.StatusCode, doc)
			return
		}
		contractV, contractErr = newContract(doc)
	})
	return contractV, contractErr
}

// check validates one exchange. Only the response is checked: the tests
// send hostile requests on purpose, and the server must answer those with
// a documented problem too.
func (c *contract) check(req *http.Request, status int, header http.Header, body []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if status < 400 {
		c.record(req.Method, req.URL.Path)
	}
	p := req.URL.Path
	if req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" {
		return nil // CORS preflights are answered by middleware on every path, not by routes
	}
	if !strings.HasPrefix(p, "/api/") && !isProbe(p) || req.Method == http.MethodHead || status == 499 {
		return nil // admin pages and media files are not JSON; HEAD has no body
	}
	if strings.HasPrefix(p, "/api/p/") {
		return nil // plugin routes answer whatever the plugin does
	}
	res := &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)), Request: req}
	if ok, errs := c.v.ValidateHttpResponse(req, res); !ok {
		if (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) && len(errs) > 0 &&
			(errs[0].IsPathMissingError() || errs[0].IsOperationMissingError()) {
			// No such route, so nothing in the document; the answer must
			// still be a problem.
			if mt := header.Get("Content-Type"); mt != "application/problem+json" {
				return fmt.Errorf("%s %s → %d with Content-Type %q, want application/problem+json", req.Method, req.URL.Path, status, mt)
			}
			return nil
		}
		return fmt.Errorf("%s %s → %d does not match the OpenAPI document: %s\nbody: %.600s", req.Method, req.URL.Path, status, describe(errs), body)
	}
	return nil
}

func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  - %v", e)
	}
	return b.String()
}

// checkContract is called by client.do for every response.
func (c *client) checkContract(req *http.Request, status int, header http.Header, body []byte) {
	c.t.Helper()
	ct, err := siteContract(c.ts)
	if err != nil {
		c.t.Fatalf("contract: %v", err)
	}
	if err := ct.check(req, status, header, body); err != nil {
		c.t.Errorf("contract: %v", err)
	}
}

// contractCoverage is run by TestMain after a full run (no -run filter): it
// fails the run when a documented operation was never answered with a
// success, so every route class has its responses checked against the
// document by some test.
func contractCoverage() error {
	if f := flag.Lookup("test.run"); f == nil || f.Value.String() != "" {
		return nil
	}
	if f := flag.Lookup("test.short"); f != nil && f.Value.String() == "true" {
		return nil
	}
	if contractV == nil {
		return fmt.Errorf("contract: no test exercised the API")
	}
	if missing := contractV.unexercised(); len(missing) > 0 {
		return fmt.Errorf("contract: no test got a success from %d documented operation(s); exercise them so their responses are checked against the document:\n  %s",
			len(missing), strings.Join(missing, "\n  "))
	}
	return nil
}

// isProbe names the JSON routes outside /api that the document covers: the
// health check and the liveness and readiness probes.
func isProbe(p string) bool { return p == "/healthz" || p == "/livez" || p == "/readyz" }
