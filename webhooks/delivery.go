package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
)

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusSucceeded = "succeeded"
	StatusRetrying  = "retrying"
	StatusDead      = "dead"
)

// Delivery is one message sent (or being sent) to one webhook.
type Delivery struct {
	ID           string    `json:"id"`
	WebhookID    string    `json:"webhookId"`
	MessageID    string    `json:"messageId"`
	Type         string    `json:"type"`
	Status       string    `json:"status"`
	Attempts     int       `json:"attempts"`
	ResponseCode *int      `json:"responseCode,omitempty"`
	DurationMS   *int64    `json:"durationMs,omitempty"`
	Error        string    `json:"error,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
	Body         string    `json:"body,omitempty"`
	// AttemptLog is every attempt, oldest first (only from Delivery).
	AttemptLog []Attempt `json:"attemptLog,omitempty"`
}

// Attempt is one try at a delivery.
type Attempt struct {
	Attempt      int       `json:"attempt"`
	At           time.Time `json:"at"`
	ResponseCode *int      `json:"responseCode,omitempty"`
	DurationMS   int64     `json:"durationMs"`
	Error        string    `json:"error,omitempty"`
}

// deliver is the job handler: one attempt at one delivery.
func (s *Service) deliver(ctx context.Context, j *jobs.Job) error {
	var (
		hookID, hookURL, sealed, msgID, body string
	)
	err := s.opt.DB.Read().QueryRowContext(ctx, `SELECT w.id, w.url, w.secret_sealed, d.message_id, d.body
		FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = ?`, j.ID).
		Scan(&hookID, &hookURL, &sealed, &msgID, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the webhook was deleted: nothing to deliver
	}
	if err != nil {
		return fmt.Errorf("webhooks: load delivery %s: %w", j.ID, err)
	}
	secret, err := s.opt.Sealer.Open(sealContext(hookID), sealed)
	if err != nil {
		return jobs.Permanent(fmt.Errorf("webhook %s: its secret does not open with this site's key: %w", hookID, err))
	}
	now := s.opt.Now()
	sig, err := Sign(secret, msgID, now, []byte(body))
	if err != nil {
		return jobs.Permanent(err)
	}
	actx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	resp, ferr := s.opt.Egress.Fetch(actx, egress.AnyHost{}, egress.Request{
		Method: http.MethodPost, URL: hookURL, Body: []byte(body),
		Headers: map[string]string{
			"Content-Type":      "application/json",
			"webhook-id":        msgID,
			"webhook-timestamp": strconv.FormatInt(now.Unix(), 10),
			"webhook-signature": sig,
		},
		MaxResponseBytes: 64 << 10,
	})
	dur := s.opt.Now().Sub(now).Milliseconds()
	var code *int
	var outcome error
	switch {
	case ferr != nil:
		outcome = ferr
		// An address or URL the guard refuses will not become acceptable by
		// retrying; a DNS name that now points inside is refused for good.
		if errors.Is(ferr, egress.ErrBlockedAddress) || errors.Is(ferr, egress.ErrScheme) || errors.Is(ferr, egress.ErrInvalidURL) {
			outcome = jobs.Permanent(ferr)
		}
	case resp.Status < 200 || resp.Status > 299:
		c := resp.Status
		code = &c
		outcome = fmt.Errorf("the receiver answered %d %s", resp.Status, resp.StatusText)
	default:
		c := resp.Status
		code = &c
	}
	status := StatusSucceeded
	errText := ""
	if outcome != nil {
		status, errText = StatusRetrying, truncate(outcome.Error())
	}
	if rerr := s.opt.DB.Tx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, attempt, at, response_code, duration_ms, error)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id, attempt) DO UPDATE SET at = excluded.at,
			response_code = excluded.response_code, duration_ms = excluded.duration_ms, error = excluded.error`, j.ID, j.Attempts, now.UnixMilli(), code, dur, nullString(errText)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, attempts = ?, response_code = ?, duration_ms = ?, error = ?, updated_at = ?
			WHERE id = ?`, status, j.Attempts, code, dur, nullString(errText), s.opt.Now().UnixMilli(), j.ID)
		return err
	}); rerr != nil {
		s.log.WarnContext(ctx, "webhooks: could not record an attempt", "delivery", j.ID, "err", rerr)
	}
	return outcome
}

// onFailure marks a delivery dead when the queue gives up on it.
func (s *Service) onFailure(ctx context.Context, f jobs.Failure) {
	if !f.Dead {
		return
	}
	if _, err := s.opt.DB.Write().ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, updated_at = ? WHERE id = ?`,
		StatusDead, s.opt.Now().UnixMilli(), f.Job.ID); err != nil {
		s.log.WarnContext(ctx, "webhooks: could not mark a delivery dead", "delivery", f.Job.ID, "err", err)
	}
}

