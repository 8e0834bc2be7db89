package jobs

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// A worker sleeping for its whole Poll wakes for a job enqueued in a
// transaction once that transaction commits, in its own process and in
// another one sharing the database (here: a second pool on the file).
func TestWorkersWakeAfterCommitAcrossProcesses(t *testing.T) {
	spec := storagetest.Spec(t, "")
	for _, tc := range []struct {
		name  string
		other bool
	}{{"same process", false}, {"other process", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dbW := openDB(t, spec)
			dbE := dbW
			if tc.other {
				dbE = openDB(t, spec)
			}
			worker := newQueue(t, dbW, Config{Poll: time.Hour})
			ran := make(chan string, 1)
			worker.Handle("wake-"+tc.name, func(ctx context.Context, j *Job) error {
				ran <- j.ID
				return nil
			}, Kind{})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- worker.Run(ctx) }()
			defer func() { cancel(); <-done }()
			// Let the worker fall asleep on an empty queue first.
			time.Sleep(100 * time.Millisecond)

			enqueuer := newQueue(t, dbE, Config{})
			var id string
			err := dbE.Tx(ctx, func(tx *sql.Tx) error {
				var err error
				id, err = enqueuer.Enqueue(ctx, tx, "wake-"+tc.name, 1, nil)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-ran:
				if got != id {
					t.Fatalf("ran job %s, want %s", got, id)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the sleeping worker did not wake for the committed job within 10s")
			}
		})
	}
}
