package plugins

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// Invocation logs work like a tail worker: Manager.Invoke hands a record to
// Logs.Record, which only appends it to a bounded buffer; a single writer
// goroutine (Logs.Run) writes the buffer in batches, one transaction each,
// every FlushEvery or as soon as a batch is full. Nothing on the request path
// waits for the database, and no invocation wakes the writer unless it fills
// a batch.
//
// Retention: each plugin keeps its newest KeepPerPlugin invocations (default
// 5,000), and nothing older than MaxAge (default 30 days). The writer
// enforces both in its batches' transactions: the per-plugin bound once
// this writer has written a tenth of it (500 rows) for that plugin since it
// last did (and on its first batch for the plugin), so a plugin holds at
// most KeepPerPlugin plus that much per process writing logs; the age sweep
// at most once an hour. Finding a plugin's 5,000th newest row walks 5,000
// index entries: doing it for every batch cost more than the inserts.

// ErrBadLogQuery reports a LogQuery with an unknown filter or a bad cursor.
var ErrBadLogQuery = errors.New("bad log query")

// Outcome is how an invocation ended.
type Outcome string

const (
	OutcomeOK    Outcome = "ok"
	OutcomeError Outcome = "error" // the plugin threw, or the invocation failed otherwise
	OutcomeLimit Outcome = "limit" // a sandbox limit stopped it
)

// Bounds of what one invocation record keeps of the plugin's ctx.log lines.
const (
	maxLogLines       = 100
	maxLogLineChars   = 2000
	maxLogErrorChars  = 4000
	redactedSecret    = "[secret]"
	minRedactedSecret = 4 // shorter values would mangle ordinary text
)

// InvocationLog is one recorded hook call or route request.
type InvocationLog struct {
	ID              int64         `json:"id"`
	PluginID        string        `json:"plugin"`
	Version         string        `json:"version,omitempty"`
	Kind            string        `json:"kind"`
	Name            string        `json:"name"`
	StartedAt       time.Time     `json:"startedAt"`
	Duration        time.Duration `json:"-"`
	DurationMs      float64       `json:"durationMs"`
	CPUMs           float64       `json:"cpuMs"`
	PeakMemoryBytes int64         `json:"peakMemoryBytes"`
	Subrequests     int           `json:"subrequests"`
	Outcome         Outcome       `json:"outcome"`
	Limit           string        `json:"limit,omitempty"`
	Error           string        `json:"error,omitempty"`
	// Stack holds the frames of the error the plugin threw, source-mapped
	// to its files ("at fn (src/plugin.ts:19:42)"), one per line.
	Stack string            `json:"stack,omitempty"`
	Lines []sandbox.LogLine `json:"lines"`
	// Attempt and Attempts number the tries of an after hook the queue
	// retries ("attempt 2 of 5"); both are absent for invocations that are
	// not retried.
	Attempt  int `json:"attempt,omitempty"`
	Attempts int `json:"attempts,omitempty"`
	cpu      time.Duration
}

// LogQuery filters a plugin's invocation logs. Results are newest first.
type LogQuery struct {
	// Outcome keeps invocations that ended so: "ok", "error" or "limit".
	Outcome string
	// Level keeps invocations that logged a line at this level or above:
	// "debug", "info", "warn" or "error".
	Level string
	// Kind ("hook" or "route") and Name (the hook or route) narrow further.
	Kind string
	Name string
	// Limit is the page size, 1–200 (default 50).
	Limit int
	// Cursor is a previous page's NextCursor.
	Cursor string
}

// LogPage is one page of invocation logs.
type LogPage struct {
	Items      []InvocationLog `json:"items"`
	NextCursor string          `json:"nextCursor,omitempty"`
}

// LogStats summarises a plugin's retained invocations.
type LogStats struct {
	Count int64 `json:"count"`
	// Errors counts every failed invocation, limit hits included.
	Errors    int64   `json:"errors"`
	LimitHits int64   `json:"limitHits"`
	P50Ms     float64 `json:"p50Ms"`
	P95Ms     float64 `json:"p95Ms"`
}

// LogsConfig tunes Logs; zero fields take the defaults.
type LogsConfig struct {
	KeepPerPlugin int           // default 5000
	MaxAge        time.Duration // default 30 days
	Buffer        int           // channel capacity, default 4096
	BatchSize     int           // default 256
	FlushEvery    time.Duration // default 200 ms
	Log           *slog.Logger
	Now           func() time.Time
}

