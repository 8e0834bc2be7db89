package mail

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// Sentinels for callers.
var (
	// ErrInvalid reports a message that cannot be sent as given.
	ErrInvalid = errors.New("invalid message")
	// ErrRateLimited reports an origin over its hourly sending limit.
	ErrRateLimited = errors.New("mail rate limit")
)

// Bounds of one message.
const (
	MaxRecipients = 50
	MaxSubject    = 998 // RFC 5322's line length
	MaxBody       = 1 << 20
)

// Message is one email: plain text, HTML, or both (sent as alternatives).
type Message struct {
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Text    string   `json:"text,omitempty"`
	HTML    string   `json:"html,omitempty"`
	ReplyTo string   `json:"replyTo,omitempty"`
	// Origin is who sends it: "plugin:<id>" for a plugin, "site" for the
	// core (invites, password resets). Failures are reported per origin.
	Origin string `json:"origin,omitempty"`
}

// Validate checks m, naming the first problem.
func (m Message) Validate() error {
	if len(m.To) == 0 {
		return fmt.Errorf("%w: to needs at least one address", ErrInvalid)
	}
	if len(m.To) > MaxRecipients {
		return fmt.Errorf("%w: to has %d addresses, more than %d", ErrInvalid, len(m.To), MaxRecipients)
	}
	for _, a := range m.To {
		if _, err := checkAddress(a); err != nil || a == "" {
			return fmt.Errorf("%w: %q is not an email address", ErrInvalid, a)
		}
	}
	if _, err := checkAddress(m.ReplyTo); err != nil {
		return fmt.Errorf("%w: replyTo %q is not an email address", ErrInvalid, m.ReplyTo)
	}
	switch {
	case strings.TrimSpace(m.Subject) == "":
		return fmt.Errorf("%w: the subject is empty", ErrInvalid)
	case len(m.Subject) > MaxSubject:
		return fmt.Errorf("%w: the subject is longer than %d bytes", ErrInvalid, MaxSubject)
	case strings.ContainsAny(m.Subject, "\r\n"):
		return fmt.Errorf("%w: the subject contains a line break", ErrInvalid)
	// Mail text may not hold NUL (RFC 5322), nor may the outbox's columns
	// on PostgreSQL; invalid UTF-8 would be stored (and sent) as neither.
	case strings.ContainsRune(m.Subject, 0):
		return fmt.Errorf("%w: the subject contains a NUL character", ErrInvalid)
	case !utf8.ValidString(m.Subject):
		return fmt.Errorf("%w: the subject is not valid UTF-8", ErrInvalid)
	case strings.ContainsRune(m.Text, 0) || strings.ContainsRune(m.HTML, 0):
		return fmt.Errorf("%w: the body contains a NUL character", ErrInvalid)
	case m.Text == "" && m.HTML == "":
		return fmt.Errorf("%w: a message needs text or html", ErrInvalid)
	case len(m.Text)+len(m.HTML) > MaxBody:
		return fmt.Errorf("%w: the body is larger than %d bytes", ErrInvalid, MaxBody)
	}
	return nil
}

// checkAddress parses one address ("" is allowed and returned as is),
// refusing line breaks that would inject headers.
func checkAddress(a string) (string, error) {
	if a == "" {
		return "", nil
	}
	if strings.ContainsAny(a, "\r\n\x00") {
		return "", errors.New("contains a line break or NUL")
	}
	if !utf8.ValidString(a) {
		return "", errors.New("is not valid UTF-8")
	}
	p, err := netmail.ParseAddress(a)
	if err != nil {
		return "", err
	}
	return p.String(), nil
}

// Kind is the job kind of queued mail.
const Kind = "mail.send"

// Delivery is a finished or failed attempt, as observers see it.
type Delivery struct {
	ID      string
	Message Message
	Attempt int
	Err     error // nil when sent
	// Dead: no attempt follows (Err is set); RetryIn is the wait otherwise.
	Dead    bool
	RetryIn time.Duration
}

