package bundle

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// modTime is the timestamp of every entry. A fixed time (the zip epoch) makes the
// archive, and so its SHA-256, depend only on the files' contents.
var modTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Write writes b as a bundle and returns the archive's hex SHA-256. The output is
// deterministic: entries in a fixed order, fixed timestamps and modes, so the same
// files always give the same bytes. Write refuses (with an *Error) what Read would
// refuse: an invalid manifest, a missing or empty script, files over the caps.
func Write(w io.Writer, b *Bundle) (string, error) {
	if b == nil {
		return "", invalid(problem("bundle:", "no bundle"))
	}
	var probs []manifest.Problem
	if b.ManifestJSON == nil {
		probs = append(probs, problem(entryPath(ManifestFile), "missing "+ManifestFile))
	} else if _, mp := manifest.Parse(b.ManifestJSON); mp != nil {
		probs = append(probs, mp...)
	}
	if len(bytes.TrimSpace(b.Script)) == 0 {
		probs = append(probs, problem(entryPath(ScriptFile), "plugin.js is empty"))
	}
	// Sorted by name (byte order), the order Read's tests and humans see.
	entries := []struct {
		name string
		data []byte
	}{
		{ReadmeFile, b.Readme},
		{IconFile, b.Icon},
		{ManifestFile, b.ManifestJSON},
		{ScriptFile, b.Script},
	}
	var total uint64
	for _, e := range entries {
		if e.data == nil {
			continue
		}
		if n := uint64(len(e.data)); n > allowed[e.name] {
			probs = append(probs, problem(entryPath(e.name), fmt.Sprintf("%s is %d bytes; the limit is %d", e.name, n, allowed[e.name])))
		}
		total += uint64(len(e.data))
	}
	if total > MaxUncompressed {
		probs = append(probs, problem("bundle:", fmt.Sprintf("the files add up to %d bytes; the limit is %d (4 MiB)", total, MaxUncompressed)))
	}
	if len(probs) > 0 {
		return "", invalid(probs...)
	}

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.data == nil {
			continue
		}
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: modTime}
		h.SetMode(0o644)
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return "", fmt.Errorf("bundle: write %s: %w", e.name, err)
		}
		if _, err := fw.Write(e.data); err != nil {
			return "", fmt.Errorf("bundle: write %s: %w", e.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("bundle: write: %w", err)
	}
	if buf.Len() > MaxCompressed {
		return "", invalid(problem("bundle:", fmt.Sprintf("the bundle would be %d bytes; the limit is %d (1 MiB)", buf.Len(), MaxCompressed)))
	}
	sum := sha256.Sum256(buf.Bytes())
	if _, err := w.Write(buf.Bytes()); err != nil {
		return "", fmt.Errorf("bundle: write: %w", err)
	}
	return hex.EncodeToString(sum[:]), nil
}
