//go:build race

package main

import (
	"time"

	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// goja runs about ten times slower under the race detector: give the plugins
// `plugin run` tests execute room the 50 ms default does not leave them there.
// Tests of the limits themselves lower them in their manifests.
func init() { runSiteLimits = sandbox.Limits{CPU: 2 * time.Second, Wall: 10 * time.Second} }
