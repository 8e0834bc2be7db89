package mail_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/mail"
	"github.com/pilcrow-cms/pilcrow/mail/mailtest"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

func TestMain(m *testing.M) { os.Exit(storagetest.Main(m)) }

func TestConfigRefusesWhatCannotWork(t *testing.T) {
	tests := []struct {
		url, from, want string
	}{
		{"smtp://mail.example.com", "Site <noreply@example.com>", ""},
		{"smtps://u:p@mail.example.com:465", "noreply@example.com", ""},
		{"smtp://127.0.0.1:2525?insecure=true", "a@b.c", ""},
		{"smtp://localhost:2525?insecure=true", "a@b.c", ""},
		{"smtp://[::1]:2525?insecure=true", "a@b.c", ""},
		{"smtp://mail.example.com:25?insecure=true", "a@b.c", "only to a loopback host"},
		{"smtp://10.0.0.1?insecure=true", "a@b.c", "only to a loopback host"},
		{"smtps://127.0.0.1?insecure=true", "a@b.c", "smtps"},
		{"http://mail.example.com", "a@b.c", "must start with smtp://"},
		{"mail.example.com:25", "a@b.c", "must start with smtp://"},
		{"smtp://", "a@b.c", "no host"},
		{"smtp://mail.example.com:99999", "a@b.c", "not a port"},
		{"smtp://mail.example.com?tls=off", "a@b.c", "unknown"},
		{"smtp://mail.example.com?insecure=yes", "a@b.c", "true or false"},
		{"smtp://mail.example.com/path", "a@b.c", "no path"},
		{"smtp://:secret@mail.example.com", "a@b.c", "empty user"},
		{"smtp://mail.example.com", "", "--mail-from"},
		{"smtp://mail.example.com", "not an address", "--mail-from"},
		{"smtp://mail.example.com", "a@b.c\r\nBcc: x@y.z", "--mail-from"},
	}
	for _, tt := range tests {
		t.Run(tt.url+" "+tt.from, func(t *testing.T) {
			_, err := mail.NewTransport(mail.Config{URL: tt.url, From: tt.from})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, mail.ErrBadConfig)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "secret"):
				t.Fatalf("the error repeats the password: %v", err)
			}
		})
	}
}

func TestMessageValidation(t *testing.T) {
	ok := mail.Message{To: []string{"a@example.com"}, Subject: "Hi", Text: "body"}
	long := make([]string, mail.MaxRecipients+1)
	for i := range long {
		long[i] = "a@example.com"
	}
	tests := []struct {
		name string
		edit func(*mail.Message)
		want string
	}{
		{"fine", func(m *mail.Message) {}, ""},
		{"html only", func(m *mail.Message) { m.Text, m.HTML = "", "<p>x</p>" }, ""},
		{"no recipient", func(m *mail.Message) { m.To = nil }, "at least one"},
		{"bad recipient", func(m *mail.Message) { m.To = []string{"nope"} }, "not an email address"},
		{"header injection in to", func(m *mail.Message) { m.To = []string{"a@example.com\r\nBcc: b@example.com"} }, "not an email address"},
		{"too many recipients", func(m *mail.Message) { m.To = long }, "more than"},
		{"bad replyTo", func(m *mail.Message) { m.ReplyTo = "x" }, "replyTo"},
		{"empty subject", func(m *mail.Message) { m.Subject = " " }, "subject is empty"},
		{"subject injection", func(m *mail.Message) { m.Subject = "Hi\r\nBcc: b@example.com" }, "line break"},
		{"nul in subject", func(m *mail.Message) { m.Subject = "Hi\x00there" }, "subject contains a NUL"},
		{"invalid utf-8 subject", func(m *mail.Message) { m.Subject = "Hi \xff" }, "not valid UTF-8"},
		{"nul in body", func(m *mail.Message) { m.HTML = "<p>\x00</p>" }, "body contains a NUL"},
		{"nul in to", func(m *mail.Message) { m.To = []string{"a\x00@example.com"} }, "not an email address"},
		{"invalid utf-8 replyTo", func(m *mail.Message) { m.ReplyTo = "\xff@example.com" }, "replyTo"},
		{"no body", func(m *mail.Message) { m.Text = "" }, "text or html"},
		{"huge body", func(m *mail.Message) { m.Text = strings.Repeat("x", mail.MaxBody+1) }, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.edit(&m)
			err := m.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), tt.want) || !errors.Is(err, mail.ErrInvalid))) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

type rig struct {
	db      *storage.DB
	q       *jobs.Queue
	out     *mail.Outbox
	events  []mail.Delivery
	attempt int
}

