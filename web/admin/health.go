package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/pilcrow-cms/pilcrow/web"
)

// SiteHealth is what the dashboard's site-health card reads: the state of
// the queues and of what fails without anyone watching (plugins' after-hooks,
// mail). The site implements it from what its /metrics already collects;
// declaring it here, where it is read, keeps the card unchanged when a
// queue moves (after-hooks from plugin_jobs onto package jobs).
type SiteHealth interface {
	// AfterHooks is the plugin after-hook queue.
	AfterHooks(ctx context.Context) (QueueHealth, error)
	// FailingPlugins lists the plugins whose invocations failed since then,
	// or whose after-hook deliveries are dead, worst first.
	FailingPlugins(ctx context.Context, since time.Time) ([]PluginFailures, error)
	// Mail is the outgoing mail queue and its failures since then; ok is
	// false when the site sends no mail.
	Mail(ctx context.Context, since time.Time) (m MailHealth, ok bool, err error)
}

// QueueHealth is a queue's depth, its oldest due job's wait and its dead jobs.
type QueueHealth struct {
	Pending int64
	// OldestWait is how long the longest-waiting due job has been due.
	OldestWait time.Duration
	Dead       int64
}

// PluginFailures is one plugin's recent failures.
type PluginFailures struct {
	Plugin string
	// Failed counts failed invocations in the window; DeadHooks the
	// plugin's dead after-hook deliveries.
	Failed, DeadHooks int64
	LastError         string
	LastAt            time.Time
}

// MailHealth is the mail queue and its recent failures.
type MailHealth struct {
	Queue QueueHealth
	// Failed counts messages given up in the window; the last one's
	// subject, error and time follow.
	Failed      int64
	LastSubject string
	LastError   string
	LastAt      time.Time
}

// healthWindow is how far back the card counts failures.
const healthWindow = 24 * time.Hour

// queueStuckAfter is when a due job's wait is worth a warning: the queues
// retry within minutes, so a longer wait means no worker is running.
const queueStuckAfter = 5 * time.Minute

// healthView is the card.
type healthView struct {
	AfterHooks   QueueHealth
	HooksStuck   bool
	Failing      []PluginFailures
	Mail         MailHealth
	HasMail      bool
	Since        time.Time
	Unavailable  string
	AllClear     bool
	PluginsShown bool
}

// WithHealth is the admin's web.Mount with a site-health source for the
// dashboard (admin.New has none and shows no card).
func WithHealth(h SiteHealth) web.Mount {
	return func(srv *web.Server) http.Handler { return newUI(srv, h) }
}

func (s *UI) siteHealth(r *http.Request) *healthView {
	if s.health == nil {
		return nil
	}
	ctx := r.Context()
	since := time.Now().Add(-healthWindow)
	v := &healthView{Since: since, PluginsShown: s.adminPluginsEnabled()}
	var err error
	if v.PluginsShown {
		if v.AfterHooks, err = s.health.AfterHooks(ctx); err == nil {
			v.Failing, err = s.health.FailingPlugins(ctx, since)
		}
	}
	if err == nil {
		v.Mail, v.HasMail, err = s.health.Mail(ctx, since)
	}
	if err != nil {
		// The rest of the dashboard still helps; say what is missing.
		s.log.ErrorContext(ctx, "dashboard site health", "err", err)
		return &healthView{Unavailable: "Site health could not be read just now; the server log has details."}
	}
	v.HooksStuck = v.AfterHooks.OldestWait > queueStuckAfter
	v.AllClear = !v.HooksStuck && v.AfterHooks.Dead == 0 && len(v.Failing) == 0 &&
		v.Mail.Failed == 0 && v.Mail.Queue.Dead == 0 && v.Mail.Queue.OldestWait <= queueStuckAfter
	return v
}

// waitText says how long a wait is, to the unit people use.
func waitText(d time.Duration) string {
	switch {
	case d <= 0:
		return "none"
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Hour).String()
}
