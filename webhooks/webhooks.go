// Package webhooks is the site's core outgoing webhooks (SPEC §13): webhooks
// registered by an admin, events enqueued on the durable job queue inside the
// write that caused them, and deliveries signed per the Standard Webhooks
// specification, sent through the egress guard, retried with backoff and
// logged per attempt.
package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// Event types a webhook may subscribe to; "*" subscribes to all of them.
const (
	EntryCreated     = "entry.created"
	EntryUpdated     = "entry.updated"
	EntryPublished   = "entry.published"
	EntryUnpublished = "entry.unpublished"
	EntryDeleted     = "entry.deleted"
	MediaCreated     = "media.created"
	MediaDeleted     = "media.deleted"
	AllEvents        = "*"
)

// EventTypes lists every event type, in the order the admin shows them.
var EventTypes = []string{EntryCreated, EntryUpdated, EntryPublished, EntryUnpublished, EntryDeleted, MediaCreated, MediaDeleted}

// JobKind is the job queue kind of one delivery.
const JobKind = "webhook.deliver"

// Sentinel errors for callers (the web layer maps them to statuses).
var (
	ErrNotFound = errors.New("webhooks: not found")
	// ErrInvalid wraps every refusal of a webhook definition; the message
	// names the field and what is wrong.
	ErrInvalid = errors.New("webhooks: invalid webhook")
)

// DefaultDelays are the waits between attempts: seven attempts over about
// eight hours, so a receiver down for a deploy or an evening still gets it.
var DefaultDelays = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour, 6 * time.Hour}

// Limits on a definition.
const (
	maxURLBytes    = 2048
	maxCollections = 100
	secretBytes    = 24
	// maxErrorText bounds a stored error message.
	maxErrorText = 500
)

// Sealer seals secrets at rest (plugins.Sealer implements it).
type Sealer interface {
	Seal(context, plaintext string) string
	Open(context, sealed string) (string, error)
	// Reseal moves a value to the current key (moved false when it is
	// under it already), for key rotation.
	Reseal(context, sealed string) (out string, moved bool, err error)
}

// Resolver resolves host names for the create-time address check.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configure a Service.
type Options struct {
	DB     *storage.DB
	Queue  *jobs.Queue
	Sealer Sealer
	// Egress sends deliveries; its address checks are the SSRF guard.
	Egress *egress.Client
	// UnsafeAllowLoopback lets webhooks target loopback over plain http
	// (tests and local development only), as the egress client's switch of
	// the same name does for plugins. Without it only https is accepted.
	UnsafeAllowLoopback bool
	// Delays is the retry schedule (default DefaultDelays).
	Delays []time.Duration
	// Timeout bounds one attempt (default 15 s).
	Timeout  time.Duration
	Resolver Resolver
	Log      *slog.Logger
	Now      func() time.Time
}

// Service manages webhooks and delivers their events.
type Service struct {
	opt Options
	log *slog.Logger
	// subs is what Emit last read of the webhooks, kept between saves
	// (every save emits, and most sites' webhooks rarely change).
	subs atomic.Pointer[subscriptions]
}

// subscriptions are the webhooks as one transaction read them, stamped with
// the webhooks generation it saw: a later transaction seeing the same
// generation sees the same rows, since every write of them bumps it.
type subscriptions struct {
	gen   uint64
	hooks []Webhook
}

