package cms

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// AttemptBudgets are rate budgets kept in the database (login_budgets), so
// every process serving the site spends from the same ones: a client's
// wrong passwords through one node count on all of them. Each budget is a
// token bucket, held as one GCRA timestamp so a spend is one upsert that
// both checks and spends, atomic under concurrent spenders.
type AttemptBudgets struct {
	db       *storage.DB
	now      func() time.Time
	lastPrun atomic.Int64
}

// NewAttemptBudgets returns the budgets stored in db.
func NewAttemptBudgets(db *storage.DB) *AttemptBudgets {
	return &AttemptBudgets{db: db, now: time.Now}
}

// budgetKey names a budget in the table without storing what it is made
// of (an email and an address).
func budgetKey(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:])
}

// Spend takes one attempt from the budget called name, which holds burst
// attempts and regains one every every. When none is left it spends
// nothing and says how long until one is.
func (b *AttemptBudgets) Spend(ctx context.Context, name string, every time.Duration, burst int) (ok bool, wait time.Duration, err error) {
	now := b.now().UnixMilli()
	b.prune(ctx, now)
	ok, wait, err = spendBudget(ctx, b.db.Write(), budgetKey(name), now, every, burst)
	if err != nil {
		return false, 0, fmt.Errorf("spend attempt budget: %w", err)
	}
	return ok, wait, nil
}

// spendBudgetSQL checks and spends in one statement. The SET expressions
// read the row as it was, in SQLite as in PostgreSQL: a spend is allowed
// when the old tat is within tau of now. Arguments: key, now+t, now,
// now+tau, t, now+tau.
const spendBudgetSQL = `INSERT INTO login_budgets (key, tat, ok) VALUES (?, ?, 1)
	ON CONFLICT (key) DO UPDATE SET
		tat = CASE WHEN login_budgets.tat <= ? THEN excluded.tat
			WHEN login_budgets.tat <= ? THEN login_budgets.tat + ?
			ELSE login_budgets.tat END,
		ok = CASE WHEN login_budgets.tat <= ? THEN 1 ELSE 0 END
	RETURNING tat, ok`

type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// spendBudget is GCRA: t is the interval, tau = t*(burst-1) how far ahead
// of now tat may run; a spend moves tat on by t.
func spendBudget(ctx context.Context, q rowQuerier, key string, now int64, every time.Duration, burst int) (bool, time.Duration, error) {
	t := max(every.Milliseconds(), 1)
	tau := t * int64(max(burst-1, 0))
	var tat int64
	var allowed int
	if err := q.QueryRowContext(ctx, spendBudgetSQL, key, now+t, now, now+tau, t, now+tau).Scan(&tat, &allowed); err != nil {
		return false, 0, err
	}
	if allowed == 1 {
		return true, 0, nil
	}
	return false, time.Duration(tat-tau-now) * time.Millisecond, nil
}

// prune deletes full budgets (a passed tat is as good as no row), at most
// once a minute per process.
func (b *AttemptBudgets) prune(ctx context.Context, now int64) {
	last := b.lastPrun.Load()
	if now-last < time.Minute.Milliseconds() || !b.lastPrun.CompareAndSwap(last, now) {
		return
	}
	_, _ = b.db.Write().ExecContext(ctx, `DELETE FROM login_budgets WHERE tat < ?`, now)
}
