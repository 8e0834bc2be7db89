package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash"
)

const importUsage = `Usage: pilcrow plugin import SRC -o DIR

Turns an EmDash plugin into a Pilcrow plugin folder DIR (created; it must be
empty): SRC is an EmDash sandboxed bundle (.tar.gz with manifest.json and
backend.js) or an EmDash plugin source folder (emdash-plugin.jsonc and
src/plugin.ts). The manifest is translated; the plugin module runs behind
Pilcrow's adapter, which gives it EmDash's ctx, events, routes and Block Kit.
What Pilcrow cannot honour is listed, one problem per feature, and nothing
is written. A source folder's module is evaluated once, without host APIs,
to read its hooks and routes. See docs/emdash.md.

Flags:
`

func runPluginImport(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pilcrow plugin import", flag.ContinueOnError)
	out := fs.String("o", "", "the Pilcrow plugin folder to write (required)")
	setUsage(fs, importUsage)
	pos, code := parseArgs(fs, args, stderr, 1)
	if code >= 0 {
		return code
	}
	if *out == "" {
		fmt.Fprintf(stderr, "pilcrow plugin import: -o DIR is required\n\n")
		fs.Usage()
		return 2
	}
	im, err := emdash.Import(ctx, pos[0], *out)
	var be *bundle.Error
	switch {
	case errors.As(err, &be):
		fmt.Fprintf(stderr, "pilcrow plugin import: %s cannot be honoured as it is (%d problems):\n", pos[0], len(be.Problems))
		for _, p := range be.Problems {
			fmt.Fprintf(stderr, "  %s\n", p)
		}
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "pilcrow plugin import: %v\n", err)
		return 2
	}
	m := im.Translation.Manifest
	fmt.Fprintf(stdout, "imported %s %s as %s (%s)\n", m.Origin.ID, m.Origin.Version, m.ID, *out)
	for _, f := range im.Files {
		fmt.Fprintf(stdout, "  wrote %s\n", f)
	}
	fmt.Fprintf(stdout, `
Next steps:
  pilcrow plugin validate %s
  pilcrow plugin pack %s
`, *out, *out)
	return 0
}
