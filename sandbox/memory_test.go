package sandbox

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMemoryChurnIsNotCharged: garbage is not memory. Plugins that allocate
// far more than their limit in short-lived values, or hold just under it,
// succeed.
func TestMemoryChurnIsNotCharged(t *testing.T) {
	t.Parallel()
	p := testPool(t)
	for _, body := range []string{
		`let n = 0; for (let i = 0; i < 100; i++) n += new Uint8Array(1 << 20).length; return n`,
		`let n = 0; for (let i = 0; i < 200000; i++) n += ("x" + i).repeat(20).length; return n`,
		`let n = 0; for (let i = 0; i < 3; i++) n += new Uint8Array(30 << 20).fill(1).length; return n`,
		`const a = new Uint8Array(40 << 20).fill(7); return a[a.length - 1]`,
	} {
		inv := hookInvocation(body)
		inv.Limits.CPU, inv.Limits.Wall = 5*time.Second*slow, 20*time.Second*slow
		res, err := p.Invoke(context.Background(), inv, nil)
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if res.Usage.AllocBytes < 40<<20 {
			t.Errorf("%s: allocated %d bytes: the test does not churn", body, res.Usage.AllocBytes)
		}
	}
}

// memoryShapes are the allocation patterns whose overshoot
// BenchmarkMemoryOvershoot measures (the hostile cases test their verdicts).
var memoryShapes = []struct{ name, body string }{
	{"typed array 700 MiB", `new Uint8Array(700 << 20); return 1`},
	{"typed array 700 MiB filled", `return new Uint8Array(700 << 20).fill(1).length`},
	{"ArrayBuffer 100 MiB", `return new ArrayBuffer(100 << 20).byteLength`},
	{"typed array 100 MiB held", `const a = new Uint8Array(100 << 20).fill(1); const t = Date.now(); while (Date.now() - t < 100) {} return a.length`},
	{"typed arrays 1 MiB each", `const a = []; for (;;) a.push(new Uint8Array(1 << 20).fill(1))`},
	{"many strings", `const a = []; for (let i = 0; ; i++) a.push("x" + i)`},
	{"big Map", `const m = new Map(); for (let i = 0; ; i++) m.set(i, {i})`},
	{"sparse array", `const a = []; for (let i = 0; ; i += 7) a[i * 1000] = i`},
	{"repeat 200 MiB", `return "x".repeat(200 << 20).length`},
	{"Array(1e8).fill", `return Array(1e8).fill(0).length`},
	{"string doubling", `let s = "x"; for (;;) s += s`},
	{"JSON.parse of a huge string", `return JSON.parse("[" + "1,".repeat(2e7) + "1]").length`},
}

// BenchmarkMemoryOvershoot measures how far past the 64 MiB limit each
// shape gets before it is stopped: the worker's peak resident memory during
// the invocation (its high-water mark, reset first; or the rusage of a
// worker that had to die) minus its resident memory before, minus the
// limit. Run with -benchtime=3x; needs root (to reset the worker's peak).
func BenchmarkMemoryOvershoot(b *testing.B) {
	for _, sh := range memoryShapes {
		b.Run(sh.name, func(b *testing.B) {
			var over, killed float64
			for range b.N {
				p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: 1, Executable: os.Args[0]})
				if err != nil {
					b.Fatal(err)
				}
				assertClean(b, p)
				s, err := p.acquire(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				w := s.w
				p.release(s)
				proc := "/proc/" + strconv.Itoa(w.pid)
				if err := os.WriteFile(proc+"/clear_refs", []byte("5"), 0); err != nil {
					b.Fatalf("reset the worker's peak: %v", err)
				}
				before := procKB(b, proc, "VmRSS")
				inv := hookInvocation(sh.body)
				moreCPU(&inv.Limits)
				_, err = p.Invoke(context.Background(), inv, nil)
				var le *LimitError
				if !errors.As(err, &le) || le.Limit != LimitMemory {
					b.Fatalf("err = %v, want the memory limit", err)
				}
				var peak int64
				if w.dead.Load() {
					<-w.exited
					killed++
					peak = w.cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
				} else {
					peak = procKB(b, proc, "VmHWM")
				}
				over += float64(peak-before)/1024 - float64(DefaultLimits.MemoryBytes>>20)
				p.Close()
			}
			b.ReportMetric(over/float64(b.N), "MiB-over-limit")
			b.ReportMetric(killed/float64(b.N), "killed/op")
		})
	}
}

func procKB(b *testing.B, proc, key string) int64 {
	st, err := os.ReadFile(proc + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	b.Fatalf("%s: no %s", proc, key)
	return 0
}
