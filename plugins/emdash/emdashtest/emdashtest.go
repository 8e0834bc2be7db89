// Package emdashtest builds EmDash-format fixtures for tests: the sandboxed
// bundle (.tar.gz) of the fixture plugin in plugins/emdash/testdata, and
// tarballs of any files (hostile ones included).
package emdashtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Entry is one tar entry.
type Entry struct {
	Name     string
	Body     []byte
	Type     byte // tar.TypeReg when 0
	Linkname string
}

// Tarball returns a gzip-compressed tar of the entries, in order.
func Tarball(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.Name, Typeflag: typ, Mode: 0o644, Linkname: e.Linkname, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(e.Body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Dir is the folder of the named fixture plugin ("notes", "notes-src",
// "gaps").
func Dir(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", name)
}

// NotesFiles returns the notes fixture's manifest.json (changed by edit, when
// given) and backend.js.
func NotesFiles(t testing.TB, edit func(m map[string]any)) (manifestJSON, backend []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(Dir("notes"), "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		if raw, err = json.MarshalIndent(m, "", "  "); err != nil {
			t.Fatal(err)
		}
	}
	backend, err = os.ReadFile(filepath.Join(Dir("notes"), "backend.js"))
	if err != nil {
		t.Fatal(err)
	}
	return raw, backend
}

// Notes returns the notes fixture as an EmDash sandboxed bundle whose
// allowedHosts is hosts (the tests' loopback servers).
func Notes(t testing.TB, hosts ...string) []byte {
	t.Helper()
	m, backend := NotesFiles(t, nil)
	if len(hosts) > 0 {
		// A textual edit keeps the settings in the order they are written.
		list, _ := json.Marshal(hosts)
		m = bytes.Replace(m, []byte(`["api.example.com", "*.cdn.example.com"]`), list, 1)
	}
	readme, err := os.ReadFile(filepath.Join(Dir("notes"), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return Tarball(t,
		Entry{Name: "./", Type: tar.TypeDir},
		Entry{Name: "./manifest.json", Body: m},
		Entry{Name: "./backend.js", Body: backend},
		Entry{Name: "./README.md", Body: readme},
	)
}

// Bundle returns the named fixture folder (its manifest.json, backend.js and
// README.md) as an EmDash sandboxed bundle, unchanged.
func Bundle(t testing.TB, name string) []byte {
	t.Helper()
	entries := []Entry{{Name: "./", Type: tar.TypeDir}}
	for _, f := range []string{"manifest.json", "backend.js", "README.md"} {
		b, err := os.ReadFile(filepath.Join(Dir(name), f))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, Entry{Name: "./" + f, Body: b})
	}
	return Tarball(t, entries...)
}
