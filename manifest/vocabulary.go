package manifest

import (
	"slices"
	"strings"
)

// The plugin vocabulary, in one place: every capability, every member of a
// plugin's ctx and every hook. Everything else reads these tables:
//
//   - Parse, through the JSON Schema's enums (a test keeps them equal to the
//     tables) and the hook gates;
//   - the consent text and upgrade diffs (the Consent lines);
//   - the sandbox: which ctx members and methods an invocation's grant
//     creates, and which host calls the parent lets through (CtxAPIs,
//     ResolveHostCall);
//   - plugins: one host implementation per HostMethods entry, and the grant
//     re-check of every call;
//   - plugins/authoring: pilcrow.d.ts (the Type and Typings of every API, the
//     Event and Returns of every hook).
//
// Tests next to each consumer fail when it misses an entry of these tables, so
// adding a capability is one row here plus its host implementation in plugins.

// Capability names one grant from the closed capability vocabulary (SPEC §5).
type Capability string

// The whole capability vocabulary. Anything else in a manifest is an error.
const (
	ContentRead    Capability = "content:read"
	ContentWrite   Capability = "content:write"
	MediaRead      Capability = "media:read"
	MediaWrite     Capability = "media:write"
	UsersRead      Capability = "users:read"
	NetworkRequest Capability = "network:request"
	EmailSend      Capability = "email:send"
	PageMetadata   Capability = "page:metadata"
)

// APIKind says how a ctx member is provided.
type APIKind uint8

const (
	// HostAPI methods are host calls: ctx.<ns>.<m>(…) sends "<ns>.<m>" to
	// the server, which answers it.
	HostAPI APIKind = iota + 1
	// CollectionAPI is one object per declared storage collection:
	// ctx.<ns>.<collection>.<m>(…) sends "<ns>.<collection>.<m>".
	CollectionAPI
	// IsolateAPI methods are answered inside the isolate and never reach the
	// host (ctx.log collects lines with the invocation).
	IsolateAPI
	// ValueAPI is a frozen value with no methods (ctx.plugin, ctx.settings).
	ValueAPI
	// FunctionAPI is a function answered inside the isolate: ctx.<ns>(…)
	// itself (ctx.url).
	FunctionAPI
)

// API is one member of ctx: ctx.<Namespace>.
type API struct {
	Namespace string
	Kind      APIKind
	// Methods are the functions of ctx.<Namespace> (of each collection's
	// object for a CollectionAPI).
	Methods []Method
	// Type is the TypeScript type of ctx.<Namespace>. Typings declares it and
	// the types it uses. Types written from the manifest have no Typings
	// (Settings: its fields) or only those of their parts (Storage lists the
	// collections; Typings declares one collection's object).
	Type, Typings string
}

// Method is one function of a ctx member.
type Method struct {
	Name string
	// Subrequest: each call counts against the invocation's subrequests limit.
	Subrequest bool
	// ReadOnly: the method changes nothing, so an invocation whose worker
	// died after calling only such methods can run again elsewhere.
	ReadOnly bool
}

// CapabilitySpec is one row of the capability table.
type CapabilitySpec struct {
	Name Capability
	// Implies is granted along with Name ("" for none): writing content or
	// media needs reading it (an update without a get is not useful, and the
	// admin consenting to "change your content" has consented to it being read).
	Implies Capability
	// Consent is the line the consent screen shows for the capability.
	// network:request's is replaced by one line per allowed host.
	Consent string
	// API is the ctx member the capability adds; nil when it adds none
	// (page:metadata contributes through its hook only). Capabilities may
	// share a namespace: the broader one (which implies the narrower) lists
	// every method, so a plugin granted both gets the broader API.
	API *API
}

// HookName names one hook from the closed hook vocabulary.
type HookName string

// The whole hook vocabulary.
const (
	HookInstall           HookName = "plugin:install"
	HookActivate          HookName = "plugin:activate"
	HookDeactivate        HookName = "plugin:deactivate"
	HookUninstall         HookName = "plugin:uninstall"
	HookBeforeSave        HookName = "content:beforeSave"
	HookAfterSave         HookName = "content:afterSave"
	HookBeforeDelete      HookName = "content:beforeDelete"
	HookAfterDelete       HookName = "content:afterDelete"
	HookAfterPublish      HookName = "content:afterPublish"
	HookAfterUnpublish    HookName = "content:afterUnpublish"
	HookMediaBeforeUpload HookName = "media:beforeUpload"
	HookMediaAfterUpload  HookName = "media:afterUpload"
	HookCron              HookName = "cron"
	HookPageMetadata      HookName = "page:metadata"
)

