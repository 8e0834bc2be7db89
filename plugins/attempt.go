package plugins

import "context"

// An after hook runs from a retrying queue, so one event can show up as
// several invocations in the plugin's log. The queue that delivers it says
// which attempt this is on the context it invokes with, and the log row
// keeps it ("attempt 2 of 5"), so retries are not identical-looking rows.
// Whatever queue runs after hooks (plugins.Queue, or the jobs queue) calls
// WithAttempt with the attempt count it records.

type attemptKey struct{}

// Attempt is one try of a retried invocation.
type Attempt struct {
	// N is this try, from 1; Of is how many tries the queue allows.
	N, Of int
}

// WithAttempt marks the invocations made with ctx as try n of of.
func WithAttempt(ctx context.Context, n, of int) context.Context {
	return context.WithValue(ctx, attemptKey{}, Attempt{N: n, Of: of})
}

// attemptOf is the attempt ctx carries (zero for an invocation that is not
// retried: routes, before hooks, cron).
func attemptOf(ctx context.Context) Attempt {
	a, _ := ctx.Value(attemptKey{}).(Attempt)
	return a
}
