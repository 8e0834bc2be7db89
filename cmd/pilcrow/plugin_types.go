package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
)

const typesUsage = `Usage: pilcrow plugin types PATH [-o FILE]

Writes pilcrow.d.ts for the plugin at PATH (a plugin folder, its manifest.json,
or a bundle .zip): the ctx it receives holds only the APIs its manifest's
capabilities grant, and its hooks and routes are exactly the declared ones,
so tsc flags an ungranted API or an undeclared hook. Regenerate it after
changing the manifest.

Output: -o FILE, "-" for standard output; by default pilcrow.d.ts next to the
manifest (standard output for a bundle).

Exit status: 0 written, 1 invalid manifest, 2 usage or I/O error.

Flags:
`

func runPluginTypes(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pilcrow plugin types", flag.ContinueOnError)
	out := fs.String("o", "", "output file, \"-\" for standard output (default PATH/pilcrow.d.ts)")
	setUsage(fs, typesUsage)
	pos, code := parseArgs(fs, args, stderr, 1)
	if code >= 0 {
		return code
	}
	path := pos[0]
	m, defaultOut, code := typesManifest(path, stderr)
	if code >= 0 {
		return code
	}
	dts, err := authoring.TypesForManifest(m)
	if err != nil {
		fmt.Fprintf(stderr, "pilcrow plugin types: %v\n", err)
		return 1
	}
	target := *out
	if target == "" {
		target = defaultOut
	}
	if target == "-" {
		if _, err := stdout.Write(dts); err != nil {
			fmt.Fprintf(stderr, "pilcrow plugin types: %v\n", err)
			return 2
		}
		return 0
	}
	if err := writeFileAtomic(target, dts); err != nil {
		fmt.Fprintf(stderr, "pilcrow plugin types: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "wrote %s for %s\n", relPath(target), m)
	return 0
}

// typesManifest reads the manifest PATH names and says where its .d.ts goes
// by default. It returns the exit code to stop with, or -1.
func typesManifest(path string, stderr io.Writer) (*manifest.Manifest, string, int) {
	fail := func(err error) (*manifest.Manifest, string, int) {
		fmt.Fprintf(stderr, "pilcrow plugin types: %v\n", err)
		return nil, "", 2
	}
	kind, err := statPath(path)
	if err != nil {
		return fail(err)
	}
	if kind == pathFile && !strings.EqualFold(filepath.Ext(path), ".json") {
		b, err := bundle.ReadFile(path)
		var be *bundle.Error
		if errors.As(err, &be) {
			printDiagnostics(stderr, fromProblems(be.Problems))
			return nil, "", 1
		}
		if err != nil {
			return fail(err)
		}
		return b.Manifest, "-", -1
	}
	dir := path
	if kind == pathFile {
		dir = filepath.Dir(path)
	}
	var data []byte
	if kind == pathFile {
		data, err = readLimited(path, manifest.MaxSize+1)
	} else {
		data, err = readManifestFile(dir)
	}
	if err != nil {
		return fail(err)
	}
	m, problems := manifest.Parse(data)
	if len(problems) > 0 {
		printDiagnostics(stderr, fromProblems(problems))
		return nil, "", 1
	}
	return m, filepath.Join(dir, "pilcrow.d.ts"), -1
}
