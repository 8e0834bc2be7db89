package storage

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Waiting transactions get the write turn queued work first, then the
// others, each in arrival order; one whose context ends stops waiting and
// is skipped.
func TestWriteTurnOrder(t *testing.T) {
	var w writeTurn
	bg := context.Background()
	if err := w.take(bg); err != nil { // held by "the current writer"
		t.Fatal(err)
	}
	got := make(chan string, 8)
	queued := 0
	start := func(name string, ctx context.Context) {
		ready := make(chan struct{})
		go func() {
			close(ready)
			if err := w.take(ctx); err != nil {
				got <- name + ":" + err.Error()
				return
			}
			got <- name
			w.give()
		}()
		<-ready
		// Wait until it is queued, so arrival order is the order started.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			w.mu.Lock()
			n := len(w.high) + len(w.low)
			w.mu.Unlock()
			if n >= queued+1 || time.Now().After(deadline) {
				queued = n
				return
			}
		}
	}
	cancelled, cancel := context.WithCancel(bg)
	start("request-1", bg)
	start("request-2", cancelled)
	start("queue-1", WithQueuePriority(bg))
	start("request-3", bg)
	start("queue-2", WithQueuePriority(bg))
	cancel()
	if first := <-got; first != "request-2:"+context.Canceled.Error() {
		t.Fatalf("the cancelled waiter reported %q", first)
	}
	w.give()
	var order []string
	for range 4 {
		order = append(order, <-got)
	}
	want := []string{"queue-1", "queue-2", "request-1", "request-3"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("turn order %v, want %v", order, want)
		}
	}
	// Free again: taken at once.
	if err := w.take(bg); err != nil {
		t.Fatal(err)
	}
	w.give()
	ctx, stop := context.WithCancel(bg)
	stop()
	if err := w.take(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