func newRig(t *testing.T, srv *mailtest.Server, url string, attempts int) *rig {
	t.Helper()
	db, err := storage.OpenSpec(context.Background(), storagetest.Spec(t, ""), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := mail.Config{URL: url, From: "Pilcrow Site <noreply@site.test>", Timeout: 10 * time.Second}
	if srv.Pool != nil {
		cfg.TLSConfig = mailtestTLS(srv)
	}
	tr, err := mail.NewTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	q := jobs.New(db, jobs.Config{Log: log})
	r := &rig{db: db, q: q}
	r.out = mail.NewOutbox(db, q, tr, mail.OutboxOptions{Delays: make([]time.Duration, attempts-1), Log: log})
	r.out.Observe(func(ctx context.Context, d mail.Delivery) { r.events = append(r.events, d) })
	return r
}

// drain runs the queue until nothing is due.
func (r *rig) drain(t *testing.T) {
	t.Helper()
	for range 100 {
		did, err := r.q.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			return
		}
	}
	t.Fatal("the queue never ran dry")
}

var hello = mail.Message{To: []string{"Reader <reader@example.org>", "second@example.org"}, Subject: "Hello — ünïcode",
	Text: "Plain body\nline two", HTML: "<p>HTML <b>body</b></p>", ReplyTo: "editor@site.test", Origin: "plugin:forms"}

func TestDeliveryEndToEnd(t *testing.T) {
	tests := []struct {
		name string
		opts mailtest.Options
		tls  bool
	}{
		{"plaintext on loopback (insecure=true)", mailtest.Options{}, false},
		{"STARTTLS", mailtest.Options{StartTLS: true}, true},
		{"STARTTLS with AUTH PLAIN", mailtest.Options{StartTLS: true, User: "site", Password: "s3cret pass"}, true},
		{"implicit TLS with AUTH", mailtest.Options{Implicit: true, User: "site", Password: "pw"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.Start(t, tt.opts)
			r := newRig(t, srv, srv.URL(), 3)
			id, err := r.out.Enqueue(context.Background(), nil, hello)
			if err != nil {
				t.Fatal(err)
			}
			r.drain(t)
			msgs := srv.Wait(t, 1, 10*time.Second)
			m := msgs[0]
			if m.From != "noreply@site.test" || strings.Join(m.To, ",") != "reader@example.org,second@example.org" {
				t.Errorf("envelope from %q to %v", m.From, m.To)
			}
			if m.TLS != tt.tls || m.Auth != tt.opts.User {
				t.Errorf("tls %v auth %q", m.TLS, m.Auth)
			}
			p, err := m.Parse()
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Subject(); got != hello.Subject {
				t.Errorf("subject %q", got)
			}
			if p.Bodies["text/plain"] != hello.Text || p.Bodies["text/html"] != hello.HTML {
				t.Errorf("bodies %q", p.Bodies)
			}
			if !strings.Contains(p.Header.Get("From"), "noreply@site.test") || !strings.Contains(p.Header.Get("Reply-To"), "editor@site.test") {
				t.Errorf("headers %v", p.Header)
			}
			if p.Header.Get("Message-Id") != "<"+id+"@site.test>" {
				t.Errorf("Message-ID %q, want one derived from the job id %s", p.Header.Get("Message-Id"), id)
			}
			rec, err := r.out.Get(context.Background(), id)
			if err != nil || rec.Status != "sent" || rec.Attempts != 1 || rec.Origin != "plugin:forms" {
				t.Errorf("record %+v %v", rec, err)
			}
			if len(r.events) != 1 || r.events[0].Err != nil {
				t.Errorf("observed %+v", r.events)
			}
		})
	}
}

// Failures: 4xx replies and connection trouble are retried, 5xx replies
// are dead at once, and each failed attempt is recorded and observed.
func TestRefusingServers(t *testing.T) {
	temp := &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	perm := &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relay denied"}
	tests := []struct {
		name       string
		opts       mailtest.Options
		url        func(*mailtest.Server) string
		attempts   int
		wantStatus string
		wantTries  int // DATA commands the server saw
		wantErr    string
	}{
		{"4xx then accepted", mailtest.Options{Refuse: func(n int) *smtp.SMTPError {
			if n < 3 {
				return temp
			}
			return nil
		}}, nil, 4, "sent", 3, ""},
		{"4xx every time is dead after the last attempt", mailtest.Options{Refuse: func(int) *smtp.SMTPError { return temp }}, nil, 3, "dead", 3, "try again later"},
		{"5xx is dead at once", mailtest.Options{Refuse: func(int) *smtp.SMTPError { return perm }}, nil, 3, "dead", 1, "relay denied"},
		{"wrong password is refused with 535", mailtest.Options{StartTLS: true, User: "site", Password: "right"},
			func(s *mailtest.Server) string { return strings.Replace(s.URL(), "right", "wrong", 1) }, 3, "dead", 0, "535"},
		{"no STARTTLS offered and plaintext not allowed", mailtest.Options{},
			func(s *mailtest.Server) string { return strings.TrimSuffix(s.URL(), "?insecure=true") }, 2, "dead", 0, "STARTTLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.Start(t, tt.opts)
			url := srv.URL()
			if tt.url != nil {
				url = tt.url(srv)
			}
			r := newRig(t, srv, url, tt.attempts)
			ctx := context.Background()
			id, err := r.out.Enqueue(ctx, nil, hello)
			if err != nil {
				t.Fatal(err)
			}
			r.drain(t)
			rec, err := r.out.Get(ctx, id)
			if err != nil || rec.Status != tt.wantStatus {
				t.Fatalf("record %+v %v, want %s", rec, err, tt.wantStatus)
			}
			if srv.Attempts() != tt.wantTries {
				t.Errorf("server saw %d attempts, want %d", srv.Attempts(), tt.wantTries)
			}
			if tt.wantStatus == "dead" {
				if !strings.Contains(rec.LastError, tt.wantErr) || strings.Contains(rec.LastError, "wrong") {
					t.Errorf("last error %q, want %q", rec.LastError, tt.wantErr)
				}
				j, err := r.q.Get(ctx, id)
				if err != nil || j.Status != jobs.StatusDead {
					t.Errorf("job %+v %v", j, err)
				}
				last := r.events[len(r.events)-1]
				if !last.Dead || last.Err == nil {
					t.Errorf("last event %+v", last)
				}
			}
		})
	}
}

