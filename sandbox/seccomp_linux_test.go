//go:build linux && (amd64 || arm64)

package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// probeWorkerArg starts a worker that is confined exactly like a real one
// (same environment from the pool, same confinedWorker) and then, instead
// of serving plugins, tries every route out of the sandbox an escaped
// plugin would, answering the first invocation with what happened.
const probeWorkerArg = "__probe-worker"

// probeReport is what the probe worker found.
type probeReport struct {
	// Before the seccomp filter: who the worker is, per thread, and
	// whether that user alone keeps it from the server's files and
	// descriptors.
	Status      map[string]string `json:"status"`
	ThreadCaps  []string          `json:"threadCaps"`
	BeforeOpen  map[string]string `json:"beforeOpen"`
	AfterRoutes map[string]string `json:"afterRoutes"`
	Threads     string            `json:"threads"`
}

// probeRoutes are the ways to the server's memory and descriptors, the
// kernel's attack surface and the outside world, each tried after the
// filter is installed. Raw syscalls with harmless arguments: the filter
// refuses them before the kernel looks at the arguments.
func probeRoutes(ppid int, secret string) map[string]func() error {
	raw := func(nr uintptr, args ...uintptr) func() error {
		return func() error {
			var a [6]uintptr
			copy(a[:], args)
			_, _, errno := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
			if errno != 0 {
				return errno
			}
			return nil
		}
	}
	open := func(path string) func() error {
		return func() error {
			f, err := os.Open(path)
			if err == nil {
				f.Close()
			}
			return err
		}
	}
	pp := uintptr(ppid)
	cwd := unix.AT_FDCWD
	atCWD := uintptr(cwd)
	var iov [1]unix.Iovec
	var buf [8]byte
	iov[0].Base, iov[0].Len = &buf[0], 8
	routes := map[string]func() error{
		"pidfd_open":               raw(unix.SYS_PIDFD_OPEN, pp, 0),
		"pidfd_getfd":              raw(unix.SYS_PIDFD_GETFD, 0, 3, 0),
		"ptrace attach":            raw(unix.SYS_PTRACE, unix.PTRACE_ATTACH, pp),
		"ptrace seize":             raw(unix.SYS_PTRACE, unix.PTRACE_SEIZE, pp),
		"process_vm_readv":         raw(unix.SYS_PROCESS_VM_READV, pp, uintptr(unsafe.Pointer(&iov[0])), 1, uintptr(unsafe.Pointer(&iov[0])), 1, 0),
		"process_vm_writev":        raw(unix.SYS_PROCESS_VM_WRITEV, pp, uintptr(unsafe.Pointer(&iov[0])), 1, uintptr(unsafe.Pointer(&iov[0])), 1, 0),
		"kcmp":                     raw(unix.SYS_KCMP, pp, pp, 0, 0, 0),
		"open /proc/ppid/fd/0":     open("/proc/" + strconv.Itoa(ppid) + "/fd/0"),
		"open /proc/ppid/mem":      open("/proc/" + strconv.Itoa(ppid) + "/mem"),
		"list /proc/ppid/fd":       func() error { _, err := os.ReadDir("/proc/" + strconv.Itoa(ppid) + "/fd"); return err },
		"readlink /proc/ppid/fd/0": func() error { _, err := os.Readlink("/proc/" + strconv.Itoa(ppid) + "/fd/0"); return err },
		"open secret.key":          open(secret),
		"open_tree":                raw(unix.SYS_OPEN_TREE, atCWD, 0, 0),
		"fsopen":                   raw(unix.SYS_FSOPEN, 0, 0),
		"fsmount":                  raw(unix.SYS_FSMOUNT, 0, 0, 0),
		"fspick":                   raw(unix.SYS_FSPICK, atCWD, 0, 0),
		"move_mount":               raw(unix.SYS_MOVE_MOUNT, 0, 0, 0, 0, 0),
		"mount":                    raw(unix.SYS_MOUNT, 0, 0, 0, 0, 0),
		"umount2":                  raw(unix.SYS_UMOUNT2, 0, 0),
		"unshare user":             raw(unix.SYS_UNSHARE, unix.CLONE_NEWUSER),
		"setns":                    raw(unix.SYS_SETNS, 0, 0),
		"clone thread + newns":     raw(unix.SYS_CLONE, unix.CLONE_THREAD|unix.CLONE_SIGHAND|unix.CLONE_VM|unix.CLONE_NEWNS, 0, 0, 0, 0),
		"fork":                     raw(unix.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0),
		"clone3":                   raw(unix.SYS_CLONE3, 0, 0),
		"userfaultfd":              raw(unix.SYS_USERFAULTFD, 0),
		"bpf":                      raw(unix.SYS_BPF, 0, 0, 0),
		"perf_event_open":          raw(unix.SYS_PERF_EVENT_OPEN, 0, 0, 0, 0, 0),
		"io_uring_setup":           raw(unix.SYS_IO_URING_SETUP, 1, 0),
		"keyctl":                   raw(unix.SYS_KEYCTL, 0, 0, 0, 0, 0),
		"add_key":                  raw(unix.SYS_ADD_KEY, 0, 0, 0, 0, 0),
		"memfd_create":             raw(unix.SYS_MEMFD_CREATE, 0, 0),
		"kill ppid":                func() error { return syscall.Kill(ppid, 0) },
		"tgkill ppid":              raw(unix.SYS_TGKILL, pp, pp, 0),
		"prlimit64 ppid":           raw(unix.SYS_PRLIMIT64, pp, unix.RLIMIT_AS, 0, 0),
		"capset":                   raw(unix.SYS_CAPSET, 0, 0),
		"setuid 0":                 raw(unix.SYS_SETUID, 0),
		"exec":                     func() error { return exec.Command("/bin/true").Run() },
		"socket": func() error {
			c, err := net.Dial("tcp", "127.0.0.1:9")
			if err == nil {
				c.Close()
			}
			return err
		},
		"mkdir": func() error { return os.Mkdir("/tmp/pilcrow-seccomp-probe", 0o700) },
	}
	return routes
}

