package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/storage"
)

const secretsUsage = `Usage: pilcrow secrets rotate [--data DIR] [--database URL]

Re-seals every stored secret (plugins' secret settings, webhooks' signing
secrets) with the current key, PILCROW_SECRET_KEY, so the keys listed in
PILCROW_PREVIOUS_SECRET_KEYS can be retired. Safe while the site serves; run it
with the same environment as the server, after every node has the new key.
It exits 1 if a value does not open with any configured key (each is named).

Flags:
`

func runSecrets(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "rotate" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stdout, secretsUsage)
			return 0
		}
		fmt.Fprint(stderr, "pilcrow secrets: expected \"rotate\"\n\n"+secretsUsage)
		return 2
	}
	fs := flag.NewFlagSet("pilcrow secrets rotate", flag.ContinueOnError)
	data := fs.String("data", "./pilcrow-data", "the site's data folder")
	database := fs.String("database", "", "the site's database, as pilcrow serve --database (default: sqlite under --data)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), secretsUsage); fs.PrintDefaults() }
	if code := parseFlags(fs, args[1:], stderr, true); code >= 0 {
		return code
	}
	if *database != "" {
		if _, err := storage.ParseDatabase(*database); err != nil {
			fmt.Fprintf(stderr, "pilcrow secrets rotate: --database: %v\n", err)
			return 2
		}
	}
	// On a cluster's database, seal with the nodes' key, never a key file.
	if err := site.CheckClusterKey(*database); err != nil {
		fmt.Fprintf(stderr, "pilcrow secrets rotate: %v\n", err)
		return 2
	}
	st, err := site.Open(ctx, site.Config{DataDir: *data, Database: *database})
	if err != nil {
		fmt.Fprintf(stderr, "pilcrow secrets rotate: %v\n", err)
		return 1
	}
	defer st.Close()
	r, err := st.ResealSecrets(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "pilcrow secrets rotate: %v\n", err)
		return 1
	}
	id := st.SecretKeyID()
	if id == "" {
		id = "the key without id"
	}
	fmt.Fprintf(stdout, "%d secrets moved to key %s, %d already under it\n", r.Moved, id, r.Current)
	for _, f := range r.Failed {
		fmt.Fprintf(stderr, "pilcrow secrets rotate: %s\n", f)
	}
	if len(r.Failed) > 0 {
		fmt.Fprintf(stderr, "pilcrow secrets rotate: %d secrets did not open with any configured key; keep the old keys until they do\n", len(r.Failed))
		return 1
	}
	return 0
}
