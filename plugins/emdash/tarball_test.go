package emdash_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash/emdashtest"
)

type entry = emdashtest.Entry

// TestReadTarballSafety: the .tar.gz gets the rules of a .zip bundle.
func TestReadTarballSafety(t *testing.T) {
	m, backend := emdashtest.NotesFiles(t, nil)
	ok := []entry{{Name: "manifest.json", Body: m}, {Name: "backend.js", Body: backend}}
	with := func(extra ...entry) []entry { return append(append([]entry{}, ok...), extra...) }
	many := with()
	for i := range 70 {
		many = append(many, entry{Name: "screenshots/" + strings.Repeat("s", i+1) + ".png", Body: []byte("x")})
	}
	cases := []struct {
		name    string
		entries []entry
		data    []byte
		path    string
		says    string
	}{
		{name: "symlink", entries: with(entry{Name: "README.md", Type: tar.TypeSymlink, Linkname: "/etc/passwd"}), path: "bundle:/README.md", says: "links are not allowed"},
		{name: "hard link", entries: with(entry{Name: "icon.png", Type: tar.TypeLink, Linkname: "backend.js"}), path: "bundle:/icon.png", says: "links are not allowed"},
		{name: "fifo", entries: with(entry{Name: "README.md", Type: tar.TypeFifo}), path: "bundle:/README.md", says: "only regular files"},
		{name: "dotdot", entries: with(entry{Name: "../evil.js", Body: []byte("x")}), path: "bundle:/../evil.js", says: `".." is not allowed`},
		{name: "absolute", entries: with(entry{Name: "/etc/cron.d/x", Body: []byte("x")}), path: "bundle://etc/cron.d/x", says: "absolute paths"},
		{name: "backslash", entries: with(entry{Name: `a\b`, Body: []byte("x")}), path: `bundle:/a\b`, says: "backslash"},
		{name: "control", entries: with(entry{Name: "a\x01b", Body: []byte("x")}), path: `bundle:/a\x01b`, says: "control characters"},
		{name: "unclean", entries: with(entry{Name: "a/./b", Body: []byte("x")}), path: "bundle:/a/./b", says: "not clean"},
		{name: "unexpected", entries: with(entry{Name: "server.js", Body: []byte("x")}), path: "bundle:/server.js", says: "unexpected file"},
		{name: "folder", entries: with(entry{Name: "lib/", Type: tar.TypeDir}), path: "bundle:/lib/", says: "unexpected folder"},
		{name: "duplicate", entries: with(entry{Name: "./backend.js", Body: backend}), path: "bundle:/backend.js", says: "duplicate"},
		{name: "admin.js", entries: with(entry{Name: "admin.js", Body: []byte("export default {}")}), path: "bundle:/admin.js", says: "native-only"},
		{name: "no backend", entries: []entry{{Name: "manifest.json", Body: m}}, path: "bundle:/backend.js", says: "missing backend.js"},
		{name: "no manifest", entries: []entry{{Name: "backend.js", Body: backend}}, path: "bundle:/manifest.json", says: "missing manifest.json"},
		{name: "empty backend", entries: []entry{{Name: "manifest.json", Body: m}, {Name: "backend.js", Body: []byte("  \n")}}, path: "bundle:/backend.js", says: "empty"},
		{name: "big readme", entries: with(entry{Name: "README.md", Body: bytes.Repeat([]byte("a"), bundle.MaxReadme+1)}), path: "bundle:/README.md", says: "the limit is"},
		{name: "entries", entries: many, path: "bundle:", says: "more than 64 entries"},
		{name: "bomb", entries: with(entry{Name: "screenshots/big.png", Body: make([]byte, bundle.MaxUncompressed+1)}), path: "bundle:", says: "4 MiB"},
		{name: "not gzip", data: []byte{0x1f, 0x8b, 0, 1, 2}, path: "bundle:", says: "not a gzip"},
		{name: "too big", data: append([]byte{0x1f, 0x8b}, make([]byte, bundle.MaxCompressed)...), path: "bundle:", says: "1 MiB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := c.data
			if data == nil {
				data = emdashtest.Tarball(t, c.entries...)
			}
			_, err := emdash.ReadTarball(data)
			var be *bundle.Error
			if !errors.As(err, &be) || !errors.Is(err, bundle.ErrInvalid) {
				t.Fatalf("err = %v, want a bundle error", err)
			}
			found := false
			for _, p := range be.Problems {
				if p.Path == c.path && strings.Contains(p.Message, c.says) {
					found = true
				}
			}
			if !found {
				t.Fatalf("problems %v; want one at %s saying %q", be.Problems, c.path, c.says)
			}
		})
	}
	// What EmDash's CLI writes: "./" entries, a README, screenshots.
	f, err := emdash.ReadTarball(emdashtest.Tarball(t, with(entry{Name: "./", Type: tar.TypeDir}, entry{Name: "screenshots/", Type: tar.TypeDir},
		entry{Name: "./screenshots/a.png", Body: []byte("png")}, entry{Name: "./README.md", Body: []byte("# hi")})...))
	if err != nil || string(f.Readme) != "# hi" || len(f.Backend) == 0 {
		t.Fatalf("good bundle: %v", err)
	}
}

// TestConvert: the bundle becomes a Pilcrow .zip that reads back, byte for
// byte the same each time (versions are immutable by their SHA-256).
func TestConvert(t *testing.T) {
	tgz := emdashtest.Notes(t)
	a, tr, err := emdash.Convert(context.Background(), tgz)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := emdash.Convert(context.Background(), tgz)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("conversion is not deterministic (%v)", err)
	}
	read, err := bundle.Read(bytes.NewReader(a), int64(len(a)))
	if err != nil {
		t.Fatal(err)
	}
	if read.Manifest.ID != tr.Manifest.ID || !strings.Contains(string(read.Readme), "EmDash notes") ||
		!strings.Contains(string(read.Script), "__pilcrow") {
		t.Fatalf("read back %s", read.Manifest)
	}
	// backend.js must be one module: an import is refused with its position.
	m, _ := emdashtest.NotesFiles(t, nil)
	bad := emdashtest.Tarball(t, entry{Name: "manifest.json", Body: m}, entry{Name: "backend.js", Body: []byte("import x from \"lodash\";\nexport default x;\n")})
	_, _, err = emdash.Convert(context.Background(), bad)
	var be *bundle.Error
	if !errors.As(err, &be) || be.Problems[0].File != "backend.js" || be.Problems[0].Line != 1 || !strings.Contains(be.Problems[0].Message, "self-contained") {
		t.Fatalf("import: %v", err)
	}
	// A refused manifest is refused before anything is built.
	refused := emdashtest.Tarball(t, entry{Name: "manifest.json", Body: []byte(`{"id":"x-y","version":"1.0.0","capabilities":["taxonomies:read"],"allowedHosts":[],"storage":{},"hooks":[],"routes":[],"admin":{}}`)},
		entry{Name: "backend.js", Body: []byte("export default {}")})
	if _, _, err = emdash.Convert(context.Background(), refused); !errors.As(err, &be) || be.Problems[0].Path != "/capabilities/0" {
		t.Fatalf("refused: %v", err)
	}
}
