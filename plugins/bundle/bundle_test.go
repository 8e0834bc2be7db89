package bundle

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

const goodManifest = `{"id": "demo-plugin", "version": "1.2.3", "name": "Demo", "hooks": ["plugin:install"]}`
const goodScript = `var __pilcrow = {default: {hooks: {"plugin:install": function () {}}}};`

// entry describes one zip entry to build. raw, when set, is written as the entry's
// compressed bytes verbatim with the header fields given, so tests can make
// entries lie about their sizes.
type entry struct {
	name   string
	data   []byte
	mode   fs.FileMode
	method uint16
	header *zip.FileHeader
	raw    []byte
}

func makeZip(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.header != nil {
			w, err := zw.CreateRaw(e.header)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(e.raw); err != nil {
				t.Fatal(err)
			}
			continue
		}
		h := &zip.FileHeader{Name: e.name, Method: e.method}
		if h.Method == 0 {
			h.Method = zip.Deflate
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func good() []entry {
	return []entry{{name: ManifestFile, data: []byte(goodManifest)}, {name: ScriptFile, data: []byte(goodScript)}}
}

func read(data []byte) (*Bundle, error) { return Read(bytes.NewReader(data), int64(len(data))) }

func deflate(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(data)
	fw.Close()
	return buf.Bytes()
}

func pngBytes(t testing.TB, w, h int) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadValid(t *testing.T) {
	icon := pngBytes(t, 64, 64)
	data := makeZip(t, append(good(), entry{name: ReadmeFile, data: []byte("# Demo\n")}, entry{name: IconFile, data: icon, method: zip.Store})...)
	b, err := read(data)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if b.SHA256 != hex.EncodeToString(sum[:]) {
		t.Error("SHA256 is not the archive's hash")
	}
	if b.Manifest == nil || b.Manifest.ID != "demo-plugin" || string(b.Script) != goodScript || string(b.Readme) != "# Demo\n" || !bytes.Equal(b.Icon, icon) {
		t.Errorf("bundle = %+v", b)
	}
	if FileName(b.Manifest) != "demo-plugin-1.2.3.zip" {
		t.Error(FileName(b.Manifest))
	}
}

// TestReadHostile builds each hostile archive in code and checks the exact problem.
func TestReadHostile(t *testing.T) {
	bomb := bytes.Repeat([]byte{0}, 8<<20)
	bombDeflated := deflate(t, bomb)
	tooMany := good()
	for i := 0; i < MaxEntries; i++ {
		tooMany = append(tooMany, entry{name: "x" + strings.Repeat("y", i)})
	}
	for _, tc := range []struct {
		name     string
		data     []byte
		path     string
		fragment string
	}{
		{"not a zip", []byte("PK\x03\x04 definitely not"), "bundle:", "not a zip archive"},
		{"empty file", nil, "bundle:", "not a zip archive"},
		{"too large", make([]byte, MaxCompressed+1), "bundle:", "the limit is 1048576"},
		{"zip slip", makeZip(t, append(good(), entry{name: "../plugin.js", data: []byte("x")})...), "bundle:/../plugin.js", `".." is not allowed`},
		{"nested zip slip", makeZip(t, append(good(), entry{name: "a/../../etc/passwd", data: []byte("x")})...), "bundle:/a/../../etc/passwd", `".." is not allowed`},
		{"absolute path", makeZip(t, append(good(), entry{name: "/etc/passwd", data: []byte("x")})...), "bundle://etc/passwd", "absolute paths"},
		{"drive letter", makeZip(t, append(good(), entry{name: "C:/x", data: []byte("x")})...), "bundle:/C:/x", "absolute paths"},
		{"backslash", makeZip(t, append(good(), entry{name: `..\plugin.js`, data: []byte("x")})...), `bundle:/..\plugin.js`, "backslash"},
		{"symlink", makeZip(t, entry{name: ManifestFile, data: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}, entry{name: ScriptFile, data: []byte(goodScript)}), "bundle:/manifest.json", "links are not allowed"},
		{"named pipe", makeZip(t, append(good(), entry{name: ReadmeFile, mode: fs.ModeNamedPipe | 0o644})...), "bundle:/README.md", "only regular files"},
		{"directory", makeZip(t, append(good(), entry{name: "src/", mode: fs.ModeDir | 0o755})...), "bundle:/src/", "folders are not allowed"},
		{"duplicate", makeZip(t, append(good(), entry{name: ScriptFile, data: []byte("evil()")})...), "bundle:/plugin.js", "duplicate entry"},
		{"case duplicate", makeZip(t, append(good(), entry{name: ReadmeFile, data: []byte("a")}, entry{name: "readme.md", data: []byte("b")})...), "bundle:/readme.md", "only in case"},
		{"wrong case", makeZip(t, append(good(), entry{name: "Icon.PNG", data: []byte("a")})...), "bundle:/Icon.PNG", "rename \"Icon.PNG\" to icon.png"},
		{"unknown file", makeZip(t, append(good(), entry{name: "src/plugin.ts", data: []byte("a")})...), "bundle:/src/plugin.ts", "unexpected file"},
		{"dot segment", makeZip(t, append(good(), entry{name: "./plugin.js", data: []byte("a")})...), "bundle:/./plugin.js", "not clean"},
		{"control char", makeZip(t, append(good(), entry{name: "a\x00b", data: []byte("a")})...), `bundle:/a\x00b`, "control characters"},
		{"missing manifest", makeZip(t, entry{name: ScriptFile, data: []byte(goodScript)}), "bundle:/manifest.json", "missing manifest.json"},
		{"missing script", makeZip(t, entry{name: ManifestFile, data: []byte(goodManifest)}), "bundle:/plugin.js", "missing plugin.js"},
		{"empty zip", makeZip(t), "bundle:/manifest.json", "missing manifest.json"},
		{"too many entries", makeZip(t, tooMany...), "bundle:", "entries; the limit is 64"},
		{"declared bomb", makeZip(t, good()[0], entry{header: &zip.FileHeader{Name: ScriptFile, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(bomb), CompressedSize64: uint64(len(bombDeflated)), UncompressedSize64: uint64(len(bomb))}, raw: bombDeflated}),
			"bundle:/plugin.js", "declares 8388608 bytes; the limit is 4194304"},
		{"zip64 declared bomb", makeZip(t, good()[0], entry{header: &zip.FileHeader{Name: ScriptFile, Method: zip.Deflate, CompressedSize64: uint64(len(bombDeflated)), UncompressedSize64: 1 << 40}, raw: bombDeflated}),
			"bundle:/plugin.js", "declares 1099511627776 bytes"},
		{"lying bomb", makeZip(t, good()[0], entry{header: &zip.FileHeader{Name: ScriptFile, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(bomb), CompressedSize64: uint64(len(bombDeflated)), UncompressedSize64: 100}, raw: bombDeflated}),
			"bundle:/plugin.js", "more than the 100 bytes it declares"},
		{"sum over cap", makeZip(t, good()[0], entry{name: ScriptFile, data: bytes.Repeat([]byte("a"), 4<<20-100)}, entry{name: ReadmeFile, data: bytes.Repeat([]byte("b"), 200)}),
			"bundle:", "add up to"},
		{"bad checksum", makeZip(t, good()[0], entry{header: &zip.FileHeader{Name: ScriptFile, Method: zip.Store, CRC32: 1, CompressedSize64: uint64(len(goodScript)), UncompressedSize64: uint64(len(goodScript))}, raw: []byte(goodScript)}),
			"bundle:/plugin.js", "checksum mismatch"},
		{"short entry", makeZip(t, good()[0], entry{header: &zip.FileHeader{Name: ScriptFile, Method: zip.Store, CRC32: crc32.ChecksumIEEE([]byte(goodScript)), CompressedSize64: uint64(len(goodScript)), UncompressedSize64: uint64(len(goodScript)) + 10}, raw: []byte(goodScript)}),
			"bundle:/plugin.js", "corrupt"},
		{"encrypted", makeZip(t, good()[0], entry{header: &zip.FileHeader{Name: ScriptFile, Method: zip.Store, Flags: 1, CompressedSize64: 3, UncompressedSize64: 3}, raw: []byte("abc")}),
			"bundle:/plugin.js", "encrypted"},
		{"unknown method", makeZip(t, good()[0], entry{header: &zip.FileHeader{Name: ScriptFile, Method: 99, CompressedSize64: 3, UncompressedSize64: 3}, raw: []byte("abc")}),
			"bundle:/plugin.js", "compression method 99"},
		{"empty script", makeZip(t, good()[0], entry{name: ScriptFile, data: []byte(" \n")}), "bundle:/plugin.js", "plugin.js is empty"},
		{"binary script", makeZip(t, good()[0], entry{name: ScriptFile, data: []byte("\xff\xfe")}), "bundle:/plugin.js", "not valid UTF-8"},
		{"icon not png", makeZip(t, append(good(), entry{name: IconFile, data: []byte("GIF89a")})...), "bundle:/icon.png", "not a PNG"},
		{"icon too big", makeZip(t, append(good(), entry{name: IconFile, data: pngBytes(t, 2000, 10)})...), "bundle:/icon.png", "2000×10"},
		{"readme too big", makeZip(t, append(good(), entry{name: ReadmeFile, data: bytes.Repeat([]byte("a"), MaxReadme+1)})...), "bundle:/README.md", "the limit is 262144"},
		{"invalid manifest", makeZip(t, entry{name: ManifestFile, data: []byte("{\n  \"id\": \"demo-plugin\",\n  \"version\": \"1\", \"name\": \"D\"}")}, good()[1]), "/version", "not a semantic version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := read(tc.data)
			if err == nil {
				t.Fatalf("accepted: %+v", b)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			var probs manifest.Problems
			if !errors.As(err, &probs) {
				t.Fatalf("error %T carries no problems", err)
			}
			for _, p := range probs {
				if p.Path == tc.path && strings.Contains(p.Message, tc.fragment) {
					return
				}
			}
			t.Errorf("want problem %s %q, got:\n%v", tc.path, tc.fragment, probs)
		})
	}
}

func TestReadManifestProblemsKeepPositions(t *testing.T) {
	data := makeZip(t, entry{name: ManifestFile, data: []byte("{\n  \"id\": \"demo-plugin\",\n  \"version\": \"1\", \"name\": \"D\"}")}, good()[1])
	_, err := read(data)
	var probs manifest.Problems
	if !errors.As(err, &probs) || len(probs) != 1 {
		t.Fatalf("err = %v", err)
	}
	if p := probs[0]; p.File != "manifest.json" || p.Line != 3 || p.Column != 14 {
		t.Errorf("problem = %+v", p)
	}
	if !strings.Contains(err.Error(), "manifest.json:3:14: /version:") {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestReadReportsEveryEntryProblem(t *testing.T) {
	data := makeZip(t, entry{name: "/abs"}, entry{name: "../up"}, entry{name: "extra.txt"}, entry{name: ScriptFile, data: []byte(goodScript)})
	_, err := read(data)
	var probs manifest.Problems
	if !errors.As(err, &probs) {
		t.Fatal(err)
	}
	if len(probs) != 4 { // three bad entries and the missing manifest
		t.Errorf("problems:\n%v", probs)
	}
}

func TestWriteDeterministicRoundTrip(t *testing.T) {
	in := &Bundle{ManifestJSON: []byte(goodManifest), Script: []byte(goodScript), Readme: []byte("# Demo"), Icon: pngBytes(t, 16, 16)}
	var a, b bytes.Buffer
	sumA, err := Write(&a, in)
	if err != nil {
		t.Fatal(err)
	}
	sumB, err := Write(&b, in)
	if err != nil {
		t.Fatal(err)
	}
	if sumA != sumB || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same input gave different bundles")
	}
	out, err := read(a.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if out.SHA256 != sumA {
		t.Errorf("Read hash %s != Write hash %s", out.SHA256, sumA)
	}
	if !bytes.Equal(out.ManifestJSON, in.ManifestJSON) || !bytes.Equal(out.Script, in.Script) || !bytes.Equal(out.Readme, in.Readme) || !bytes.Equal(out.Icon, in.Icon) {
		t.Error("round trip changed the files")
	}
	zr, _ := zip.NewReader(bytes.NewReader(a.Bytes()), int64(a.Len()))
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "README.md,icon.png,manifest.json,plugin.js" {
		t.Errorf("entry order = %s", got)
	}
	// Optional files stay optional.
	var c bytes.Buffer
	if _, err := Write(&c, &Bundle{ManifestJSON: []byte(goodManifest), Script: []byte(goodScript)}); err != nil {
		t.Fatal(err)
	}
	if out, err := read(c.Bytes()); err != nil || out.Readme != nil || out.Icon != nil {
		t.Errorf("minimal bundle: %v %+v", err, out)
	}
}

func TestWriteRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    *Bundle
		frag string
	}{
		{"nil", nil, "no bundle"},
		{"no manifest", &Bundle{Script: []byte(goodScript)}, "missing manifest.json"},
		{"bad manifest", &Bundle{ManifestJSON: []byte(`{"id": "x"}`), Script: []byte(goodScript)}, "missing required key"},
		{"no script", &Bundle{ManifestJSON: []byte(goodManifest)}, "plugin.js is empty"},
		{"too big", &Bundle{ManifestJSON: []byte(goodManifest), Script: bytes.Repeat([]byte("a"), MaxUncompressed+1)}, "the limit is 4194304"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := Write(&buf, tc.b)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.frag) {
				t.Errorf("err = %v, want one containing %q", err, tc.frag)
			}
			if buf.Len() != 0 {
				t.Error("a refused bundle must write nothing")
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "demo.zip")
	if err := os.WriteFile(p, makeZip(t, good()...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(p); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.zip")); err == nil || errors.Is(err, ErrInvalid) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ReadFile(dir); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("directory: %v", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add(makeZip(f, good()...))
	f.Add(makeZip(f, append(good(), entry{name: ReadmeFile, data: []byte("# hi")}, entry{name: IconFile, data: pngBytes(f, 4, 4)})...))
	f.Add(makeZip(f, entry{name: "../x", data: []byte("x")}, entry{name: ScriptFile, data: []byte("y"), method: zip.Store}))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := read(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("in-memory read failed with a non-bundle error: %v", err)
			}
			return
		}
		if b.Manifest == nil || len(bytes.TrimSpace(b.Script)) == 0 {
			t.Fatalf("accepted bundle without manifest or script")
		}
		if n := len(b.ManifestJSON) + len(b.Script) + len(b.Readme) + len(b.Icon); n > MaxUncompressed {
			t.Fatalf("accepted %d uncompressed bytes", n)
		}
		var buf bytes.Buffer
		if _, err := Write(&buf, b); err != nil {
			t.Fatalf("accepted bundle cannot be rewritten: %v", err)
		}
		again, err := read(buf.Bytes())
		if err != nil || !bytes.Equal(again.Script, b.Script) || !bytes.Equal(again.ManifestJSON, b.ManifestJSON) {
			t.Fatalf("rewritten bundle differs: %v", err)
		}
	})
}

func BenchmarkRead(b *testing.B) {
	data := makeZip(b, good()...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := read(data); err != nil {
			b.Fatal(err)
		}
	}
}
