package sandbox

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"sync"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// task is what an isolate needs to run one invocation; it is also the
// payload of the worker protocol's invoke frame (the script travels
// separately, once per worker per hash).
type task struct {
	PluginID     string                `json:"pluginId"`
	Version      string                `json:"version"`
	Hash         string                `json:"hash"`
	Kind         string                `json:"kind"`
	Name         string                `json:"name"`
	Event        json.RawMessage       `json:"event,omitempty"`
	Capabilities []manifest.Capability `json:"caps,omitempty"`
	Collections  []string              `json:"colls,omitempty"`
	Hooks        []manifest.HookName   `json:"hooks,omitempty"`
	Settings     json.RawMessage       `json:"settings,omitempty"`
	Limits       Limits                `json:"limits"`
	Site         SiteInfo              `json:"site"`
}

// kindInspect is the internal task kind of Pool.Inspect.
const kindInspect = "inspect"

func newTask(inv *Invocation, limits Limits) *task {
	return &task{
		PluginID: inv.PluginID, Version: inv.Version, Hash: scriptHash(inv),
		Kind: inv.Kind, Name: inv.Name, Event: inv.Event,
		Capabilities: inv.Grants.Capabilities, Collections: inv.Grants.StorageCollections, Hooks: inv.Grants.Hooks,
		Settings: inv.Grants.Settings, Limits: limits, Site: inv.Site,
	}
}

func scriptHash(inv *Invocation) string {
	if inv.ScriptHash != "" {
		return inv.ScriptHash
	}
	return hashScript(inv.Script)
}

func hashScript(script []byte) string {
	sum := sha256.Sum256(script)
	return hex.EncodeToString(sum[:])
}

// script is a compiled plugin bundle and what its syntax creates.
type script struct {
	prog *goja.Program
	// async and generator report whether the script contains async or
	// generator functions, whose hidden constructors harden must poison.
	async, generator bool
}

// compileScript compiles a plugin bundle. A syntax error is a *ScriptError.
// Compiling hostile source can exhaust the Go stack, so outside tests this
// only runs in workers. Source maps are never loaded (goja would otherwise
// follow a sourceMappingURL comment).
func compileScript(src []byte) (*script, error) {
	tree, err := parser.ParseFile(nil, "plugin.js", string(src), 0, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, &ScriptError{Name: "SyntaxError", Message: truncate(err.Error(), maxMessageBytes)}
	}
	prog, err := goja.CompileAST(tree, false)
	if err != nil {
		return nil, &ScriptError{Name: "SyntaxError", Message: truncate(err.Error(), maxMessageBytes)}
	}
	s := &script{prog: prog}
	scanScript(reflect.ValueOf(tree), s)
	return s, nil
}

var (
	funcLiteralType  = reflect.TypeOf((*ast.FunctionLiteral)(nil))
	arrowLiteralType = reflect.TypeOf((*ast.ArrowFunctionLiteral)(nil))
)

// scanScript walks the whole syntax tree (by reflection, so that no node
// type can be missed) and records async and generator functions.
func scanScript(v reflect.Value, s *script) {
	if s.async && s.generator {
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		switch v.Type() {
		case funcLiteralType:
			fn := v.Interface().(*ast.FunctionLiteral)
			s.async = s.async || fn.Async
			s.generator = s.generator || fn.Generator
		case arrowLiteralType:
			s.async = s.async || v.Interface().(*ast.ArrowFunctionLiteral).Async
		}
		scanScript(v.Elem(), s)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				scanScript(v.Field(i), s)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			scanScript(v.Index(i), s)
		}
	}
}

// programCache keeps compiled programs by script hash (LRU). goja programs
// are immutable and shared safely between runtimes.
type programCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *programEntry, most recent first
	byKey map[string]*list.Element
}

type programEntry struct {
	hash   string
	script *script
}

func newProgramCache(max int) *programCache {
	return &programCache{max: max, order: list.New(), byKey: make(map[string]*list.Element)}
}

func (c *programCache) get(hash string) *script {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[hash]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*programEntry).script
	}
	return nil
}

func (c *programCache) put(hash string, s *script) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[hash]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.byKey[hash] = c.order.PushFront(&programEntry{hash, s})
	for c.order.Len() > c.max {
		el := c.order.Back()
		c.order.Remove(el)
		delete(c.byKey, el.Value.(*programEntry).hash)
	}
}

// compiled returns the cached program for hash, compiling src on a miss.
func (c *programCache) compiled(hash string, src []byte) (*script, error) {
	if s := c.get(hash); s != nil {
		return s, nil
	}
	s, err := compileScript(src)
	if err != nil {
		return nil, err
	}
	c.put(hash, s)
	return s, nil
}

const maxMessageBytes = 4096

// truncate cuts s to at most n bytes on a UTF-8 boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