// A certificate the client does not trust fails the attempt (retried, as
// a mis-issued certificate may be fixed), never falls back to plaintext.
func TestUntrustedCertificate(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{StartTLS: true})
	pool := srv.Pool
	srv.Pool = nil // the rig trusts nothing extra
	r := newRig(t, srv, srv.URL(), 2)
	srv.Pool = pool
	id, err := r.out.Enqueue(context.Background(), nil, hello)
	if err != nil {
		t.Fatal(err)
	}
	r.drain(t)
	rec, _ := r.out.Get(context.Background(), id)
	if rec.Status != "dead" || rec.Attempts != 2 || !strings.Contains(rec.LastError, "certificate") || len(srv.Messages()) != 0 {
		t.Fatalf("record %+v, server got %d", rec, len(srv.Messages()))
	}
}

func TestRateLimit(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	r := newRig(t, srv, srv.URL(), 1)
	ctx := context.Background()
	lim := mail.Limit{PerHour: 2, Name: "limits.emailsPerHour"}
	for i := range 2 {
		if _, err := r.out.EnqueueLimited(ctx, nil, hello, lim); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	_, err := r.out.EnqueueLimited(ctx, nil, hello, lim)
	if !errors.Is(err, mail.ErrRateLimited) || !strings.Contains(err.Error(), "limits.emailsPerHour") || !strings.Contains(err.Error(), "2") {
		t.Fatalf("third message: %v", err)
	}
	other := hello
	other.Origin = "plugin:other"
	if _, err := r.out.EnqueueLimited(ctx, nil, other, lim); err != nil {
		t.Fatalf("another origin shares the limit: %v", err)
	}
	// An hour later the window has moved on.
	if _, err := r.db.Write().Exec(`UPDATE mail_outbox SET created_at = created_at - 3600001`); err != nil {
		t.Fatal(err)
	}
	if _, err := r.out.EnqueueLimited(ctx, nil, hello, lim); err != nil {
		t.Fatalf("after an hour: %v", err)
	}
	r.drain(t)
	if n := len(srv.Messages()); n != 4 {
		t.Errorf("server got %d messages, want 4", n)
	}
}

// Senders racing for an origin's last slots on two handles to one database
// (two processes) take exactly the limit between them: counting and queueing
// are one transaction, serialized on SQLite and serializable on PostgreSQL.
func TestRateLimitConcurrentSenders(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	spec := storagetest.Spec(t, "")
	log := slog.New(slog.DiscardHandler)
	var outs []*mail.Outbox
	for range 2 {
		db, err := storage.OpenSpec(context.Background(), spec, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		tr, err := mail.NewTransport(mail.Config{URL: srv.URL(), From: "noreply@site.test", Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, mail.NewOutbox(db, jobs.New(db, jobs.Config{Log: log}), tr, mail.OutboxOptions{Log: log}))
	}
	const limit, senders = 5, 12
	lim := mail.Limit{PerHour: limit}
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent, refused := 0, 0
	for i := range senders {
		wg.Go(func() {
			_, err := outs[i%2].EnqueueLimited(context.Background(), nil, hello, lim)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				sent++
			case errors.Is(err, mail.ErrRateLimited):
				refused++
			default:
				t.Errorf("sender %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if sent != limit || refused != senders-limit {
		t.Errorf("%d queued and %d refused, want %d and %d", sent, refused, limit, senders-limit)
	}
}

func mailtestTLS(s *mailtest.Server) *tls.Config {
	return &tls.Config{RootCAs: s.Pool, MinVersion: tls.VersionTLS12}
}
