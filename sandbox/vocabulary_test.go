package sandbox

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// allAPIs is every ctx member of the vocabulary, base and capability ones.
func allAPIs() []manifest.API {
	out := slices.Clone(manifest.BaseAPIs())
	for _, s := range manifest.Capabilities() {
		if s.API != nil {
			out = append(out, *s.API)
		}
	}
	for _, s := range manifest.HookAPIs() {
		out = append(out, *s.API)
	}
	return out
}

// TestVocabularyImplemented fails when the vocabulary has a ctx member the
// isolate cannot build, or the isolate implements one it does not have.
func TestVocabularyImplemented(t *testing.T) {
	t.Parallel()
	want := map[manifest.APIKind]map[string]bool{manifest.ValueAPI: {}, manifest.IsolateAPI: {}, manifest.FunctionAPI: {}}
	for _, api := range allAPIs() {
		if want[api.Kind] != nil {
			want[api.Kind][api.Namespace] = true
		}
	}
	if got := slices.Sorted(maps.Keys(valueAPIs)); !slices.Equal(got, slices.Sorted(maps.Keys(want[manifest.ValueAPI]))) {
		t.Errorf("values built %v, vocabulary %v", got, want[manifest.ValueAPI])
	}
	if got := slices.Sorted(maps.Keys(isolateFuncs)); !slices.Equal(got, slices.Sorted(maps.Keys(want[manifest.FunctionAPI]))) {
		t.Errorf("isolate functions implemented %v, vocabulary %v", got, want[manifest.FunctionAPI])
	}
	if got := slices.Sorted(maps.Keys(isolateAPIs)); !slices.Equal(got, slices.Sorted(maps.Keys(want[manifest.IsolateAPI]))) {
		t.Errorf("isolate APIs implemented %v, vocabulary %v", got, want[manifest.IsolateAPI])
	}
	for key := range resultWrappers {
		if m, _, ok := manifest.ResolveHostCall(strings.Replace(key, "storage.", "storage.posts.", 1)); !ok || (m.Kind != manifest.HostAPI && m.Kind != manifest.CollectionAPI) {
			t.Errorf("result wrapper for %q, which is not a host method of the vocabulary", key)
		}
	}
}

// ctxProbe describes ctx: each member's method names, or "value"; storage
// as {collection: methods}.
const ctxProbe = `const out = {};
	for (const k of Object.keys(ctx)) {
		const v = ctx[k];
		if (k === "storage") {
			out[k] = {};
			for (const c of Object.keys(v)) out[k][c] = Object.keys(v[c]).sort();
		} else if (typeof v === "function") {
			out[k] = "function";
		} else if (Object.values(v).some((x) => typeof x === "function")) {
			out[k] = Object.keys(v).sort();
		} else {
			out[k] = "value";
		}
	}
	return out;`

// TestCtxIsTheVocabulary: for every grant, the isolate builds exactly the
// members and methods manifest.CtxAPIs lists, and the parent's gate lets
// through exactly the host methods the ctx offers.
func TestCtxIsTheVocabulary(t *testing.T) {
	t.Parallel()
	grants := [][]manifest.Capability{nil, manifest.AllCapabilities(), {manifest.ContentRead, manifest.ContentWrite}}
	for _, c := range manifest.AllCapabilities() {
		grants = append(grants, []manifest.Capability{c})
	}
	hookSets := [][]manifest.HookName{nil, {manifest.HookCron}, manifest.AllHooks()}
	for i, caps := range grants {
		hooks := hookSets[i%len(hookSets)]
		g := Grants{Capabilities: caps, StorageCollections: []string{"posts"}, Hooks: hooks}
		want := map[string]any{}
		offered := map[string]bool{} // host calls the ctx can make
		for _, api := range manifest.CtxAPIs(caps, hooks...) {
			var names []string
			for _, m := range api.Methods {
				names = append(names, m.Name)
			}
			slices.Sort(names)
			switch api.Kind {
			case manifest.ValueAPI:
				want[api.Namespace] = "value"
			case manifest.FunctionAPI:
				want[api.Namespace] = "function"
			case manifest.CollectionAPI:
				want[api.Namespace] = map[string]any{"posts": names}
				for _, n := range names {
					offered[api.Namespace+".posts."+n] = true
				}
			case manifest.HostAPI:
				for _, n := range names {
					offered[api.Namespace+"."+n] = true
				}
				want[api.Namespace] = names
			default:
				want[api.Namespace] = names
			}
		}
		inv := hookInvocation(ctxProbe)
		inv.Grants = g
		res, err := invokeBoth(t, inv, newMemHost())
		if err != nil {
			t.Fatalf("%v: %v", caps, err)
		}
		wantJSON, _ := json.Marshal(want)
		var got any
		_ = json.Unmarshal(res.Value, &got)
		gotJSON, _ := json.Marshal(got)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("grant %v %v: ctx\n%s\nwant\n%s", caps, hooks, gotJSON, wantJSON)
		}
		for _, m := range manifest.HostMethods() {
			for _, wire := range []string{m.Key, m.Namespace + ".posts." + m.Name, m.Namespace + ".other." + m.Name} {
				_, err := allowed(g, wire)
				if (err == nil) != offered[wire] {
					t.Errorf("grant %v: gate allows %s = %v, ctx offers it = %v", caps, wire, err == nil, offered[wire])
				}
			}
		}
	}
}
