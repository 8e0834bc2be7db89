package plugins

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
)

const tickerManifest = `{"id": "ticker", "version": "1.0.0", "name": "Ticker", "hooks": ["cron"],
	"cron": [{"name": "minutely", "schedule": "* * * * *"}, {"name": "hourly", "schedule": "0 * * * *"}]}`

const tickerScript = `export default { hooks: { cron: async (event, ctx) => {
	if (event.schedule !== (event.name === "hourly" ? "0 * * * *" : "* * * * *")) throw new Error("wrong event " + JSON.stringify(event));
	const key = "runs:" + event.name;
	await ctx.kv.set(key, ((await ctx.kv.get(key)) ?? 0) + 1);
} } };`

func TestCronRunsOncePerTickAcrossProcesses(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	r.inline(tickerManifest, tickerScript)
	r.clock.now = time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC)

	// A second server process: its own connections to the same database file.
	db2, err := storage.Open(ctx, filepath.Join(r.dir, "pilcrow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	runners := []*CronRunner{
		NewCronRunner(r.db, r.m, CronConfig{Now: r.clock.Now}),
		NewCronRunner(db2, r.newManager(db2), CronConfig{Now: r.clock.Now}),
	}
	race := func() {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, len(runners))
		for i, c := range runners {
			wg.Go(func() { _, errs[i] = c.Tick(ctx) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	runs := func(name string) string {
		t.Helper()
		v, err := storage.NewPluginData(r.db).KVGet(ctx, "ticker", "runs:"+name)
		if err != nil {
			return "0"
		}
		return string(v)
	}
	steps := []struct {
		at               string
		minutely, hourly string
	}{
		{"10:00:30", "0", "0"}, // first sight: schedules start from now
		{"10:00:59", "0", "0"},
		{"10:01:10", "1", "0"},
		{"10:01:50", "1", "0"},
		{"10:02:00", "2", "0"},
		{"10:09:30", "3", "0"}, // seven missed ticks: one run, not a burst
		{"10:09:40", "3", "0"},
		{"11:00:00", "4", "1"},
	}
	for _, s := range steps {
		at, _ := time.Parse("15:04:05", s.at)
		r.clock.mu.Lock()
		r.clock.now = time.Date(2026, 1, 1, at.Hour(), at.Minute(), at.Second(), 0, time.UTC)
		r.clock.mu.Unlock()
		race()
		if got, got2 := runs("minutely"), runs("hourly"); got != s.minutely || got2 != s.hourly {
			t.Fatalf("at %s: minutely ran %s times, hourly %s; want %s and %s", s.at, got, got2, s.minutely, s.hourly)
		}
	}

	next, err := runners[0].Tick(ctx)
	if err != nil || !next.Equal(time.Date(2026, 1, 1, 11, 1, 0, 0, time.UTC)) {
		t.Fatalf("next check %v, %v; want 11:01", next, err)
	}

	// Deactivated: the schedules are dropped and nothing runs.
	if _, err := r.m.Deactivate(ctx, "ticker"); err != nil {
		t.Fatal(err)
	}
	r.clock.Add(10 * time.Minute)
	race()
	if got := runs("minutely"); got != "4" {
		t.Fatalf("a deactivated plugin's cron ran: %s", got)
	}
	var rows int
	if err := r.db.Read().QueryRow(`SELECT COUNT(*) FROM plugin_cron`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("cron rows of a deactivated plugin: %d, %v", rows, err)
	}
}
