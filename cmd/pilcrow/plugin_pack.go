package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
)

const packUsage = `Usage: pilcrow plugin pack DIR [-o FILE]

Validates the plugin folder DIR (everything "pilcrow plugin validate" checks),
builds it, and writes the bundle a site admin uploads: a .zip holding
manifest.json, plugin.js, and README.md and icon.png when DIR has them.
It prints the bundle's path and SHA-256, and refuses to pack an invalid
plugin (printing every problem). The output is deterministic: the same
sources give the same bytes.

Exit status: 0 packed, 1 invalid plugin, 2 usage or I/O error.

Flags:
`

func runPluginPack(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pilcrow plugin pack", flag.ContinueOnError)
	out := fs.String("o", "", "output file (default DIR/<id>-<version>.zip)")
	setUsage(fs, packUsage)
	pos, code := parseArgs(fs, args, stderr, 1)
	if code >= 0 {
		return code
	}
	dir := pos[0]
	if kind, err := statPath(dir); err == nil && kind != pathFolder {
		fmt.Fprintf(stderr, "pilcrow plugin pack: %s is not a folder; pack builds a bundle from a plugin folder\n", dir)
		return 2
	}
	l, code := validatePlugin(ctx, dir, progress{w: stderr, name: "pack"}, authoring.Options{}, stderr)
	if code >= 0 {
		return code
	}
	printDiagnostics(stderr, l.diags)
	if !l.valid() {
		fmt.Fprintf(stderr, "pilcrow plugin pack: not packing %s: the plugin is invalid\n", dir)
		return 1
	}

	b := &bundle.Bundle{ManifestJSON: l.manifestJSON, Script: l.script}
	var err error
	if b.Readme, err = readOptional(filepath.Join(dir, bundle.ReadmeFile)); err != nil {
		fmt.Fprintf(stderr, "pilcrow plugin pack: %v\n", err)
		return 2
	}
	if b.Icon, err = readOptional(filepath.Join(dir, bundle.IconFile)); err != nil {
		fmt.Fprintf(stderr, "pilcrow plugin pack: %v\n", err)
		return 2
	}
	var zip bytes.Buffer
	sum, err := bundle.Write(&zip, b)
	var be *bundle.Error
	switch {
	case errors.As(err, &be):
		// Over a cap, or a README or icon the bundle rules refuse.
		printDiagnostics(stderr, fromProblems(be.Problems))
		fmt.Fprintf(stderr, "pilcrow plugin pack: not packing %s: the bundle would be invalid\n", dir)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "pilcrow plugin pack: %v\n", err)
		return 2
	}
	target := *out
	if target == "" {
		target = filepath.Join(dir, bundle.FileName(l.manifest))
	}
	if err := writeFileAtomic(target, zip.Bytes()); err != nil {
		fmt.Fprintf(stderr, "pilcrow plugin pack: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "packed %s → %s (%s)\nsha256 %s\n", l.manifest, relPath(target), humanBytes(int64(zip.Len())), sum)
	return 0
}

// readOptional reads a file that may be absent (nil, nil), capped so a huge
// stray file is not read whole only for bundle.Write to refuse it.
func readOptional(name string) ([]byte, error) {
	data, err := readLimited(name, bundle.MaxUncompressed+1)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}
