package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/pilcrow-cms/pilcrow/sandbox"
)

const pluginUsage = `Usage: pilcrow plugin <command> [arguments]

Tools for plugin authors. PATH is a plugin folder (manifest.json and
src/plugin.ts or src/plugin.js) or, where noted, a bundle (.zip).

Commands:
  init DIR        scaffold a working plugin
  build DIR       bundle the plugin's source into one script (dist/plugin.js)
  validate PATH   check a plugin folder or bundle; print every problem
  run PATH        run one hook or route in the sandbox against a local site
  test DIR        run the plugin's tests (test/*.test.ts|js) against a local site
  dev DIR         rebuild and reinstall on every change on a development server
  pack DIR        validate, build and write <id>-<version>.zip with its SHA-256
  types PATH      write pilcrow.d.ts, typing ctx for the manifest's capabilities
  import SRC -o DIR  turn an EmDash plugin (bundle or source folder) into a plugin folder

Exit status: 0 success, 1 the plugin is invalid or failed, 2 usage or I/O error.
Run "pilcrow plugin <command> --help" for a command's flags.
`

// pluginCommands are the `pilcrow plugin` verbs.
func pluginCommands() map[string]command {
	return map[string]command{
		"init":     runPluginInit,
		"build":    runPluginBuild,
		"validate": runPluginValidate,
		"run":      runPluginRun,
		"pack":     runPluginPack,
		"types":    runPluginTypes,
		"import":   runPluginImport,
		"test":     runPluginTest,
		"dev":      runPluginDev,
	}
}

// runPlugin dispatches the plugin author commands.
func runPlugin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, pluginUsage)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, pluginUsage)
		return 0
	}
	cmd, ok := pluginCommands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "pilcrow plugin: unknown command %q\n\n%s", args[0], pluginUsage)
		return 2
	}
	return cmd(ctx, args[1:], stdin, stdout, stderr)
}

// parseArgs parses flags that may come before, between or after the
// positional arguments ("run ./p --hook x" and "run --hook x ./p" both work,
// which the flag package alone does not allow). It returns the positionals and
// the exit code to stop with (help or a usage error), or -1.
func parseArgs(fs *flag.FlagSet, args []string, stderr io.Writer, want int) ([]string, int) {
	var pos []string
	for {
		if code := parseFlags(fs, args, stderr, false); code >= 0 {
			return nil, code
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// The flag package consumes a "--" terminator; everything after it
		// is positional.
		if len(args) >= len(rest)+1 && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != want {
		noun := "argument"
		if want != 1 {
			noun += "s"
		}
		fmt.Fprintf(stderr, "%s: expected %d %s, got %d\n\n", fs.Name(), want, noun, len(pos))
		fs.Usage()
		return nil, 2
	}
	return pos, -1
}

// setUsage gives a flag set a usage text followed by its flags' defaults.
func setUsage(fs *flag.FlagSet, text string) {
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), text)
		fs.PrintDefaults()
	}
}

// multiFlag collects a repeatable flag's values.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// pathKind says what a PATH argument names.
type pathKind int

const (
	pathFolder pathKind = iota
	pathFile
)

// statPath checks that PATH exists and says whether it is a folder or a file.
func statPath(path string) (pathKind, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if st.IsDir() {
		return pathFolder, nil
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s: not a folder or regular file", path)
	}
	return pathFile, nil
}

// newPool starts the one-worker sandbox pool a CLI command needs. Workers
// start in the background, so creating it first overlaps their start-up with
// the build.
func newPool(ctx context.Context, stderr io.Writer) (*sandbox.Pool, error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pool, err := sandbox.NewPool(ctx, sandbox.PoolOptions{Size: 1, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("start the sandbox: %w", err)
	}
	return pool, nil
}

// progress prints "name: message…" lines to w, or nothing when w is nil
// (--json output must stay machine-readable, so progress is muted there).
type progress struct {
	w    io.Writer
	name string
}

func (p progress) step(format string, args ...any) {
	if p.w != nil {
		fmt.Fprintf(p.w, "%s: %s…\n", p.name, fmt.Sprintf(format, args...))
	}
}

// note prints a remark that is not a step in progress.
func (p progress) note(format string, args ...any) {
	if p.w != nil {
		fmt.Fprintf(p.w, "%s: %s\n", p.name, fmt.Sprintf(format, args...))
	}
}

// relPath shows path relative to the working directory when that is shorter,
// so messages print what the user typed rather than a long absolute path.
func relPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, abs); err == nil && len(rel) < len(abs) && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return rel
	}
	return abs
}

// humanBytes formats a byte count for people: "812 B", "3.4 KiB", "1.2 MiB".
func humanBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}
