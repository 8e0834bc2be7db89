package manifest

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestVocabularyMatchesSchema: the JSON Schema's enums are the one consumer
// of the vocabulary that cannot read the table, so they must equal it.
func TestVocabularyMatchesSchema(t *testing.T) {
	var schema struct {
		Properties struct {
			Capabilities struct {
				Items struct {
					Enum []Capability `json:"enum"`
				} `json:"items"`
			} `json:"capabilities"`
		} `json:"properties"`
		Defs struct {
			HookName struct {
				Enum []HookName `json:"enum"`
			} `json:"hookName"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(SchemaJSON, &schema); err != nil {
		t.Fatal(err)
	}
	if got := schema.Properties.Capabilities.Items.Enum; !slices.Equal(got, AllCapabilities()) {
		t.Errorf("schema capabilities %v, table %v", got, AllCapabilities())
	}
	if got := schema.Defs.HookName.Enum; !slices.Equal(got, AllHooks()) {
		t.Errorf("schema hooks %v, table %v", got, AllHooks())
	}
}

var identRE = regexp.MustCompile(`^[A-Z][A-Za-z]*$`)

func declares(ts, typ string) bool {
	return regexp.MustCompile(`(?m)^  (interface|type) ` + regexp.QuoteMeta(typ) + `\b`).MatchString(ts)
}

// checkAPI requires an API's typings to declare its type with every method.
func checkAPI(t *testing.T, owner string, api *API) {
	t.Helper()
	if api.Namespace == "" || api.Kind < HostAPI || api.Kind > FunctionAPI {
		t.Errorf("%s: API %+v has no namespace or kind", owner, api)
	}
	if (api.Kind == ValueAPI || api.Kind == FunctionAPI) != (len(api.Methods) == 0) {
		t.Errorf("%s: ctx.%s: a value or function has no methods, every other API has some", owner, api.Namespace)
	}
	if api.Type == "" {
		t.Errorf("%s: ctx.%s has no TypeScript type", owner, api.Namespace)
	}
	if api.Typings == "" {
		return // written from the manifest, or a literal type (checked in plugins/authoring)
	}
	// A collection API's type lists the manifest's collections; its typings
	// declare the object of one collection.
	if !identRE.MatchString(api.Type) || (api.Kind != CollectionAPI && !declares(api.Typings, api.Type)) {
		t.Errorf("%s: the typings of ctx.%s do not declare %s", owner, api.Namespace, api.Type)
	}
	for _, m := range api.Methods {
		if !regexp.MustCompile(`(?m)^    ` + m.Name + `[<(]`).MatchString(api.Typings) {
			t.Errorf("%s: the typings of ctx.%s lack method %s", owner, api.Namespace, m.Name)
		}
	}
}

func TestVocabularyRowsComplete(t *testing.T) {
	namespaces := map[string]Capability{}
	for _, api := range BaseAPIs() {
		checkAPI(t, "base", &api)
		if _, dup := namespaces[api.Namespace]; dup {
			t.Errorf("ctx.%s appears twice among the base APIs", api.Namespace)
		}
		namespaces[api.Namespace] = ""
	}
	for _, s := range Capabilities() {
		if s.Consent == "" {
			t.Errorf("%s has no consent line", s.Name)
		}
		if s.Implies != "" && (!s.Implies.Known() || s.Implies == s.Name) {
			t.Errorf("%s implies %q, not another capability", s.Name, s.Implies)
		}
		if s.API == nil {
			continue
		}
		checkAPI(t, string(s.Name), s.API)
		if owner, ok := namespaces[s.API.Namespace]; ok {
			// Only a capability that implies the namespace's earlier one may
			// share it, and it must offer everything that one does.
			if owner == "" || !s.Name.Implies(owner) {
				t.Errorf("%s reuses ctx.%s of %q without implying it", s.Name, s.API.Namespace, owner)
				continue
			}
			narrow, _ := owner.Spec()
			for _, m := range narrow.API.Methods {
				if !slices.Contains(s.API.Methods, m) {
					t.Errorf("%s implies %s but its ctx.%s lacks %s", s.Name, owner, s.API.Namespace, m.Name)
				}
			}
		}
		namespaces[s.API.Namespace] = s.Name
	}
	for _, s := range HookAPIs() {
		if !s.Hook.Known() || s.API == nil {
			t.Errorf("hook API row %+v: unknown hook or no API", s)
			continue
		}
		checkAPI(t, string(s.Hook), s.API)
		if _, dup := namespaces[s.API.Namespace]; dup {
			t.Errorf("hook %s reuses ctx.%s", s.Hook, s.API.Namespace)
		}
		namespaces[s.API.Namespace] = ""
	}
	events := EventTypings + CronEventTypings(nil)
	for _, h := range Hooks() {
		if h.Consent == "" {
			t.Errorf("hook %s has no consent line", h.Name)
		}
		if h.Gate != "" && !h.Gate.Known() {
			t.Errorf("hook %s is gated by unknown capability %q", h.Name, h.Gate)
		}
		if !declares(events, h.Event) {
			t.Errorf("hook %s: event type %q is not declared", h.Name, h.Event)
		}
		for _, r := range strings.Split(h.Returns, "|") {
			r = strings.TrimSpace(r)
			if r != "void" && r != "boolean" && !declares(events, r) && !declares(TypingsCommon, r) {
				t.Errorf("hook %s: return type %q is not declared", h.Name, r)
			}
		}
	}
}

func TestCapabilityImplies(t *testing.T) {
	for _, tc := range []struct {
		c, other Capability
		want     bool
	}{
		{ContentWrite, ContentRead, true}, {ContentWrite, ContentWrite, true}, {ContentRead, ContentWrite, false},
		{MediaWrite, MediaRead, true}, {MediaWrite, ContentRead, false}, {"fs:read", "fs:read", true}, {"", ContentRead, false},
	} {
		if got := tc.c.Implies(tc.other); got != tc.want {
			t.Errorf("%q.Implies(%q) = %v", tc.c, tc.other, got)
		}
	}
}

func TestCtxAPIs(t *testing.T) {
	names := func(caps ...Capability) string {
		var out []string
		var hooks []HookName
		if slices.Contains(caps, "cron") {
			hooks = []HookName{HookAfterSave, HookCron}
		}
		for _, a := range CtxAPIs(caps, hooks...) {
			out = append(out, a.Namespace+":"+a.Type)
		}
		return strings.Join(out, " ")
	}
	base := "plugin:{ readonly id: string; readonly version: string } log:Log kv:KV storage:Storage settings:Settings site:Site url:SiteURL"
	for _, tc := range []struct {
		caps []Capability
		want string
	}{
		{nil, base},
		{[]Capability{PageMetadata, "fs:read"}, base},
		{[]Capability{ContentRead}, base + " content:ContentReader"},
		{[]Capability{ContentWrite}, base + " content:ContentWriter"},
		{[]Capability{ContentRead, ContentWrite}, base + " content:ContentWriter"},
		{[]Capability{EmailSend, MediaRead, NetworkRequest, UsersRead}, base + " media:MediaReader users:Users http:Http email:Email"},
		{[]Capability{"cron", ContentRead}, base + " content:ContentReader cron:Cron"}, // "cron" here stands for declaring the hook
	} {
		if got := names(tc.caps...); got != tc.want {
			t.Errorf("CtxAPIs(%v) = %s\nwant %s", tc.caps, got, tc.want)
		}
	}
}

func TestResolveHostCall(t *testing.T) {
	for _, m := range HostMethods() {
		wire := m.Key
		if m.Kind == CollectionAPI {
			wire = m.Namespace + ".posts." + m.Name
		}
		got, coll, ok := ResolveHostCall(wire)
		if !ok || got.Key != m.Key || (coll == "posts") != (m.Kind == CollectionAPI) {
			t.Errorf("ResolveHostCall(%q) = %+v, %q, %v", wire, got, coll, ok)
		}
	}
	for _, bad := range []string{"", "kv", "kv.", "kv.drop", "log.info", "plugin.id", "storage.get", "storage..get", "storage.posts",
		"storage.posts.drop", "content.posts.get", "content.get.x", "Content.get", "content.get "} {
		if m, _, ok := ResolveHostCall(bad); ok {
			t.Errorf("ResolveHostCall(%q) = %+v, want none", bad, m)
		}
	}
	get, _, _ := ResolveHostCall("content.get")
	create, _, _ := ResolveHostCall("content.create")
	fetch, _, _ := ResolveHostCall("http.fetch")
	kv, _, _ := ResolveHostCall("kv.get")
	for _, tc := range []struct {
		m    HostMethod
		caps []Capability
		want bool
	}{
		{kv, nil, true}, {get, nil, false}, {get, []Capability{ContentRead}, true}, {get, []Capability{ContentWrite}, true},
		{create, []Capability{ContentRead}, false}, {create, []Capability{ContentWrite}, true},
		{fetch, []Capability{EmailSend}, false}, {fetch, []Capability{NetworkRequest}, true},
	} {
		if got := tc.m.Allowed(tc.caps); got != tc.want {
			t.Errorf("%s allowed with %v = %v", tc.m.Key, tc.caps, got)
		}
	}
	schedule, _, ok := ResolveHostCall("cron.schedule")
	if !ok || schedule.Hook != HookCron || schedule.Allowed([]Capability{ContentWrite, NetworkRequest}) ||
		schedule.Allowed(nil, HookAfterSave) || !schedule.Allowed(nil, HookCron) || schedule.Needs() != "the cron hook" {
		t.Errorf("cron.schedule is not granted by the cron hook alone: %+v", schedule)
	}
	if !fetch.Subrequest || get.Subrequest {
		t.Error("only http.fetch counts as a subrequest")
	}
}
