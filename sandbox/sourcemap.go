package sandbox

import (
	"bytes"
	"container/list"
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"sync"

	"github.com/go-sourcemap/sourcemap"
)

// Source-mapped errors. `pilcrow plugin build` ends the bundle with an inline
// source map (a sourceMappingURL data: URL). Workers compile with source maps
// disabled, so their stack traces name positions in the bundle
// ("plugin.js:61:36(25)"); the parent process — here, after the worker
// answered — rewrites those positions with the bundle's own map into the
// author's files ("src/plugin.ts:19:42"). Only an inline data: map inside
// the script is ever read: a sourceMappingURL naming a file or a web address
// is ignored, so no script can make anything read a file or fetch a URL.

// maxSourceMapBytes bounds the decoded map: parsing costs memory in
// proportion to its mappings, and the map is the plugin's data.
const maxSourceMapBytes = 2 << 20

// sourceMapCacheSize is how many bundles' parsed maps are kept (LRU). Maps
// are parsed only when an invocation fails, so a handful covers a site.
const sourceMapCacheSize = 16

// bundlePosition matches a position in the bundle as goja prints it, with
// the bytecode offset it appends in stack frames.
var bundlePosition = regexp.MustCompile(`plugin\.js:(\d+):(\d+)(?:\(\d+\))?`)

// sourceName is what a mapped source file name may look like: relative
// paths of the plugin folder as esbuild writes them. Anything else (control
// characters, URLs, very long names) leaves the position unmapped rather
// than print the plugin's text as if it were a file name.
var sourceName = regexp.MustCompile(`^[A-Za-z0-9_@+.\-][A-Za-z0-9_@+.\-/ ]{0,255}$`)

var stackMaps = &sourceMapCache{order: list.New(), byKey: map[string]*list.Element{}}

type sourceMapCache struct {
	mu    sync.Mutex
	order *list.List // of *sourceMapEntry, most recent first
	byKey map[string]*list.Element
}

type sourceMapEntry struct {
	hash string
	// c is nil when the script has no usable inline map.
	c *sourcemap.Consumer
}

// consumer returns the parsed inline map of script (hash is its SHA-256),
// or nil when it has none that can be used.
func (c *sourceMapCache) consumer(hash string, script []byte) *sourcemap.Consumer {
	c.mu.Lock()
	if el, ok := c.byKey[hash]; ok {
		c.order.MoveToFront(el)
		c.mu.Unlock()
		return el.Value.(*sourceMapEntry).c
	}
	c.mu.Unlock()
	sm := parseInlineSourceMap(script)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[hash]; !ok {
		c.byKey[hash] = c.order.PushFront(&sourceMapEntry{hash: hash, c: sm})
		for c.order.Len() > sourceMapCacheSize {
			last := c.order.Back()
			c.order.Remove(last)
			delete(c.byKey, last.Value.(*sourceMapEntry).hash)
		}
	}
	return sm
}

// InlineSourceMap returns the decoded JSON of the script's inline source map:
// the last line's `//# sourceMappingURL=data:application/json;base64,…`.
// Any other URL, a map over maxSourceMapBytes or one that does not decode is
// nil: never a reason to look anywhere else.
func InlineSourceMap(script []byte) []byte {
	const marker = "//# sourceMappingURL="
	i := bytes.LastIndex(script, []byte(marker))
	if i < 0 {
		return nil
	}
	url := bytes.TrimSpace(script[i+len(marker):])
	if bytes.ContainsAny(url, "\n\r") {
		return nil // not the last line: some other text mentions the marker
	}
	comma := bytes.IndexByte(url, ',')
	if comma < 0 {
		return nil
	}
	switch string(bytes.ToLower(url[:comma])) {
	case "data:application/json;base64", "data:application/json;charset=utf-8;base64":
	default:
		return nil
	}
	enc := url[comma+1:]
	if base64.StdEncoding.DecodedLen(len(enc)) > maxSourceMapBytes+3 {
		return nil
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	n, err := base64.StdEncoding.Decode(out, enc)
	if err != nil || n > maxSourceMapBytes {
		return nil
	}
	return out[:n]
}

// parseInlineSourceMap parses the script's inline map. Index maps
// ("sections") are refused: esbuild never writes them, and the library
// dereferences a section without a map.
func parseInlineSourceMap(script []byte) (c *sourcemap.Consumer) {
	raw := InlineSourceMap(script)
	if raw == nil {
		return nil
	}
	var head struct {
		Sections json.RawMessage `json:"sections"`
	}
	if json.Unmarshal(raw, &head) != nil || head.Sections != nil {
		return nil
	}
	defer func() {
		// The map is plugin data; a malformed one must cost the mapping,
		// never the server.
		if recover() != nil {
			c = nil
		}
	}()
	// No URL: sources stay as written, never resolved against anything.
	c, err := sourcemap.Parse("", raw)
	if err != nil {
		return nil
	}
	return c
}

// MapSourcePositions rewrites the positions of bundleName in text ("at f
// (test.js:3:5(12))", as goja prints them) through script's inline source
// map, as the sandbox does for plugin.js; `pilcrow plugin test` uses it for
// the test files it runs. Without a usable map, text is returned unchanged.
func MapSourcePositions(script []byte, bundleName, text string) string {
	re, err := regexp.Compile(regexp.QuoteMeta(bundleName) + `:(\d+):(\d+)(?:\(\d+\))?`)
	if err != nil || !re.MatchString(text) {
		return text
	}
	return mapPositionsRE(parseInlineSourceMap(script), re, text)
}

// mapPositions rewrites every bundle position in s with c.
func mapPositions(c *sourcemap.Consumer, s string) string {
	return mapPositionsRE(c, bundlePosition, s)
}

func mapPositionsRE(c *sourcemap.Consumer, re *regexp.Regexp, s string) string {
	if c == nil || s == "" {
		return s
	}
	return re.ReplaceAllStringFunc(s, func(m string) string {
		sub := re.FindStringSubmatch(m)
		line, err1 := strconv.Atoi(sub[1])
		col, err2 := strconv.Atoi(sub[2])
		if err1 != nil || err2 != nil || line < 1 || col < 1 {
			return m
		}
		if src, l, c, ok := lookup(c, line, col); ok {
			return src + ":" + strconv.Itoa(l) + ":" + strconv.Itoa(c)
		}
		return m
	})
}

// lookup maps a 1-based line and column of the bundle to a 1-based line and
// column of its source. (Source maps count columns from 0.)
func lookup(c *sourcemap.Consumer, line, col int) (src string, l, cl int, ok bool) {
	defer func() {
		// A mapping can index past the map's sources; the library does not
		// check.
		if recover() != nil {
			ok = false
		}
	}()
	src, _, l, cl, ok = c.Source(line, col-1)
	if !ok || l < 1 || cl < 0 || !sourceName.MatchString(src) {
		return "", 0, 0, false
	}
	return src, l, cl + 1, true
}

// mapScriptError rewrites the positions in a script error's stack and
// message into the plugin's source files, using the script's inline map.
// Other errors are returned as they are.
func mapScriptError(script []byte, hash string, err error) error {
	var se *ScriptError
	if err == nil || len(script) == 0 || !errors.As(err, &se) {
		return err
	}
	if !bundlePosition.MatchString(se.Stack) && !bundlePosition.MatchString(se.Message) {
		return err
	}
	if hash == "" {
		hash = hashScript(script)
	}
	c := stackMaps.consumer(hash, script)
	if c == nil {
		return err
	}
	se.Stack = mapPositions(c, se.Stack)
	se.Message = mapPositions(c, se.Message)
	return err
}
