package plugins

import (
	"context"
	"encoding/json"
	"strings"
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

	// A second server process: its own connections to the same database.
	db2 := r.openAgain()
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

const runtimeCronManifest = `{"id": "sched", "version": "1.0.0", "name": "Sched", "hooks": ["cron"],
	"cron": [{"name": "nightly", "schedule": "@daily"}], "routes": [{"name": "setup"}, {"name": "list"}, {"name": "cancel"}, {"name": "fill"}, {"name": "bad"}]}`

const runtimeCronScript = `
const msg = async (p) => { try { await p; return "ok"; } catch (e) { return String(e && e.message || e); } };
export default {
	hooks: { cron: async (event, ctx) => {
		const key = "runs:" + event.name;
		await ctx.kv.set(key, ((await ctx.kv.get(key)) ?? 0) + 1);
		await ctx.kv.set("last:" + event.name, event);
	} },
	routes: {
		setup: async (req, ctx) => {
			await ctx.cron.schedule("minutely", "* * * * *", { n: 1 });
			await ctx.cron.schedule("hourly", { schedule: "@hourly", data: { n: 2 } });
			return null;
		},
		list: async (req, ctx) => ctx.cron.list(),
		cancel: async (req, ctx) => [await ctx.cron.cancel("hourly"), await ctx.cron.cancel("hourly")],
		fill: async (req, ctx) => {
			const out = [];
			for (let i = 0; i < 17; i++) out.push(await msg(ctx.cron.schedule("job" + i, "*/5 * * * *")));
			out.push(await msg(ctx.cron.schedule("job3", "*/10 * * * *"))); // replacing one at the cap
			return out;
		},
		bad: async (req, ctx) => [
			await msg(ctx.cron.schedule("x", "@every 1s")),
			await msg(ctx.cron.schedule("x", "61 * * * *")),
			await msg(ctx.cron.schedule("x", "TZ=Europe/Paris 0 0 * * *")),
			await msg(ctx.cron.schedule("nightly", "@hourly")),
			await msg(ctx.cron.schedule("Bad Name", "@hourly")),
			await msg(ctx.cron.schedule("x", 5)),
			await msg(ctx.cron.schedule("x", "@hourly", { big: "x".repeat(20000) })),
			await msg(ctx.cron.cancel("nightly")),
		],
	},
};`

// TestCronRuntimeSchedules: ctx.cron schedules fire the cron hook with their
// name, schedule, data and tick, once per tick across two processes sharing
// the database and across a restart; missed ticks run once.
func TestCronRuntimeSchedules(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	set := func(hhmmss string) {
		at, _ := time.Parse("15:04:05", hhmmss)
		r.clock.mu.Lock()
		r.clock.now = time.Date(2026, 1, 1, at.Hour(), at.Minute(), at.Second(), 0, time.UTC)
		r.clock.mu.Unlock()
	}
	set("10:00:30")
	r.m.cron.cfg.Now = r.clock.Now
	ap := r.inline(runtimeCronManifest, runtimeCronScript)
	if got := r.route(ap, "setup"); got != "null" {
		t.Fatal(got)
	}
	// Registering again (as a plugin:activate hook would on every
	// activation) must not move the next tick: the 10:01 tick, due and not
	// yet run, still runs.
	set("10:01:20")
	r.route(ap, "setup")

	db2 := r.openAgain()
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
	kv := storage.NewPluginData(r.db)
	runs := func(name string) string {
		t.Helper()
		v, err := kv.KVGet(ctx, "sched", "runs:"+name)
		if err != nil {
			return "0"
		}
		return string(v)
	}
	steps := []struct{ at, minutely, hourly string }{
		{"10:01:30", "1", "0"},
		{"10:01:50", "1", "0"},
		{"10:05:10", "2", "0"}, // three missed ticks: one run
		{"11:00:00", "3", "1"},
	}
	for _, s := range steps {
		set(s.at)
		race()
		if m, h := runs("minutely"), runs("hourly"); m != s.minutely || h != s.hourly {
			t.Fatalf("at %s: minutely ran %s times, hourly %s; want %s and %s", s.at, m, h, s.minutely, s.hourly)
		}
	}
	last, _ := kv.KVGet(ctx, "sched", "last:hourly")
	if string(last) != `{"name":"hourly","schedule":"@hourly","data":{"n":2},"scheduledAt":"2026-01-01T11:00:00Z"}` {
		t.Fatalf("cron event %s", last)
	}
	last, _ = kv.KVGet(ctx, "sched", "last:minutely")
	// Its ticks from 10:06 were missed until 11:00: the one run reports the
	// first of them.
	if string(last) != `{"name":"minutely","schedule":"* * * * *","data":{"n":1},"scheduledAt":"2026-01-01T10:06:00Z"}` {
		t.Fatalf("cron event %s", last)
	}

	// A restart: every process stops; one starts again on the same data.
	db3 := r.openAgain()
	m3 := r.newManager(db3)
	runners = []*CronRunner{NewCronRunner(db3, m3, CronConfig{Now: r.clock.Now})}
	set("11:00:40")
	race()
	if runs("minutely") != "3" {
		t.Fatalf("a restart re-ran a tick: %s", runs("minutely"))
	}
	set("11:01:00")
	race()
	race()
	if runs("minutely") != "4" || runs("hourly") != "1" {
		t.Fatalf("after the restart: minutely %s, hourly %s", runs("minutely"), runs("hourly"))
	}

	// list shows both kinds; cancel removes a runtime schedule only.
	var list []ScheduleInfo
	if err := json.Unmarshal([]byte(r.route(ap, "list")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Name != "nightly" || list[0].Source != "manifest" || list[1].Source != "runtime" ||
		list[2].Name != "minutely" || !list[2].NextRunAt.Equal(time.Date(2026, 1, 1, 11, 2, 0, 0, time.UTC)) || list[2].LastRunAt == nil {
		t.Fatalf("list %+v", list)
	}
	if got := r.route(ap, "cancel"); got != "[true,false]" {
		t.Fatalf("cancel: %s", got)
	}
	set("12:00:00")
	race()
	if runs("hourly") != "1" {
		t.Fatal("a cancelled schedule ran")
	}

	var bad []string
	_ = json.Unmarshal([]byte(r.route(ap, "bad")), &bad)
	wants := []string{"unknown descriptor", "above maximum", "time zones", "schedule of the manifest", "must match", "must be a string", "at most 16384", "only an upgrade can remove"}
	for i, w := range wants {
		if i >= len(bad) || !strings.Contains(bad[i], w) {
			t.Errorf("bad call %d: %q, want %q", i, bad, w)
		}
	}

	// The cap: 16 runtime schedules per plugin (minutely is one).
	var fill []string
	_ = json.Unmarshal([]byte(r.route(ap, "fill")), &fill)
	for i, got := range fill {
		want := "ok"
		if i >= 15 && i < 17 {
			want = "16 runtime schedules, the cap per plugin"
		}
		if !strings.Contains(got, want) {
			t.Errorf("schedule %d: %q, want %q", i, got, want)
		}
	}

	// Deactivated: runtime schedules stay but do not fire; uninstalled:
	// they are gone.
	if _, err := r.m.Deactivate(ctx, "sched"); err != nil {
		t.Fatal(err)
	}
	before := runs("minutely")
	set("12:30:00")
	race()
	if runs("minutely") != before {
		t.Fatal("a deactivated plugin's runtime schedule ran")
	}
	var n int
	_ = r.db.Read().QueryRow(`SELECT COUNT(*) FROM plugin_cron WHERE plugin_id = 'sched' AND source = 'runtime'`).Scan(&n)
	if n != 16 {
		t.Fatalf("%d runtime schedules after deactivation, want 16", n)
	}
	if err := r.m.Uninstall(ctx, "sched", false); err != nil {
		t.Fatal(err)
	}
	_ = r.db.Read().QueryRow(`SELECT COUNT(*) FROM plugin_cron WHERE plugin_id = 'sched'`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d schedules after uninstall", n)
	}
}
