package storage

import (
	"context"
	"slices"
	"sync"
)

// writeTurn orders the transactions waiting for the single write connection:
// queued work first (ctx marked with WithQueuePriority), then everything
// else, each class first come, first served. Without it database/sql hands
// the freed connection to a random waiter, so a few queue workers among many
// request writers got a few per cent of the turns, and after hooks fell
// minutes behind the saves that queued them (issue 19).
//
// Only Tx takes turns; statements sent straight to Write() still meet the
// pool's own wait.
type writeTurn struct {
	mu        sync.Mutex
	held      bool
	high, low []chan struct{}
}

type priorityKey struct{}

// WithQueuePriority marks ctx's write transactions as work the site already
// owes (a queued delivery, a queue's claim and completion): they go before
// new requests' transactions waiting for the write connection, so the
// backlog drains while writers saturate the server instead of growing.
func WithQueuePriority(ctx context.Context) context.Context {
	return context.WithValue(ctx, priorityKey{}, true)
}

func hasQueuePriority(ctx context.Context) bool {
	v, _ := ctx.Value(priorityKey{}).(bool)
	return v
}

// take waits for the turn; it returns ctx's error (and holds nothing) when
// ctx ends first.
func (w *writeTurn) take(ctx context.Context) error {
	w.mu.Lock()
	if !w.held {
		w.held = true
		w.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	high := hasQueuePriority(ctx)
	if high {
		w.high = append(w.high, ch)
	} else {
		w.low = append(w.low, ch)
	}
	w.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		q := &w.low
		if high {
			q = &w.high
		}
		if i := slices.Index(*q, ch); i >= 0 {
			*q = slices.Delete(*q, i, i+1)
			w.mu.Unlock()
			return ctx.Err()
		}
		w.mu.Unlock()
		// Granted as ctx ended: pass the turn on.
		w.give()
		return ctx.Err()
	}
}

// give passes the turn to the next waiter, or frees it.
func (w *writeTurn) give() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, q := range []*[]chan struct{}{&w.high, &w.low} {
		if len(*q) > 0 {
			ch := (*q)[0]
			*q = (*q)[1:]
			close(ch)
			return
		}
	}
	w.held = false
}
