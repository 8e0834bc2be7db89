package plugins

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// TestHostImplementsVocabulary fails when a host method of the vocabulary has
// no implementation, or an implementation exists for a method the vocabulary
// does not have.
func TestHostImplementsVocabulary(t *testing.T) {
	var want []string
	for _, m := range manifest.HostMethods() {
		want = append(want, m.Key)
	}
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(hostImpls)); !slices.Equal(got, want) {
		t.Fatalf("host implements %v\nvocabulary has %v", got, want)
	}
}

// TestHostRechecksGrant: whatever reaches the host, a method the invocation
// was not granted is refused before its implementation runs, and one it was
// granted gets past the check.
func TestHostRechecksGrant(t *testing.T) {
	m := mustManifest(t, `{"id": "greedy", "version": "1.0.0", "name": "Greedy", "storage": {"posts": {}}}`)
	h := newTestHost(t, nil)
	for _, hm := range manifest.HostMethods() {
		wire := hm.Key
		if hm.Kind == manifest.CollectionAPI {
			wire = hm.Namespace + ".posts." + hm.Name
		}
		if hm.Hook != "" {
			// Granted by declaring the hook, whatever the capabilities.
			all := &Plugin{Manifest: m, Capabilities: manifest.AllCapabilities()}
			if _, err := h.Bind(all, nil).Call(t.Context(), "greedy", wire, []byte(`[]`)); !errors.Is(err, sandbox.ErrDenied) {
				t.Errorf("%s without the %s hook: %v, want ErrDenied", wire, hm.Hook, err)
			}
			withHook := mustManifest(t, `{"id": "greedy", "version": "1.0.0", "name": "Greedy", "hooks": ["`+string(hm.Hook)+`"]}`)
			if _, err := h.Bind(&Plugin{Manifest: withHook}, nil).Call(t.Context(), "greedy", wire, []byte(`[]`)); errors.Is(err, sandbox.ErrDenied) {
				t.Errorf("%s with the %s hook: %v", wire, hm.Hook, err)
			}
			continue
		}
		if len(hm.GrantedBy) == 0 {
			continue
		}
		_, err := h.Bind(&Plugin{Manifest: m}, nil).Call(t.Context(), "greedy", wire, []byte(`[]`))
		if !errors.Is(err, sandbox.ErrDenied) {
			t.Errorf("%s without %s: %v, want ErrDenied", wire, hm.GrantedBy[0], err)
		}
		_, err = h.Bind(&Plugin{Manifest: m, Capabilities: hm.GrantedBy[:1]}, nil).Call(t.Context(), "greedy", wire, []byte(`[]`))
		if errors.Is(err, sandbox.ErrDenied) {
			t.Errorf("%s with %s: %v", wire, hm.GrantedBy[0], err)
		}
	}
	// A host is bound to one plugin: a call naming another is refused.
	_, err := h.Bind(&Plugin{Manifest: m}, nil).Call(t.Context(), "other", "kv.get", []byte(`["k"]`))
	if !errors.Is(err, sandbox.ErrDenied) {
		t.Errorf("a call for another plugin: %v", err)
	}
}
