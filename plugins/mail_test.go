package plugins

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/mail"
	"github.com/pilcrow-cms/pilcrow/mail/mailtest"
	"github.com/pilcrow-cms/pilcrow/manifest"
)

const mailerManifest = `{"id": "mailer", "version": "1.0.0", "name": "Mailer", "capabilities": ["email:send"],
	"routes": [{"name": "send"}], "limits": {"emailsPerHour": 2}}`

// mailerScript sends three messages (the third over the plugin's hourly
// limit of two) and one bad one, returning what each call said.
const mailerScript = `
const msg = async (p) => { try { await p; return "ok"; } catch (e) { return String(e && e.message || e); } };
export default { routes: { send: async (req, ctx) => {
	const out = [];
	out.push(await msg(ctx.email.send({ to: "bad address", subject: "x", text: "x" })));
	for (let i = 1; i <= 3; i++) {
		out.push(await msg(ctx.email.send({ to: ["reader@example.org"], subject: "Note " + i, text: "Body " + i, html: "<p>Body " + i + "</p>" })));
	}
	return out;
} } };`

// mailRig is a plugin rig whose ctx.email goes through a real outbox to a
// real SMTP server on loopback.
func mailRig(t *testing.T, opts mailtest.Options, attempts int) (*rig, *mailtest.Server, *jobs.Queue, *mail.Outbox) {
	t.Helper()
	srv := mailtest.Start(t, opts)
	r := newRig(t, QueueConfig{})
	cfg := mail.Config{URL: srv.URL(), From: "Site <noreply@site.test>", Timeout: 10 * time.Second}
	if srv.Pool != nil {
		cfg.TLSConfig = &tls.Config{RootCAs: srv.Pool}
	}
	tr, err := mail.NewTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	q := jobs.New(r.db, jobs.Config{Log: slog.New(slog.DiscardHandler)})
	o := mail.NewOutbox(r.db, q, tr, mail.OutboxOptions{Delays: make([]time.Duration, attempts-1), Log: slog.New(slog.DiscardHandler)})
	r.m.services.Mail = OutboxMailer{Outbox: o}
	r.m.ReportMail(o)
	return r, srv, q, o
}

func drainJobs(t *testing.T, q *jobs.Queue) {
	t.Helper()
	for range 100 {
		did, err := q.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			return
		}
	}
	t.Fatal("the queue never ran dry")
}

// ctx.email.send from a plugin in the sandbox reaches a real SMTP server
// over STARTTLS, under the plugin's hourly limit; each delivery shows in
// the plugin's logs.
func TestEmailSendEndToEnd(t *testing.T) {
	r, srv, q, _ := mailRig(t, mailtest.Options{StartTLS: true, User: "site", Password: "pw"}, 2)
	ap := r.inline(mailerManifest, mailerScript)
	var out []string
	if err := json.Unmarshal([]byte(r.route(ap, "send")), &out); err != nil {
		t.Fatal(err)
	}
	if len(out) != 4 || !strings.Contains(out[0], `"bad address" is not an email address`) || out[1] != "ok" || out[2] != "ok" ||
		!strings.Contains(out[3], "limits.emailsPerHour") || !strings.Contains(out[3], "is 2") {
		t.Fatalf("ctx.email.send said %q", out)
	}
	drainJobs(t, q)
	msgs := srv.Wait(t, 2, 10*time.Second)
	subjects := map[string]string{}
	for _, m := range msgs {
		p, err := m.Parse()
		if err != nil {
			t.Fatal(err)
		}
		if m.From != "noreply@site.test" || len(m.To) != 1 || m.To[0] != "reader@example.org" || !m.TLS || m.Auth != "site" {
			t.Errorf("envelope %+v", m)
		}
		subjects[p.Subject()] = p.Bodies["text/plain"] + "|" + p.Bodies["text/html"]
	}
	if subjects["Note 1"] != "Body 1|<p>Body 1</p>" || subjects["Note 2"] != "Body 2|<p>Body 2</p>" {
		t.Errorf("received %v", subjects)
	}
	r.flushLogs()
	page, err := r.m.PluginLogs(context.Background(), "mailer", LogQuery{Kind: LogKindMail})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.Items[0].Outcome != OutcomeOK || !strings.Contains(page.Items[0].Lines[0].Message, "sent") {
		t.Errorf("mail logs %+v", page.Items)
	}
}