// Outbox queues messages durably and sends them through a Transport from
// the queue's workers, retrying transient failures (connection trouble, 4xx
// replies) and giving up at once on 5xx refusals.
type Outbox struct {
	db  *storage.DB
	q   *jobs.Queue
	t   *Transport
	log *slog.Logger

	mu        sync.RWMutex
	observers []func(context.Context, Delivery)
}

// OutboxOptions tune an Outbox.
type OutboxOptions struct {
	// Delays override the retry schedule (default jobs.DefaultDelays).
	Delays []time.Duration
	Log    *slog.Logger
}

// NewOutbox registers the mail kind on q and returns the outbox sending
// through t.
func NewOutbox(db *storage.DB, q *jobs.Queue, t *Transport, opts OutboxOptions) *Outbox {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	o := &Outbox{db: db, q: q, t: t, log: opts.Log}
	q.Handle(Kind, o.deliver, jobs.Kind{Delays: opts.Delays, Timeout: 2 * time.Minute, OnFailure: o.failed})
	return o
}

// Transport is the outbox's transport.
func (o *Outbox) Transport() *Transport { return o.t }

// Observe adds fn, told of every sent message and failed attempt (after the
// queue recorded it). Register observers before the queue runs.
func (o *Outbox) Observe(fn func(context.Context, Delivery)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.observers = append(o.observers, fn)
}

func (o *Outbox) notify(ctx context.Context, d Delivery) {
	o.mu.RLock()
	obs := o.observers
	o.mu.RUnlock()
	for _, fn := range obs {
		fn(ctx, d)
	}
}

// Limit caps how many messages one origin queues per rolling hour; 0 is no cap.
type Limit struct {
	PerHour int
	// Name is how errors call the limit (for example limits.emailsPerHour).
	Name string
}

// Enqueue validates m and queues it, in tx when given (the message exists
// only if tx commits), else on its own. It returns the message's id (stable
// across retries; its Message-ID is derived from it).
func (o *Outbox) Enqueue(ctx context.Context, tx *sql.Tx, m Message) (string, error) {
	return o.EnqueueLimited(ctx, tx, m, Limit{})
}

// EnqueueLimited is Enqueue under a per-origin hourly limit: over it, the
// message is refused with ErrRateLimited. Counting and queueing happen in one
// transaction, so concurrent senders cannot both take the last slot.
func (o *Outbox) EnqueueLimited(ctx context.Context, tx *sql.Tx, m Message, lim Limit) (string, error) {
	if err := m.Validate(); err != nil {
		return "", err
	}
	if m.Origin == "" {
		m.Origin = "site"
	}
	if tx == nil {
		var id string
		err := o.db.Tx(ctx, func(tx *sql.Tx) (err error) {
			id, err = o.enqueue(ctx, tx, m, lim)
			return err
		})
		return id, err
	}
	return o.enqueue(ctx, tx, m, lim)
}

func (o *Outbox) enqueue(ctx context.Context, tx *sql.Tx, m Message, lim Limit) (string, error) {
	if lim.PerHour > 0 {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mail_outbox WHERE origin = ? AND created_at > `+storage.NowMillisSQL+` - ?`,
			m.Origin, time.Hour.Milliseconds()).Scan(&n); err != nil {
			return "", fmt.Errorf("mail: count recent messages: %w", err)
		}
		if n >= lim.PerHour {
			name := lim.Name
			if name == "" {
				name = "the hourly mail limit"
			}
			return "", fmt.Errorf("%w: %s already sent %d messages in the last hour, the limit (%s) is %d", ErrRateLimited, m.Origin, n, name, lim.PerHour)
		}
	}
	id, err := o.q.Enqueue(ctx, tx, Kind, m, nil)
	if err != nil {
		return "", fmt.Errorf("mail: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO mail_outbox (id, origin, recipients, subject, created_at, updated_at)
		VALUES (?, ?, ?, ?, `+storage.NowMillisSQL+`, `+storage.NowMillisSQL+`)`, id, m.Origin, strings.Join(m.To, ", "), m.Subject); err != nil {
		return "", fmt.Errorf("mail: record message: %w", err)
	}
	return id, nil
}

