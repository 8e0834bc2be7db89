package site

import (
	"context"
	"io"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// /metrics shows how far plugin after-hooks lag and what the sandbox pool
// did; the queue rows are written directly so no worker races the scrape.
func TestMetricsShowAfterHooksAndSandbox(t *testing.T) {
	s := openTestSite(t)
	ctx := context.Background()
	due := time.Now().Add(-30 * time.Second).UnixMilli()
	for i, status := range []string{"pending", "pending", "dead", "running"} {
		if _, err := s.DB.Write().ExecContext(ctx, `INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
			VALUES (?, 'plugin.afterHook', '{"plugin":"p","hook":"content:afterSave","event":{}}', ?, 0, 5, ?, ?, ?)`,
			strconv.Itoa(i), status, due+int64(i), due, due); err != nil {
			t.Fatal(err)
		}
	}
	// Another kind's jobs are not after hooks.
	if _, err := s.DB.Write().ExecContext(ctx, `INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
		VALUES ('m', 'mail.send', '{}', 'pending', 0, 5, 0, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, w := range []string{"pilcrow_plugin_after_hooks_pending 3", "pilcrow_plugin_after_hooks_dead 1",
		"pilcrow_sandbox_workers_started_total 0", "pilcrow_sandbox_workers_killed_total 0", "pilcrow_sandbox_workers_crashed_total 0",
		"pilcrow_sandbox_invocations_total 0"} {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	// Reruns happen only on PostgreSQL, under concurrent writes.
	if !regexp.MustCompile(`(?m)^pilcrow_db_transaction_reruns_total \d+$`).MatchString(text) {
		t.Error("/metrics lacks pilcrow_db_transaction_reruns_total")
	}
	m := regexp.MustCompile(`(?m)^pilcrow_plugin_after_hooks_oldest_pending_age_seconds (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("no oldest pending age")
	}
	if age, _ := strconv.ParseFloat(m[1], 64); age < 29 || age > 3600 {
		t.Errorf("oldest pending age %v s, want ≥ 29 (due 30 s ago; the mail job due in 1970 is another kind)", age)
	}
}