func runProbeWorker(dir string) {
	rep := probeReport{Status: map[string]string{}, BeforeOpen: map[string]string{}, AfterRoutes: map[string]string{}}
	verdict := func(err error) string {
		if err == nil {
			return "allowed"
		}
		return err.Error()
	}
	secret := filepath.Join(dir, "secret.key")
	beforeSeccomp = func() {
		status, _ := os.ReadFile("/proc/self/status")
		for _, line := range strings.Split(string(status), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				rep.Status[k] = strings.Join(strings.Fields(v), " ")
			}
		}
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, t := range tasks {
			b, _ := os.ReadFile("/proc/self/task/" + t.Name() + "/status")
			var caps []string
			for _, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(line, "Cap") {
					caps = append(caps, strings.Join(strings.Fields(line), " "))
				}
			}
			rep.ThreadCaps = append(rep.ThreadCaps, strings.Join(caps, ", "))
		}
		// What the unprivileged user alone prevents (a root worker could
		// do all of this).
		rep.BeforeOpen["secret.key"] = verdict(probeRoutes(os.Getppid(), secret)["open secret.key"]())
		rep.BeforeOpen["public.txt"] = verdict(probeRoutes(os.Getppid(), filepath.Join(dir, "public.txt"))["open secret.key"]())
		rep.BeforeOpen["/proc/ppid/fd"] = verdict(probeRoutes(os.Getppid(), "")["list /proc/ppid/fd"]())
		rep.BeforeOpen["/proc/ppid/mem"] = verdict(probeRoutes(os.Getppid(), "")["open /proc/ppid/mem"]())
	}
	c := confinedWorker()
	for name, try := range probeRoutes(c.ppid, secret) {
		rep.AfterRoutes[name] = verdict(try())
	}
	// The Go runtime must still start threads, signal itself and collect.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			x := 0
			for i := range 1000000 {
				x += i
			}
			_ = x
		}()
	}
	wg.Wait()
	runtime.GC()
	rep.Threads = "ok"

	fw := &frameWriter{w: os.Stdout}
	in := bufio.NewReader(os.Stdin)
	_ = fw.write(frameHello)
	if typ, _, err := readFrame(in, 1<<20); err != nil || typ != frameInvoke {
		os.Exit(1)
	}
	value, _ := json.Marshal(rep)
	parts, _ := encodeDone(outcome{Value: value})
	_ = fw.write(frameDone, parts...)
	os.Exit(0)
}