// A refusing server: a 4xx reply is retried, a 5xx one is dead at once;
// both show in the plugin's logs as errors.
func TestEmailSendFailuresInPluginLogs(t *testing.T) {
	replies := map[int]*smtp.SMTPError{
		1: {Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "greylisted, try later"},
		2: nil, // the retry of message 1 goes through
		3: {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
	}
	r, srv, q, o := mailRig(t, mailtest.Options{Refuse: func(n int) *smtp.SMTPError { return replies[n] }}, 3)
	ap := r.inline(`{"id": "mailer", "version": "1.0.0", "name": "Mailer", "capabilities": ["email:send"], "routes": [{"name": "one"}]}`,
		`export default { routes: { one: async (req, ctx) => { await ctx.email.send({ to: "x@example.org", subject: "S", text: "T" }); return "queued"; } } };`)
	if got := r.route(ap, "one"); got != `"queued"` {
		t.Fatal(got)
	}
	drainJobs(t, q) // attempt 1 (451), attempt 2 (accepted)
	if got := r.route(ap, "one"); got != `"queued"` {
		t.Fatal(got)
	}
	drainJobs(t, q) // attempt 3 (550): dead
	if srv.Attempts() != 3 || len(srv.Messages()) != 1 {
		t.Fatalf("server saw %d attempts, accepted %d", srv.Attempts(), len(srv.Messages()))
	}
	dead, err := q.List(context.Background(), jobs.Filter{Kind: mail.Kind, Status: jobs.StatusDead})
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead jobs %+v %v", dead, err)
	}
	if rec, err := o.Get(context.Background(), dead[0].ID); err != nil || rec.Status != "dead" || !strings.Contains(rec.LastError, "no such user") {
		t.Errorf("outbox record %+v %v", rec, err)
	}
	r.flushLogs()
	page, err := r.m.PluginLogs(context.Background(), "mailer", LogQuery{Kind: LogKindMail, Outcome: string(OutcomeError)})
	if err != nil {
		t.Fatal(err)
	}
	var retried, gaveUp bool
	for _, it := range page.Items {
		retried = retried || strings.Contains(it.Error, "greylisted") && strings.Contains(it.Error, "retrying")
		gaveUp = gaveUp || strings.Contains(it.Error, "no such user") && strings.Contains(it.Error, "was not sent")
	}
	if len(page.Items) != 2 || !retried || !gaveUp {
		t.Errorf("error logs %+v", page.Items)
	}
}

// Without --smtp, ctx.email.send throws, and the consent screen says mail
// is off on this site.
func TestEmailSendWithoutTransport(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ap := r.inline(mailerManifest, mailerScript)
	var out []string
	if err := json.Unmarshal([]byte(r.route(ap, "send")), &out); err != nil {
		t.Fatal(err)
	}
	for _, o := range out[1:] {
		if !strings.Contains(o, "no mail transport is configured") {
			t.Errorf("ctx.email.send said %q", o)
		}
	}
	info, err := r.m.Get(context.Background(), "mailer")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range info.Consent.Lines {
		found = found || strings.HasSuffix(l, manifest.MailOffNote)
	}
	if !found {
		t.Errorf("consent lines %q do not say mail is off", info.Consent.Lines)
	}
	// With a transport, the line is the plain grant.
	r2, _, _, _ := mailRig(t, mailtest.Options{}, 1)
	r2.inline(mailerManifest, mailerScript)
	info, _ = r2.m.Get(context.Background(), "mailer")
	for _, l := range info.Consent.Lines {
		if strings.Contains(l, "mail is off") {
			t.Errorf("consent line %q on a site with mail", l)
		}
	}
}