// HookSpec is one row of the hook table.
type HookSpec struct {
	Name HookName
	// Gate is the capability a manifest must grant (directly or by
	// implication) before it may declare the hook; "" means none.
	Gate Capability
	// Synchronous hooks run inside the request that triggered them (the
	// "before" hooks and page:metadata), so their timeout delays it.
	Synchronous bool
	// Consent is the line the consent screen shows for the hook.
	Consent string
	// Event and Returns are the TypeScript types of the hook's event and of
	// its return value; events are declared in EventTypings (CronEvent, which
	// names the manifest's schedules, by CronEventTypings).
	Event, Returns string
}

func methods(names ...string) []Method {
	out := make([]Method, len(names))
	for i, n := range names {
		out[i] = Method{Name: n}
	}
	return out
}

// readOnly marks the named methods of ms as ReadOnly.
func readOnly(ms []Method, names ...string) []Method {
	for i := range ms {
		for _, n := range names {
			if ms[i].Name == n {
				ms[i].ReadOnly = true
			}
		}
	}
	return ms
}

// baseAPIs are the ctx members every plugin has, whatever it is granted.
var baseAPIs = []API{
	{Namespace: "plugin", Kind: ValueAPI, Type: "{ readonly id: string; readonly version: string }"},
	{Namespace: "log", Kind: IsolateAPI, Methods: methods("debug", "info", "warn", "error"), Type: "Log", Typings: tsLog},
	{Namespace: "kv", Kind: HostAPI, Methods: readOnly(methods("get", "set", "delete", "list"), "get", "list"), Type: "KV", Typings: tsKV},
	{Namespace: "storage", Kind: CollectionAPI, Methods: readOnly(methods("get", "put", "delete", "exists", "getMany", "putMany", "deleteMany", "query", "count"),
		"get", "exists", "getMany", "query", "count"), Type: "Storage", Typings: tsStorage},
	{Namespace: "settings", Kind: ValueAPI, Type: "Settings"},
	// Runtime API (SPEC §11): the site a plugin runs on.
	{Namespace: "site", Kind: ValueAPI, Type: "Site", Typings: tsSite},
	{Namespace: "url", Kind: FunctionAPI, Type: "SiteURL", Typings: tsSiteURL},
}

// capabilityTable is the capability vocabulary in its canonical order (the
// order consent lines are shown in).
var capabilityTable = []CapabilitySpec{
	{Name: ContentRead, Consent: "Read your content",
		API: &API{Namespace: "content", Kind: HostAPI, Methods: readOnly(methods("get", "list"), "get", "list"), Type: "ContentReader", Typings: tsEntry + tsContentReader}},
	{Name: ContentWrite, Implies: ContentRead, Consent: "Create, change and delete your content",
		API: &API{Namespace: "content", Kind: HostAPI, Methods: readOnly(methods("get", "list", "create", "update", "delete"), "get", "list"), Type: "ContentWriter", Typings: tsEntry + tsContentWriter}},
	{Name: MediaRead, Consent: "See your media library",
		API: &API{Namespace: "media", Kind: HostAPI, Methods: readOnly(methods("get", "list"), "get", "list"), Type: "MediaReader", Typings: tsMediaReader}},
	{Name: MediaWrite, Implies: MediaRead, Consent: "Upload, change and delete your media files",
		API: &API{Namespace: "media", Kind: HostAPI, Methods: readOnly(methods("get", "list", "upload", "delete"), "get", "list"), Type: "MediaWriter", Typings: tsMediaWriter}},
	{Name: UsersRead, Consent: "See your users' names, email addresses and roles (never their passwords or sessions)",
		API: &API{Namespace: "users", Kind: HostAPI, Methods: readOnly(methods("get", "list"), "get", "list"), Type: "Users", Typings: tsUsers}},
	{Name: NetworkRequest, Consent: "Send requests to the internet",
		API: &API{Namespace: "http", Kind: HostAPI, Methods: []Method{{Name: "fetch", Subrequest: true}}, Type: "Http", Typings: tsHTTP}},
	{Name: EmailSend, Consent: "Send email through your site's mail settings",
		API: &API{Namespace: "email", Kind: HostAPI, Methods: methods("send"), Type: "Email", Typings: tsEmail}},
	{Name: PageMetadata, Consent: "Add tags and structured data to your public pages"},
}

