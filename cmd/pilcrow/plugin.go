package main

import (
	"context"
	"fmt"
	"io"
)

// runPlugin dispatches the plugin author commands.
func runPlugin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pilcrow plugin: not built into this binary yet")
	return 2
}
