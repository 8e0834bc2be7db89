package sandbox

import (
	"context"
	"testing"
	"time"
)

// TestWatchdogStopsWhenIdle: the watchdog's ticker runs while invocations
// do and stops once none has run for a tick, so an idle worker (or server
// running in-process invocations) has no timer waking it.
func TestWatchdogStopsWhenIdle(t *testing.T) {
	inv := hookInvocation(`return 1`)
	if _, err := RunInProcess(context.Background(), inv, newMemHost()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		watchdog.mu.Lock()
		running, guards := watchdog.running, len(watchdog.guards)
		watchdog.mu.Unlock()
		if guards == 0 && !running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("watchdog still running with %d guards long after the last invocation ended", guards)
		}
		time.Sleep(time.Millisecond)
	}
}
