package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

func TestAllowed(t *testing.T) {
	t.Parallel()
	all := Grants{Capabilities: []manifest.Capability{manifest.ContentWrite, manifest.MediaWrite, manifest.UsersRead, manifest.NetworkRequest, manifest.EmailSend}, StorageCollections: []string{"posts"}}
	read := Grants{Capabilities: []manifest.Capability{manifest.ContentRead, manifest.MediaRead}, StorageCollections: []string{"posts"}}
	none := Grants{}
	tests := []struct {
		grants Grants
		method string
		ok     bool
	}{
		{none, "kv.get", true}, {none, "kv.set", true}, {none, "kv.delete", true}, {none, "kv.list", true},
		{none, "kv.drop", false},
		{none, "content.get", false}, {read, "content.get", true}, {read, "content.list", true}, {all, "content.list", true},
		{read, "content.create", false}, {read, "content.update", false}, {read, "content.delete", false},
		{all, "content.create", true}, {all, "content.delete", true},
		{read, "media.get", true}, {read, "media.upload", false}, {all, "media.upload", true}, {all, "media.delete", true},
		{read, "users.get", false}, {all, "users.list", true}, {all, "users.create", false},
		{read, "http.fetch", false}, {all, "http.fetch", true},
		{read, "email.send", false}, {all, "email.send", true},
		{read, "storage.posts.get", true}, {read, "storage.posts.count", true}, {read, "storage.posts.drop", false},
		{read, "storage.other.get", false}, {none, "storage.posts.get", false},
		{read, "storage.posts", false}, {read, "storage..get", false}, {read, "storage.posts.get.x", false},
		{read, "storage.../posts.get", false}, {read, "storage.Posts.get", false}, {read, "storage.posts\x00.get", false},
		{all, "", false}, {all, "content", false}, {all, "Content.get", false}, {all, "content.get ", false},
	}
	for _, tc := range tests {
		_, err := allowed(tc.grants, tc.method)
		if (err == nil) != tc.ok {
			t.Errorf("allowed(%v, %q) = %v, want ok=%v", tc.grants.Capabilities, tc.method, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrDenied) {
			t.Errorf("%q: error %v does not match ErrDenied", tc.method, err)
		}
	}
}

func TestGateCountsAndCaps(t *testing.T) {
	t.Parallel()
	l := DefaultLimits
	l.Subrequests, l.HostCalls, l.RequestBytes = 2, 5, 10
	g := newGate(Grants{Capabilities: []manifest.Capability{manifest.NetworkRequest}}, l)
	for i := 0; i < 2; i++ {
		if err := g.check("http.fetch", []byte(`["u"]`)); err != nil {
			t.Fatal(err)
		}
	}
	err := g.check("http.fetch", []byte(`["u"]`))
	wantLimit(LimitSubrequests)(t, err)
	if err := g.check("kv.get", []byte(`["0123456789"]`)); err == nil {
		t.Fatal("oversized arguments accepted")
	}
	g2 := newGate(Grants{}, DefaultLimits)
	for _, args := range []string{``, `{}`, `[`, `"x"`, `[1]x`} {
		if err := g2.check("kv.get", []byte(args)); !errors.Is(err, ErrDenied) {
			t.Errorf("arguments %q: %v", args, err)
		}
	}
	if _, tripped := g.state(); tripped == nil || tripped.Limit != LimitSubrequests {
		t.Fatalf("tripped = %v, want the first limit hit", tripped)
	}
	for i := 0; i < 2; i++ { // five calls counted so far
		if err := g.check("kv.get", []byte(`[]`)); err != nil {
			t.Fatal(err)
		}
	}
	wantLimit(LimitHostCalls)(t, g.check("kv.get", []byte(`[]`)))
}

// TestParentRefusesCompromisedWorker drives the real Pool against a worker
// that ignores its ctx and asks the parent directly for methods the grants
// do not allow: the parent must refuse every one without calling the Host.
func TestParentRefusesCompromisedWorker(t *testing.T) {
	t.Parallel()
	p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: 1, Executable: os.Args[0], Args: []string{evilWorkerArg}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	host := newMemHost()
	inv := hookInvocation(`return 1`)
	inv.Grants = Grants{Capabilities: []manifest.Capability{manifest.ContentRead}, StorageCollections: []string{"posts"}}
	res, err := p.Invoke(context.Background(), inv, host)
	if err != nil {
		t.Fatal(err)
	}
	var answers map[string]string
	if err := json.Unmarshal(res.Value, &answers); err != nil {
		t.Fatalf("%s: %v", res.Value, err)
	}
	for _, m := range evilMethods {
		want := "denied"
		if m == "content.get" || m == "storage.posts.get" || m == "kv.get" {
			want = "allowed"
		}
		if got := answers[m]; got != want {
			t.Errorf("%s: %s, want %s", m, got, want)
		}
	}
	for _, c := range host.callLog() {
		m := strings.TrimPrefix(c, "test-plugin ")
		if m != "content.get" && m != "storage.posts.get" && m != "kv.get" {
			t.Errorf("the host was called for %q", c)
		}
	}
}

const evilWorkerArg = "__evil-worker"

var evilMethods = []string{
	"kv.get", "content.get", "storage.posts.get",
	"content.delete", "http.fetch", "email.send", "users.list", "media.upload",
	"storage.other.get", "storage.posts/../other.get", "kv.get\x00x", "admin.shutdown",
}

// runEvilWorker speaks the worker protocol like a worker whose isolate was
// escaped: it calls every method in evilMethods and reports what the
// parent answered.
func runEvilWorker() {
	fw := &frameWriter{w: os.Stdout}
	in := bufio.NewReader(os.Stdin)
	_ = fw.write(frameHello)
	for {
		typ, _, err := readFrame(in, 1<<20)
		if err != nil {
			os.Exit(0)
		}
		if typ != frameInvoke {
			os.Exit(1)
		}
		for i, m := range evilMethods {
			_ = fw.write(frameCall, encodeCall(uint64(i), m, []byte(`["x"]`))...)
		}
		answers := map[string]string{}
		for range evilMethods {
			typ, p, err := readFrame(in, 1<<20)
			if err != nil || typ != frameAnswer {
				os.Exit(1)
			}
			a, _ := decodeAnswer(p)
			answers[evilMethods[a.ID]] = "allowed"
			if strings.Contains(a.Error, ErrDenied.Error()) {
				answers[evilMethods[a.ID]] = "denied"
			}
		}
		value, _ := json.Marshal(answers)
		parts, _ := encodeDone(outcome{Value: value})
		_ = fw.write(frameDone, parts...)
	}
}

func TestWorkerProtocolViolations(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"bad-json", "bad-frame", "huge-frame", "exit", "call-flood", "bad-call"} {
		t.Run(mode, func(t *testing.T) {
			p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: 1, Executable: os.Args[0], Args: []string{badWorkerArg, mode}})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			// A host that never answers: only the parent's own checks can
			// end a flood of calls.
			host := newMemHost()
			host.block = true
			_, err = p.Invoke(context.Background(), hookInvocation(`return 1`), host)
			if !errors.Is(err, ErrWorkerCrashed) || !errors.Is(err, ErrWorkerFault) {
				t.Fatalf("err = %v, want ErrWorkerCrashed and ErrWorkerFault", err)
			}
			// A broken worker is a fault of the sandbox: the invocation
			// ran once more on a fresh (equally broken) worker.
			if st := p.Stats(); st.Crashed != 2 || st.Retried != 1 {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

const badWorkerArg = "__bad-worker"

var spinSink int

// TestParentEnforcesLimits: a worker that neither reports nor polices
// itself (its watchdog is gone) is killed by the parent alone: past the
// wall limit when it sleeps, past the CPU limit when it spins, and the
// worker is counted as killed, not crashed (no retry).
func TestParentEnforcesLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode, limit string
		limits      Limits
	}{
		{"hang", LimitWall, Limits{Wall: 200 * time.Millisecond, CPU: time.Second}},
		{"spin", LimitCPU, Limits{Wall: time.Minute, CPU: 100 * time.Millisecond}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			if tc.mode == "spin" && runtime.GOOS != "linux" {
				t.Skip("the parent reads a worker's CPU time from /proc")
			}
			p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: 1, Executable: os.Args[0], Args: []string{badWorkerArg, tc.mode}})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			inv := hookInvocation(`return 1`)
			inv.Limits = tc.limits
			res, err := p.Invoke(context.Background(), inv, newMemHost())
			var le *LimitError
			if !errors.As(err, &le) || le.Limit != tc.limit {
				t.Fatalf("err = %v, want the %s limit", err, tc.limit)
			}
			// The parent charges the CPU it saw burned, at least the limit.
			if tc.limit == LimitCPU && (res == nil || res.Usage.CPU < tc.limits.CPU) {
				t.Errorf("usage %+v: want at least %v CPU charged", res, tc.limits.CPU)
			}
			if st := p.Stats(); st.Killed != 1 || st.Crashed != 0 || st.Retried != 0 {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

// runBadWorker answers an invocation with garbage of the given kind.
func runBadWorker(mode string) {
	fw := &frameWriter{w: os.Stdout}
	in := bufio.NewReader(os.Stdin)
	_ = fw.write(frameHello)
	if _, _, err := readFrame(in, 1<<20); err != nil {
		os.Exit(0)
	}
	switch mode {
	case "bad-json":
		_ = fw.write(frameDone, []byte{0, 0, 0, 1}, []byte("{"), []byte("{}"))
	case "bad-frame":
		_ = fw.write('?', []byte("hello"))
	case "huge-frame":
		_, _ = os.Stdout.Write([]byte{0x7f, 0xff, 0xff, 0xff})
	case "exit":
		os.Exit(7)
	case "call-flood":
		for i := range 10 * maxPendingCalls {
			_ = fw.write(frameCall, encodeCall(uint64(i), "kv.get", []byte(`["k"]`))...)
		}
	case "bad-call":
		_ = fw.write(frameCall, []byte{1, 2, 3})
	case "hang":
		select {}
	case "spin":
		for n := 0; ; n++ {
			spinSink = n
		}
	}
	_, _, _ = readFrame(in, 1<<20)
	os.Exit(0)
}