// Logs records and serves invocation logs.
type Logs struct {
	db    *storage.DB
	cfg   LogsConfig
	log   *slog.Logger
	wake  chan struct{} // capacity 1: a batch is full
	flush chan chan error

	mu      sync.Mutex
	pending []InvocationLog // at most cfg.Buffer
	counts  map[InvocationCount]uint64
	dropped atomic.Int64

	// The writer goroutine's own state.
	lastAge    time.Time
	sinceSweep map[string]int // plugin → rows written since its retention sweep
}

// InvocationCount is one series of the invocation counters: the kind of
// invocation (hook, route, cron, …), how it ended and, for OutcomeLimit,
// the limit hit (cpu, memory, wall, subrequests, …).
type InvocationCount struct {
	Kind    string
	Outcome Outcome
	Limit   string
}

// Counts returns how many invocations this process recorded per kind,
// outcome and limit since it started (those the buffer dropped included).
func (l *Logs) Counts() map[InvocationCount]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[InvocationCount]uint64, len(l.counts))
	for k, v := range l.counts {
		out[k] = v
	}
	return out
}

// NewLogs returns a recorder over db; call Run to start its writer.
func NewLogs(db *storage.DB, cfg LogsConfig) *Logs {
	if cfg.KeepPerPlugin <= 0 {
		cfg.KeepPerPlugin = 5000
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 30 * 24 * time.Hour
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 4096
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 200 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Logs{db: db, cfg: cfg, log: cfg.Log, wake: make(chan struct{}, 1), flush: make(chan chan error),
		counts: map[InvocationCount]uint64{}, sinceSweep: map[string]int{}}
}

// PluginLogs is Logs.Query for an installed plugin: ErrNotFound for an
// unknown id, ErrBadLogQuery for a bad filter.
func (m *Manager) PluginLogs(ctx context.Context, id string, q LogQuery) (*LogPage, error) {
	if _, err := loadRow(ctx, m.db.Read(), id); err != nil {
		return nil, err
	}
	return m.logs.Query(ctx, id, q)
}

// PluginStats is Logs.Stats for an installed plugin (ErrNotFound otherwise).
func (m *Manager) PluginStats(ctx context.Context, id string) (*LogStats, error) {
	if _, err := loadRow(ctx, m.db.Read(), id); err != nil {
		return nil, err
	}
	return m.logs.Stats(ctx, id)
}

// redactFor removes the plugin's secret setting values from a message bound
// for people (a rejection shown to an editor, a job's last error). It reads
// the secrets only on these failure paths.
func (m *Manager) redactFor(ctx context.Context, ap *ActivePlugin, msg string) string {
	if ap == nil {
		return msg
	}
	_, secrets, err := m.settingValues(context.WithoutCancel(ctx), ap.ID, ap.Manifest)
	if err != nil {
		return msg
	}
	return redact(msg, secrets)
}

// Record queues one record without blocking. When the buffer is full (the
// database fell far behind) the record is dropped and counted; the drop is
// reported in the server log by the writer.
func (l *Logs) Record(rec InvocationLog) {
	l.mu.Lock()
	l.counts[InvocationCount{Kind: rec.Kind, Outcome: rec.Outcome, Limit: rec.Limit}]++
	kept := len(l.pending) < l.cfg.Buffer
	if kept {
		l.pending = append(l.pending, rec)
	}
	full := len(l.pending) >= l.cfg.BatchSize
	l.mu.Unlock()
	if !kept {
		l.dropped.Add(1)
	}
	if full {
		select {
		case l.wake <- struct{}{}:
		default: // already woken
		}
	}
}

// Dropped is how many records were dropped because the buffer was full.
func (l *Logs) Dropped() int64 { return l.dropped.Load() }

// Run writes queued records until ctx ends, then writes what is left.
func (l *Logs) Run(ctx context.Context) {
	tick := time.NewTicker(l.cfg.FlushEvery)
	defer tick.Stop()
	var spare []InvocationLog // the previous buffer, reused by Record
	var reported int64
	// write writes everything recorded so far, BatchSize records per
	// transaction, so a backlog never holds the write connection long.
	write := func() error {
		if d := l.dropped.Load(); d != reported {
			l.log.Warn("plugin logs: records dropped because the log buffer was full", "dropped", d-reported)
			reported = d
		}
		l.mu.Lock()
		recs := l.pending
		l.pending = spare[:0]
		l.mu.Unlock()
		var first error
		for batch := range slices.Chunk(recs, l.cfg.BatchSize) {
			// The request's context may be gone; the batch must still be written.
			if err := l.write(context.WithoutCancel(ctx), batch); err != nil {
				l.log.Error("plugin logs: could not write a batch", "records", len(batch), "err", err)
				first = cmp.Or(first, err)
			}
		}
		clear(recs) // drop the records' strings before the buffer is reused
		spare = recs
		return first
	}
	for {
		select {
		case <-l.wake:
			_ = write()
		case <-tick.C:
			_ = write()
		case done := <-l.flush:
			done <- write()
		case <-ctx.Done():
			_ = write()
			return
		}
	}
}

// Flush waits until every record queued before the call is written. It needs
// Run to be running.
func (l *Logs) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case l.flush <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// The invocation log's statements, prepared once (storage.NewStatement): a
// row at a time, and logInsertRows rows at a time for full batches, which
// saves a statement execution and its arguments' round through
// database/sql per row.
const (
	logColumns = `INSERT INTO plugin_logs (plugin_id, version, kind, name, started_at, duration_us, cpu_us,
	peak_memory, subrequests, outcome, limit_name, error, stack, max_level, lines, attempt, attempts) VALUES `
	logRow        = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	logRowArgs    = 17
	logInsertRows = 16
)

var (
	stmtInsertLog  = storage.NewStatement(logColumns + logRow)
	stmtInsertLogs = storage.NewStatement(logColumns + strings.Repeat(logRow+", ", logInsertRows-1) + logRow)
	// stmtTrimLogs keeps a plugin's newest rows (its second argument: how
	// many) and deletes the rest.
	stmtTrimLogs = storage.NewStatement(`DELETE FROM plugin_logs WHERE plugin_id = ? AND id <= (
		SELECT id FROM plugin_logs WHERE plugin_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`)
	stmtExpireLogs = storage.NewStatement(`DELETE FROM plugin_logs WHERE started_at < ?`)
)

func (l *Logs) write(ctx context.Context, batch []InvocationLog) error {
	now := l.cfg.Now()
	sweepAge := now.Sub(l.lastAge) > time.Hour
	// Plugins whose retention bound this batch enforces: those this writer
	// has not swept yet, and those it wrote a tenth of the bound for since.
	written := map[string]int{}
	for _, r := range batch {
		written[r.PluginID]++
	}
	sweepEvery := max(l.cfg.KeepPerPlugin/10, 1)
	var trim []string
	for id, n := range written {
		if since, seen := l.sinceSweep[id]; !seen || since+n >= sweepEvery {
			trim = append(trim, id)
		}
	}
	args := make([]any, 0, logRowArgs*logInsertRows)
	err := l.db.Tx(ctx, func(tx *sql.Tx) error {
		args = args[:0] // Tx may run this again (PostgreSQL)
		for rows := range slices.Chunk(batch, logInsertRows) {
			stmt := stmtInsertLogs
			if len(rows) < logInsertRows {
				stmt = stmtInsertLog
			}
			for i, r := range rows {
				args = appendLogArgs(args, r)
				if stmt == stmtInsertLogs && i < len(rows)-1 {
					continue
				}
				if _, err := l.db.Exec(ctx, tx, stmt, args...); err != nil {
					return err
				}
				args = args[:0]
			}
		}
		for _, id := range trim {
			if _, err := l.db.Exec(ctx, tx, stmtTrimLogs, id, id, l.cfg.KeepPerPlugin); err != nil {
				return err
			}
		}
		if sweepAge {
			if _, err := l.db.Exec(ctx, tx, stmtExpireLogs, now.Add(-l.cfg.MaxAge).UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write plugin logs: %w", err)
	}
	for id, n := range written {
		l.sinceSweep[id] += n
	}
	for _, id := range trim {
		l.sinceSweep[id] = 0
	}
	if sweepAge {
		l.lastAge = now
	}
	return nil
}

// appendLogArgs appends the values of r's row, in logColumns' order.
func appendLogArgs(args []any, r InvocationLog) []any {
	lines := "[]"
	if len(r.Lines) > 0 {
		b, _ := json.Marshal(r.Lines) // strings and times always marshal
		lines = string(b)
	}
	// json.Marshal escapes NUL and mends invalid UTF-8 in the lines; the
	// other texts are mended here (see storableText).
	return append(args, r.PluginID, storableText(r.Version), r.Kind, storableText(r.Name), r.StartedAt.UnixMilli(), r.Duration.Microseconds(),
		r.cpu.Microseconds(), r.PeakMemoryBytes, r.Subrequests, string(r.Outcome), storableText(r.Limit), storableText(r.Error), storableText(r.Stack),
		maxLevel(r.Lines), lines, r.Attempt, r.Attempts)
}

var levels = map[string]int{"debug": 1, "info": 2, "warn": 3, "error": 4}

func maxLevel(lines []sandbox.LogLine) int {
	n := 0
	for _, ln := range lines {
		n = max(n, levels[ln.Level])
	}
	return n
}

// Query returns a page of a plugin's invocation logs, newest first.
func (l *Logs) Query(ctx context.Context, pluginID string, q LogQuery) (*LogPage, error) {
	where := []string{"plugin_id = ?"}
	args := []any{pluginID}
	switch Outcome(q.Outcome) {
	case "":
	case OutcomeOK, OutcomeError, OutcomeLimit:
		where, args = append(where, "outcome = ?"), append(args, q.Outcome)
	default:
		return nil, fmt.Errorf("%w: outcome %q is not ok, error or limit", ErrBadLogQuery, q.Outcome)
	}
	if q.Level != "" {
		lv, ok := levels[q.Level]
		if !ok {
			return nil, fmt.Errorf("%w: level %q is not debug, info, warn or error", ErrBadLogQuery, q.Level)
		}
		where, args = append(where, "max_level >= ?"), append(args, lv)
	}
	switch q.Kind {
	case "":
	case sandbox.KindHook, sandbox.KindRoute, LogKindMail:
		where, args = append(where, "kind = ?"), append(args, q.Kind)
	default:
		return nil, fmt.Errorf("%w: kind %q is not hook, route or mail", ErrBadLogQuery, q.Kind)
	}
	if q.Name != "" {
		if strings.IndexByte(q.Name, 0) >= 0 || !utf8.ValidString(q.Name) {
			return nil, fmt.Errorf("%w: name must not contain a NUL character or invalid UTF-8", ErrBadLogQuery)
		}
		where, args = append(where, "name = ?"), append(args, q.Name)
	}
	if q.Cursor != "" {
		c, err := strconv.ParseInt(q.Cursor, 10, 64)
		if err != nil || c <= 0 {
			return nil, fmt.Errorf("%w: cursor %q is not one this API returned", ErrBadLogQuery, q.Cursor)
		}
		where, args = append(where, "id < ?"), append(args, c)
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = 50
	case limit < 0 || limit > 200:
		return nil, fmt.Errorf("%w: limit must be between 1 and 200", ErrBadLogQuery)
	}
	rows, err := l.db.Read().QueryContext(ctx, `SELECT id, plugin_id, version, kind, name, started_at, duration_us, cpu_us, peak_memory,
		subrequests, outcome, limit_name, error, stack, lines, attempt, attempts FROM plugin_logs WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`,
		append(args, limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("plugin logs of %s: %w", pluginID, err)
	}
	defer rows.Close()
	page := &LogPage{Items: []InvocationLog{}}
	for rows.Next() {
		var r InvocationLog
		var started, durUs, cpuUs int64
		var outcome, lines string
		if err := rows.Scan(&r.ID, &r.PluginID, &r.Version, &r.Kind, &r.Name, &started, &durUs, &cpuUs, &r.PeakMemoryBytes,
			&r.Subrequests, &outcome, &r.Limit, &r.Error, &r.Stack, &lines, &r.Attempt, &r.Attempts); err != nil {
			return nil, fmt.Errorf("plugin logs of %s: %w", pluginID, err)
		}
		r.StartedAt = time.UnixMilli(started).UTC()
		r.Duration, r.cpu = time.Duration(durUs)*time.Microsecond, time.Duration(cpuUs)*time.Microsecond
		r.DurationMs, r.CPUMs = float64(durUs)/1000, float64(cpuUs)/1000
		r.Outcome = Outcome(outcome)
		if err := json.Unmarshal([]byte(lines), &r.Lines); err != nil || r.Lines == nil {
			r.Lines = []sandbox.LogLine{}
		}
		page.Items = append(page.Items, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("plugin logs of %s: %w", pluginID, err)
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.NextCursor = strconv.FormatInt(page.Items[limit-1].ID, 10)
	}
	return page, nil
}

// Stats summarises a plugin's retained invocations; percentiles are
// nearest-rank over their durations.
func (l *Logs) Stats(ctx context.Context, pluginID string) (*LogStats, error) {
	var s LogStats
	err := l.db.Read().QueryRowContext(ctx, `SELECT COUNT(*), COUNT(CASE WHEN outcome <> 'ok' THEN 1 END), COUNT(CASE WHEN outcome = 'limit' THEN 1 END)
		FROM plugin_logs WHERE plugin_id = ?`, pluginID).Scan(&s.Count, &s.Errors, &s.LimitHits)
	if err != nil {
		return nil, fmt.Errorf("plugin stats of %s: %w", pluginID, err)
	}
	if s.Count == 0 {
		return &s, nil
	}
	pct := func(p float64) (float64, error) {
		rank := int64(p*float64(s.Count)+0.999999) - 1 // nearest rank, 0-based
		var us int64
		err := l.db.Read().QueryRowContext(ctx, `SELECT duration_us FROM plugin_logs WHERE plugin_id = ? ORDER BY duration_us LIMIT 1 OFFSET ?`,
			pluginID, max(rank, 0)).Scan(&us)
		return float64(us) / 1000, err
	}
	if s.P50Ms, err = pct(0.50); err != nil {
		return nil, fmt.Errorf("plugin stats of %s: %w", pluginID, err)
	}
	if s.P95Ms, err = pct(0.95); err != nil {
		return nil, fmt.Errorf("plugin stats of %s: %w", pluginID, err)
	}
	return &s, nil
}

// DeleteAll removes a plugin's logs (uninstall with deleteData).
func (l *Logs) DeleteAll(ctx context.Context, pluginID string) error {
	return l.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM plugin_logs WHERE plugin_id = ?`, pluginID)
		return err
	})
}

// recordInvocation builds the log record of one Manager.Invoke. Secret
// setting values never enter the isolate, but a host error or a value echoed
// back by a remote server could still carry one, so every text is redacted
// against the plugin's secrets before it is queued.
func (m *Manager) recordInvocation(ap *ActivePlugin, kind, name string, start time.Time, res *sandbox.Result, err error, secrets map[string]string, try Attempt) {
	rec := InvocationLog{PluginID: ap.ID, Version: ap.Manifest.Version, Kind: kind, Name: name, StartedAt: start.UTC(), Outcome: OutcomeOK,
		Attempt: try.N, Attempts: try.Of}
	rec.Duration = m.now().Sub(start)
	if res != nil {
		if res.Usage.Wall > 0 {
			rec.Duration = res.Usage.Wall
		}
		rec.cpu = res.Usage.CPU
		rec.PeakMemoryBytes = res.Usage.PeakMemoryBytes
		rec.Subrequests = res.Usage.Subrequests
		for i, ln := range res.Logs {
			if i == maxLogLines {
				rec.Lines = append(rec.Lines, sandbox.LogLine{Level: "warn", Message: fmt.Sprintf("… %d more lines not kept", len(res.Logs)-i), Time: ln.Time})
				break
			}
			ln.Message = truncate(redact(ln.Message, secrets), maxLogLineChars)
			rec.Lines = append(rec.Lines, ln)
		}
	}
	if rec.Lines == nil {
		rec.Lines = []sandbox.LogLine{}
	}
	if err != nil {
		rec.Outcome = OutcomeError
		var le *sandbox.LimitError
		if errors.As(err, &le) {
			rec.Outcome, rec.Limit = OutcomeLimit, le.Limit
		}
		rec.Error = truncate(redact(err.Error(), secrets), maxLogErrorChars)
		rec.Stack = truncate(redact(stackFrames(err), secrets), maxLogErrorChars)
	}
	m.logs.Record(rec)
}

// storableText is a text a plugin produced (a thrown error's message and
// stack, which JavaScript lets hold any character) as the database can keep
// it: NUL written as the escape \x00 and invalid UTF-8 as U+FFFD, since
// PostgreSQL's text refuses both and one such record would fail its whole
// batch. SQLite keeps the same, so the logs read alike on either.
func storableText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", `\x00`)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

func redact(s string, secrets map[string]string) string {
	for _, v := range secrets {
		if len(v) >= minRedactedSecret {
			s = strings.ReplaceAll(s, v, redactedSecret)
		}
	}
	return s
}

// stackFrames are the frames of the error the plugin threw, as its log
// keeps them (source-mapped by the sandbox to the author's files, "at fn
// (src/plugin.ts:19:42)"), one per line; "" for other errors.
func stackFrames(err error) string {
	var se *sandbox.ScriptError
	if !errors.As(err, &se) || se.Stack == "" {
		return ""
	}
	var frames []string
	for _, line := range strings.Split(se.Stack, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "at ") {
			frames = append(frames, t)
		}
	}
	return strings.Join(frames, "\n")
}
