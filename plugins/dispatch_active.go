package plugins

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// activeIndex answers "which enabled plugins declare this hook" with one
// small query per call: versions are immutable, so each version's parsed
// manifest is cached by its bundle hash and never goes stale, while the set of
// enabled plugins is read fresh every time (a deactivated plugin stops
// receiving hooks at once, in every process sharing the database).
type activeIndex struct {
	m         *Manager
	mu        sync.Mutex
	manifests map[string]*manifest.Manifest // bundle SHA-256 → manifest

	// stmt is the active-set query, prepared once: it runs on every save,
	// and parsing it each time costs more than running it.
	stmtOnce sync.Once
	stmt     *sql.Stmt
	stmtErr  error
}

const activeQuery = `SELECT id, install_seq, version, sha256 FROM plugins WHERE enabled = 1 AND version IS NOT NULL ORDER BY install_seq`

func newActiveIndex(m *Manager) *activeIndex {
	return &activeIndex{m: m, manifests: map[string]*manifest.Manifest{}}
}

// subscriber is one plugin's declaration of one hook.
type subscriber struct {
	ap   *ActivePlugin
	hook manifest.Hook
}

// active lists the enabled plugins' running versions in install order.
func (a *activeIndex) active(ctx context.Context) ([]*ActivePlugin, error) {
	a.stmtOnce.Do(func() {
		// Prepared without the caller's context: the statement outlives the call.
		a.stmt, a.stmtErr = a.m.db.Read().PrepareContext(context.Background(), activeQuery)
	})
	var rows *sql.Rows
	var err error
	if a.stmtErr == nil {
		rows, err = a.stmt.QueryContext(ctx)
	} else {
		rows, err = a.m.db.Read().QueryContext(ctx, activeQuery)
	}
	if err != nil {
		return nil, fmt.Errorf("active plugins: %w", err)
	}
	type row struct {
		id, version, sha string
		seq              int64
	}
	var list []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.seq, &r.version, &r.sha); err != nil {
			rows.Close()
			return nil, fmt.Errorf("active plugins: %w", err)
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("active plugins: %w", err)
	}
	out := make([]*ActivePlugin, 0, len(list))
	for _, r := range list {
		mf, err := a.manifest(ctx, r.id, r.version, r.sha)
		if err != nil {
			return nil, err
		}
		out = append(out, &ActivePlugin{ID: r.id, InstallSeq: r.seq, Manifest: mf, SHA256: r.sha})
	}
	return out, nil
}

func (a *activeIndex) manifest(ctx context.Context, id, version, sha string) (*manifest.Manifest, error) {
	a.mu.Lock()
	mf, ok := a.manifests[sha]
	a.mu.Unlock()
	if ok {
		return mf, nil
	}
	mf, err := versionManifest(ctx, a.m.db.Read(), id, version)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.manifests[sha] = mf
	a.mu.Unlock()
	return mf, nil
}

// plugin returns the running version of an enabled plugin, or ErrNotFound.
func (a *activeIndex) plugin(ctx context.Context, id string) (*ActivePlugin, error) {
	all, err := a.active(ctx)
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
func (a *activeIndex) subscribers(ctx context.Context, hook manifest.HookName) ([]subscriber, error) {
	all, err := a.active(ctx)
	if err != nil {
		return nil, err
	}
	var subs []subscriber
	for _, ap := range all {
		if h, ok := ap.Manifest.Hook(hook); ok {
			subs = append(subs, subscriber{ap: ap, hook: h})
		}
	}
	slices.SortStableFunc(subs, func(x, y subscriber) int {
		return cmp.Or(cmp.Compare(x.hook.Priority, y.hook.Priority), cmp.Compare(x.ap.InstallSeq, y.ap.InstallSeq))
	})
	return subs, nil
}
