package sandbox

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// Kinds of invocation: which export of the plugin's default object is called.
const (
	KindHook  = "hook"  // default.hooks[Name](event, ctx)
	KindRoute = "route" // default.routes[Name](request, ctx)
)

// Invocation is one call of a plugin hook or route.
type Invocation struct {
	PluginID string
	Version  string
	// ScriptHash keys the compiled-program caches, so it must identify
	// Script uniquely (two scripts must never share one); computed as the
	// SHA-256 of Script when empty. Callers that already know a hash save
	// the work per invocation.
	ScriptHash string
	// Script is the bundled ES2017 IIFE defining globalThis.__pilcrow.
	Script []byte
	Kind   string
	Name   string
	// Event is the JSON argument passed as the first parameter; null when empty.
	Event  json.RawMessage
	Grants Grants
	Limits Limits
	// Site is the site the plugin runs on (ctx.site, ctx.url).
	Site SiteInfo
}

// SiteInfo describes the site to its plugins: ctx.site, and the base of
// ctx.url. URL has no trailing slash.
type SiteInfo struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Locale   string `json:"locale"`
	Timezone string `json:"timezone"`
}

// Grants is what the site admin consented to for this plugin: it decides
// which ctx APIs exist inside the isolate and which host calls the parent
// lets through.
type Grants struct {
	// Capabilities from the manifest vocabulary, e.g. "content:read"; those
	// they imply are granted with them.
	Capabilities []manifest.Capability
	// StorageCollections declared in the manifest; each becomes ctx.storage.<name>.
	StorageCollections []string
	// Hooks declared in the manifest: some bring a ctx member (the cron hook
	// brings ctx.cron; see manifest.HookAPIs).
	Hooks []manifest.HookName
	// Settings is a JSON object of non-secret values and exposed secrets only;
	// it is visible to the plugin as a frozen ctx.settings.
	Settings json.RawMessage
}

// Limits bounds one invocation. Zero fields take the DefaultLimits value.
type Limits struct {
	CPU         time.Duration
	Wall        time.Duration
	MemoryBytes int64
	Subrequests int
	// LogBytes caps the total size of log messages of one invocation.
	LogBytes int
	// ResultBytes caps the JSON size of the returned (or thrown) value.
	ResultBytes int
	// RequestBytes caps the JSON size of the arguments of one host call.
	RequestBytes int
	// ResponseBytes caps the JSON size of one host call's answer.
	ResponseBytes int
	// HostCalls caps the number of ctx.* host calls of one invocation.
	HostCalls int
	// MaxDepth caps the nesting of values crossing the boundary.
	MaxDepth int
	// StackFrames caps the JS call depth. goja unwinds a stack overflow
	// through builtins in time quadratic in this cap, so keep it small.
	StackFrames int
}

