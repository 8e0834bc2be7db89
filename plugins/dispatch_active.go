package plugins

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// subscriber is one plugin's declaration of one hook.
type subscriber struct {
	ap   *ActivePlugin
	hook manifest.Hook
}

// activePlugin returns the running version of an enabled plugin, or
// ErrNotFound.
func (m *Manager) activePlugin(ctx context.Context, id string) (*ActivePlugin, error) {
	all, err := m.Active(ctx)
	if err != nil {
		return nil, err
	}
	for _, ap := range all {
		if ap.ID == id {
			return ap, nil
		}
	}
	return nil, fmt.Errorf("%w: %s is not active", ErrNotFound, id)
}

// subscribers lists the enabled plugins declaring hook, in dispatch order:
// priority ascending, then install order.
func (m *Manager) subscribers(ctx context.Context, hook manifest.HookName) ([]subscriber, error) {
	all, err := m.Active(ctx)
	if err != nil {
		return nil, err
	}
	var subs []subscriber
	for _, ap := range all {
		if h, ok := ap.Hook(hook); ok {
			subs = append(subs, subscriber{ap: ap, hook: h})
		}
	}
	slices.SortStableFunc(subs, func(x, y subscriber) int {
		return cmp.Or(cmp.Compare(x.hook.Priority, y.hook.Priority), cmp.Compare(x.ap.InstallSeq, y.ap.InstallSeq))
	})
	return subs, nil
}
