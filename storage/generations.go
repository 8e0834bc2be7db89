package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Topics of the generation counters. A topic names what a set of caches or
// sleepers depends on; every write that changes it bumps the topic's counter
// in its transaction (DB.Bump), and every process sharing the database
// learns of the new value (Topic.Current, Topic.Changed).
const (
	// TopicEntries: what the public sees of entries (publish, unpublish,
	// republishing saves, trash, restore, purge, collection changes).
	TopicEntries = "entries"
	// TopicCollections: collection definitions.
	TopicCollections = "collections"
	// TopicSchedule: scheduled publishing times.
	TopicSchedule = "schedule"
	// TopicJobs: jobs enqueued on the durable queue.
	TopicJobs = "jobs"
	// TopicPlugins: the set of active plugins and their running versions.
	TopicPlugins = "plugins"
	// TopicPluginSettings: plugins' stored settings and secrets.
	TopicPluginSettings = "plugin_settings"
	// TopicWebhooks: the registered core webhooks (their events and
	// collections), which every save reads.
	TopicWebhooks = "webhooks"
)

// DefaultRecheck is how often a database re-reads the generations table,
// so writes of another process on the same database are noticed within it
// (SPEC §15: a write is visible on every node within 1 s). On PostgreSQL
// the NOTIFY listener is faster; the re-check covers notifications lost
// while it was disconnected.
const DefaultRecheck = 500 * time.Millisecond

// Generations is this process's view of the generations table: one Topic
// per counter, each advanced (never moved back) to the largest value seen,
// from this process's commits at once and from the table's re-checks (and
// PostgreSQL notifications) for other processes' commits.
type Generations struct {
	mu     sync.RWMutex
	topics map[string]*Topic
}

// NewGenerations returns an empty view (every topic at 0). DB makes its
// own; this is for listeners and tests holding a view of their own.
func NewGenerations() *Generations {
	return &Generations{topics: map[string]*Topic{}}
}

// Topic is one generation counter as this process last saw it. Hold the
// handle: Current is one atomic load, cheap enough for every cache hit.
type Topic struct {
	name string
	gen  atomic.Uint64

	mu sync.Mutex
	ch chan struct{} // closed and replaced at each advance
}

// Topic returns the handle of the named counter, made at 0 if new.
func (g *Generations) Topic(name string) *Topic {
	g.mu.RLock()
	t := g.topics[name]
	g.mu.RUnlock()
	if t != nil {
		return t
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if t = g.topics[name]; t == nil {
		t = &Topic{name: name, ch: make(chan struct{})}
		g.topics[name] = t
	}
	return t
}

// Current is the newest value of the named counter this process knows.
func (g *Generations) Current(name string) uint64 { return g.Topic(name).Current() }

// Observe advances the named counter to gen if gen is newer, waking the
// topic's waiters, and reports whether it did.
func (g *Generations) Observe(name string, gen uint64) bool { return g.Topic(name).advance(gen) }

// Name is the topic's name.
func (t *Topic) Name() string { return t.name }

// Current is the newest generation this process knows of. A cache stores
// what it read under the generation it loaded before reading, and treats
// its content as stale once Current differs.
func (t *Topic) Current() uint64 { return t.gen.Load() }

// Changed returns a channel closed at the topic's next advance. Take it
// before looking for work, then wait on it: an advance in between closes the
// channel already taken, so no wake-up is lost.
func (t *Topic) Changed() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ch
}

func (t *Topic) advance(gen uint64) bool {
	for {
		cur := t.gen.Load()
		if gen <= cur {
			return false
		}
		if t.gen.CompareAndSwap(cur, gen) {
			break
		}
	}
	t.wake()
	return true
}

// wake closes Changed's channel without moving the generation: a wake-up
// (Wake on PostgreSQL) carries no counter, and a cache's notion of current
// must not move without one.
func (t *Topic) wake() {
	t.mu.Lock()
	close(t.ch)
	t.ch = make(chan struct{})
	t.mu.Unlock()
}

// wakeAll wakes every topic's waiters: after the PostgreSQL listener
// reconnects, since wake-ups sent while it was away are lost.
func (g *Generations) wakeAll() {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, t := range g.topics {
		t.wake()
	}
}

// rowQuerier is a *sql.DB, *sql.Conn or *sql.Tx.
type rowQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// recheckSQL reads every counter: one small table, one query.
const recheckSQL = `SELECT topic, gen FROM generations`

