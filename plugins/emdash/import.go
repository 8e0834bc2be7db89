package emdash

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dop251/goja"
	"github.com/evanw/esbuild/pkg/api"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
)

// SourceManifest is an EmDash plugin source folder's manifest.
const SourceManifest = "emdash-plugin.jsonc"

// SourceEntry is the source folder's plugin module.
const SourceEntry = "src/plugin.ts"

// ShimFile is where Import writes the adapter in the Pilcrow folder.
const ShimFile = "src/pilcrow-emdash-shim.js"

// Imported describes a written Pilcrow plugin folder.
type Imported struct {
	Translation *Translation
	// Files are the files written, relative to the folder.
	Files []string
}

// Import turns an EmDash plugin, a sandboxed bundle (.tar.gz file) or a
// source folder (emdash-plugin.jsonc and src/plugin.ts), into a Pilcrow
// plugin folder at dst (created; it must not exist or be empty): the
// translated manifest.json, the plugin module as src/emdash/backend.js, the
// adapter and src/plugin.js joining them, so `pilcrow plugin build`,
// `validate` and `pack` work on it. A source folder's own src/ is kept
// under emdash/src for reference. What cannot be honoured is an
// *bundle.Error with one problem per feature, and nothing is written.
func Import(ctx context.Context, src, dst string) (*Imported, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", src, err)
	}
	files := map[string][]byte{}
	var tr *Translation
	if st.IsDir() {
		tr, err = importSource(ctx, src, files)
	} else {
		tr, err = importBundle(src, files)
	}
	if err != nil {
		return nil, err
	}
	entry, err := Entry("./emdash/backend.js", "./pilcrow-emdash-shim.js", tr.Meta)
	if err != nil {
		return nil, err
	}
	files["manifest.json"] = tr.JSON
	files["src/plugin.js"] = entry
	files[ShimFile] = Shim
	if err := emptyDir(dst); err != nil {
		return nil, err
	}
	out := &Imported{Translation: tr}
	for _, name := range sortedKeys(files) {
		p := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		out.Files = append(out.Files, name)
	}
	return out, nil
}

