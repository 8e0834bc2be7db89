//go:build linux && (amd64 || arm64)

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
)

const seccompProbeArg = "__seccomp-probe"

func init() {
	if len(os.Args) == 2 && os.Args[1] == seccompProbeArg {
		runSeccompProbe()
	}
}

// runSeccompProbe confines this process like a worker, then tries what an
// escaped plugin would, reporting each outcome as JSON on stdout.
func runSeccompProbe() {
	out := map[string]string{}
	report := func(name string, err error) {
		out[name] = "allowed"
		if err != nil {
			out[name] = err.Error()
		}
	}
	if err := confineWorker(DefaultLimits.MemoryBytes); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	_, err := os.Open("/proc/self/status")
	report("open", err)
	report("exec", exec.Command("/bin/true").Run())
	_, err = net.Dial("tcp", "127.0.0.1:9")
	report("socket", err)
	report("kill", syscall.Kill(1, 0))
	report("mkdir", os.Mkdir("/tmp/pilcrow-seccomp-probe", 0o700))
	// The Go runtime must still start threads and signal itself.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			var x int
			for i := range 1000000 {
				x += i
			}
			_ = x
		}()
	}
	wg.Wait()
	runtime.GC()
	report("threads", nil)
	_ = json.NewEncoder(os.Stdout).Encode(out)
	os.Exit(0)
}

func TestSeccompFilter(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], seccompProbeArg)
	cmd.Env = []string{}
	b, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("probe failed: %v: %s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	for _, name := range []string{"open", "exec", "socket", "kill", "mkdir"} {
		if !strings.Contains(got[name], "operation not permitted") {
			t.Errorf("%s: %q, want operation not permitted", name, got[name])
		}
	}
	if got["threads"] != "allowed" {
		t.Errorf("threads: %q", got["threads"])
	}
}