// Recheck reads every counter of the generations table through q and
// advances the view to it.
func (g *Generations) Recheck(ctx context.Context, q rowQuerier) error {
	rows, err := q.QueryContext(ctx, recheckSQL)
	if err != nil {
		return fmt.Errorf("storage: read generations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var topic string
		var gen int64
		if err := rows.Scan(&topic, &gen); err != nil {
			return fmt.Errorf("storage: read generations: %w", err)
		}
		g.Observe(topic, uint64(gen))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storage: read generations: %w", err)
	}
	return nil
}

// recheckLoop re-reads the table every interval until ctx ends. A failed
// read is logged once per run of failures (a database that is briefly away
// must not flood the log) and retried at the next tick.
func (g *Generations) recheckLoop(ctx context.Context, q rowQuerier, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := g.Recheck(ctx, q)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			log.Warn("storage: re-reading the generations failed; other processes' writes go unnoticed until it works again", "err", err)
		case err == nil && failing:
			failing = false
			log.Info("storage: re-reading the generations works again")
		}
	}
}

// bumpSQL increments one counter and returns its new value. ON CONFLICT
// and RETURNING are the same on SQLite and PostgreSQL.
const bumpSQL = `INSERT INTO generations (topic, gen) VALUES (?, 1)
	ON CONFLICT (topic) DO UPDATE SET gen = generations.gen + 1 RETURNING gen`

var stmtBump = NewStatement(bumpSQL)

// pgNotifyChannel is the PostgreSQL channel of the bumps and wake-ups; a
// payload is "topic gen" for a bump, "topic" for a wake-up.
const pgNotifyChannel = "pilcrow_generations"

// pgBumpSQL is bumpSQL with the NOTIFY that tells the listeners of every
// node, sent when the transaction commits (PostgreSQL queues it until then
// and drops it on rollback).
const pgBumpSQL = `WITH b AS (` + bumpSQL + `)
	SELECT gen, pg_notify('` + pgNotifyChannel + `', CAST(? AS text) || ' ' || gen) FROM b`

// pgWakeSQL is a wake-up: a NOTIFY alone, no row.
const pgWakeSQL = `SELECT pg_notify('` + pgNotifyChannel + `', CAST(? AS text))`

// txState is what a transaction of DB.Tx collects for its commit: the topics
// to bump or wake just before it, and the functions to run after it.
type txState struct {
	bumps []string
	wakes []string // PostgreSQL only; on SQLite a wake-up is a bump
	after []func()
	gens  []uint64 // the bumped values, by bumps' index, once written
}

// Bump marks topic as changed by tx, a transaction of db.Tx: its counter is
// incremented in tx, and when tx commits this process's view advances at
// once (before Tx returns) and other processes notice at their next
// re-check (or notification). If tx rolls back, nothing changed.
//
// The increments are written just before the commit, in topic order: on
// PostgreSQL the counter's row stays locked until the commit, so taking it
// last keeps the lock short, and one order for everyone cannot deadlock.
// PostgreSQL transactions are serializable, so of two concurrent ones
// bumping one topic the later is aborted and run again by Tx: bump only
// what a cache depends on (Wake is for wake-ups). Bumping a topic twice in
// one transaction increments it once.
//
// A tx that is not db.Tx's (begun on Write() by hand) is bumped at once,
// and this process then learns of it like another process's.
func (db *DB) Bump(ctx context.Context, tx *sql.Tx, topic string) error {
	if st := db.txState(tx); st != nil {
		if !slices.Contains(st.bumps, topic) {
			st.bumps = append(st.bumps, topic)
		}
		return nil
	}
	q, args := bumpSQL, []any{topic}
	if db.dialect == Postgres {
		q, args = pgBumpSQL, []any{topic, topic}
	}
	var gen int64
	var sent any
	dest := []any{&gen}
	if db.dialect == Postgres {
		dest = append(dest, &sent)
	}
	if err := tx.QueryRowContext(ctx, q, args...).Scan(dest...); err != nil {
		return fmt.Errorf("storage: bump %s: %w", topic, err)
	}
	return nil
}

var stmtGeneration = NewStatement(`SELECT gen FROM generations WHERE topic = ?`)

// GenerationIn is topic's counter as tx sees it (0 if never bumped). A cache
// that must agree exactly with the transaction using it, rather than within
// the re-check's interval, stamps what it read in a transaction with this
// and serves it to later transactions that read the same value: one
// primary-key lookup instead of the read it saves. Writes of the cached
// data bump the topic in their transaction, so no transaction can see the
// new data under the old counter.
func (db *DB) GenerationIn(ctx context.Context, tx *sql.Tx, topic string) (uint64, error) {
	var gen int64
	err := db.QueryRow(ctx, tx, stmtGeneration, topic).Scan(&gen)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("storage: generation of %s: %w", topic, err)
	}
	return uint64(gen), nil
}

