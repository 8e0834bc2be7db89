package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
)

const initUsage = `Usage: pilcrow plugin init DIR [--id ID] [--name NAME] [--author AUTHOR]

Scaffolds a working plugin in DIR (created if missing; it must be empty):
manifest.json, src/plugin.ts and a helper module, a sample event under
test/events, README.md, tsconfig.json and pilcrow.d.ts. The id defaults to
the folder's name, made valid (lower case letters, digits and "-").

Flags:
`

func runPluginInit(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pilcrow plugin init", flag.ContinueOnError)
	id := fs.String("id", "", "the plugin id, ^[a-z][a-z0-9-]{1,63}$ (default: from DIR's name)")
	name := fs.String("name", "", "display name (default: the id in title case)")
	author := fs.String("author", "", "the manifest's author")
	setUsage(fs, initUsage)
	pos, code := parseArgs(fs, args, stderr, 1)
	if code >= 0 {
		return code
	}
	dir := pos[0]
	if err := authoring.Scaffold(dir, authoring.ScaffoldOptions{ID: *id, Name: *name, Author: *author}); err != nil {
		fmt.Fprintf(stderr, "pilcrow plugin init: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, `created a plugin in %s

Next steps:
  cd %s
  pilcrow plugin build .       # bundle src/plugin.ts into dist/plugin.js
  pilcrow plugin validate .    # manifest, build, exported hooks and routes
  pilcrow plugin run . --hook content:beforeSave
  pilcrow plugin test .        # run test/plugin.test.ts
  pilcrow plugin pack .        # write the bundle to install on a site
`, dir, dir)
	return 0
}
