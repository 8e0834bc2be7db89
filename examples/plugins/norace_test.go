//go:build !race

package examples

import "github.com/pilcrow-cms/pilcrow/sandbox"

// testSiteLimits are the server's defaults outside race builds.
var testSiteLimits = sandbox.Limits{}
