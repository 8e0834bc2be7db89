package plugins

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pilcrow-cms/pilcrow/mail"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// ErrNoMail refuses ctx.email.send on a site started without --smtp.
var ErrNoMail = errors.New("no mail transport is configured on this site (an administrator sets one with --smtp and --mail-from)")

// LogKindMail marks the invocation-log records of a plugin's queued mail:
// each delivery and each failed attempt, so a plugin's mail trouble shows
// on its logs page next to the invocation that sent it.
const LogKindMail = "mail"

// OutboxMailer queues ctx.email.send messages in the site's durable outbox.
type OutboxMailer struct{ Outbox *mail.Outbox }

// Send queues msg from pluginID, at most perHour messages a rolling hour.
func (m OutboxMailer) Send(ctx context.Context, pluginID string, msg Email, perHour int) error {
	_, err := m.Outbox.EnqueueLimited(ctx, nil, mail.Message{
		To: msg.To, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, ReplyTo: msg.ReplyTo, Origin: mailOrigin(pluginID),
	}, mail.Limit{PerHour: perHour, Name: "limits.emailsPerHour"})
	return err
}

func mailOrigin(pluginID string) string { return "plugin:" + pluginID }

// ReportMail records the outcome of every message a plugin queued in the
// plugin's invocation logs: one "mail" record per delivery or failed attempt.
func (m *Manager) ReportMail(o *mail.Outbox) {
	o.Observe(func(ctx context.Context, d mail.Delivery) {
		id, ok := strings.CutPrefix(d.Message.Origin, "plugin:")
		if !ok {
			return
		}
		rec := InvocationLog{PluginID: id, Kind: LogKindMail, Name: "email.send", StartedAt: time.Now().UTC(), Outcome: OutcomeOK,
			Lines: []sandbox.LogLine{}}
		if ap, err := m.activePlugin(ctx, id); err == nil {
			rec.Version = ap.Manifest.Version
		}
		to := strings.Join(d.Message.To, ", ")
		switch {
		case d.Err == nil:
			rec.Lines = append(rec.Lines, sandbox.LogLine{Level: "info", Time: rec.StartedAt,
				Message: fmt.Sprintf("mail %s %q to %s sent (attempt %d)", d.ID, d.Message.Subject, to, d.Attempt)})
		case d.Dead:
			rec.Outcome = OutcomeError
			rec.Error = truncate(fmt.Sprintf("mail %s %q to %s was not sent; attempt %d failed and no retry follows: %v", d.ID, d.Message.Subject, to, d.Attempt, d.Err), maxLogErrorChars)
			rec.Lines = append(rec.Lines, sandbox.LogLine{Level: "error", Time: rec.StartedAt, Message: rec.Error})
		default:
			rec.Outcome = OutcomeError
			rec.Error = truncate(fmt.Sprintf("mail %s %q to %s: attempt %d failed, retrying in %s: %v", d.ID, d.Message.Subject, to, d.Attempt, d.RetryIn, d.Err), maxLogErrorChars)
			rec.Lines = append(rec.Lines, sandbox.LogLine{Level: "warn", Time: rec.StartedAt, Message: rec.Error})
		}
		m.logs.Record(rec)
	})
}
