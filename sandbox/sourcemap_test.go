package sandbox

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// testMap maps every generated line N (1-based) to line N+10 of
// src/plugin.ts, column 1: "AAUA" is (column 0, source 0, line +10, column
// 0), each "AACA" one more line.
const testMap = `{"version":3,"sources":["src/plugin.ts"],"names":[],"mappings":"AAUA;AACA;AACA;AACA;AACA;AACA;AACA;AACA"}`

func dataURL(m string) string {
	return "data:application/json;base64," + base64.StdEncoding.EncodeToString([]byte(m))
}

// throwingScript throws from hook "h", on the bundle's third line, and ends
// with the given sourceMappingURL comment.
func throwingScript(url string) []byte {
	s := pluginScript(`"h": (event, ctx) => { throw new Error("mapped?"); }`, "")
	if url != "" {
		s = append(s, []byte("//# sourceMappingURL="+url+"\n")...)
	}
	return s
}

func invokeThrow(t *testing.T, script []byte) *ScriptError {
	t.Helper()
	inv := &Invocation{PluginID: "map-test", Version: "1.0.0", Script: script, Kind: KindHook, Name: "h",
		Event: []byte(`{}`), Limits: Limits{CPU: testCPU}}
	_, err := testPool(t).Invoke(context.Background(), inv, nil)
	var se *ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("invoke: %v, want a script error", err)
	}
	return se
}

// TestStackIsSourceMapped: the parent maps the worker's bundle positions
// with the script's inline map, and with nothing else: a sourceMappingURL
// naming a file (holding a valid map) or a web address is never read.
func TestStackIsSourceMapped(t *testing.T) {
	t.Parallel()
	mapFile := filepath.Join(t.TempDir(), "plugin.js.map")
	if err := os.WriteFile(mapFile, []byte(testMap), 0o644); err != nil {
		t.Fatal(err)
	}
	var fetched atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Write([]byte(testMap))
	}))
	defer srv.Close()

	se := invokeThrow(t, throwingScript(dataURL(testMap)))
	if !strings.Contains(se.Stack, "at h (src/plugin.ts:13:1)") {
		t.Errorf("inline map: stack %q, want the frame at src/plugin.ts:13:1", se.Stack)
	}
	for name, url := range map[string]string{
		"a file path":   mapFile,
		"a file URL":    "file://" + mapFile,
		"a web address": srv.URL + "/plugin.js.map",
		"not JSON":      "data:text/plain;base64," + base64.StdEncoding.EncodeToString([]byte(testMap)),
	} {
		se := invokeThrow(t, throwingScript(url))
		if strings.Contains(se.Stack, "src/plugin.ts") || !strings.Contains(se.Stack, "plugin.js:3:") {
			t.Errorf("%s: stack %q, want the bundle's own position", name, se.Stack)
		}
	}
	if n := fetched.Load(); n != 0 {
		t.Errorf("the map's web address was fetched %d times", n)
	}
}

// TestHostileSourceMaps: a map that is too large, malformed, an index map,
// indexes past its sources or names a source that is not a file name
// leaves positions as they are, without a panic.
func TestHostileSourceMaps(t *testing.T) {
	t.Parallel()
	const stack = "Error: x\n\tat h (plugin.js:3:5(12))"
	huge := `{"version":3,"sources":["src/plugin.ts"],"names":[],"mappings":"AAUA` + strings.Repeat(";AACA", maxSourceMapBytes/5) + `"}`
	tests := map[string]string{
		"over the size bound":   huge,
		"not JSON":              `{"version":3,`,
		"index map":             `{"version":3,"sections":[{"offset":{"line":0,"column":0}}]}`,
		"source index past end": `{"version":3,"sources":["src/plugin.ts"],"names":[],"mappings":"ACUA;ACCA;ACCA"}`,
		"newline in the name":   `{"version":3,"sources":["src/a.ts)\n\tat evil (x"],"names":[],"mappings":"AAUA;AACA;AACA"}`,
		"a URL as the name":     `{"version":3,"sources":["https://evil.example/a.ts"],"names":[],"mappings":"AAUA;AACA;AACA"}`,
		"version 2":             `{"version":2,"sources":["src/plugin.ts"],"names":[],"mappings":"AAUA;AACA;AACA"}`,
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			script := throwingScript(dataURL(m))
			if got := mapPositions(parseInlineSourceMap(script), stack); got != stack {
				t.Errorf("mapped to %q", got)
			}
		})
	}
	// The good map maps, columns and the bytecode offset included.
	if got := mapPositions(parseInlineSourceMap(throwingScript(dataURL(testMap))), stack); got != "Error: x\n\tat h (src/plugin.ts:13:1)" {
		t.Errorf("good map: %q", got)
	}
	// Only the last line's comment counts: text mentioning the marker
	// earlier is not a map.
	s := append(throwingScript(dataURL(testMap)), []byte("var s = 1;\n")...)
	if InlineSourceMap(s) != nil {
		t.Error("a sourceMappingURL that is not on the last line was read")
	}
}
