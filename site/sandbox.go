package site

import (
	"context"
	"sync"

	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// lazyPool is the site's sandbox pool, started on first use. A site with no
// plugins (and every end-to-end test that never touches one) starts no worker
// processes; Run warms it in the background when plugins are active, so the
// first hook after a restart does not wait for a worker.
type lazyPool struct {
	opts sandbox.PoolOptions

	mu     sync.Mutex
	pool   *sandbox.Pool
	closed bool
}

func (l *lazyPool) get() (*sandbox.Pool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, sandbox.ErrPoolClosed
	}
	if l.pool == nil {
		// NewPool starts its workers in the background and returns at once;
		// context.Background bounds only that start-up, which Close ends.
		p, err := sandbox.NewPool(context.Background(), l.opts)
		if err != nil {
			return nil, err
		}
		l.pool = p
	}
	return l.pool, nil
}

// Invoke implements plugins.Runner.
func (l *lazyPool) Invoke(ctx context.Context, inv *sandbox.Invocation, host sandbox.Host) (*sandbox.Result, error) {
	p, err := l.get()
	if err != nil {
		return nil, err
	}
	return p.Invoke(ctx, inv, host)
}

// Inspect implements plugins.Runner.
func (l *lazyPool) Inspect(ctx context.Context, script []byte) (*sandbox.Exports, error) {
	p, err := l.get()
	if err != nil {
		return nil, err
	}
	return p.Inspect(ctx, script)
}

// Stats reports the pool's counters (zero before it started).
func (l *lazyPool) Stats() sandbox.PoolStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pool == nil {
		return sandbox.PoolStats{}
	}
	return l.pool.Stats()
}

// Close stops the workers, if any were started.
func (l *lazyPool) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.pool == nil {
		return nil
	}
	return l.pool.Close()
}
