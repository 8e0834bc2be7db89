// Package bundle reads and writes plugin bundles: .zip files holding manifest.json,
// the built plugin.js and optionally README.md and icon.png (SPEC §5). The same
// reader runs in `pilcrow plugin validate` and at install, so both report the same
// problems.
//
// Bundles are untrusted. Read refuses, before inflating anything, archives over the
// size or entry caps, entries with absolute or parent ("..") paths, backslashes,
// links or other non-regular files, duplicate names (also ones differing only in
// case) and any file outside the four allowed names; while inflating it never reads
// more than an entry declares, so a zip bomb costs at most the declared sizes.
package bundle

import (
	"errors"
	"strings"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// Caps on one bundle.
const (
	MaxCompressed   = 1 << 20 // size of the .zip file
	MaxUncompressed = 4 << 20 // sum of the inflated entries
	MaxEntries      = 64
	// MaxReadme and MaxIcon cap the optional files; manifest.json is capped by
	// manifest.MaxSize and plugin.js only by MaxUncompressed.
	MaxReadme = 256 << 10
	MaxIcon   = 256 << 10
	// MaxIconSide is the largest width or height of icon.png, in pixels.
	MaxIconSide = 1024
)

// The files a bundle may hold. Names are case-sensitive and at the archive's root.
const (
	ManifestFile = "manifest.json"
	ScriptFile   = "plugin.js"
	ReadmeFile   = "README.md"
	IconFile     = "icon.png"
)

// allowed maps each allowed name to its size cap.
var allowed = map[string]uint64{
	ManifestFile: manifest.MaxSize,
	ScriptFile:   MaxUncompressed,
	ReadmeFile:   MaxReadme,
	IconFile:     MaxIcon,
}

// ErrInvalid is matched (errors.Is) by every error that describes a bad bundle, as
// opposed to an I/O failure while reading one.
var ErrInvalid = errors.New("invalid plugin bundle")

// Bundle is the content of a plugin bundle.
type Bundle struct {
	// Manifest is the parsed manifest.json; Read sets it, Write ignores it.
	Manifest     *manifest.Manifest
	ManifestJSON []byte
	// Script is the built plugin.js the sandbox runs.
	Script []byte
	// Readme and Icon are nil when the bundle has none.
	Readme []byte
	Icon   []byte
	// SHA256 is the hex SHA-256 of the .zip file as read; Read sets it.
	SHA256 string
}

// Error lists every problem with a bundle: its structure (paths "bundle:/NAME", or
// "bundle:" for the archive as a whole) and its manifest (JSON pointers with
// File "manifest.json" and line:column).
type Error struct {
	Problems manifest.Problems
}

func (e *Error) Error() string {
	return "invalid plugin bundle:\n" + e.Problems.Error()
}

// Unwrap lets errors.Is(err, ErrInvalid) and errors.As(err, &manifest.Problems{})
// both work.
func (e *Error) Unwrap() []error { return []error{ErrInvalid, e.Problems} }

// FileName returns the conventional bundle file name, "<id>-<version>.zip".
func FileName(m *manifest.Manifest) string {
	return m.ID + "-" + m.Version + ".zip"
}

func entryPath(name string) string {
	if strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\uFFFD' }) {
		return "bundle:/" + strings.Trim(quoteName(name), `"`)
	}
	return "bundle:/" + name
}

func problem(path, msg string) manifest.Problem {
	return manifest.Problem{Path: path, Message: msg}
}
