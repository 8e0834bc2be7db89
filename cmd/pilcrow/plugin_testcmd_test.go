package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPluginTestScaffoldPasses: the scaffold's own tests pass, through a
// hook and then a route that reads what the hook stored.
func TestPluginTestScaffoldPasses(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tested")
	if code, out, errOut := cli(t, "plugin", "init", dir); code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := cli(t, "plugin", "test", dir)
	if code != 0 {
		t.Fatalf("test: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"test/plugin.test.ts", "ok    saving an entry tidies its title", "ok    the route reads back the reading time the hook stored", "4 tests: 4 passed, 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = cli(t, "plugin", "test", dir, "--run", "tidyTitle")
	if code != 0 || !strings.Contains(out, "1 test: 1 passed, 0 failed") {
		t.Errorf("--run: exit %d\n%s", code, out)
	}
}

const failingTests = `import { double } from "../src/plugin";

test("passes", () => {
  expect(double(2)).toEqual(4);
});

test("a wrong expectation", () => {
  expect({ a: [1, 2] }).toEqual({ a: [1, 3] });
});

test("the hook throws", async () => {
  await plugin.hook("content:afterSave", { collection: "posts", id: "e1", isNew: true, data: {} });
});

test("a rejection expected", async () => {
  await expect(plugin.hook("content:afterSave", { collection: "posts", id: "e1", isNew: true, data: {} })).rejects.toThrow("no title");
});

test("never settles", async () => {
  await new Promise(() => {});
});
`

const failingSource = `export const double = (n: number) => n * 2;

export default {
  hooks: {
    "content:afterSave": (event) => {
      if (!event.data.title) throw new Error("no title");
    },
  },
};
`

// TestPluginTestReportsFailures: each failure is printed with its message
// and position in the test file (and the plugin's source-mapped stack when
// the plugin threw), passing tests still pass, and the exit status is 1.
func TestPluginTestReportsFailures(t *testing.T) {
	t.Parallel()
	dir := writePlugin(t, `{"id": "failing", "version": "1.0.0", "name": "Failing", "capabilities": ["content:read"], "hooks": ["content:afterSave"]}`, failingSource)
	if err := os.MkdirAll(filepath.Join(dir, "test"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test", "plugin.test.ts"), []byte(failingTests), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "plugin", "test", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"ok    passes",
		"FAIL  a wrong expectation",
		`expected {"a":[1,2]} to equal {"a":[1,3]}`,
		"at test/plugin.test.ts:8:",
		"FAIL  the hook throws",
		"hook content:afterSave threw: no title",
		"at test/plugin.test.ts:12:",
		"at content:afterSave (src/plugin.ts:6:36)",
		"ok    a rejection expected",
		"FAIL  never settles",
		"never settled",
		"5 tests: 2 passed, 3 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// No test files: a usage error, saying where tests go.
	empty := writePlugin(t, `{"id": "untested", "version": "1.0.0", "name": "Untested", "capabilities": ["content:read"], "hooks": ["content:afterSave"]}`, failingSource)
	if code, _, errOut := cli(t, "plugin", "test", empty); code != 2 || !strings.Contains(errOut, "test/*.test.ts") {
		t.Errorf("no tests: exit %d\n%s", code, errOut)
	}
}