// TestConfinedWorkerProbe runs the probe worker through a real pool and
// checks that every route out failed, the unprivileged user included.
func TestConfinedWorkerProbe(t *testing.T) {
	t.Parallel()
	// The directory is traversable by anyone, so only the files' modes
	// protect them, as for a server's data directory.
	dir, err := os.MkdirTemp("", "pilcrow-probe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret.key"), []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "public.txt"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: 1, Executable: os.Args[0], Args: []string{probeWorkerArg, dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := p.Invoke(context.Background(), hookInvocation(`return 1`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var rep probeReport
	if err := json.Unmarshal(res.Value, &rep); err != nil {
		t.Fatalf("%s: %v", res.Value, err)
	}
	t.Logf("worker: Uid %s, Gid %s, Groups %q, CapEff %s, CapBnd %s, NoNewPrivs %s", rep.Status["Uid"], rep.Status["Gid"], rep.Status["Groups"], rep.Status["CapEff"], rep.Status["CapBnd"], rep.Status["NoNewPrivs"])

	for name, got := range rep.AfterRoutes {
		if name == "clone3" && got == unix.ENOSYS.Error() {
			continue // on purpose: glibc then falls back to clone, whose flags the filter sees
		}
		if got != unix.EPERM.Error() && !strings.HasSuffix(got, ": "+unix.EPERM.Error()) {
			t.Errorf("%s: %q, want %q (refused by the seccomp filter)", name, got, unix.EPERM.Error())
		}
	}
	if len(rep.AfterRoutes) < 30 {
		t.Errorf("only %d routes tried", len(rep.AfterRoutes))
	}
	if rep.Threads != "ok" {
		t.Error("the Go runtime could not run threads under the filter")
	}
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb"} {
		if v := rep.Status[k]; strings.Trim(v, "0") != "" || v == "" {
			t.Errorf("%s = %q, want none", k, v)
		}
	}
	for _, caps := range rep.ThreadCaps {
		for _, c := range strings.Split(caps, ", ") {
			k, v, _ := strings.Cut(c, " ")
			if k != "CapBnd:" && strings.Trim(v, "0") != "" {
				t.Errorf("a thread holds %s", c)
			}
		}
	}
	if rep.Status["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs = %q", rep.Status["NoNewPrivs"])
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root: without root, the switch to an unprivileged user is not tested")
		}
		return
	}
	// A root server's workers run as nobody.
	want := fmt.Sprintf("%d %d %d %d", defaultWorkerID, defaultWorkerID, defaultWorkerID, defaultWorkerID)
	if rep.Status["Uid"] != want || rep.Status["Gid"] != want || rep.Status["Groups"] != "" {
		t.Errorf("worker Uid %q Gid %q Groups %q, want %s and no groups", rep.Status["Uid"], rep.Status["Gid"], rep.Status["Groups"], want)
	}
	if v := rep.Status["CapBnd"]; strings.Trim(v, "0") != "" {
		t.Errorf("CapBnd = %q, want empty", v)
	}
	if got := rep.BeforeOpen["public.txt"]; got != "allowed" {
		t.Errorf("before the filter, a world-readable file: %s (the probe cannot open files at all?)", got)
	}
	for _, name := range []string{"secret.key", "/proc/ppid/fd", "/proc/ppid/mem"} {
		if got := rep.BeforeOpen[name]; !strings.Contains(got, "permission denied") {
			t.Errorf("before the filter, %s as the worker's user: %q, want permission denied", name, got)
		}
	}
}
