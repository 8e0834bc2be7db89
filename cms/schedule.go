package cms

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// PublishDue publishes every entry whose schedule has come, including those
// that came due while the server was down, and returns how many it published.
func (c *Content) PublishDue(ctx context.Context) (int, error) {
	rows, err := c.db.Read().QueryContext(ctx, `SELECT collection, id FROM entries
		WHERE scheduled_at IS NOT NULL AND scheduled_at <= ? AND status <> 'trashed' ORDER BY scheduled_at`, c.nowMs())
	if err != nil {
		return 0, fmt.Errorf("due entries: %w", err)
	}
	type due struct{ collection, id string }
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.collection, &d.id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("due entries: %w", err)
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("due entries: %w", err)
	}
	n := 0
	var errs []error
	for _, d := range list {
		if _, err := c.publishIfDue(ctx, d.collection, d.id); err != nil {
			if errors.Is(err, ErrNotFound) || errors.Is(err, errNotDue) {
				// Purged, rescheduled, unpublished, or published by another
				// scheduler (a second process on this database) meanwhile.
				continue
			}
			errs = append(errs, fmt.Errorf("publish %s/%s: %w", d.collection, d.id, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// errNotDue says a scheduled entry was no longer due when its publishing
// transaction read it.
var errNotDue = errors.New("no longer due")

// publishIfDue publishes a scheduled entry for the site (no user) if, inside
// the publishing transaction, its schedule is still set and has come. The
// due list is read outside any transaction, and another scheduler sharing
// the database may have published the entry since: checking again where the
// write happens makes the publish, and afterPublish, happen once.
func (c *Content) publishIfDue(ctx context.Context, collection, id string) (*Entry, error) {
	return c.mutate(ctx, nil, collection, id, 0, true, func(tx *sql.Tx, col *Collection, e *Entry, now int64) error {
		if e.Status == StatusTrashed || e.ScheduledAt == nil || e.ScheduledAt.UnixMilli() > now {
			return errNotDue
		}
		return c.publishNow(ctx, tx, col, nil, e, now)
	})
}

// nextDue is when the earliest pending schedule falls, if any.
func (c *Content) nextDue(ctx context.Context) (time.Time, bool, error) {
	var at sql.NullInt64
	err := c.db.Read().QueryRowContext(ctx, `SELECT MIN(scheduled_at) FROM entries WHERE scheduled_at IS NOT NULL AND status <> 'trashed'`).Scan(&at)
	if err != nil || !at.Valid {
		return time.Time{}, false, err
	}
	return time.UnixMilli(at.Int64), true, nil
}

// Scheduler publishes scheduled entries when they come due. Schedules live in
// the database, so they survive restarts; Run publishes overdue ones first.
type Scheduler struct {
	content *Content
	log     *slog.Logger
	// MaxSleep bounds how long Run waits between checks, so a clock jump or a
	// schedule written by another process is noticed.
	MaxSleep time.Duration
}

// NewScheduler returns a scheduler for c.
func NewScheduler(c *Content, log *slog.Logger) *Scheduler {
	if log == nil {
		log = slog.Default()
	}
	return &Scheduler{content: c, log: log, MaxSleep: time.Minute}
}

// Run publishes due entries until ctx ends. It sleeps until the next schedule
// (or MaxSleep), and wakes early when a schedule is set, here or in another
// process sharing the database (the schedule topic moves after the commit).
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		// Taken before reading the schedules: a schedule set meanwhile
		// closes it.
		changed := s.content.schedule.Changed()
		if n, err := s.content.PublishDue(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.ErrorContext(ctx, "scheduled publishing failed", "err", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "published scheduled entries", "count", n)
		}
		wait := s.MaxSleep
		if at, ok, err := s.content.nextDue(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.ErrorContext(ctx, "reading schedules failed", "err", err)
		} else if ok {
			// An entry still due right after PublishDue failed to publish;
			// retry it after a pause rather than spinning.
			until := time.Until(at)
			if until <= 0 {
				until = time.Second
			}
			wait = min(wait, until)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}
