package web

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// loginLimiter bounds attempts per key with a token bucket each.
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

// loginClientFactor is how many (account, client) budgets one client address
// has over all the accounts it tries.
const loginClientFactor = 3

// allowLogin spends a login attempt for email from r's client: from the
// budget of that (account, client) pair, which stops one client guessing one
// password, and from the client's own, larger budget, which stops it
// spraying guesses across accounts. Neither is the account's alone: six
// wrong passwords from an attacker's address leave the owner, at another
// address, free to sign in. Guessing from many addresses is slowed by each
// address's budget and by argon2id, not by locking the account. The budgets
// are the database's (cms.AttemptBudgets), shared by every node.
func (s *Server) allowLogin(r *http.Request, email string) (bool, time.Duration, error) {
	if s.budgets == nil {
		return false, 0, errors.New("login budgets need the database")
	}
	client := s.clientIP(r)
	account := strings.ToLower(strings.TrimSpace(email))
	every, burst := s.cfg.LoginRate, s.cfg.LoginBurst
	ok, wait, err := s.budgets.Spend(r.Context(), "login-client\x00"+client, every/loginClientFactor, burst*loginClientFactor)
	if !ok || err != nil {
		return false, wait, err
	}
	return s.budgets.Spend(r.Context(), "login\x00"+account+"\x00"+client, every, burst)
}
