package site

import (
	"context"
	"crypto/tls"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/mail"
	"github.com/pilcrow-cms/pilcrow/mail/mailtest"
)

// A site opened with --smtp sends its outbox from Run to a real SMTP server
// (STARTTLS on loopback), and /metrics shows the job queue.
func TestSiteSendsMailAndExposesQueueMetrics(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{StartTLS: true})
	s, err := Open(context.Background(), Config{DataDir: t.TempDir(), Database: storagetest.Spec(t, ""), Logger: slog.New(slog.DiscardHandler),
		Mail: mail.Config{URL: srv.URL(), From: "Site <noreply@site.test>", TLSConfig: &tls.Config{RootCAs: srv.Pool}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Mail == nil {
		t.Fatal("no outbox on a site with --smtp")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if _, err := s.Mail.Enqueue(ctx, nil, mail.Message{To: []string{"new.user@example.org"}, Subject: "Welcome", Text: "Set your password"}); err != nil {
		t.Fatal(err)
	}
	m := srv.Wait(t, 1, 30*time.Second)[0]
	if p, err := m.Parse(); err != nil || p.Subject() != "Welcome" || !m.TLS {
		t.Fatalf("received %+v %v", m, err)
	}
	// The server has the message; the worker records the outcome just after.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, err := s.Jobs.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st[mail.Kind].Outcomes.Succeeded == 1 && st[mail.Kind].Running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job's outcome was never recorded: %+v", st)
		}
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, w := range []string{`pilcrow_jobs_pending{kind="mail.send"} 0`, `pilcrow_jobs_dead{kind="mail.send"} 0`,
		`pilcrow_jobs_outcomes_total{kind="mail.send",outcome="succeeded"} 1`,
		`pilcrow_mail_messages_total{outcome="sent"} 1`, `pilcrow_mail_messages_total{outcome="retry"} 0`, `pilcrow_mail_messages_total{outcome="dead"} 0`} {
		if !strings.Contains(string(body), w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
}

func TestSiteRefusesBadMailConfig(t *testing.T) {
	_, err := Open(context.Background(), Config{DataDir: t.TempDir(), Database: storagetest.Spec(t, ""), Logger: slog.New(slog.DiscardHandler),
		Mail: mail.Config{URL: "smtp://mail.example.com?insecure=true", From: "a@example.com"}})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("got %v", err)
	}
}
