package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// LocalRun describes one `pilcrow plugin run`: a hook or route invoked through
// the same sandbox and limits as the server, against a throwaway site.
type LocalRun struct {
	Manifest *manifest.Manifest
	Script   []byte
	// Kind is sandbox.KindHook or sandbox.KindRoute; Name the hook or route.
	Kind  string
	Name  string
	Event json.RawMessage
	// Deny removes capabilities from what the manifest declares, to try how
	// the plugin behaves without them.
	Deny     []manifest.Capability
	Settings map[string]any
	Secrets  map[string]string
	// Limits are the site limits the run starts from (zero fields: the
	// sandbox defaults, which is what servers use); the manifest may lower them.
	Limits sandbox.Limits
	// UnsafeAllowLoopback lets ctx.http.fetch reach servers on this machine's
	// loopback, for trying a plugin against a local mock. Never on a server.
	UnsafeAllowLoopback bool
	Log                 *slog.Logger
	// Services, when set, is the site the run acts on (`plugin run --site`:
	// its kv, storage, content, media and users outlive the run); its Egress
	// and Mail are used as they are. Nil: a throwaway database in a temporary
	// folder, removed afterwards, with no content or media.
	Services *Services
}

// EffectiveLimits are the limits the invocation runs under: the site's
// (r.Limits, or the sandbox defaults), lowered by the manifest, with the
// hook's own timeout; what `plugin run` prints beside the usage.
func (r LocalRun) EffectiveLimits() sandbox.Limits {
	var hook *manifest.Hook
	if r.Kind == sandbox.KindHook {
		if h, ok := r.Manifest.Hook(manifest.HookName(r.Name)); ok {
			hook = &h
		}
	}
	l := LimitsFor(r.Manifest, r.Limits, hook)
	d := sandbox.DefaultLimits
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
	return l
}

// ErrUnknownExport means the hook or route is not declared in the manifest.
var ErrUnknownExport = errors.New("not declared in the manifest")

// RunLocal runs r in pool against r.Services, or else a fresh site in a
// temporary folder that is removed afterwards (mail is then written to the
// log instead of being sent).
func RunLocal(ctx context.Context, pool *sandbox.Pool, r LocalRun) (*sandbox.Result, error) {
	var hook *manifest.Hook
	switch r.Kind {
	case sandbox.KindHook:
		h, ok := r.Manifest.Hook(manifest.HookName(r.Name))
		if !ok {
			return nil, fmt.Errorf("hook %q: %w (declared: %s)", r.Name, ErrUnknownExport, hookNames(r.Manifest))
		}
		hook = &h
	case sandbox.KindRoute:
		if _, ok := r.Manifest.Route(r.Name); !ok {
			return nil, fmt.Errorf("route %q: %w", r.Name, ErrUnknownExport)
		}
	default:
		return nil, fmt.Errorf("unknown invocation kind %q", r.Kind)
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	svc := r.Services
	if svc == nil {
		dir, err := os.MkdirTemp("", "pilcrow-run-*")
		if err != nil {
			return nil, fmt.Errorf("throwaway site: %w", err)
		}
		defer os.RemoveAll(dir)
		db, err := storage.Open(ctx, filepath.Join(dir, "pilcrow.db"))
		if err != nil {
			return nil, fmt.Errorf("throwaway site: %w", err)
		}
		defer db.Close()
		svc = &Services{
			Data:   storage.NewPluginData(db),
			Egress: egress.New(egress.Options{UnsafeAllowLoopback: r.UnsafeAllowLoopback, Logger: r.Log}),
			Users:  UserDirectory{Users: cms.NewUsers(db, nil)},
			Mail:   LogMailer{Log: r.Log},
			// ctx.cron works on the throwaway site; its schedules go with it.
			Cron: NewCronRunner(db, nil, CronConfig{Log: r.Log}),
		}
	}
	if err := svc.Data.SyncIndexes(ctx, r.Manifest.ID, StorageCollections(r.Manifest), true); err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	inv := &sandbox.Invocation{
		PluginID: r.Manifest.ID,
		Version:  r.Manifest.Version,
		Script:   r.Script,
		Kind:     r.Kind,
		Name:     r.Name,
		Event:    r.Event,
		Grants:   GrantsFor(r.Manifest, r.Settings, r.Deny),
		Limits:   LimitsFor(r.Manifest, r.Limits, hook),
		Site:     svc.Site,
	}
	host := svc.Bind(&Plugin{Manifest: r.Manifest, Capabilities: inv.Grants.Capabilities, Secrets: r.Secrets, Settings: r.Settings}, nil)
	return pool.Invoke(ctx, inv, host)
}

func hookNames(m *manifest.Manifest) string {
	var names []string
	for _, h := range m.Hooks {
		names = append(names, string(h.Name))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// LogMailer prints email instead of sending it: the transport of `plugin
// run`, which has no mail server. A site never uses it: without --smtp,
// ctx.email.send throws ErrNoMail.
type LogMailer struct{ Log *slog.Logger }

// Send logs the message's envelope and subject, saying it was not sent.
func (m LogMailer) Send(ctx context.Context, pluginID string, msg Email, perHour int) error {
	m.Log.WarnContext(ctx, "email NOT SENT: pilcrow plugin run has no mail transport, so the message is only printed here; on a site it goes out through --smtp",
		"plugin", pluginID, "to", []string(msg.To), "subject", msg.Subject, "text", msg.Text, "html", msg.HTML)
	return nil
}

// UserDirectory exposes public user profiles to ctx.users.
type UserDirectory struct{ Users *cms.Users }

// publicUser is a user as plugins with users:read see them: never a password
// hash, token or session.
type publicUser struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name,omitempty"`
	Role      cms.Role  `json:"role"`
	CreatedAt time.Time `json:"createdAt"`
}

func toPublicUser(u *cms.User) publicUser {
	return publicUser{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt}
}

// Get returns one user's profile, or null.
func (d UserDirectory) Get(ctx context.Context, id string) (any, error) {
	u, err := d.Users.Get(ctx, id)
	if err != nil {
		if errors.Is(err, cms.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return toPublicUser(u), nil
}

// List returns public profiles of all users.
func (d UserDirectory) List(ctx context.Context, _ ListOptions) (any, error) {
	users, err := d.Users.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]publicUser, len(users))
	for i, u := range users {
		out[i] = toPublicUser(u)
	}
	return map[string]any{"items": out}, nil
}
