package web

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// loginLimiter bounds login attempts per key (a client address or an account), so
// neither one client guessing many passwords nor many clients guessing one
// account's password gets far.
type loginLimiter struct {
	mu      sync.Mutex
	every   time.Duration
	burst   int
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// maxBuckets bounds memory under an address-spraying attack; idle buckets are
// full anyway, so forgetting them loses nothing.
const maxBuckets = 10000

func newLoginLimiter(every time.Duration, burst int) *loginLimiter {
	return &loginLimiter{every: every, burst: burst, buckets: map[string]*bucket{}}
}

// allow spends one attempt for each key and reports whether all had one left,
// with how long to wait otherwise.
func (l *loginLimiter) allow(keys ...string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if len(l.buckets) > maxBuckets {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > l.every*time.Duration(l.burst) {
				delete(l.buckets, k)
			}
		}
	}
	ok := true
	var wait time.Duration
	for _, k := range keys {
		b := l.buckets[k]
		if b == nil {
			b = &bucket{lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
			l.buckets[k] = b
		}
		b.seen = now
		r := b.lim.ReserveN(now, 1)
		if d := r.DelayFrom(now); d > 0 {
			r.CancelAt(now)
			ok = false
			wait = max(wait, d)
		}
	}
	return ok, wait
}
