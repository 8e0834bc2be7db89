package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// envName is the environment variable that can set a flag: --media-max-bytes is
// PILCROW_MEDIA_MAX_BYTES.
func envName(flagName string) string {
	return "PILCROW_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args into fs after applying PILCROW_* environment variables,
// so command-line flags win over the environment. It returns the exit code to use
// when parsing should stop the command (help or a usage error), or -1.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, withEnv bool) int {
	fs.SetOutput(stderr)
	if withEnv {
		var envErr error
		fs.VisitAll(func(f *flag.Flag) {
			if v, ok := os.LookupEnv(envName(f.Name)); ok && envErr == nil {
				if err := fs.Set(f.Name, v); err != nil {
					envErr = fmt.Errorf("%s=%q: %w", envName(f.Name), v, err)
				}
			}
		})
		if envErr != nil {
			fmt.Fprintf(stderr, "pilcrow: %v\n", envErr)
			return 2
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	return -1
}

// usageWithEnv prints a flag set's defaults followed by the environment variable
// for each flag.
func usageWithEnv(fs *flag.FlagSet, header string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprint(w, header)
		fs.PrintDefaults()
		fmt.Fprintln(w, "\nEvery flag can also be set in the environment:")
		fs.VisitAll(func(f *flag.Flag) { fmt.Fprintf(w, "  %-28s --%s\n", envName(f.Name), f.Name) })
	}
}
