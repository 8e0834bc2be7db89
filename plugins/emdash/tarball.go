package emdash

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
)

// The files of an EmDash sandboxed bundle.
const (
	BackendFile = "backend.js"
	AdminFile   = "admin.js"
)

// Files is the content of an EmDash bundle that Pilcrow uses.
type Files struct {
	Manifest []byte
	Backend  []byte
	// Readme and Icon are nil when the bundle has none.
	Readme, Icon []byte
}

// IsTarball reports whether data starts like a gzip stream, which is how an
// EmDash bundle (.tar.gz) is told from a Pilcrow .zip.
func IsTarball(data []byte) bool {
	return len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b
}

// tarLimits are the caps of a Pilcrow .zip, applied to the .tar.gz.
var tarCaps = map[string]uint64{
	ManifestFile:      manifest.MaxSize,
	BackendFile:       bundle.MaxUncompressed,
	bundle.ReadmeFile: bundle.MaxReadme,
	bundle.IconFile:   bundle.MaxIcon,
}

// ReadTarball reads an EmDash bundle with the same safety rules as a Pilcrow
// .zip: at most 1 MiB compressed and 4 MiB inflated, at most 64 entries, safe
// relative paths, no links or special files, nothing unexpected. A bad
// bundle is an *bundle.Error listing every problem.
func ReadTarball(data []byte) (*Files, error) {
	fail := func(ps ...manifest.Problem) (*Files, error) {
		return nil, &bundle.Error{Problems: ps}
	}
	if len(data) > bundle.MaxCompressed {
		return fail(prob("bundle:", "the bundle is %d bytes; the limit is %d (1 MiB)", len(data), bundle.MaxCompressed))
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fail(prob("bundle:", "not a gzip-compressed tar archive: %v", err))
	}
	// The tar stream holds a 512-byte header per entry besides the files;
	// one byte more than that is how a bomb is recognised.
	streamCap := int64(bundle.MaxUncompressed) + int64(bundle.MaxEntries+2)*1024
	lr := &io.LimitedReader{R: zr, N: streamCap + 1}
	tr := tar.NewReader(lr)
	f := &Files{}
	var probs []manifest.Problem
	seen := map[string]bool{}
	var total uint64
	entries := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if lr.N <= 0 {
				return fail(prob("bundle:", "the files add up to more than %d bytes uncompressed; the limit is %d (4 MiB)", bundle.MaxUncompressed, bundle.MaxUncompressed))
			}
			return fail(prob("bundle:", "not a valid tar archive: %v", err))
		}
		entries++
		if entries > bundle.MaxEntries {
			return fail(prob("bundle:", "the bundle has more than %d entries; the limit is %d", bundle.MaxEntries, bundle.MaxEntries))
		}
		name := strings.TrimPrefix(h.Name, "./")
		if reason := unsafeName(h.Name, name); reason != "" {
			probs = append(probs, prob(entryPath(h.Name), "%s", reason))
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if name == "" || name == "screenshots/" {
				continue
			}
			probs = append(probs, prob(entryPath(name), "unexpected folder; an EmDash bundle holds manifest.json, backend.js, README.md, icon.png and screenshots/"))
			continue
		case tar.TypeSymlink, tar.TypeLink:
			probs = append(probs, prob(entryPath(name), "links are not allowed in a bundle"))
			continue
		case tar.TypeReg:
		default:
			probs = append(probs, prob(entryPath(name), "only regular files are allowed in a bundle (this entry is of tar type %q)", string(h.Typeflag)))
			continue
		}
		if seen[strings.ToLower(name)] {
			probs = append(probs, prob(entryPath(name), "duplicate entry %s", strconv.Quote(name)))
			continue
		}
		seen[strings.ToLower(name)] = true
		if h.Size < 0 {
			probs = append(probs, prob(entryPath(name), "negative size"))
			continue
		}
		size := uint64(h.Size)
		total += size
		if total > bundle.MaxUncompressed {
			return fail(prob("bundle:", "the files add up to more than %d bytes uncompressed; the limit is %d (4 MiB)", bundle.MaxUncompressed, bundle.MaxUncompressed))
		}
		if name == AdminFile {
			probs = append(probs, prob(entryPath(name), "admin.js is EmDash's React admin UI, native-only: it would run in the admin's browser with the site's privileges. Pilcrow renders plugin admin screens from the Block Kit answers of the \"admin\" route; rebuild the bundle without admin.js"))
			continue
		}
		if strings.HasPrefix(name, "screenshots/") && !strings.Contains(strings.TrimPrefix(name, "screenshots/"), "/") {
			// Listing images for EmDash's registry; Pilcrow shows none.
			continue
		}
		limit, ok := tarCaps[name]
		if !ok {
			probs = append(probs, prob(entryPath(name), "unexpected file; an EmDash bundle holds manifest.json, backend.js, README.md, icon.png and screenshots/"))
			continue
		}
		if size > limit {
			probs = append(probs, prob(entryPath(name), "%s is %d bytes; the limit is %d", name, size, limit))
			continue
		}
		content, err := io.ReadAll(io.LimitReader(tr, int64(limit)+1))
		if err != nil {
			return fail(prob(entryPath(name), "is corrupt: %v", err))
		}
		switch name {
		case ManifestFile:
			f.Manifest = content
		case BackendFile:
			f.Backend = content
		case bundle.ReadmeFile:
			f.Readme = content
		case bundle.IconFile:
			f.Icon = content
		}
	}
	if f.Manifest == nil && !seen[ManifestFile] {
		probs = append(probs, prob(entryPath(ManifestFile), "missing manifest.json"))
	}
	if f.Backend == nil && !seen[BackendFile] {
		probs = append(probs, prob(entryPath(BackendFile), "missing backend.js"))
	}
	if f.Backend != nil {
		switch {
		case len(bytes.TrimSpace(f.Backend)) == 0:
			probs = append(probs, prob(entryPath(BackendFile), "backend.js is empty"))
		case !utf8.Valid(f.Backend):
			probs = append(probs, prob(entryPath(BackendFile), "backend.js is not valid UTF-8"))
		}
	}
	if f.Readme != nil && !utf8.Valid(f.Readme) {
		probs = append(probs, prob(entryPath(bundle.ReadmeFile), "README.md is not valid UTF-8"))
	}
	if len(probs) > 0 {
		return fail(probs...)
	}
	return f, nil
}

// unsafeName explains why a tar entry name is unsafe, or returns "".
func unsafeName(raw, name string) string {
	switch {
	case raw == "" || name == "" && raw != "./":
		return "entry with an empty name"
	case !utf8.ValidString(raw):
		return "entry name is not valid UTF-8"
	case strings.ContainsFunc(raw, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return "entry name contains control characters"
	case strings.Contains(raw, `\`):
		return "entry name contains a backslash; tar paths use \"/\""
	case strings.HasPrefix(name, "/") || len(name) >= 2 && name[1] == ':':
		return "absolute paths are not allowed in a bundle"
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return "\"..\" is not allowed in a bundle path"
		}
	}
	trimmed := strings.TrimSuffix(name, "/")
	if name != "" && path.Clean(trimmed) != trimmed {
		return "entry path is not clean (\".\" or empty segments)"
	}
	return ""
}

func entryPath(name string) string {
	if strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f || r == utf8.RuneError }) {
		return "bundle:/" + strings.Trim(strconv.QuoteToGraphic(name), `"`)
	}
	return "bundle:/" + name
}

func prob(path, format string, args ...any) manifest.Problem {
	return manifest.Problem{Path: path, Message: fmt.Sprintf(format, args...)}
}