// truncate is an attempt's error as kept: at most maxErrorText bytes, cut on
// a character boundary, valid UTF-8 and without NUL, since the text can come
// from the receiver's side of the connection and PostgreSQL's text refuses
// both (the attempt would go unrecorded).
func truncate(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", `\x00`)
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

const deliveryCols = `id, webhook_id, message_id, event_type, status, attempts, response_code, duration_ms, COALESCE(error, ''), created_at, updated_at, body`

func scanDelivery(sc interface{ Scan(...any) error }) (*Delivery, error) {
	var d Delivery
	var code, dur sql.NullInt64
	var created, updated int64
	if err := sc.Scan(&d.ID, &d.WebhookID, &d.MessageID, &d.Type, &d.Status, &d.Attempts, &code, &dur, &d.Error, &created, &updated, &d.Body); err != nil {
		return nil, err
	}
	if code.Valid {
		c := int(code.Int64)
		d.ResponseCode = &c
	}
	if dur.Valid {
		d.DurationMS = &dur.Int64
	}
	d.CreatedAt, d.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return &d, nil
}

// MaxDeliveries is the most deliveries Deliveries returns.
const MaxDeliveries = 200

// Deliveries returns a webhook's most recent deliveries, newest first, without bodies.
func (s *Service) Deliveries(ctx context.Context, webhookID string, limit int) ([]Delivery, error) {
	if _, err := s.Get(ctx, webhookID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxDeliveries {
		limit = MaxDeliveries
	}
	rs, err := s.opt.DB.Read().QueryContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries
		WHERE webhook_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, webhookID, limit)
	if err != nil {
		return nil, fmt.Errorf("webhooks: deliveries: %w", err)
	}
	defer rs.Close()
	out := []Delivery{}
	for rs.Next() {
		d, err := scanDelivery(rs)
		if err != nil {
			return nil, err
		}
		d.Body = ""
		out = append(out, *d)
	}
	return out, rs.Err()
}

// Delivery returns one delivery of a webhook with its body and attempt log.
func (s *Service) Delivery(ctx context.Context, webhookID, id string) (*Delivery, error) {
	if !isID(webhookID) || !isID(id) {
		return nil, fmt.Errorf("delivery %q of webhook %q: %w", id, webhookID, ErrNotFound)
	}
	d, err := scanDelivery(s.opt.DB.Read().QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries
		WHERE webhook_id = ? AND id = ?`, webhookID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("delivery %s of webhook %s: %w", id, webhookID, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	rs, err := s.opt.DB.Read().QueryContext(ctx, `SELECT attempt, at, response_code, duration_ms, COALESCE(error, '')
		FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt`, id)
	if err != nil {
		return nil, fmt.Errorf("webhooks: attempts: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var a Attempt
		var code sql.NullInt64
		var at int64
		if err := rs.Scan(&a.Attempt, &at, &code, &a.DurationMS, &a.Error); err != nil {
			return nil, err
		}
		if code.Valid {
			c := int(code.Int64)
			a.ResponseCode = &c
		}
		a.At = time.UnixMilli(at).UTC()
		d.AttemptLog = append(d.AttemptLog, a)
	}
	return d, rs.Err()
}

// Redeliver sends a delivery's message again, as a new delivery with the
// same webhook-id and body (so a receiver that already has it can tell), and
// returns the new delivery.
func (s *Service) Redeliver(ctx context.Context, webhookID, id string) (*Delivery, error) {
	d, err := s.Delivery(ctx, webhookID, id)
	if err != nil {
		return nil, err
	}
	var newID string
	if err := s.opt.DB.Tx(ctx, func(tx *sql.Tx) error {
		newID, err = s.enqueue(ctx, tx, webhookID, d.MessageID, d.Type, []byte(d.Body))
		return err
	}); err != nil {
		return nil, err
	}
	s.opt.Queue.Nudge()
	return s.Delivery(ctx, webhookID, newID)
}
