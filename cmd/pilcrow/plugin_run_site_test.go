package main

import (
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// siteTestManifest's hook writes to kv and storage and its route reads them
// back together with the seeded content, media and users.
const siteTestManifest = `{
  "id": "site-test",
  "version": "1.0.0",
  "name": "Site test",
  "capabilities": ["content:read", "media:read", "users:read"],
  "storage": {"notes": {"indexes": ["at"]}},
  "hooks": ["content:afterSave"],
  "routes": [{"name": "state", "permission": "admin"}]
}
`

const siteTestSource = `export default {
  hooks: {
    "content:afterSave": async (event, ctx) => {
      const n = ((await ctx.kv.get("saves")) ?? 0) + 1;
      await ctx.kv.set("saves", n);
      await ctx.storage.notes.put("note-" + n, { at: n, entry: event.id });
    },
  },
  routes: {
    state: async (request, ctx) => {
      const posts = await ctx.content.list("posts", {});
      const media = await ctx.media.list({});
      const users = await ctx.users.list();
      return {
        saves: await ctx.kv.get("saves"),
        notes: await ctx.storage.notes.count(),
        titles: posts.items.map((e) => e.data.title).sort(),
        published: posts.items.filter((e) => e.status === "published").length,
        media: media.items.map((m) => m.filename + ":" + m.alt),
        users: users.items.map((u) => u.email + ":" + u.role),
      };
    },
  },
};
`

func writeSeed(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "pixel.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	seed := `{
  "users": [{"email": "ed@example.com", "name": "Ed", "role": "editor"}],
  "collections": [{"name": "posts", "label": "Posts", "fields": [{"name": "title", "type": "string", "required": true}]}],
  "media": [{"file": "pixel.png", "alt": "a grey pixel"}],
  "entries": [
    {"collection": "posts", "data": {"title": "Draft one"}},
    {"collection": "posts", "data": {"title": "Live one"}, "status": "published"}
  ]
}`
	name := filepath.Join(dir, "seed.json")
	if err := os.WriteFile(name, []byte(seed), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestPluginRunSiteKeepsState: with --site, what a hook wrote is there for
// the next run's route, beside what --seed put on the new site; the seed is
// not applied a second time; without --site nothing carries over.
func TestPluginRunSiteKeepsState(t *testing.T) {
	t.Parallel()
	dir := writePlugin(t, siteTestManifest, siteTestSource)
	seed := writeSeed(t)
	siteDir := filepath.Join(t.TempDir(), "site")

	state := func(args ...string) map[string]any {
		t.Helper()
		code, out, errOut := cli(t, append([]string{"plugin", "run", dir, "--route", "state", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("route: exit %d\n%s%s", code, out, errOut)
		}
		var o struct{ Result map[string]any }
		if err := json.Unmarshal([]byte(out), &o); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		return o.Result
	}

	code, out, errOut := cli(t, "plugin", "run", dir, "--hook", "content:afterSave", "--site", siteDir, "--seed", seed)
	if code != 0 {
		t.Fatalf("first hook: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"seeded user ed@example.com", "seeded collection posts", "seeded media pixel.png", "seeded entry posts/"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	code, out, errOut = cli(t, "plugin", "run", dir, "--hook", "content:afterSave", "--site", siteDir, "--seed", seed)
	if code != 0 {
		t.Fatalf("second hook: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "was not applied again") || strings.Contains(errOut, "seeded ") {
		t.Errorf("the seed was applied to an existing site:\n%s", errOut)
	}

	got := state("--site", siteDir)
	want := map[string]any{
		"saves": 2.0, "notes": 2.0, "published": 1.0,
		"titles": []any{"Draft one", "Live one"},
		"media":  []any{"pixel.png:a grey pixel"},
		"users":  []any{"ed@example.com:editor"},
	}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("route on the kept site saw\n%s\nwant\n%s", g, w)
	}

	// A throwaway site starts empty every time, seeded or not.
	code, out, errOut = cli(t, "plugin", "run", dir, "--route", "state")
	if code != 1 || !strings.Contains(errOut, "route state threw") {
		t.Errorf("without --site the route should find no posts collection: exit %d\n%s%s", code, out, errOut)
	}
	got = state("--seed", seed)
	if got["saves"] != nil || got["notes"] != 0.0 || len(got["titles"].([]any)) != 2 {
		t.Errorf("a seeded throwaway site carried state over: %v", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPluginRunSeedErrors: a bad seed stops the run with a message naming
// the item, before the plugin runs.
func TestPluginRunSeedErrors(t *testing.T) {
	t.Parallel()
	dir := writePlugin(t, siteTestManifest, siteTestSource)
	seedDir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.png")
	if err := os.WriteFile(outside, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, seed, want string }{
		{"unknown key", `{"entrys": []}`, `unknown field "entrys"`},
		{"bad status", `{"entries": [{"collection": "posts", "status": "live"}]}`, `entries[0].status: "live"`},
		{"missing collection", `{"entries": [{"collection": "posts", "data": {}}]}`, "seed entries[0] (posts)"},
		{"media outside the seed folder", `{"media": [{"file": "` + filepath.ToSlash(outside) + `"}]}`, "seed media[0]"},
		{"media climbing out", `{"media": [{"file": "../x.png"}]}`, "seed media[0] (../x.png)"},
		{"bad field type", `{"collections": [{"name": "posts", "label": "Posts", "fields": [{"name": "t", "type": "strin"}]}]}`, "seed collections[0] (posts)"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(seedDir, "seed"+string(rune('a'+i))+".json")
			if err := os.WriteFile(name, []byte(tt.seed), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := cli(t, "plugin", "run", dir, "--route", "state", "--seed", name)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, want 2 and %q in stderr:\n%s%s", code, tt.want, out, errOut)
			}
		})
	}
}

// TestPluginRunShowsLimitsBesideUsage: every figure has its limit beside it,
// and the limit that ended the run is marked while the usage is still shown.
func TestPluginRunShowsLimitsBesideUsage(t *testing.T) {
	t.Parallel()
	dir := writePlugin(t, runTestManifest, runTestSource)
	code, out, errOut := cli(t, "plugin", "run", dir, "--hook", "content:beforeSave")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	line := regexp.MustCompile(`resources: cpu [0-9.]+ ms of 50, wall [0-9.]+ ms of [0-9]+, peak memory [0-9.]+ [KM]i?B of [0-9.]+ MiB, subrequests 0 of [0-9]+`)
	if !line.MatchString(out) {
		t.Errorf("no usage-and-limits line in:\n%s", out)
	}
	code, out, errOut = cli(t, "plugin", "run", dir, "--hook", "content:afterDelete")
	if code != 1 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	hit := regexp.MustCompile(`resources: cpu ([0-9.]+) ms of 50 \(limit hit\)`)
	if m := hit.FindStringSubmatch(out); m == nil || m[1] == "0.0" {
		t.Errorf("the cpu limit's usage is not reported with the limit marked:\n%s", out)
	}
}