// DefaultLimits are the site defaults: those a manifest may ask to lower are
// manifest.SiteDefaults (SPEC §6), the rest are the sandbox's own.
var DefaultLimits = Limits{
	CPU:           time.Duration(manifest.SiteDefaults.CPUMs) * time.Millisecond,
	Wall:          time.Duration(manifest.SiteDefaults.WallMs) * time.Millisecond,
	MemoryBytes:   int64(manifest.SiteDefaults.MemoryMB) << 20,
	Subrequests:   manifest.SiteDefaults.Subrequests,
	LogBytes:      manifest.SiteDefaults.LogBytes,
	ResultBytes:   manifest.SiteDefaults.ResponseBytes,
	RequestBytes:  1 << 20,
	ResponseBytes: 8 << 20,
	HostCalls:     1000,
	MaxDepth:      64,
	StackFrames:   400,
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.CPU <= 0 {
		l.CPU = d.CPU
	}
	if l.Wall <= 0 {
		l.Wall = d.Wall
	}
	if l.MemoryBytes <= 0 {
		l.MemoryBytes = d.MemoryBytes
	}
	if l.Subrequests <= 0 {
		l.Subrequests = d.Subrequests
	}
	if l.LogBytes <= 0 {
		l.LogBytes = d.LogBytes
	}
	if l.ResultBytes <= 0 {
		l.ResultBytes = d.ResultBytes
	}
	if l.RequestBytes <= 0 {
		l.RequestBytes = d.RequestBytes
	}
	if l.ResponseBytes <= 0 {
		l.ResponseBytes = d.ResponseBytes
	}
	if l.HostCalls <= 0 {
		l.HostCalls = d.HostCalls
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.StackFrames <= 0 {
		l.StackFrames = d.StackFrames
	}
	return l
}

// Result is what a successful invocation produced.
type Result struct {
	// Value is the JSON of the returned value; nil when the plugin returned
	// undefined (for content:beforeSave: keep the data unchanged).
	Value json.RawMessage
	Logs  []LogLine
	Usage Usage
}

// LogLine is one ctx.log call.
type LogLine struct {
	Level   string    `json:"level"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// Usage is what an invocation consumed. It is reported on failures too
// (alongside the error) whenever the worker survived to measure it.
type Usage struct {
	// CPU is the CPU time of the isolate's own thread: time spent waiting
	// for host calls, the watchdog and background garbage collection are
	// not charged.
	CPU  time.Duration `json:"cpu"`
	Wall time.Duration `json:"wall"`
	// PeakMemoryBytes is the sampled growth of the live heap over the
	// invocation's start.
	PeakMemoryBytes int64 `json:"peakMemoryBytes"`
	// AllocBytes is the total allocated during the invocation.
	AllocBytes  int64 `json:"allocBytes"`
	Subrequests int   `json:"subrequests"`
}

// Exports lists what a plugin script's default export provides.
type Exports struct {
	Hooks  []string `json:"hooks"`
	Routes []string `json:"routes"`
	// HookOptions are the options of the hooks exported as objects
	// {handler, priority?, timeoutMs?}, by hook name, as the script wrote
	// them (the plugins package checks them).
	HookOptions map[string]HookOptions `json:"hookOptions,omitempty"`
}

// HookOptions are what a hook exported as an object says about itself.
// Fields the object leaves out are nil; a value that is not a number is
// kept as its JSON so the check can name it.
type HookOptions struct {
	Priority  json.RawMessage `json:"priority,omitempty"`
	TimeoutMs json.RawMessage `json:"timeoutMs,omitempty"`
	// NoHandler is set when the object has no handler function.
	NoHandler bool `json:"noHandler,omitempty"`
}

// validate reports what is wrong with an invocation before any work is done.
func (inv *Invocation) validate() error {
	switch {
	case inv == nil:
		return fmt.Errorf("%w: nil invocation", ErrInvalidInvocation)
	case inv.PluginID == "":
		return fmt.Errorf("%w: empty plugin id", ErrInvalidInvocation)
	case len(inv.Script) == 0:
		return fmt.Errorf("%w: empty script", ErrInvalidInvocation)
	case inv.Kind != KindHook && inv.Kind != KindRoute:
		return fmt.Errorf("%w: kind %q is neither %q nor %q", ErrInvalidInvocation, inv.Kind, KindHook, KindRoute)
	case inv.Name == "":
		return fmt.Errorf("%w: empty %s name", ErrInvalidInvocation, inv.Kind)
	}
	// The isolate's JSON rules, checked before a worker sees the event or
	// the settings: what it would refuse fails here, and costs no worker.
	if len(inv.Event) > 0 {
		if err := CheckJSON(inv.Event); err != nil {
			return fmt.Errorf("%w: event: %w", ErrInvalidInvocation, err)
		}
	}
	if len(inv.Grants.Settings) > 0 {
		if err := CheckJSON(inv.Grants.Settings); err != nil {
			return fmt.Errorf("%w: settings: %w", ErrInvalidInvocation, err)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(inv.Grants.Settings, &obj); err != nil {
			return fmt.Errorf("%w: settings must be a JSON object: %v", ErrInvalidInvocation, err)
		}
	}
	for _, c := range inv.Grants.StorageCollections {
		if !validCollectionName(c) {
			return fmt.Errorf("%w: storage collection name %q must match ^[a-z][a-z0-9_]*$", ErrInvalidInvocation, c)
		}
	}
	return nil
}