// hookTable is the hook vocabulary in its canonical order. Why each gate:
//
//	plugin:*                 -                lifecycle of the plugin itself
//	content:beforeSave       content:write    may change or reject the entry being saved
//	content:beforeDelete     content:write    may veto a deletion
//	content:after*           content:read     sees the entry
//	media:beforeUpload       media:write      may change or reject an upload
//	media:afterUpload        media:read       sees the uploaded media item
//	cron                     -                runs on the manifest's schedules (needs "cron" entries)
//	page:metadata            page:metadata    contributes to public pages
var hookTable = []HookSpec{
	{Name: HookInstall, Consent: "Runs when it is installed", Event: "LifecycleEvent", Returns: "void"},
	{Name: HookActivate, Consent: "Runs when it is activated", Event: "LifecycleEvent", Returns: "void"},
	{Name: HookDeactivate, Consent: "Runs when it is deactivated", Event: "LifecycleEvent", Returns: "void"},
	{Name: HookUninstall, Consent: "Runs when it is uninstalled", Event: "UninstallEvent", Returns: "void"},
	{Name: HookBeforeSave, Gate: ContentWrite, Synchronous: true,
		Consent: "Runs when an entry is about to be saved and may change or reject it", Event: "ContentEvent", Returns: "EntryData | void"},
	{Name: HookAfterSave, Gate: ContentRead, Consent: "Runs after an entry is saved", Event: "ContentAfterEvent", Returns: "void"},
	{Name: HookBeforeDelete, Gate: ContentWrite, Synchronous: true,
		Consent: "Runs when an entry is about to be deleted and may prevent it", Event: "ContentEvent", Returns: "boolean | void"},
	{Name: HookAfterDelete, Gate: ContentRead, Consent: "Runs after an entry is deleted", Event: "ContentAfterEvent", Returns: "void"},
	{Name: HookAfterPublish, Gate: ContentRead, Consent: "Runs after an entry is published", Event: "ContentAfterEvent", Returns: "void"},
	{Name: HookAfterUnpublish, Gate: ContentRead, Consent: "Runs after an entry is unpublished", Event: "ContentAfterEvent", Returns: "void"},
	{Name: HookMediaBeforeUpload, Gate: MediaWrite, Synchronous: true,
		Consent: "Runs when a file is about to be uploaded and may change or reject it", Event: "MediaUploadEvent", Returns: "void"},
	{Name: HookMediaAfterUpload, Gate: MediaRead, Consent: "Runs after a file is uploaded", Event: "MediaAfterEvent", Returns: "void"},
	{Name: HookCron, Consent: "Runs on a schedule", Event: "CronEvent", Returns: "void"},
	{Name: HookPageMetadata, Gate: PageMetadata, Synchronous: true,
		Consent: "Runs when a public page is shown, to add its tags", Event: "PageMetadataEvent", Returns: "PageMetadata | void"},
}

// HookAPISpec is one row of the hook API table: a ctx member a plugin gets
// by declaring a hook rather than by a capability (scheduling its own cron
// runs only makes sense for a plugin that has a cron hook to run).
type HookAPISpec struct {
	Hook HookName
	API  *API
}

// hookAPITable lists the ctx members hooks bring.
var hookAPITable = []HookAPISpec{
	{Hook: HookCron, API: &API{Namespace: "cron", Kind: HostAPI, Methods: readOnly(methods("schedule", "cancel", "list"), "list"), Type: "Cron", Typings: tsCron}},
}

// HookAPIs returns the hook API table. The rows are shared: callers must
// not modify them.
func HookAPIs() []HookAPISpec { return hookAPITable }

// GlobalSpec is one global of every isolate beyond ECMAScript's own: the web
// platform APIs plugins written for workers expect (SPEC §11). They are pure
// (nothing reaches I/O), need no capability, and are built on first touch.
// Their TypeScript declarations are TypingsGlobals.
type GlobalSpec struct {
	Name string
}

// globalTable is the isolate's web platform globals, in the order the docs
// list them.
var globalTable = []GlobalSpec{
	{Name: "URL"}, {Name: "URLSearchParams"},
	{Name: "TextEncoder"}, {Name: "TextDecoder"}, {Name: "atob"}, {Name: "btoa"},
	{Name: "structuredClone"}, {Name: "queueMicrotask"}, {Name: "crypto"},
	{Name: "setTimeout"}, {Name: "clearTimeout"}, {Name: "setInterval"}, {Name: "clearInterval"},
	{Name: "AbortController"}, {Name: "AbortSignal"}, {Name: "DOMException"}, {Name: "Headers"},
}

