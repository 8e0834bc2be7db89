package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// Host performs the capability I/O behind ctx.* in the server process.
// The plugins package implements it. The sandbox calls it only after the
// method passed the invocation's grants; Host still scopes every call by
// pluginID (no key or collection name may reach another plugin).
//
// The methods are manifest.HostMethods: "<namespace>.<method>", and
// "storage.<collection>.<method>" for the storage collections. args is
// always the JSON array of the JS arguments. http.fetch answers
// {"status", "statusText", "headers", "body"} (body as text), which the
// isolate decorates like a Response.
//
// An error's message reaches the plugin as the rejection of its promise, so
// it must not leak secrets.
type Host interface {
	Call(ctx context.Context, pluginID, method string, args json.RawMessage) (json.RawMessage, error)
}

// validCollectionName mirrors the manifest rule ^[a-z][a-z0-9_]*$ (and caps
// the length) so no crafted name can smuggle separators into a method.
func validCollectionName(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// gate is the parent-side check of one invocation's host calls. It trusts
// nothing the worker says: the method name and argument size are re-checked
// against the grants, and subrequests are counted here.
type gate struct {
	grants Grants
	limits Limits

	mu          sync.Mutex
	calls       int
	subrequests int
	// tripped is the first fatal limit a host call hit; the invocation fails
	// with it whatever the worker reports.
	tripped *LimitError
}

func newGate(g Grants, l Limits) *gate { return &gate{grants: g, limits: l} }

// check decides whether method may reach the Host. A *LimitError result is
// fatal to the invocation; an ErrDenied one only rejects the call.
func (g *gate) check(method string, args json.RawMessage) error {
	if len(args) > g.limits.RequestBytes {
		return g.trip(bytesLimit(LimitRequest, g.limits.RequestBytes))
	}
	g.mu.Lock()
	g.calls++
	tooMany := g.calls > g.limits.HostCalls
	g.mu.Unlock()
	if tooMany {
		return g.trip(countLimit(LimitHostCalls, g.limits.HostCalls))
	}
	m, err := allowed(g.grants, method)
	if err != nil {
		return err
	}
	// The Host gets a well-formed argument array, whatever the worker sent.
	if len(args) == 0 || args[0] != '[' || !json.Valid(args) {
		return fmt.Errorf("%w: %s: arguments are not a JSON array", ErrDenied, method)
	}
	if m.Subrequest {
		g.mu.Lock()
		g.subrequests++
		over := g.subrequests > g.limits.Subrequests
		g.mu.Unlock()
		if over {
			return g.trip(countLimit(LimitSubrequests, g.limits.Subrequests))
		}
	}
	return nil
}

func (g *gate) trip(le *LimitError) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.tripped == nil {
		g.tripped = le
	}
	return le
}

func (g *gate) state() (subrequests int, tripped *LimitError) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return min(g.subrequests, g.limits.Subrequests), g.tripped
}

// allowed resolves method and reports whether grants allow it; the error
// names the method and the missing capability or undeclared collection.
func allowed(grants Grants, method string) (manifest.HostMethod, error) {
	m, coll, ok := manifest.ResolveHostCall(method)
	if !ok || (m.Kind == manifest.CollectionAPI && !validCollectionName(coll)) {
		return m, fmt.Errorf("%w: unknown method %q", ErrDenied, method)
	}
	if m.Kind == manifest.CollectionAPI && !slices.Contains(grants.StorageCollections, coll) {
		return m, fmt.Errorf("%w: storage collection %q is not declared", ErrDenied, coll)
	}
	if !m.Allowed(grants.Capabilities, grants.Hooks...) {
		return m, fmt.Errorf("%w: %s needs %s", ErrDenied, method, m.Needs())
	}
	return m, nil
}