func (o *Outbox) deliver(ctx context.Context, j *jobs.Job) error {
	var m Message
	if err := json.Unmarshal(j.Payload, &m); err != nil {
		return jobs.Permanent(fmt.Errorf("mail: the queued message is unreadable: %w", err))
	}
	err := o.t.Send(ctx, j.ID, m)
	if err != nil {
		if IsPermanent(err) {
			return jobs.Permanent(err)
		}
		return err
	}
	o.record(ctx, j.ID, "sent", j.Attempts, "")
	o.log.Info("mail sent", "id", j.ID, "origin", m.Origin, "to", m.To, "subject", m.Subject, "attempt", j.Attempts)
	o.notify(ctx, Delivery{ID: j.ID, Message: m, Attempt: j.Attempts})
	return nil
}

func (o *Outbox) failed(ctx context.Context, f jobs.Failure) {
	var m Message
	_ = json.Unmarshal(f.Job.Payload, &m)
	status := "queued"
	if f.Dead {
		status = "dead"
	}
	o.record(ctx, f.Job.ID, status, f.Job.Attempts, f.Job.LastError)
	if f.Dead {
		o.log.Error("mail not sent; no attempt follows", "id", f.Job.ID, "origin", m.Origin, "to", m.To, "subject", m.Subject,
			"attempts", f.Job.Attempts, "err", f.Job.LastError)
	} else {
		o.log.Warn("mail attempt failed; will retry", "id", f.Job.ID, "origin", m.Origin, "to", m.To, "subject", m.Subject,
			"attempt", f.Job.Attempts, "retryIn", f.RetryIn, "err", f.Job.LastError)
	}
	o.notify(ctx, Delivery{ID: f.Job.ID, Message: m, Attempt: f.Job.Attempts, Err: f.Err, Dead: f.Dead, RetryIn: f.RetryIn})
}

func (o *Outbox) record(ctx context.Context, id, status string, attempts int, lastErr string) {
	if _, err := o.db.Write().ExecContext(context.WithoutCancel(ctx), `UPDATE mail_outbox SET status = ?, attempts = ?, last_error = NULLIF(?, ''),
		updated_at = `+storage.NowMillisSQL+` WHERE id = ?`, status, attempts, lastErr, id); err != nil {
		o.log.Warn("mail: could not record a message's state", "id", id, "err", err)
	}
}

// Record is one message of the outbox's history.
type Record struct {
	ID         string    `json:"id"`
	Origin     string    `json:"origin"`
	Recipients string    `json:"recipients"`
	Subject    string    `json:"subject"`
	Status     string    `json:"status"`
	Attempts   int       `json:"attempts"`
	LastError  string    `json:"lastError,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
}

// Get returns a message's record.
func (o *Outbox) Get(ctx context.Context, id string) (*Record, error) {
	var r Record
	var created int64
	err := o.db.Read().QueryRowContext(ctx, `SELECT id, origin, recipients, subject, status, attempts, COALESCE(last_error, ''), created_at
		FROM mail_outbox WHERE id = ?`, id).Scan(&r.ID, &r.Origin, &r.Recipients, &r.Subject, &r.Status, &r.Attempts, &r.LastError, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("mail: message %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mail: message %s: %w", id, err)
	}
	r.CreatedAt = time.UnixMilli(created).UTC()
	return &r, nil
}

// Sweep removes history older than 30 days; the site runs it hourly.
func (o *Outbox) Sweep(ctx context.Context) error {
	_, err := o.db.Write().ExecContext(ctx, `DELETE FROM mail_outbox WHERE status <> 'queued' AND updated_at < `+storage.NowMillisSQL+` - ?`,
		(30 * 24 * time.Hour).Milliseconds())
	return err
}
