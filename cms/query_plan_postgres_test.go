package cms

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// pgPlanNode is one node of a PostgreSQL plan (EXPLAIN (FORMAT JSON)).
type pgPlanNode struct {
	Type     string       `json:"Node Type"`
	Relation string       `json:"Relation Name"`
	Index    string       `json:"Index Name"`
	Cond     string       `json:"Index Cond"`
	Filter   string       `json:"Filter"`
	Rows     float64      `json:"Plan Rows"`
	Plans    []pgPlanNode `json:"Plans"`
}

func (n pgPlanNode) String() string {
	s := n.Type
	if n.Index != "" {
		s += " using " + n.Index
	} else if n.Relation != "" {
		s += " on " + n.Relation
	}
	if n.Cond != "" {
		s += " " + n.Cond
	}
	if n.Filter != "" {
		s += " filter " + n.Filter
	}
	return s + fmt.Sprintf(" rows=%g", n.Rows)
}

// pgExplain returns the nodes of PostgreSQL's plan for a statement, flat,
// as planned with the given settings (e.g. enable_seqscan=off: with
// sequential scans priced out, the planner takes an index whenever one
// applies, so a test on a small table can tell "no index fits" from "a scan
// is cheaper on so few rows").
func pgExplain(t *testing.T, db *sql.DB, text string, args []any, settings ...string) []pgPlanNode {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, s := range settings {
		if _, err := tx.ExecContext(ctx, "SET LOCAL "+s); err != nil {
			t.Fatal(err)
		}
	}
	var out []byte
	if err := tx.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+text, args...).Scan(&out); err != nil {
		t.Fatalf("explain %s: %v", text, err)
	}
	var doc []struct {
		Plan pgPlanNode `json:"Plan"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	var flat []pgPlanNode
	var walk func(n pgPlanNode)
	walk = func(n pgPlanNode) {
		flat = append(flat, n)
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(doc[0].Plan)
	return flat
}

func planText(nodes []pgPlanNode) string {
	var s []string
	for _, n := range nodes {
		s = append(s, n.String())
	}
	return fmt.Sprintf("%q", s)
}

// pgRemoveRating is json_remove(col, '$.rating') on PostgreSQL.
func pgRemoveRating(col string) string { return "(" + col + "::jsonb - 'rating')::text" }

// jsonRemoveRating is the statement that clears the rating of every entry
// whose seq is a multiple of m, on the test's database.
func jsonRemoveRating(c *Content, m int) string {
	if c.pg() {
		return fmt.Sprintf(`UPDATE entries SET data = %s, published_data = %s WHERE seq %% %d = 0`,
			pgRemoveRating("data"), pgRemoveRating("published_data"), m)
	}
	return fmt.Sprintf(`UPDATE entries SET data = json_remove(data, '$.rating'),
		published_data = json_remove(published_data, '$.rating') WHERE seq %% %d = 0`, m)
}

// pgCheckPagePlan checks that a page's seq query reads the index wantIndex
// in the list's order: with sorting, bitmap and sequential scans priced out,
// PostgreSQL still sorts or scans only when the index cannot give the rows
// in order. With several sort keys, rows sharing the first key are sorted
// (Incremental Sort); nothing else may be.
func pgCheckPagePlan(t *testing.T, db *sql.DB, b *builtList, wantIndex string, multi bool, what string) {
	t.Helper()
	text, args := b.pgInner()
	plan := pgExplain(t, db, text, args, "enable_seqscan = off", "enable_sort = off", "enable_bitmapscan = off")
	used := false
	for _, n := range plan {
		switch {
		case n.Relation == "entries" && n.Type == "Seq Scan":
			t.Errorf("%s: scan in plan %s", what, planText(plan))
			return
		case n.Type == "Sort" || n.Type == "Incremental Sort" && !multi:
			t.Errorf("%s: plan %s sorts, want a walk of %s", what, planText(plan), wantIndex)
			return
		case n.Index == wantIndex:
			used = true
		case n.Index == "entries_pkey" && wantIndex == "entries_live":
			// The fixture has one collection: walking seq itself, filtered
			// by collection, reads the same entries in the same order.
			used = true
		}
	}
	if !used {
		t.Errorf("%s: plan %s does not walk %s", what, planText(plan), wantIndex)
	}
}

// Index names fit PostgreSQL's 63 bytes and stay distinct when long.
func TestPostgresIndexNames(t *testing.T) {
	long := strings.Repeat("c", 64)
	seen := map[string]bool{}
	for _, f := range []string{"a", strings.Repeat("f", 64) + "1", strings.Repeat("f", 64) + "2"} {
		for _, kind := range []string{"d", "p", "sd", "sp"} {
			n := pgIndexName(kind, long, f)
			if len(n) > 63 || seen[n] {
				t.Errorf("pgIndexName(%s, %s): %q (%d bytes, seen %v)", kind, f, n, len(n), seen[n])
			}
			seen[n] = true
		}
	}
	if got := pgIndexName("d", "articles", "rating"); got != indexName("d", "articles", "rating") {
		t.Errorf("a short name changed: %q", got)
	}
}
