package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type wantProblem struct {
	path, lineCol, fragment string
}

func readWant(t *testing.T, file string) []wantProblem {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("every bad-*.json needs a .want file: %v", err)
	}
	var out []wantProblem
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		head, frag, ok := strings.Cut(line, " :: ")
		if !ok {
			t.Fatalf("%s: malformed line %q", file, line)
		}
		path, lc, _ := strings.Cut(head, " @")
		if path == "(root)" {
			path = ""
		}
		out = append(out, wantProblem{path, lc, frag})
	}
	return out
}

func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("corpus has %d manifests, want at least 40", len(files))
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			m, probs := Parse(data)
			switch {
			case strings.HasPrefix(name, "valid-"):
				if len(probs) > 0 || m == nil {
					t.Fatalf("want valid, got:\n%v", probs)
				}
				again, err := json.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				if _, probs := Parse(again); len(probs) > 0 {
					t.Fatalf("marshalled manifest no longer parses:\n%s\n%v", again, probs)
				}
			case strings.HasPrefix(name, "bad-"):
				if m != nil {
					t.Fatal("an invalid manifest must not be returned")
				}
				wants := readWant(t, strings.TrimSuffix(file, ".json")+".want")
				for _, w := range wants {
					if !hasProblem(probs, w) {
						t.Errorf("missing problem %s @%s %q; got:\n%v", w.path, w.lineCol, w.fragment, probs)
					}
				}
				if len(probs) != len(wants) {
					t.Errorf("got %d problems, want %d:\n%v", len(probs), len(wants), probs)
				}
			default:
				t.Fatalf("corpus files are named valid-* or bad-*")
			}
		})
	}
}

func hasProblem(probs Problems, w wantProblem) bool {
	for _, p := range probs {
		if p.Path != w.path || !strings.Contains(p.Message, w.fragment) {
			continue
		}
		if w.lineCol != "" && fmt.Sprintf("%d:%d", p.Line, p.Column) != w.lineCol {
			continue
		}
		return true
	}
	return false
}

func TestParseValidFullFields(t *testing.T) {
	data, err := os.ReadFile("testdata/valid-full.json")
	if err != nil {
		t.Fatal(err)
	}
	m, probs := Parse(data)
	if probs != nil {
		t.Fatal(probs)
	}
	h, ok := m.Hook(HookBeforeSave)
	if !ok || h.Priority != 10 || h.TimeoutMs != 200 {
		t.Errorf("beforeSave hook = %+v", h)
	}
	if h, _ := m.Hook(HookAfterSave); h.Priority != DefaultHookPriority {
		t.Errorf("default priority = %d", h.Priority)
	}
	if got := m.Storage["events"].Indexes; len(got) != 2 || len(got[1]) != 2 || got[0][0] != "startsAt" {
		t.Errorf("indexes = %v", got)
	}
	in := m.Settings[0].Inject
	if in.HeaderName() != "Authorization" || in.HeaderValue("s3cr3t") != "Bearer s3cr3t" {
		t.Errorf("inject header = %q / %q", in.HeaderName(), in.HeaderValue("s3cr3t"))
	}
	if m.Settings[0].VisibleToPlugin() || !m.Settings[1].VisibleToPlugin() || !m.Settings[2].VisibleToPlugin() {
		t.Error("only exposed secrets and non-secrets are visible to the plugin")
	}
	if !m.Grants(ContentRead) || !m.Grants(ContentWrite) || m.Grants(MediaWrite) {
		t.Error("grants wrong")
	}
	if r, _ := m.Route("webhook"); !r.Public || r.Path(m.ID) != "/api/p/events-sync/webhook" {
		t.Errorf("route = %+v", r)
	}
}

func TestProblemsError(t *testing.T) {
	_, probs := Parse([]byte(`{"id": "demo-plugin", "version": "1.0.0", "name": "x", "bogus": 1}`))
	if !errors.Is(probs, ErrInvalid) {
		t.Error("Problems must match ErrInvalid")
	}
	want := `manifest.json:1:56: /bogus: unknown key "bogus"`
	if !strings.HasPrefix(probs.Error(), want) {
		t.Errorf("Error() = %q, want prefix %q", probs.Error(), want)
	}
}

func TestParseTooLarge(t *testing.T) {
	big := []byte(`{"id": "demo-plugin", "version": "1.0.0", "name": "` + strings.Repeat("x", MaxSize) + `"}`)
	if _, probs := Parse(big); len(probs) != 1 || !strings.Contains(probs[0].Message, "limit") {
		t.Errorf("problems = %v", probs)
	}
}

func TestParseInvalidUTF8(t *testing.T) {
	_, probs := Parse([]byte("{\n \"name\": \"\xff\"}"))
	if len(probs) != 1 || probs[0].Line != 2 || !strings.Contains(probs[0].Message, "UTF-8") {
		t.Errorf("problems = %v", probs)
	}
}

func TestLineColumn(t *testing.T) {
	sm := newSourceMap([]byte("ab\né☃x\n\nz"))
	for _, tc := range []struct{ off, line, col int }{
		{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {5, 2, 2}, {8, 2, 3}, {10, 3, 1}, {11, 4, 1}, {99, 4, 2},
	} {
		if l, c := sm.lineCol(tc.off); l != tc.line || c != tc.col {
			t.Errorf("lineCol(%d) = %d:%d, want %d:%d", tc.off, l, c, tc.line, tc.col)
		}
	}
}

func TestSchemaCopyIdentical(t *testing.T) {
	published, err := os.ReadFile("../docs/manifest.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(published) != string(SchemaJSON) {
		t.Fatal("docs/manifest.schema.json differs from manifest/manifest.schema.json; run go generate ./manifest")
	}
	if _, err := compiledSchema(); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, probs := Parse(data)
		if (m == nil) == (len(probs) == 0) {
			t.Fatalf("manifest %v with problems %v", m, probs)
		}
		for _, p := range probs {
			if p.Message == "" {
				t.Fatalf("problem without message: %+v", p)
			}
		}
		if m != nil {
			_ = Consent(m)
			_ = Diff(m, m)
		}
	})
}

func TestParseDeepNesting(t *testing.T) {
	deep := `{"id": "demo-plugin", "version": "1.0.0", "name": "x", "description": ` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`
	_, probs := Parse([]byte(deep))
	if len(probs) != 1 || !strings.Contains(probs[0].Message, "nested deeper than") {
		t.Errorf("problems = %v", probs)
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/valid-full.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, probs := Parse(data); probs != nil {
			b.Fatal(probs)
		}
	}
}
