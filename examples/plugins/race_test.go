//go:build race

package examples

import (
	"time"

	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// testSiteLimits: goja runs about ten times slower under the race detector, so
// real plugins get room that the 50 ms default does not leave them there.
var testSiteLimits = sandbox.Limits{CPU: 2 * time.Second, Wall: 10 * time.Second}
