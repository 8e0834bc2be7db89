package plugins

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
)

// MaxHookDepth is how many plugin-caused levels a chain of writes may have:
// a plugin's write (level 1) may run other plugins' hooks, whose writes
// (level 2) may too, and so on; writes at level MaxHookDepth run no hooks.
// Without a bound, two plugins that update what the other saved (or one
// that updates its own entry from afterSave) write forever.
const MaxHookDepth = 3

type causeKey struct{}

// causedBy marks ctx as running pluginID's code, on top of the chain of
// plugins whose writes led here. Writes made with the result carry the chain
// to the hooks they trigger.
func causedBy(ctx context.Context, pluginID string) context.Context {
	chain := causeChain(ctx)
	return context.WithValue(ctx, causeKey{}, append(slices.Clip(chain), pluginID))
}

// withCauseChain restores a chain saved with a queued job.
func withCauseChain(ctx context.Context, chain []string) context.Context {
	if len(chain) == 0 {
		return ctx
	}
	return context.WithValue(ctx, causeKey{}, chain)
}

// causeChain is the plugins whose code led to the work in ctx, the most
// recent last; empty for work a person or the CMS started.
func causeChain(ctx context.Context) []string {
	chain, _ := ctx.Value(causeKey{}).([]string)
	return chain
}

// encodeCause is the chain as stored with a queued job ("" for none).
func encodeCause(chain []string) string {
	if len(chain) == 0 {
		return ""
	}
	b, _ := json.Marshal(chain)
	return string(b)
}

func decodeCause(s string) []string {
	var chain []string
	if s != "" {
		_ = json.Unmarshal([]byte(s), &chain)
	}
	return chain
}

// caused filters the subscribers of hook for a write made in ctx: a plugin's
// own writes do not run its own hooks (an afterSave that updates its entry
// would otherwise run again on its own update), and a write at
// MaxHookDepth runs none, with a log line saying where the chain stopped.
func (d *Dispatcher) caused(ctx context.Context, hook string, subs []subscriber) []subscriber {
	chain := causeChain(ctx)
	if len(chain) == 0 || len(subs) == 0 {
		return subs
	}
	if len(chain) >= MaxHookDepth {
		d.log.WarnContext(ctx, "plugin hook chain stopped: writes caused by plugins run no more hooks at this depth",
			"hook", hook, "depth", len(chain), "max", MaxHookDepth, "chain", chain, slog.Int("skipped", len(subs)))
		return nil
	}
	writer := chain[len(chain)-1]
	return slices.DeleteFunc(slices.Clone(subs), func(s subscriber) bool { return s.ap.ID == writer })
}

// CallingPlugin is the plugin whose code is running in ctx ("" for work a
// person or the CMS started): the site names it on the revisions its
// ctx.content writes keep.
func CallingPlugin(ctx context.Context) string {
	chain := causeChain(ctx)
	if len(chain) == 0 {
		return ""
	}
	return chain[len(chain)-1]
}
