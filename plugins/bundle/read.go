package bundle

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// ReadFile reads the bundle at path (see Read).
func ReadFile(name string) (*Bundle, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("bundle: %s is not a regular file", name)
	}
	return Read(f, st.Size())
}

// Read reads and validates a bundle of the given size, manifest included. A bad
// bundle yields an *Error listing every problem found (errors.Is(err, ErrInvalid));
// other errors are I/O failures of r.
func Read(r io.ReaderAt, size int64) (*Bundle, error) {
	if size < 0 {
		return nil, fmt.Errorf("bundle: negative size %d", size)
	}
	if size > MaxCompressed {
		return nil, invalid(problem("bundle:", fmt.Sprintf("the bundle is %d bytes; the limit is %d (1 MiB)", size, MaxCompressed)))
	}
	// Reading the (at most 1 MiB) archive into memory once means the hash covers
	// exactly the bytes that are parsed, and a slow ReaderAt is read only once.
	data := make([]byte, size)
	if _, err := r.ReadAt(data, 0); err != nil && !(errors.Is(err, io.EOF) && size == 0) {
		return nil, fmt.Errorf("bundle: read: %w", err)
	}
	sum := sha256.Sum256(data)

	zr, err := zip.NewReader(bytes.NewReader(data), size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		// ErrInsecurePath comes with a usable reader; the path rules below give
		// each bad name its own message.
		return nil, invalid(problem("bundle:", "not a zip archive: "+strings.TrimPrefix(err.Error(), "zip: ")))
	}
	if n := len(zr.File); n > MaxEntries {
		return nil, invalid(problem("bundle:", fmt.Sprintf("the bundle has %d entries; the limit is %d", n, MaxEntries)))
	}

	files, probs := checkEntries(zr.File)
	if len(probs) > 0 {
		return nil, invalid(probs...)
	}
	b := &Bundle{SHA256: hex.EncodeToString(sum[:])}
	for name, f := range files {
		content, p := inflate(f)
		if p != nil {
			probs = append(probs, *p)
			continue
		}
		switch name {
		case ManifestFile:
			b.ManifestJSON = content
		case ScriptFile:
			b.Script = content
		case ReadmeFile:
			b.Readme = content
		case IconFile:
			b.Icon = content
		}
	}
	if len(probs) > 0 {
		return nil, invalid(sortByPath(probs)...)
	}
	probs = append(probs, checkContents(b, files)...)
	if b.ManifestJSON != nil {
		m, mp := manifest.Parse(b.ManifestJSON)
		b.Manifest = m
		probs = append(probs, mp...)
	}
	if len(probs) > 0 {
		return nil, invalid(probs...)
	}
	return b, nil
}

func invalid(ps ...manifest.Problem) error {
	return &Error{Problems: manifest.Problems(ps)}
}

// checkEntries applies the path, type, duplicate and declared-size rules to every
// entry without inflating any. It returns the allowed entries by name.
func checkEntries(entries []*zip.File) (map[string]*zip.File, []manifest.Problem) {
	var probs []manifest.Problem
	add := func(name, format string, args ...any) {
		probs = append(probs, problem(entryPath(name), fmt.Sprintf(format, args...)))
	}
	files := map[string]*zip.File{}
	folded := map[string]string{} // lower-case name -> first spelling
	var total uint64
	for _, f := range entries {
		name := f.Name
		if reason := badName(name); reason != "" {
			add(name, "%s", reason)
			continue
		}
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			add(name, "links are not allowed in a bundle")
			continue
		case mode.IsDir() || strings.HasSuffix(name, "/"):
			add(name, "folders are not allowed in a bundle; put the files at its root")
			continue
		case !mode.IsRegular():
			add(name, "only regular files are allowed in a bundle (this entry is %s)", modeName(mode))
			continue
		}
		if first, dup := folded[strings.ToLower(name)]; dup {
			if first == name {
				add(name, "duplicate entry %s", quoteName(name))
			} else {
				add(name, "entry %s differs from %s only in case", quoteName(name), quoteName(first))
			}
			continue
		}
		folded[strings.ToLower(name)] = name
		limit, ok := allowed[name]
		if !ok {
			if canonical := allowedFold(name); canonical != "" {
				add(name, "file names are case-sensitive: rename %s to %s", quoteName(name), canonical)
			} else {
				add(name, "unexpected file; a bundle holds only manifest.json, plugin.js, README.md and icon.png")
			}
			continue
		}
		if f.Flags&0x1 != 0 {
			add(name, "encrypted entries are not supported")
			continue
		}
		if f.Method != zip.Store && f.Method != zip.Deflate {
			add(name, "compression method %d is not supported; use deflate or store", f.Method)
			continue
		}
		if f.UncompressedSize64 > limit {
			add(name, "%s declares %d bytes; the limit is %d", name, f.UncompressedSize64, limit)
			continue
		}
		total += f.UncompressedSize64
		files[name] = f
	}
	if total > MaxUncompressed {
		probs = append(probs, problem("bundle:", fmt.Sprintf("the files add up to %d bytes uncompressed; the limit is %d (4 MiB)", total, MaxUncompressed)))
	}
	for _, required := range []string{ManifestFile, ScriptFile} {
		if _, ok := files[required]; !ok && folded[required] == "" && !hasProblemFor(probs, required) {
			probs = append(probs, problem(entryPath(required), "missing "+required))
		}
	}
	return files, probs
}

