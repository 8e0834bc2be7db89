package web_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
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
	// mu serialises validation: the validator's caches are built lazily.
	mu sync.Mutex
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
	return &contract{v: v}, nil
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
	if !strings.HasPrefix(req.URL.Path, "/api/") || req.Method == http.MethodHead || status == 499 {
		return nil
	}
	if strings.HasPrefix(req.URL.Path, "/api/p/") {
		return nil // plugin routes answer whatever the plugin does
	}
	res := &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)), Request: req}
	c.mu.Lock()
	defer c.mu.Unlock()
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
