// Command pilcrow is the Pilcrow CMS: the server, site administration and the
// plugin author's toolbox, in one binary.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pilcrow-cms/pilcrow/sandbox"
)

const usage = `pilcrow — a CMS whose plugins are untrusted by design

Usage:
  pilcrow serve [flags]                 run the CMS
  pilcrow user create --email E --role R add a user (password from stdin or prompt)
  pilcrow secrets rotate                re-seal stored secrets with the current PILCROW_SECRET_KEY
  pilcrow plugin <command> [args]       plugin author tools (init, build, validate, run, pack, types)

Run "pilcrow <command> --help" for a command's flags.
`

// command is one CLI verb. It returns the process exit code.
type command func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int

func commands() map[string]command {
	return map[string]command{
		"serve":   runServe,
		"user":    runUser,
		"secrets": runSecrets,
		"plugin":  runPlugin,
	}
}

func main() {
	// The sandbox re-executes this binary as its worker process; in that
	// mode this call never returns.
	sandbox.MaybeRunWorker()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "pilcrow: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	return cmd(ctx, args[1:], stdin, stdout, stderr)
}