func hasProblemFor(probs []manifest.Problem, name string) bool {
	for _, p := range probs {
		if p.Path == entryPath(name) {
			return true
		}
	}
	return false
}

// badName explains why an entry name is unsafe, or returns "".
func badName(name string) string {
	switch {
	case name == "":
		return "entry with an empty name"
	case !utf8.ValidString(name):
		return "entry name is not valid UTF-8"
	case strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return "entry name contains control characters"
	case strings.Contains(name, `\`):
		return "entry name contains a backslash; zip paths use \"/\""
	case strings.HasPrefix(name, "/") || len(name) >= 2 && name[1] == ':':
		return "absolute paths are not allowed in a bundle"
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return "\"..\" is not allowed in a bundle path"
		}
	}
	if path.Clean(name) != name && !strings.HasSuffix(name, "/") {
		return "entry path is not clean (\".\" or empty segments)"
	}
	return ""
}

func allowedFold(name string) string {
	for a := range allowed {
		if strings.EqualFold(a, name) {
			return a
		}
	}
	return ""
}

func modeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeIrregular != 0:
		return "irregular"
	}
	return "not a plain file"
}

func quoteName(name string) string {
	return strconv.QuoteToGraphic(name)
}

// inflate reads one entry, never more than it declares plus one byte, so a lying
// header cannot make Read inflate more than the caps already allowed.
func inflate(f *zip.File) ([]byte, *manifest.Problem) {
	fail := func(format string, args ...any) ([]byte, *manifest.Problem) {
		p := problem(entryPath(f.Name), fmt.Sprintf(format, args...))
		return nil, &p
	}
	rc, err := f.Open()
	if err != nil {
		return fail("cannot be opened: %v", err)
	}
	defer rc.Close()
	declared := f.UncompressedSize64
	data, err := io.ReadAll(io.LimitReader(rc, int64(declared)+1))
	switch {
	case uint64(len(data)) > declared:
		return fail("inflates to more than the %d bytes it declares", declared)
	// archive/zip itself stops with ErrFormat while reading once an entry passes
	// its declared size (the limit above is a second guard that does not depend on
	// that); a broken data descriptor is the only other cause.
	case errors.Is(err, zip.ErrFormat):
		return fail("is corrupt or inflates to more than the %d bytes it declares", declared)
	case errors.Is(err, zip.ErrChecksum):
		return fail("is corrupt (checksum mismatch)")
	case err != nil:
		return fail("is corrupt: %v", strings.TrimPrefix(err.Error(), "zip: "))
	}
	return data, nil
}

// checkContents applies per-file content rules once everything is inflated.
func checkContents(b *Bundle, files map[string]*zip.File) []manifest.Problem {
	var probs []manifest.Problem
	add := func(name, msg string) { probs = append(probs, problem(entryPath(name), msg)) }
	if _, ok := files[ScriptFile]; ok {
		switch {
		case len(bytes.TrimSpace(b.Script)) == 0:
			add(ScriptFile, "plugin.js is empty")
		case !utf8.Valid(b.Script):
			add(ScriptFile, "plugin.js is not valid UTF-8")
		}
	}
	if b.Readme != nil && !utf8.Valid(b.Readme) {
		add(ReadmeFile, "README.md is not valid UTF-8")
	}
	if _, ok := files[IconFile]; ok {
		cfg, err := png.DecodeConfig(bytes.NewReader(b.Icon))
		switch {
		case err != nil:
			add(IconFile, "icon.png is not a PNG image")
		case cfg.Width > MaxIconSide || cfg.Height > MaxIconSide || cfg.Width < 1 || cfg.Height < 1:
			add(IconFile, fmt.Sprintf("icon.png is %d×%d pixels; at most %d×%d", cfg.Width, cfg.Height, MaxIconSide, MaxIconSide))
		}
	}
	return probs
}

func sortByPath(ps []manifest.Problem) []manifest.Problem {
	slices.SortStableFunc(ps, func(a, b manifest.Problem) int { return strings.Compare(a.Path, b.Path) })
	return ps
}
