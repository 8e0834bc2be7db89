package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Host performs the capability I/O behind ctx.* in the server process.
// The plugins package implements it (KV, storage, content, media, users,
// http.fetch through the egress client, email). The sandbox calls it only
// after the method passed the invocation's grants; Host still scopes every
// call by pluginID (no key or collection name may reach another plugin).
//
// Methods and their JSON args (always an array of the JS arguments):
//
//	kv.get [key]  kv.set [key, value]  kv.delete [key]  kv.list [prefix]
//	storage.<collection>.get [id]  .put [id, doc]  .delete [id]  .query [opts]  .count [where]
//	content.get [collection, id]  content.list [collection, opts]
//	content.create [collection, data]  content.update [collection, id, data]  content.delete [collection, id]
//	media.get [id]  media.list [opts]  media.upload [opts]  media.delete [id]
//	users.get [id]  users.list [opts]
//	http.fetch [url, init] → {"status", "statusText", "headers", "body"} (body as text)
//	email.send [message]
//
// An error's message reaches the plugin as the rejection of its promise, so
// it must not leak secrets.
type Host interface {
	Call(ctx context.Context, pluginID, method string, args json.RawMessage) (json.RawMessage, error)
}

// Capability names of the manifest vocabulary that gate host methods.
const (
	CapContentRead  = "content:read"
	CapContentWrite = "content:write"
	CapMediaRead    = "media:read"
	CapMediaWrite   = "media:write"
	CapUsersRead    = "users:read"
	CapNetwork      = "network:request"
	CapEmail        = "email:send"
)

// methodCaps maps each non-storage host method to the capabilities any one of
// which allows it ("" = always allowed). Write capabilities imply read.
var methodCaps = map[string][]string{
	"kv.get":         {""},
	"kv.set":         {""},
	"kv.delete":      {""},
	"kv.list":        {""},
	"content.get":    {CapContentRead, CapContentWrite},
	"content.list":   {CapContentRead, CapContentWrite},
	"content.create": {CapContentWrite},
	"content.update": {CapContentWrite},
	"content.delete": {CapContentWrite},
	"media.get":      {CapMediaRead, CapMediaWrite},
	"media.list":     {CapMediaRead, CapMediaWrite},
	"media.upload":   {CapMediaWrite},
	"media.delete":   {CapMediaWrite},
	"users.get":      {CapUsersRead},
	"users.list":     {CapUsersRead},
	"http.fetch":     {CapNetwork},
	"email.send":     {CapEmail},
}

// storageOps are the methods of ctx.storage.<collection>.
var storageOps = []string{"get", "put", "delete", "query", "count"}

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
	if err := allowed(g.grants, method); err != nil {
		return err
	}
	// The Host gets a well-formed argument array, whatever the worker sent.
	if len(args) == 0 || args[0] != '[' || !json.Valid(args) {
		return fmt.Errorf("%w: %s: arguments are not a JSON array", ErrDenied, method)
	}
	if method == "http.fetch" {
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

// allowed reports whether grants allow method; the error names the method
// and the missing capability.
func allowed(grants Grants, method string) error {
	if rest, ok := strings.CutPrefix(method, "storage."); ok {
		coll, op, found := strings.Cut(rest, ".")
		if !found || !validCollectionName(coll) || !slices.Contains(storageOps, op) {
			return fmt.Errorf("%w: unknown method %q", ErrDenied, method)
		}
		if !slices.Contains(grants.StorageCollections, coll) {
			return fmt.Errorf("%w: storage collection %q is not declared", ErrDenied, coll)
		}
		return nil
	}
	caps, ok := methodCaps[method]
	if !ok {
		return fmt.Errorf("%w: unknown method %q", ErrDenied, method)
	}
	for _, c := range caps {
		if c == "" || slices.Contains(grants.Capabilities, c) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s needs capability %s", ErrDenied, method, caps[0])
}

// hasCap reports whether any of caps is granted (used to build ctx).
func hasCap(granted []string, caps ...string) bool {
	for _, c := range caps {
		if slices.Contains(granted, c) {
			return true
		}
	}
	return false
}
