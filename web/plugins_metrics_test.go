package web_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/site"
)

// metricValue is the value of the series name{labels} in a /metrics
// answer (labels as the exposition writes them: sorted by name), or -1.
func metricValue(text, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// /metrics counts after-hook deliveries by plugin and outcome and plugin
// invocations by outcome and limit, as they happen.
func TestMetricsCountAfterHookDeliveriesAndInvocations(t *testing.T) {
	ts := pluginSite(t, func(c *site.Config) { c.AfterHookDelays = []time.Duration{10 * time.Millisecond} })
	admin, editor := editorAndAdmin(t, ts)
	// Fails its first attempt, then succeeds.
	admin.installActive(packPlugin(t, map[string]any{
		"id": "second-try", "version": "1.0.0", "name": "Second try",
		"capabilities": []string{"content:read"}, "hooks": []string{"content:afterSave"},
	}, `export default { hooks: { "content:afterSave": async (ev, ctx) => {
  const n = (await ctx.kv.get("n")) ?? 0;
  await ctx.kv.set("n", n + 1);
  if (n === 0) throw new Error("first try fails");
} } };`))
	// Always fails: two attempts, then dead.
	admin.installActive(packPlugin(t, map[string]any{
		"id": "broken", "version": "1.0.0", "name": "Broken",
		"capabilities": []string{"content:read"}, "hooks": []string{"content:afterSave"},
	}, `export default { hooks: { "content:afterSave": () => { throw new Error("always"); } } };`))
	// Hits its CPU limit on a title of "loop".
	admin.installActive(packPlugin(t, map[string]any{
		"id": "looper", "version": "1.0.0", "name": "Looper",
		"capabilities": []string{"content:write"}, "hooks": []string{"content:beforeSave"},
		"limits": map[string]any{"cpuMs": 50},
	}, `export default { hooks: { "content:beforeSave": (ev) => { if (ev.data.title === "loop") { for (;;) {} } } } };`))

	scrape := func() string {
		return string(ts.anon().do("GET", "/metrics", nil).want(http.StatusOK).Body)
	}
	before := scrape()
	for _, s := range []string{
		`pilcrow_plugin_after_hook_deliveries_total{outcome="ok",plugin="second-try"}`,
		`pilcrow_plugin_invocations_total{kind="hook",limit="cpu",outcome="limit"}`,
	} {
		if v := metricValue(before, s); v > 0 {
			t.Fatalf("%s is %v before anything ran", s, v)
		}
	}
	editor.createEntry("articles", map[string]any{"title": "counted"})
	editor.do("POST", "/api/collections/articles/entries", map[string]any{"data": map[string]any{"title": "loop"}}).
		problem(http.StatusUnprocessableEntity)

	var text string
	eventually(t, "both deliveries to finish", func() bool {
		text = scrape()
		return metricValue(text, `pilcrow_plugin_after_hook_deliveries_total{outcome="ok",plugin="second-try"}`) == 1 &&
			metricValue(text, `pilcrow_plugin_after_hook_deliveries_total{outcome="dead",plugin="broken"}`) == 1 &&
			// A success is recorded with the worker's next claim, a moment
			// after its counter moved.
			metricValue(text, `pilcrow_plugin_after_hooks_pending`) == 0
	})
	for series, want := range map[string]float64{
		`pilcrow_plugin_after_hook_deliveries_total{outcome="retry",plugin="second-try"}`: 1,
		`pilcrow_plugin_after_hook_deliveries_total{outcome="dead",plugin="second-try"}`:  0,
		`pilcrow_plugin_after_hook_deliveries_total{outcome="retry",plugin="broken"}`:     1,
		`pilcrow_plugin_after_hook_deliveries_total{outcome="ok",plugin="broken"}`:        0,
		`pilcrow_plugin_after_hooks_pending`:                                              0,
		`pilcrow_plugin_after_hooks_dead`:                                                 1,
		`pilcrow_jobs_dead{kind="plugin.afterHook"}`:                                      1,
	} {
		if got := metricValue(text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	// Invocations: the looper's limit hit, and the hooks' ok and error runs
	// (the two plugins' four after-hook attempts: one ok, three errors; the
	// looper's beforeSave ran ok on the first save).
	for series, least := range map[string]float64{
		`pilcrow_plugin_invocations_total{kind="hook",limit="cpu",outcome="limit"}`: 1,
		`pilcrow_plugin_invocations_total{kind="hook",limit="",outcome="error"}`:    3,
		`pilcrow_plugin_invocations_total{kind="hook",limit="",outcome="ok"}`:       2,
	} {
		if got := metricValue(text, series); got < least {
			t.Errorf("%s = %v, want ≥ %v\n%s", series, got, least, grepLines(text, "pilcrow_plugin_"))
		}
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
