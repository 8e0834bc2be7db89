//go:build !race

package sandbox

import "testing"

// TestHostileHugeAllocations: one allocation far beyond the worker's
// address-space limit must fail the invocation naming the memory limit and
// leave the pool working. Race builds run workers without that limit, so this
// test exists only in normal builds; .ci/run runs it without -race.
func TestHostileHugeAllocations(t *testing.T) {
	runHostile(t, func(tc hostileCase) bool { return tc.hugeAlloc })
}