// New returns the service and registers its delivery handler on the queue.
func New(opt Options) *Service {
	if opt.Delays == nil {
		opt.Delays = DefaultDelays
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 15 * time.Second
	}
	if opt.Resolver == nil {
		opt.Resolver = net.DefaultResolver
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &Service{opt: opt, log: opt.Log}
	opt.Queue.Handle(JobKind, s.deliver, jobs.Kind{Delays: opt.Delays, Timeout: opt.Timeout + 5*time.Second, OnFailure: s.onFailure})
	return s
}

// Webhook is a registered webhook as the API shows it (never its secret).
type Webhook struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"`
	Collections []string  `json:"collections,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	CreatedBy   string    `json:"createdBy,omitempty"`
}

// Input defines a webhook.
type Input struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Collections []string `json:"collections,omitempty"`
}

// FieldError names the field of an Input that is wrong.
type FieldError struct {
	Field   string
	Message string
}

// Error reads as a sentence ("url must use https"): it is a problem's detail.
func (e *FieldError) Error() string { return e.Field + " " + e.Message }
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Created is the answer to a create: the webhook and its secret, shown once.
type Created struct {
	Webhook
	Secret string `json:"secret"`
}

func sealContext(id string) string { return "webhook:" + id }

// check validates in and returns it normalised.
func (s *Service) check(ctx context.Context, in Input) (Input, error) {
	raw := strings.TrimSpace(in.URL)
	if raw == "" {
		return in, &FieldError{"url", "is required"}
	}
	if len(raw) > maxURLBytes {
		return in, &FieldError{"url", fmt.Sprintf("is %d bytes; the limit is %d", len(raw), maxURLBytes)}
	}
	u, err := egress.CheckURL(raw, s.opt.UnsafeAllowLoopback)
	if err != nil {
		return in, &FieldError{"url", strings.TrimPrefix(err.Error(), "egress: ")}
	}
	if u.Host == "" {
		return in, &FieldError{"url", fmt.Sprintf("%q has no host", raw)}
	}
	if u.Scheme != "https" && !s.opt.UnsafeAllowLoopback {
		return in, &FieldError{"url", fmt.Sprintf("must be an https:// URL, not %s://", u.Scheme)}
	}
	if err := s.checkHost(ctx, u); err != nil {
		return in, &FieldError{"url", strings.TrimPrefix(err.Error(), "egress: ")}
	}
	in.URL = u.String()

	if len(in.Events) == 0 {
		return in, &FieldError{"events", "name at least one event type: " + strings.Join(EventTypes, ", ") + " or *"}
	}
	seen := map[string]bool{}
	var events []string
	for i, e := range in.Events {
		if e != AllEvents && !slices.Contains(EventTypes, e) {
			return in, &FieldError{"events/" + strconv.Itoa(i), fmt.Sprintf("unknown event %q; known: %s and *", e, strings.Join(EventTypes, ", "))}
		}
		if !seen[e] {
			seen[e] = true
			events = append(events, e)
		}
	}
	if seen[AllEvents] {
		events = []string{AllEvents}
	}
	in.Events = events

	if len(in.Collections) > maxCollections {
		return in, &FieldError{"collections", fmt.Sprintf("lists %d collections; the limit is %d", len(in.Collections), maxCollections)}
	}
	var cols []string
	for i, c := range in.Collections {
		if c == "" || len(c) > 64 {
			return in, &FieldError{"collections/" + strconv.Itoa(i), "must be a collection name of 1 to 64 characters"}
		}
		if strings.ContainsRune(c, 0) || !utf8.ValidString(c) {
			return in, &FieldError{"collections/" + strconv.Itoa(i), "must not contain a NUL character or invalid UTF-8"}
		}
		if !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	in.Collections = cols
	return in, nil
}

// checkHost refuses a host name that resolves to a blocked address now; the
// dialer checks again at every delivery, since DNS can change. A name that
// does not resolve yet is accepted (its deliveries fail until it does).
func (s *Service) checkHost(ctx context.Context, u *url.URL) error {
	host := u.Hostname()
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return nil // literals were checked by egress.CheckURL
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := s.opt.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	return egress.CheckHostAddrs(host, addrs, s.opt.UnsafeAllowLoopback)
}

// Create registers a webhook and returns it with its secret.
func (s *Service) Create(ctx context.Context, in Input, userID string) (*Created, error) {
	in, err := s.check(ctx, in)
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("webhooks: new id: %w", err)
	}
	key := make([]byte, secretBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("webhooks: secret: %w", err)
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	events, _ := json.Marshal(in.Events)
	var cols any
	if len(in.Collections) > 0 {
		b, _ := json.Marshal(in.Collections)
		cols = string(b)
	}
	now := s.opt.Now().UTC().Truncate(time.Millisecond)
	if err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhooks (id, url, events, collections, secret_sealed, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, id.String(), in.URL, string(events), cols,
			s.opt.Sealer.Seal(sealContext(id.String()), secret), nullString(userID), now.UnixMilli())
		return err
	}); err != nil {
		return nil, fmt.Errorf("webhooks: create: %w", err)
	}
	return &Created{Webhook: Webhook{ID: id.String(), URL: in.URL, Events: in.Events, Collections: in.Collections,
		CreatedAt: now, CreatedBy: userID}, Secret: secret}, nil
}

// write runs fn, a change of the webhooks table, in a transaction that
// bumps the webhooks generation, so every process's Emit reads the table
// again from its next save on.
func (s *Service) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.opt.DB.Tx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return s.opt.DB.Bump(ctx, tx, storage.TopicWebhooks)
	})
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type row struct {
	Webhook
	sealed string
}

const webhookCols = `id, url, events, collections, secret_sealed, COALESCE(created_by, ''), created_at`

func scanWebhook(sc interface{ Scan(...any) error }) (*row, error) {
	var r row
	var events string
	var cols sql.NullString
	var created int64
	if err := sc.Scan(&r.ID, &r.URL, &events, &cols, &r.sealed, &r.CreatedBy, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &r.Events); err != nil {
		return nil, fmt.Errorf("webhooks: %s: events: %w", r.ID, err)
	}
	if cols.Valid {
		if err := json.Unmarshal([]byte(cols.String), &r.Collections); err != nil {
			return nil, fmt.Errorf("webhooks: %s: collections: %w", r.ID, err)
		}
	}
	r.CreatedAt = time.UnixMilli(created).UTC()
	return &r, nil
}

// List returns every webhook, oldest first.
func (s *Service) List(ctx context.Context) ([]Webhook, error) {
	return scanList(s.opt.DB.Read().QueryContext(ctx, listSQL))
}

const listSQL = `SELECT ` + webhookCols + ` FROM webhooks ORDER BY created_at, id`

var stmtList = storage.NewStatement(listSQL)

// scanList reads the rows of listSQL.
func scanList(rs *sql.Rows, err error) ([]Webhook, error) {
	if err != nil {
		return nil, fmt.Errorf("webhooks: list: %w", err)
	}
	defer rs.Close()
	out := []Webhook{}
	for rs.Next() {
		r, err := scanWebhook(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, r.Webhook)
	}
	return out, rs.Err()
}

// isID reports whether id can name a webhook or delivery (both are UUIDs).
// Anything else is not found without asking the database: an id from a
// request path may hold NUL or invalid UTF-8, which PostgreSQL's text
// refuses with an error rather than matching nothing.
func isID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil
}

// Get returns one webhook.
func (s *Service) Get(ctx context.Context, id string) (*Webhook, error) {
	if !isID(id) {
		return nil, fmt.Errorf("webhook %q: %w", id, ErrNotFound)
	}
	r, err := scanWebhook(s.opt.DB.Read().QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("webhook %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return &r.Webhook, nil
}

// Update replaces a webhook's URL, events and collections; the secret stays.
func (s *Service) Update(ctx context.Context, id string, in Input) (*Webhook, error) {
	if !isID(id) {
		return nil, fmt.Errorf("webhook %q: %w", id, ErrNotFound)
	}
	in, err := s.check(ctx, in)
	if err != nil {
		return nil, err
	}
	events, _ := json.Marshal(in.Events)
	var cols any
	if len(in.Collections) > 0 {
		b, _ := json.Marshal(in.Collections)
		cols = string(b)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET url = ?, events = ?, collections = ? WHERE id = ?`,
			in.URL, string(events), cols, id)
		if err != nil {
			return fmt.Errorf("webhooks: update: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("webhook %s: %w", id, ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// Delete removes a webhook and its delivery log; its pending deliveries find
// no row and end.
func (s *Service) Delete(ctx context.Context, id string) error {
	if !isID(id) {
		return fmt.Errorf("webhook %q: %w", id, ErrNotFound)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("webhooks: delete: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("webhook %s: %w", id, ErrNotFound)
		}
		return nil
	})
}

// wants reports whether w subscribes to event type typ for collection (""
// for media events, which collections do not filter).
func (w *Webhook) wants(typ, collection string) bool {
	if !slices.Contains(w.Events, AllEvents) && !slices.Contains(w.Events, typ) {
		return false
	}
	return collection == "" || len(w.Collections) == 0 || slices.Contains(w.Collections, collection)
}

// Message is the body of a delivery.
type Message struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// Emit enqueues a delivery of event typ with data to every webhook that wants
// it, in tx (so deliveries exist exactly when the write commits). collection
// filters entry events; pass "" for media events.
func (s *Service) Emit(ctx context.Context, tx *sql.Tx, typ, collection string, data any) error {
	hooks, err := s.subscribed(ctx, tx)
	if err != nil {
		return err
	}
	var body []byte
	for _, h := range hooks {
		if !h.wants(typ, collection) {
			continue
		}
		if body == nil {
			if body, err = json.Marshal(Message{Type: typ, Timestamp: s.opt.Now().UTC(), Data: data}); err != nil {
				return fmt.Errorf("webhooks: %s body: %w", typ, err)
			}
		}
		if _, err := s.enqueue(ctx, tx, h.ID, "", typ, body); err != nil {
			return err
		}
	}
	return nil
}

// subscribed is the webhooks as tx sees them: the kept list when tx sees
// the generation it was read under, else read again in tx.
func (s *Service) subscribed(ctx context.Context, tx *sql.Tx) ([]Webhook, error) {
	gen, err := s.opt.DB.GenerationIn(ctx, tx, storage.TopicWebhooks)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	if subs := s.subs.Load(); subs != nil && subs.gen == gen {
		return subs.hooks, nil
	}
	hooks, err := scanList(s.opt.DB.Query(ctx, tx, stmtList))
	if err != nil {
		return nil, err
	}
	s.subs.Store(&subscriptions{gen: gen, hooks: hooks})
	return hooks, nil
}

// enqueue writes one delivery and its job in tx; messageID "" makes the
// delivery its own message.
func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, webhookID, messageID, typ string, body []byte) (string, error) {
	id, err := s.opt.Queue.Enqueue(ctx, tx, JobKind, json.RawMessage(`{}`), nil)
	if err != nil {
		return "", fmt.Errorf("webhooks: enqueue: %w", err)
	}
	if messageID == "" {
		messageID = id
	}
	now := s.opt.Now().UnixMilli()
	if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, webhook_id, message_id, event_type, body, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, id, webhookID, messageID, typ, string(body), now, now); err != nil {
		return "", fmt.Errorf("webhooks: record delivery: %w", err)
	}
	return id, nil
}

// Sign returns the Standard Webhooks signature header value of a message.
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("webhooks: secret is not base64: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", msgID, ts.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}
