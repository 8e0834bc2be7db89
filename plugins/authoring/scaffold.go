package authoring

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

//go:embed templates/plugin
var templateFS embed.FS

const templateRoot = "templates/plugin"

// ErrNotEmpty means Scaffold's target folder already holds files.
var ErrNotEmpty = errors.New("folder is not empty")

// ErrInvalidID means no valid plugin id could be made from the input.
var ErrInvalidID = errors.New("invalid plugin id")

// ManifestSchemaURL is the manifest JSON Schema's $id, written as "$schema"
// into scaffolded manifests so editors validate and complete them.
const ManifestSchemaURL = "https://pilcrow-cms.github.io/pilcrow/manifest.schema.json"

// idPattern is the manifest's id rule (SPEC §5).
var idPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,63}$`)

// ScaffoldOptions tune Scaffold. Zero values derive everything from the folder.
type ScaffoldOptions struct {
	// ID overrides the id derived from the folder name; it must match
	// ^[a-z][a-z0-9-]{1,63}$ as given.
	ID string
	// Name is the display name; default: the id in title case.
	Name string
	// Author goes into the manifest's "author" when set.
	Author string
}

// scaffoldManifest fixes the key order of the generated manifest.json.
type scaffoldManifest struct {
	Schema       string          `json:"$schema"`
	ID           string          `json:"id"`
	Version      string          `json:"version"`
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	Author       string          `json:"author,omitempty"`
	Capabilities []string        `json:"capabilities"`
	Hooks        []string        `json:"hooks"`
	Routes       []scaffoldRoute `json:"routes"`
}

type scaffoldRoute struct {
	Name       string `json:"name"`
	Permission string `json:"permission,omitempty"`
}

// Scaffold writes a working plugin into dir (created if missing; refused with
// ErrNotEmpty if it holds anything): manifest.json, src/plugin.ts and a
// helper module, a sample event under test/events, README.md, tsconfig.json,
// .gitignore and pilcrow.d.ts. The result builds, validates and runs as
// generated.
func Scaffold(dir string, opts ScaffoldOptions) error {
	id := opts.ID
	if id == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("scaffold %s: %w", dir, err)
		}
		id = SanitizeID(filepath.Base(abs))
		if !idPattern.MatchString(id) {
			return fmt.Errorf("scaffold %s: %w: cannot derive one from the folder name %q; choose a folder name with at least two letters or digits, starting with a letter", dir, ErrInvalidID, filepath.Base(abs))
		}
	} else if !idPattern.MatchString(id) {
		return fmt.Errorf("scaffold %s: %w %q: it must match ^[a-z][a-z0-9-]{1,63}$", dir, ErrInvalidID, id)
	}
	name := strings.Join(strings.Fields(opts.Name), " ")
	if name == "" {
		name = titleCase(id)
	}

	if err := ensureEmptyDir(dir); err != nil {
		return err
	}

	man := scaffoldManifest{
		Schema:       ManifestSchemaURL,
		ID:           id,
		Version:      "0.1.0",
		Name:         name,
		Description:  "Tidies entry titles and records each entry's reading time.",
		Author:       strings.TrimSpace(opts.Author),
		Capabilities: []string{"content:write"},
		Hooks:        []string{"content:beforeSave"},
		Routes:       []scaffoldRoute{{Name: "reading-time", Permission: "author"}},
	}
	manJSON, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return fmt.Errorf("scaffold %s: encode manifest: %w", dir, err)
	}
	dts, err := Types(TypesInput{
		ID:           id,
		Version:      man.Version,
		Capabilities: man.Capabilities,
		Hooks:        man.Hooks,
		Routes:       []string{"reading-time"},
	})
	if err != nil {
		return fmt.Errorf("scaffold %s: types: %w", dir, err)
	}

	files := map[string][]byte{
		"manifest.json": append(manJSON, '\n'),
		"pilcrow.d.ts":  dts,
	}
	data := struct{ ID, Name string }{ID: id, Name: name}
	if err := renderTemplates(files, data); err != nil {
		return fmt.Errorf("scaffold %s: %w", dir, err)
	}
	for rel, body := range files {
		if err := writeNew(filepath.Join(dir, filepath.FromSlash(rel)), body); err != nil {
			return fmt.Errorf("scaffold %s: %w", dir, err)
		}
	}
	return nil
}

// renderTemplates adds every embedded template file to files: "*.tmpl"
// through text/template (the suffix dropped), others verbatim. "gitignore"
// becomes ".gitignore" because go:embed skips dotfiles.
func renderTemplates(files map[string][]byte, data any) error {
	return fs.WalkDir(templateFS, templateRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := templateFS.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, templateRoot+"/")
		if strings.HasSuffix(rel, ".tmpl") {
			rel = strings.TrimSuffix(rel, ".tmpl")
			t, err := template.New(rel).Option("missingkey=error").Parse(string(body))
			if err != nil {
				return fmt.Errorf("template %s: %w", rel, err)
			}
			var buf bytes.Buffer
			if err := t.Execute(&buf, data); err != nil {
				return fmt.Errorf("template %s: %w", rel, err)
			}
			body = buf.Bytes()
		}
		if path.Base(rel) == "gitignore" {
			rel = path.Join(path.Dir(rel), ".gitignore")
		}
		files[rel] = body
		return nil
	})
}

// ensureEmptyDir creates dir, or accepts it when it exists and is empty.
func ensureEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("scaffold %s: %w", dir, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("scaffold %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("scaffold %s: %w (it holds %s); choose a new or empty folder", dir, ErrNotEmpty, entries[0].Name())
	}
	return nil
}

// writeNew creates p (and its parents) and fails rather than overwrite.
func writeNew(p string, body []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// SanitizeID turns a folder name into a plugin id candidate: lower case,
// runs of anything but letters and digits become one "-", leading
// non-letters and trailing "-" are dropped, and it is cut to 64 characters.
// The result may still be too short to be valid; callers check.
func SanitizeID(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9' && b.Len() > 0:
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	id := b.String()
	if len(id) > 64 {
		id = strings.TrimRight(id[:64], "-")
	}
	return id
}

func titleCase(id string) string {
	words := strings.Split(id, "-")
	for i, w := range words {
		if w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}
