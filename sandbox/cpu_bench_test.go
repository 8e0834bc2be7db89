package sandbox

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// treeCPU is the user+system CPU time of this process and every process
// below it (the sandbox workers), from /proc: what an invocation costs the
// machine, which wall time hides when the cores are shared.
func treeCPU() time.Duration {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	ticks := map[int]int64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		if len(f) < 13 {
			continue
		}
		parent[pid], _ = strconv.Atoi(f[1])
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks[pid] = u + s
	}
	self := os.Getpid()
	var total int64
	for pid, t := range ticks {
		for p := pid; p > 1; p = parent[p] {
			if p == self {
				total += t
				break
			}
		}
	}
	return time.Duration(total) * 10 * time.Millisecond // USER_HZ = 100
}

// cpuPerOp reports cpu-ns/op: the CPU time of this process and its workers
// per iteration of the loop that runs after it is called.
func cpuPerOp(b *testing.B) func() {
	start := treeCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(treeCPU()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
