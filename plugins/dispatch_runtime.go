package plugins

import (
	"context"
	"log/slog"
	"sync"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// Runtime is the plugin machinery a server runs next to the Manager: the
// hook Dispatcher (give it to cms.Content.SetHooks and
// cms.MediaLibrary.SetHooks), the after-hook Queue, the CronRunner and the
// invocation Logs.
type Runtime struct {
	Dispatcher *Dispatcher
	Queue      *Queue
	Cron       *CronRunner
	Logs       *Logs
}

// RuntimeConfig tunes the parts of a Runtime.
type RuntimeConfig struct {
	Queue QueueConfig
	Cron  CronConfig
	Logs  LogsConfig
	Log   *slog.Logger
}

// NewRuntime builds the runtime over m and makes m record every invocation
// in the runtime's Logs.
func NewRuntime(db *storage.DB, m *Manager, cfg RuntimeConfig) *Runtime {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	for _, l := range []**slog.Logger{&cfg.Queue.Log, &cfg.Cron.Log, &cfg.Logs.Log} {
		if *l == nil {
			*l = cfg.Log
		}
	}
	logs := NewLogs(db, cfg.Logs)
	m.SetLogs(logs)
	q := NewQueue(db, m, cfg.Queue)
	return &Runtime{Dispatcher: NewDispatcher(m, q, cfg.Log), Queue: q, Cron: NewCronRunner(db, m, cfg.Cron), Logs: logs}
}

// Run runs the log writer, the queue workers and the cron runner until ctx
// ends, then lets the log writer write what is left.
func (rt *Runtime) Run(ctx context.Context) error {
	// The log writer outlives the others so their last invocations are kept.
	logCtx, stopLogs := context.WithCancel(context.WithoutCancel(ctx))
	logsDone := make(chan struct{})
	go func() { _ = rt.Logs.Run(logCtx); close(logsDone) }()
	var wg sync.WaitGroup
	wg.Go(func() { _ = rt.Queue.Run(ctx) })
	wg.Go(func() { _ = rt.Cron.Run(ctx) })
	wg.Wait()
	stopLogs()
	<-logsDone
	return nil
}