// Globals returns the isolate's web platform globals. The rows are shared:
// callers must not modify them.
func Globals() []GlobalSpec { return globalTable }

var (
	capabilityIndex = indexBy(capabilityTable, func(s CapabilitySpec) Capability { return s.Name })
	hookIndex       = indexBy(hookTable, func(s HookSpec) HookName { return s.Name })
)

func indexBy[K comparable, V any](rows []V, key func(V) K) map[K]int {
	m := make(map[K]int, len(rows))
	for i, r := range rows {
		m[key(r)] = i
	}
	return m
}

// Capabilities returns the capability table in its canonical order. The
// rows are shared: callers must not modify them.
func Capabilities() []CapabilitySpec { return capabilityTable }

// AllCapabilities returns the capability names in their canonical order.
func AllCapabilities() []Capability {
	out := make([]Capability, len(capabilityTable))
	for i, s := range capabilityTable {
		out[i] = s.Name
	}
	return out
}

// Known reports whether c is in the vocabulary.
func (c Capability) Known() bool {
	_, ok := capabilityIndex[c]
	return ok
}

// Spec returns c's row of the capability table.
func (c Capability) Spec() (CapabilitySpec, bool) {
	i, ok := capabilityIndex[c]
	if !ok {
		return CapabilitySpec{}, false
	}
	return capabilityTable[i], true
}

// Implies reports whether granting c grants other: c itself, or what it
// implies (transitively).
func (c Capability) Implies(other Capability) bool {
	for seen := 0; c != "" && seen <= len(capabilityTable); seen++ {
		if c == other {
			return true
		}
		s, _ := c.Spec()
		c = s.Implies
	}
	return false
}

// GrantedBy reports whether any of caps grants c, directly or by implication.
func GrantedBy(caps []Capability, c Capability) bool {
	for _, have := range caps {
		if have.Implies(c) {
			return true
		}
	}
	return false
}

// BaseAPIs returns the ctx members every plugin has. The rows are shared:
// callers must not modify them.
func BaseAPIs() []API { return baseAPIs }

// CtxAPIs returns the members of the ctx a plugin granted caps and declaring
// hooks receives: the base APIs, then one API per namespace the capabilities
// add (the broadest granted one), in table order, then those the hooks
// bring. Names outside the vocabulary add nothing. The APIs are the table's
// rows: callers must not modify them.
func CtxAPIs(caps []Capability, hooks ...HookName) []*API {
	out := make([]*API, len(baseAPIs), len(baseAPIs)+len(caps)+len(hooks))
	for i := range baseAPIs {
		out[i] = &baseAPIs[i]
	}
	for _, s := range capabilityTable {
		if s.API == nil || !GrantedBy(caps, s.Name) || supersededIn(caps, s) {
			continue
		}
		out = append(out, s.API)
	}
	for _, s := range hookAPITable {
		if slices.Contains(hooks, s.Hook) {
			out = append(out, s.API)
		}
	}
	return out
}

// supersededIn reports whether a broader capability of the same namespace is
// granted by caps.
func supersededIn(caps []Capability, s CapabilitySpec) bool {
	for _, o := range capabilityTable {
		if o.Name != s.Name && o.API != nil && o.API.Namespace == s.API.Namespace &&
			o.Name.Implies(s.Name) && GrantedBy(caps, o.Name) {
			return true
		}
	}
	return false
}

// HostMethod is one method that reaches the host: the methods of HostAPI and
// CollectionAPI members.
type HostMethod struct {
	// Key names the method in the vocabulary, "<namespace>.<method>", the
	// same for every storage collection ("storage.get").
	Key       string
	Namespace string
	Kind      APIKind
	Method
	// GrantedBy lists the capabilities any one of which grants the method;
	// empty for methods every plugin has.
	GrantedBy []Capability
	// Hook, when set, is the hook whose declaration grants the method
	// instead of a capability.
	Hook HookName
}

// Allowed reports whether a plugin granted caps and declaring hooks may call
// the method.
func (m HostMethod) Allowed(caps []Capability, hooks ...HookName) bool {
	if m.Hook != "" {
		return slices.Contains(hooks, m.Hook)
	}
	if len(m.GrantedBy) == 0 {
		return true
	}
	for _, c := range m.GrantedBy {
		if GrantedBy(caps, c) {
			return true
		}
	}
	return false
}

