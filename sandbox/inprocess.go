package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"
)

// inProcessPrograms caches compiled programs for RunInProcess.
var inProcessPrograms = newProgramCache(64)

// RunInProcess runs one invocation in a fresh isolate in the calling
// process, with the same bindings, grant checks and Interrupt-based limits
// as a worker — but without the process boundary: a builtin that ignores
// Interrupt or an allocation goja cannot survive takes this process with it.
// Servers use a Pool; this is the isolate the workers run, exported for
// benchmarks and tools that run trusted code.
//
// ctx bounds the host calls; the invocation's wall limit bounds the run. On
// failure the returned Result, when non-nil, still carries the logs and
// usage of the attempt.
func RunInProcess(ctx context.Context, inv *Invocation, host Host) (*Result, error) {
	if err := inv.validate(); err != nil {
		return nil, err
	}
	limits := inv.Limits.withDefaults()
	t := newTask(inv, limits)
	prog, err := inProcessPrograms.compiled(t.Hash, inv.Script)
	if err != nil {
		return nil, err
	}
	callCtx, cancel := context.WithCancel(ctx)
	link := &directLink{
		ctx: callCtx, host: host, pluginID: inv.PluginID,
		gate:    newGate(inv.Grants, limits),
		answers: make(chan hostAnswer, maxPendingCalls),
	}
	out := runTask(t, prog, link, nil)
	cancel()
	link.wg.Wait()
	subrequests, tripped := link.gate.state()
	out.Usage.Subrequests = subrequests
	res := &Result{Value: out.Value, Logs: out.Logs, Usage: out.Usage}
	if tripped != nil {
		return res, tripped
	}
	return res, out.Err
}

// directLink answers host calls in-process: the same gate as the pool's
// parent side, then the Host, each call on its own goroutine.
type directLink struct {
	ctx      context.Context
	host     Host
	pluginID string
	gate     *gate
	answers  chan hostAnswer
	wg       sync.WaitGroup
	calls    callCancels
}

func (l *directLink) send(id uint64, method string, args []byte) error {
	l.wg.Add(1)
	ctx := l.calls.add(l.ctx, id)
	go func() {
		defer l.wg.Done()
		defer l.calls.done(id)
		a := answerCall(ctx, l.gate, l.host, l.pluginID, id, method, args)
		select {
		case l.answers <- a:
		case <-l.ctx.Done():
		}
	}()
	return nil
}

func (l *directLink) recv(stop <-chan struct{}, until time.Time) (hostAnswer, error) {
	var timeout <-chan time.Time
	if !until.IsZero() {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case a := <-l.answers:
		return a, nil
	case <-stop:
		return hostAnswer{}, errStopped
	case <-timeout:
		return hostAnswer{}, errRecvTimeout
	}
}

func (l *directLink) cancel(id uint64) { l.calls.cancel(id) }

// callCancels cancels the contexts of host calls the plugin gave up on.
type callCancels struct {
	mu sync.Mutex
	m  map[uint64]context.CancelFunc
}

func (c *callCancels) add(parent context.Context, id uint64) context.Context {
	ctx, cancel := context.WithCancel(parent)
	c.mu.Lock()
	if c.m == nil {
		c.m = map[uint64]context.CancelFunc{}
	}
	c.m[id] = cancel
	c.mu.Unlock()
	return ctx
}

func (c *callCancels) done(id uint64) {
	c.mu.Lock()
	cancel := c.m[id]
	delete(c.m, id)
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (c *callCancels) cancel(id uint64) {
	c.mu.Lock()
	cancel := c.m[id]
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (l *directLink) wake() {}

// watch: in-process invocations end with their wall limit, not with ctx.
func (l *directLink) watch(*guard) {}

// errStopped: recv gave up because the watchdog tripped.
var errStopped = errors.New("sandbox: stopped")

// answerCall checks a host call against the gate and performs it. It is the
// single place where a plugin's request reaches the Host.
func answerCall(ctx context.Context, g *gate, host Host, pluginID string, id uint64, method string, args json.RawMessage) hostAnswer {
	if err := g.check(method, args); err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return hostAnswer{ID: id, Fatal: le}
		}
		return hostAnswer{ID: id, Error: err.Error()}
	}
	if host == nil {
		return hostAnswer{ID: id, Error: method + ": no host is available"}
	}
	res, err := host.Call(ctx, pluginID, method, args)
	if err != nil {
		return hostAnswer{ID: id, Error: truncate(err.Error(), maxMessageBytes)}
	}
	if len(res) > g.limits.ResponseBytes {
		return hostAnswer{ID: id, Fatal: g.trip(bytesLimit(LimitResponse, g.limits.ResponseBytes)).(*LimitError)}
	}
	if len(res) > 0 && !json.Valid(res) {
		return hostAnswer{ID: id, Error: method + ": the host returned malformed JSON"}
	}
	return hostAnswer{ID: id, Result: res}
}