func emptyDir(dst string) error {
	entries, err := os.ReadDir(dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(dst, 0o755)
	case err != nil:
		return fmt.Errorf("import: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("import: %s is not empty; choose a new folder", dst)
	}
	return nil
}

func importBundle(path string, files map[string][]byte) (*Translation, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	if !IsTarball(data) {
		return nil, fmt.Errorf("import %s: not an EmDash sandboxed bundle (.tar.gz) or an EmDash plugin source folder", path)
	}
	f, err := ReadTarball(data)
	if err != nil {
		return nil, err
	}
	tr, probs := Translate(f.Manifest, Describe{From: "bundle"})
	if len(probs) > 0 {
		return nil, &bundle.Error{Problems: probs}
	}
	files["src/emdash/backend.js"] = f.Backend
	if f.Readme != nil {
		files[bundle.ReadmeFile] = f.Readme
	}
	if f.Icon != nil {
		files[bundle.IconFile] = f.Icon
	}
	return tr, nil
}

// sourceManifest is what emdash-plugin.jsonc says that Pilcrow uses; the
// publishing fields (publisher, security, keywords, sections, release)
// concern EmDash's registry only.
type sourceManifest struct {
	Slug         string          `json:"slug"`
	Version      string          `json:"version"`
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	License      string          `json:"license"`
	Repo         string          `json:"repo"`
	Capabilities json.RawMessage `json:"capabilities"`
	AllowedHosts json.RawMessage `json:"allowedHosts"`
	Storage      json.RawMessage `json:"storage"`
	Admin        json.RawMessage `json:"admin"`
	Author       *struct {
		Name string `json:"name"`
	} `json:"author"`
	Authors []struct {
		Name string `json:"name"`
	} `json:"authors"`
}

func importSource(ctx context.Context, dir string, files map[string][]byte) (*Translation, error) {
	raw, err := os.ReadFile(filepath.Join(dir, SourceManifest))
	if err != nil {
		return nil, fmt.Errorf("import %s: %w (an EmDash plugin source folder has %s and %s)", dir, err, SourceManifest, SourceEntry)
	}
	var sm sourceManifest
	if err := json.Unmarshal(StripJSONC(raw), &sm); err != nil {
		return nil, &bundle.Error{Problems: manifest.Problems{{File: SourceManifest, Message: "not valid JSONC: " + err.Error()}}}
	}
	if sm.Version == "" {
		// EmDash takes the version from package.json when the manifest
		// has none.
		var pkg struct {
			Version string `json:"version"`
		}
		if b, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil && json.Unmarshal(b, &pkg) == nil {
			sm.Version = pkg.Version
		}
	}
	backend, err := bundleSource(ctx, dir)
	if err != nil {
		return nil, err
	}
	probed, err := Probe(ctx, backend)
	if err != nil {
		return nil, err
	}
	wire := map[string]json.RawMessage{}
	put := func(k string, v any) {
		b, _ := json.Marshal(v)
		wire[k] = b
	}
	put("id", sm.Slug)
	put("version", sm.Version)
	for k, v := range map[string]json.RawMessage{"capabilities": sm.Capabilities, "allowedHosts": sm.AllowedHosts, "storage": sm.Storage, "admin": sm.Admin} {
		if len(v) > 0 {
			wire[k] = v
		}
	}
	wire["hooks"], wire["routes"] = probed.Hooks, probed.Routes
	if probed.MCP {
		put("mcp", map[string]any{"tools": []any{}})
	}
	wireJSON, _ := json.Marshal(wire)
	d := Describe{From: "source", Name: sm.Name, Description: sm.Description, License: sm.License, Homepage: sm.Repo}
	if sm.Author != nil {
		d.Author = sm.Author.Name
	}
	for i, a := range sm.Authors {
		if i > 0 {
			d.Author += ", "
		}
		d.Author += a.Name
	}
	tr, probs := Translate(wireJSON, d)
	if len(probs) > 0 {
		return nil, &bundle.Error{Problems: sourceProblems(probs, probed)}
	}
	files["src/emdash/backend.js"] = backend
	// The author's source, for reference: the Pilcrow build uses the
	// bundled module above, as EmDash's own bundle does.
	err = filepath.WalkDir(filepath.Join(dir, "src"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files["emdash/"+filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	files["emdash/"+SourceManifest] = raw
	if b, err := os.ReadFile(filepath.Join(dir, bundle.ReadmeFile)); err == nil {
		files[bundle.ReadmeFile] = b
	}
	return tr, nil
}

// sourceProblems points problems of the synthetic manifest at the files
// they came from: hooks and routes at the module's default export, the
// rest at emdash-plugin.jsonc.
func sourceProblems(ps manifest.Problems, p *Probed) manifest.Problems {
	out := make(manifest.Problems, len(ps))
	for i, pr := range ps {
		pr.File = SourceManifest
		for _, part := range []struct {
			prefix string
			names  []string
		}{{"/hooks/", p.HookNames}, {"/routes/", p.RouteNames}} {
			if rest, ok := strings.CutPrefix(pr.Path, part.prefix); ok {
				idx, tail, _ := strings.Cut(rest, "/")
				var n int
				if _, err := fmt.Sscan(idx, &n); err == nil && n < len(part.names) {
					pr.File = SourceEntry + " (default export)"
					pr.Path = strings.TrimSuffix(part.prefix, "/") + "/" + part.names[n]
					if tail != "" {
						pr.Path += "/" + tail
					}
				}
			}
		}
		if pr.Path == "/mcp" {
			pr.File = SourceEntry + " (default export)"
		}
		out[i] = pr
	}
	return out
}

// bundleSource bundles src/plugin.ts into one ES module, as EmDash's own
// bundler makes backend.js: everything it imports inside the folder,
// nothing from outside it.
func bundleSource(ctx context.Context, dir string) ([]byte, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	entry := SourceEntry
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(entry))); err != nil {
		entry = "src/plugin.js"
		if _, err2 := os.Stat(filepath.Join(root, filepath.FromSlash(entry))); err2 != nil {
			return nil, fmt.Errorf("import %s: %w (an EmDash plugin source folder has %s)", dir, err, SourceEntry)
		}
	}
	bctx, cerr := api.Context(api.BuildOptions{
		EntryPoints:   []string{entry},
		AbsWorkingDir: root,
		Outfile:       filepath.Join(root, "backend.js"),
		Bundle:        true,
		Write:         false,
		Format:        api.FormatESModule,
		Target:        api.ES2017,
		Platform:      api.PlatformNeutral,
		MainFields:    []string{"browser", "module", "main"},
		Conditions:    []string{"worker", "browser"},
		Charset:       api.CharsetUTF8,
		LogLevel:      api.LogLevelSilent,
		TsconfigRaw:   "{}",
		LegalComments: api.LegalCommentsNone,
	})
	if cerr != nil {
		return nil, fmt.Errorf("import: esbuild: %v", cerr)
	}
	defer bctx.Dispose()
	res := bctx.Rebuild()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(res.Errors) > 0 {
		var ps manifest.Problems
		for _, e := range res.Errors {
			p := manifest.Problem{File: entry, Message: e.Text}
			if e.Location != nil {
				p.File, p.Line, p.Column = e.Location.File, e.Location.Line, e.Location.Column+1
			}
			ps = append(ps, p)
		}
		return nil, &bundle.Error{Problems: ps}
	}
	if len(res.OutputFiles) != 1 {
		return nil, fmt.Errorf("import: esbuild produced %d files, want 1", len(res.OutputFiles))
	}
	return res.OutputFiles[0].Contents, nil
}

// Probed is what a plugin module's default export declares: the hook and
// route entries as EmDash's manifest writes them.
type Probed struct {
	Hooks, Routes         json.RawMessage
	HookNames, RouteNames []string
	MCP                   bool
}

// probeTimeout bounds the module's top-level code, which runs once here.
const probeTimeout = 5 * time.Second

// Probe evaluates an EmDash plugin module (an ES module, converted) in a
// bare goja runtime, with no host APIs and a time limit, and reads its
// default export's hooks and routes: EmDash's own CLI takes them from the
// code the same way. Only a source folder is probed, on the author's
// machine; installs never run plugin code outside the sandbox.
func Probe(ctx context.Context, module []byte) (*Probed, error) {
	res := api.Transform(string(module), api.TransformOptions{
		Format: api.FormatIIFE, GlobalName: "__emdash", Target: api.ES2017, Loader: api.LoaderJS, LogLevel: api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		return nil, fmt.Errorf("import: %s", res.Errors[0].Text)
	}
	rt := goja.New()
	timer := time.AfterFunc(probeTimeout, func() { rt.Interrupt("the module's top-level code ran longer than " + probeTimeout.String()) })
	defer timer.Stop()
	stop := context.AfterFunc(ctx, func() { rt.Interrupt(ctx.Err()) })
	defer stop()
	const read = `(function () {
  var d = globalThis.__emdash && globalThis.__emdash["default"];
  if (!d || typeof d !== "object") throw new TypeError("the module has no default export object { hooks, routes }");
  function opts(e, keys) {
    var o = {};
    if (typeof e !== "object" || e === null) return o;
    for (var i = 0; i < keys.length; i++) if (e[keys[i]] !== undefined) o[keys[i]] = e[keys[i]];
    return o;
  }
  var hooks = [], routes = [];
  var hk = d.hooks ? Object.keys(d.hooks) : [];
  for (var i = 0; i < hk.length; i++) {
    var o = opts(d.hooks[hk[i]], ["priority", "timeout", "exclusive", "errorPolicy"]);
    o.name = hk[i];
    hooks.push(o);
  }
  var rk = d.routes ? Object.keys(d.routes) : [];
  for (var j = 0; j < rk.length; j++) {
    var r = opts(d.routes[rk[j]], ["public", "permission", "cacheControl"]);
    r.name = rk[j];
    routes.push(r);
  }
  var mcp = !!(d.mcp && d.mcp.tools && Object.keys(d.mcp.tools).length);
  return JSON.stringify({ hooks: hooks, routes: routes, mcp: mcp });
})()`
	if _, err := rt.RunString(string(res.Code)); err != nil {
		return nil, fmt.Errorf("import: evaluating the plugin module: %v", err)
	}
	v, err := rt.RunString(read)
	if err != nil {
		return nil, fmt.Errorf("import: reading the default export: %v", err)
	}
	var out struct {
		Hooks  []map[string]any `json:"hooks"`
		Routes []map[string]any `json:"routes"`
		MCP    bool             `json:"mcp"`
	}
	if err := json.Unmarshal([]byte(v.String()), &out); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	p := &Probed{MCP: out.MCP}
	p.Hooks, _ = json.Marshal(out.Hooks)
	p.Routes, _ = json.Marshal(out.Routes)
	for _, h := range out.Hooks {
		p.HookNames = append(p.HookNames, fmt.Sprint(h["name"]))
	}
	for _, r := range out.Routes {
		p.RouteNames = append(p.RouteNames, fmt.Sprint(r["name"]))
	}
	return p, nil
}

// StripJSONC turns JSON with comments and trailing commas (JSONC, as in
// emdash-plugin.jsonc) into JSON, leaving strings untouched.
func StripJSONC(in []byte) []byte {
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(in) && in[j] != '"' {
				if in[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(in) {
				j = len(in) - 1
			}
			out = append(out, in[i:j+1]...)
			i = j
		case c == '/' && i+1 < len(in) && in[i+1] == '/':
			for i < len(in) && in[i] != '\n' {
				i++
			}
			if i < len(in) {
				out = append(out, '\n')
			}
		case c == '/' && i+1 < len(in) && in[i+1] == '*':
			i += 2
			for i+1 < len(in) && !(in[i] == '*' && in[i+1] == '/') {
				i++
			}
			i++
			out = append(out, ' ')
		case c == ',':
			// A comma followed (past blanks and comments) by } or ] is dropped.
			j := i + 1
			for j < len(in) {
				if in[j] == ' ' || in[j] == '\t' || in[j] == '\n' || in[j] == '\r' {
					j++
				} else if in[j] == '/' && j+1 < len(in) && in[j+1] == '/' {
					for j < len(in) && in[j] != '\n' {
						j++
					}
				} else if in[j] == '/' && j+1 < len(in) && in[j+1] == '*' {
					j += 2
					for j+1 < len(in) && !(in[j] == '*' && in[j+1] == '/') {
						j++
					}
					j += 2
				} else {
					break
				}
			}
			if j < len(in) && (in[j] == '}' || in[j] == ']') {
				continue
			}
			out = append(out, c)
		default:
			out = append(out, c)
		}
	}
	return out
}