var hostMethods, hostMethodIndex = indexHostMethods()

func indexHostMethods() ([]HostMethod, map[string]map[string]int) {
	var list []HostMethod
	index := map[string]map[string]int{}
	add := func(api *API, c Capability) {
		if api.Kind != HostAPI && api.Kind != CollectionAPI {
			return
		}
		if index[api.Namespace] == nil {
			index[api.Namespace] = map[string]int{}
		}
		for _, m := range api.Methods {
			i, ok := index[api.Namespace][m.Name]
			if !ok {
				i = len(list)
				index[api.Namespace][m.Name] = i
				list = append(list, HostMethod{Key: api.Namespace + "." + m.Name, Namespace: api.Namespace, Kind: api.Kind, Method: m})
			}
			if c != "" {
				list[i].GrantedBy = append(list[i].GrantedBy, c)
			}
		}
	}
	for i := range baseAPIs {
		add(&baseAPIs[i], "")
	}
	for _, s := range capabilityTable {
		if s.API != nil {
			add(s.API, s.Name)
		}
	}
	for _, s := range hookAPITable {
		first := len(list)
		add(s.API, "")
		for i := first; i < len(list); i++ {
			list[i].Hook = s.Hook
		}
	}
	return list, index
}

// Needs names what grants the method, for refusals: its capability or its
// hook ("" for base methods).
func (m HostMethod) Needs() string {
	if m.Hook != "" {
		return "the " + string(m.Hook) + " hook"
	}
	if len(m.GrantedBy) > 0 {
		return "capability " + string(m.GrantedBy[0])
	}
	return ""
}

// HostMethods returns every method that reaches the host, in table order.
// The rows are shared: callers must not modify them.
func HostMethods() []HostMethod { return hostMethods }

// ResolveHostCall finds the method of a host call as the sandbox names it:
// "kv.get", "content.create", or "storage.<collection>.query" (then
// collection is the collection's name, which the caller checks against the
// grant). It reports false for anything else, including the methods answered
// inside the isolate.
func ResolveHostCall(name string) (m HostMethod, collection string, ok bool) {
	ns, rest, found := strings.Cut(name, ".")
	if !found {
		return HostMethod{}, "", false
	}
	byName, known := hostMethodIndex[ns]
	if !known {
		return HostMethod{}, "", false
	}
	i, ok := byName[rest]
	if ok && hostMethods[i].Kind == HostAPI {
		return hostMethods[i], "", true
	}
	coll, op, found := strings.Cut(rest, ".")
	if !found || coll == "" {
		return HostMethod{}, "", false
	}
	i, ok = byName[op]
	if !ok || hostMethods[i].Kind != CollectionAPI {
		return HostMethod{}, "", false
	}
	return hostMethods[i], coll, true
}

// Hooks returns the hook table in its canonical order. The rows are shared:
// callers must not modify them.
func Hooks() []HookSpec { return hookTable }

// AllHooks returns the hook names in their canonical order.
func AllHooks() []HookName {
	out := make([]HookName, len(hookTable))
	for i, s := range hookTable {
		out[i] = s.Name
	}
	return out
}

// Known reports whether h is in the hook vocabulary.
func (h HookName) Known() bool {
	_, ok := hookIndex[h]
	return ok
}

// Spec returns h's row of the hook table.
func (h HookName) Spec() (HookSpec, bool) {
	i, ok := hookIndex[h]
	if !ok {
		return HookSpec{}, false
	}
	return hookTable[i], true
}

// Gate returns the capability that gates the hook ("" when none is needed).
func (h HookName) Gate() Capability {
	s, _ := h.Spec()
	return s.Gate
}

// CanAbort reports whether a failure of the hook can stop the operation
// that ran it, so that an errorPolicy applies: the before hooks, and
// plugin:install and plugin:activate (whose failure keeps the plugin from
// being activated). page:metadata's failures never break a page.
func (h HookName) CanAbort() bool {
	switch h {
	case HookBeforeSave, HookBeforeDelete, HookMediaBeforeUpload, HookInstall, HookActivate:
		return true
	}
	return false
}

// Synchronous reports whether the hook runs inside the request that triggered it
// (the "before" hooks and page:metadata), so its timeout delays that request.
func (h HookName) Synchronous() bool {
	s, _ := h.Spec()
	return s.Synchronous
}
