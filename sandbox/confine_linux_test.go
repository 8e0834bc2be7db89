package sandbox

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWorkerIsConfined inspects a live worker from outside: its own process
// group, an environment of exactly the worker variables, no inherited
// files, and the OS limits.
func TestWorkerIsConfined(t *testing.T) {
	// A descriptor without close-on-exec, as a service manager might leave
	// one: the worker must not keep it.
	leak, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	if _, err := unix.FcntlInt(leak.Fd(), unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: 1, Executable: os.Args[0]})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	assertClean(t, p)
	s, err := p.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pid := s.w.pid
	p.release(s)
	proc := "/proc/" + strconv.Itoa(pid)

	if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
		t.Errorf("worker pgid = %d (%v), want its own group %d", pgid, err, pid)
	}
	env, err := os.ReadFile(proc + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.Split(strings.TrimRight(string(env), "\x00"), "\x00")
	if !slices.Equal(vars, p.workerEnviron()) || len(vars) < 2 || vars[0] != workerEnv+"=1" || !strings.HasPrefix(vars[1], workerMemEnv+"=") {
		t.Errorf("worker environment = %q", vars)
	}
	if os.Geteuid() == 0 && (len(vars) != 4 || vars[2] != workerUIDEnv+"=65534" || vars[3] != workerGIDEnv+"=65534") {
		t.Errorf("a root server's worker environment = %q, want the user to switch to", vars)
	}
	fds, err := os.ReadDir(proc + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		target, _ := os.Readlink(proc + "/fd/" + fd.Name())
		// The Go runtime itself keeps the cgroup CPU quota files open to
		// track GOMAXPROCS.
		// And its own statm, read per invocation (see memCap).
		if !strings.HasPrefix(target, "pipe:") && !strings.HasPrefix(target, "anon_inode:") && !strings.HasPrefix(target, "/sys/fs/cgroup/") &&
			target != proc+"/statm" {
			t.Errorf("worker fd %s → %s: not a protocol pipe or runtime handle", fd.Name(), target)
		}
	}
	limits, err := os.ReadFile(proc + "/limits")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Max core file size": "0", "Max file size": "0", "Max open files": "32"}
	if !raceBuild {
		want["Max address space"] = ""
		want["Max data size"] = ""
	}
	for _, line := range strings.Split(string(limits), "\n") {
		for name, value := range want {
			if !strings.HasPrefix(line, name) {
				continue
			}
			f := strings.Fields(strings.TrimPrefix(line, name))
			if name == "Max address space" && len(f) >= 2 && f[1] != "unlimited" {
				// The soft limit is the last invocation's cap (see memCap).
				soft, err1 := strconv.ParseUint(f[0], 10, 64)
				hard, err2 := strconv.ParseUint(f[1], 10, 64)
				if err1 != nil || err2 != nil || soft > hard {
					t.Errorf("%s: soft/hard %v, want a soft limit at most the hard one", name, f)
				}
			} else if len(f) < 2 || f[0] != f[1] || f[0] == "unlimited" || value != "" && f[0] != value {
				t.Errorf("%s: soft/hard %v, want %q set as a hard limit", name, f, value)
			}
			delete(want, name)
		}
	}
	if len(want) > 0 {
		t.Errorf("limits not found: %v", want)
	}
	status, _ := os.ReadFile(proc + "/status")
	if os.Geteuid() == 0 && !strings.Contains(string(status), "Uid:\t65534\t65534\t65534\t65534") {
		t.Error("a root server's worker does not run as nobody")
	}
	if !strings.Contains(string(status), "CapEff:\t0000000000000000") || !strings.Contains(string(status), "CapPrm:\t0000000000000000") {
		t.Error("the worker holds capabilities")
	}
	if !strings.Contains(string(status), "NoNewPrivs:\t1") {
		t.Error("worker lacks no_new_privs")
	}
	if (runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64") && !strings.Contains(string(status), "Seccomp:\t2") {
		t.Error("worker runs without its seccomp filter")
	}
}
