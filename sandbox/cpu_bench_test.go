package sandbox

import (
	"testing"

	"github.com/pilcrow-cms/pilcrow/internal/cputree"
)

// cpuPerOp reports cpu-ns/op: the CPU time of this process and its workers
// per iteration of the loop that runs after it is called.
func cpuPerOp(b *testing.B) func() {
	start := cputree.Self()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cputree.Self()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