// Wake marks topic's sleepers (a queue's workers, the scheduler) as having
// work once tx, a transaction of db.Tx, commits: their Changed channel is
// closed then, in this process at once and in the others sharing the
// database soon after. Unlike Bump it moves no generation a cache could
// depend on, which on PostgreSQL lets it be a NOTIFY alone: no counter row,
// so concurrent transactions waking the same topic (every save queueing an
// after hook) never conflict on one. On SQLite, where the table is the only
// way between processes, it is a Bump.
//
// Sleepers must still wake on a timer of their own: a wake-up sent while a
// PostgreSQL listener is reconnecting is lost (the listener wakes every
// topic when it is back).
func (db *DB) Wake(ctx context.Context, tx *sql.Tx, topic string) error {
	if db.dialect != Postgres {
		return db.Bump(ctx, tx, topic)
	}
	if st := db.txState(tx); st != nil {
		if !slices.Contains(st.wakes, topic) {
			st.wakes = append(st.wakes, topic)
		}
		return nil
	}
	var sent any
	if err := tx.QueryRowContext(ctx, pgWakeSQL, topic).Scan(&sent); err != nil {
		return fmt.Errorf("storage: wake %s: %w", topic, err)
	}
	return nil
}

// AfterCommit runs fn after tx, a transaction of db.Tx, commits (after the
// bumped topics advanced), and never if it rolls back: work that must not
// start before the write is visible, such as waking a worker for a job
// the transaction enqueued, goes here. It panics for any other tx: there is
// no commit to run fn after.
func (db *DB) AfterCommit(tx *sql.Tx, fn func()) {
	st := db.txState(tx)
	if st == nil {
		panic("storage: AfterCommit of a transaction not begun by DB.Tx")
	}
	st.after = append(st.after, fn)
}

func (db *DB) txState(tx *sql.Tx) *txState {
	if v, ok := db.txs.Load(tx); ok {
		return v.(*txState)
	}
	return nil
}

// writeBumps increments the transaction's topics, in order, and sends its
// wake-ups.
func (db *DB) writeBumps(ctx context.Context, tx *sql.Tx, st *txState) error {
	if len(st.bumps) > 0 {
		slices.Sort(st.bumps)
		st.gens = make([]uint64, len(st.bumps))
	}
	for i, topic := range st.bumps {
		var gen int64
		var err error
		if db.dialect == Postgres {
			var sent any
			err = tx.QueryRowContext(ctx, pgBumpSQL, topic, topic).Scan(&gen, &sent)
		} else {
			err = db.QueryRow(ctx, tx, stmtBump, topic).Scan(&gen)
		}
		if err != nil {
			return fmt.Errorf("storage: bump %s: %w", topic, err)
		}
		st.gens[i] = uint64(gen)
	}
	for _, topic := range st.wakes {
		var sent any
		if err := tx.QueryRowContext(ctx, pgWakeSQL, topic).Scan(&sent); err != nil {
			return fmt.Errorf("storage: wake %s: %w", topic, err)
		}
	}
	return nil
}

// committed publishes a committed transaction's bumps and wake-ups to this
// process's view and runs its after-commit functions.
func (db *DB) committed(st *txState) {
	for i, topic := range st.bumps {
		db.gens.Observe(topic, st.gens[i])
	}
	for _, topic := range st.wakes {
		db.gens.Topic(topic).wake()
	}
	for _, fn := range st.after {
		fn()
	}
}

// followGenerations reads the table into the view, so a cache loaded now is
// stamped with the generation its data belongs to, then keeps following it
// until Close: a re-check every Options.Recheck and, on PostgreSQL (listen
// is the connection's configuration), a LISTEN connection.
func (db *DB) followGenerations(ctx context.Context, opts Options, listen *pgx.ConnConfig) error {
	if err := db.gens.Recheck(ctx, db.read); err != nil {
		return err
	}
	every := opts.Recheck
	if every <= 0 {
		every = DefaultRecheck
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	loopCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	db.stopFollowing = stop
	db.following.Go(func() { db.gens.recheckLoop(loopCtx, db.read, every, log) })
	if listen != nil {
		db.following.Go(func() { db.gens.ListenPostgres(loopCtx, listen, log) })
	}
	return nil
}

// Generations is this database's view of the change counters.
func (db *DB) Generations() *Generations { return db.gens }

// Topic is the handle of the named counter in this database's view.
func (db *DB) Topic(name string) *Topic { return db.gens.Topic(name) }
