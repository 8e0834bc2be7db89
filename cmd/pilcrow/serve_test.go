package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// syncBuffer is a bytes.Buffer safe to write from the server goroutine while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var listenRE = regexp.MustCompile(`listening on (http://\S+)`)

// startServe runs `pilcrow serve` in-process on a free loopback port and returns
// its base URL, its stdout, and a stop function that returns the exit code.
func startServe(t *testing.T, args ...string) (string, *syncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), strings.NewReader(""), out, errOut)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listenRE.FindStringSubmatch(out.String()); m != nil {
			stop := func() int { cancel(); return <-done }
			return m[1], out, stop
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d: %s %s", code, out.String(), errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s %s", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testSite names a test site for the CLI on the run's database
// (storagetest): SQLite in its data folder, or, on the PostgreSQL pass, a
// database of the test's own. PostgreSQL runs serve in cluster mode, so
// there the site also gets an S3 media bucket (its own versitygw) and a
// secret key in the environment, as a real cluster node would.
type testSite struct {
	data, database string
	media          []string // --media BUCKET on PostgreSQL
}

func newTestSite(t *testing.T) testSite {
	t.Helper()
	dir := t.TempDir()
	s := testSite{data: dir, database: storagetest.Spec(t, dir)}
	if storagetest.Postgres(t) {
		bucket, secretKey := clusterShared(t)
		t.Setenv("PILCROW_SECRET_KEY", secretKey)
		s.media = []string{"--media", bucket}
	}
	return s
}

// site is the flags naming the site's data and database (user create,
// secrets rotate); serve adds its media store and extra.
func (s testSite) site() []string { return []string{"--data", s.data, "--database", s.database} }
func (s testSite) serve(extra ...string) []string {
	return append(append(s.site(), s.media...), extra...)
}

// open opens the site's database, as an offline tool would.
func (s testSite) open(t *testing.T) *storage.DB {
	t.Helper()
	db, err := storage.OpenSpec(context.Background(), s.database, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func login(t *testing.T, base, email, password string) int {
	t.Helper()
	res, err := http.Post(base+"/api/auth/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestServeCreatesFirstAdminFromEnvironment(t *testing.T) {
	ts := newTestSite(t)
	t.Setenv("PILCROW_ADMIN_EMAIL", "boss@example.com")
	t.Setenv("PILCROW_ADMIN_PASSWORD", "a long enough password")
	base, out, stop := startServe(t, ts.serve()...)
	if strings.Contains(out.String(), "setup?token=") {
		t.Fatal("printed a setup link although the admin came from the environment")
	}
	if code := login(t, base, "boss@example.com", "a long enough password"); code != http.StatusOK {
		t.Fatalf("login status %d", code)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	// A restart with different variables neither replaces nor duplicates the admin.
	t.Setenv("PILCROW_ADMIN_EMAIL", "other@example.com")
	base, _, stop = startServe(t, ts.serve()...)
	defer stop()
	if code := login(t, base, "other@example.com", "a long enough password"); code != http.StatusUnauthorized {
		t.Fatalf("second env admin was created (status %d)", code)
	}
}

func TestServePrintsSetupLinkOnEmptySite(t *testing.T) {
	t.Setenv("PILCROW_ADMIN_EMAIL", "")
	t.Setenv("PILCROW_ADMIN_PASSWORD", "")
	base, out, stop := startServe(t, newTestSite(t).serve()...)
	defer stop()
	m := regexp.MustCompile(`(http://\S+/setup\?token=\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no setup link in output: %s", out.String())
	}
	if !strings.HasPrefix(m[1], base) {
		t.Fatalf("setup link %s is not on %s", m[1], base)
	}
	res, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("setup page status %d", res.StatusCode)
	}
}

func TestServeFinishesInFlightRequestsOnShutdown(t *testing.T) {
	t.Setenv("PILCROW_ADMIN_EMAIL", "boss@example.com")
	t.Setenv("PILCROW_ADMIN_PASSWORD", "a long enough password")
	base, _, stop := startServe(t, newTestSite(t).serve()...)

	// A request whose body is still arriving when shutdown begins must complete.
	pr, pw := io.Pipe()
	type result struct {
		status int
		err    error
	}
	resc := make(chan result, 1)
	go func() {
		res, err := http.Post(base+"/api/auth/login", "application/json", pr)
		if err != nil {
			resc <- result{err: err}
			return
		}
		res.Body.Close()
		resc <- result{status: res.StatusCode}
	}()
	fmt.Fprint(pw, `{"email":"boss@example.com",`)
	time.Sleep(100 * time.Millisecond) // let the server start reading the request
	stopped := make(chan int, 1)
	go func() { stopped <- stop() }()
	time.Sleep(100 * time.Millisecond) // shutdown is now waiting for us
	fmt.Fprint(pw, `"password":"a long enough password"}`)
	pw.Close()
	r := <-resc
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("in-flight request: status %d, err %v", r.status, r.err)
	}
	if code := <-stopped; code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestServeMetricsOnItsOwnAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	maddr := ln.Addr().String()
	ln.Close()
	base, _, stop := startServe(t, newTestSite(t).serve("--metrics-addr", maddr, "--metrics-token", "tok-123")...)
	defer stop()
	get := func(url, token string) int {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := get(base+"/metrics", "tok-123"); code != http.StatusNotFound {
		t.Errorf("/metrics on the site's address: %d, want 404", code)
	}
	if code := get("http://"+maddr+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}
	if code := get("http://"+maddr+"/metrics", "tok-123"); code != http.StatusOK {
		t.Errorf("/metrics with the token: %d, want 200", code)
	}
	if code := get("http://"+maddr+"/api/users", ""); code != http.StatusNotFound {
		t.Errorf("the metrics address serves the API: %d", code)
	}
}

func TestServeRejectsBadFlagsAndEnvironment(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--log-level", "loud"}, nil, &out, &errOut); code != 2 {
		t.Fatalf("bad --log-level: exit %d", code)
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"serve", "--sync", "sometimes"}, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "--sync") {
		t.Fatalf("bad --sync: exit %d, stderr %q", code, errOut.String())
	}
	t.Setenv("PILCROW_SYNC", "off")
	errOut.Reset()
	if code := run(context.Background(), []string{"serve"}, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "PILCROW_SYNC") {
		t.Fatalf("bad PILCROW_SYNC: exit %d, stderr %q", code, errOut.String())
	}
	t.Setenv("PILCROW_SYNC", "full")
	t.Setenv("PILCROW_MAX_BODY_BYTES", "lots")
	errOut.Reset()
	if code := run(context.Background(), []string{"serve"}, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "PILCROW_MAX_BODY_BYTES") {
		t.Fatalf("bad env: exit %d, stderr %q", code, errOut.String())
	}
}

func TestServeHelpListsFlagsAndEnvironment(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--help"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"-addr", "-data", "PILCROW_ADDR", "PILCROW_DATA", "PILCROW_ADMIN_EMAIL"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}

func TestUserCreate(t *testing.T) {
	ts := newTestSite(t)
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"user", "create", "--email", "ed@example.com", "--role", "editor"}, ts.site()...),
		strings.NewReader("a long enough password\n"), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "created editor ed@example.com") {
		t.Fatalf("stdout %q", out.String())
	}
	cases := []struct {
		args  []string
		stdin string
		code  int
		msg   string
	}{
		{[]string{"--email", "x@example.com", "--role", "owner"}, "a long enough password\n", 1, "role"},
		{[]string{"--email", "ed@example.com", "--role", "author"}, "a long enough password\n", 1, "already used"},
		{[]string{"--email", "y@example.com", "--role", "author"}, "short\n", 1, "password"},
		{[]string{"--email", "z@example.com", "--role", "author"}, "", 2, "no password"},
		{[]string{"--role", "author"}, "a long enough password\n", 2, "--email"},
	}
	for _, tc := range cases {
		errOut.Reset()
		args := append(append([]string{"user", "create"}, ts.site()...), tc.args...)
		if code := run(context.Background(), args, strings.NewReader(tc.stdin), &out, &errOut); code != tc.code || !strings.Contains(errOut.String(), tc.msg) {
			t.Errorf("%v: exit %d stderr %q; want exit %d mentioning %q", tc.args, code, errOut.String(), tc.code, tc.msg)
		}
	}
	// The user really is there: serve on the same data and log in.
	base, _, stop := startServe(t, ts.serve()...)
	defer stop()
	if code := login(t, base, "ed@example.com", "a long enough password"); code != http.StatusOK {
		t.Fatalf("login status %d", code)
	}
}

// Two servers starting at once on one data directory with the same
// environment both come up, and the site gets exactly one admin.
func TestServeTwoProcessesCreateOneFirstAdmin(t *testing.T) {
	ts := newTestSite(t)
	t.Setenv("PILCROW_ADMIN_EMAIL", "boss@example.com")
	t.Setenv("PILCROW_ADMIN_PASSWORD", "a long enough password")
	type started struct {
		base string
		out  *syncBuffer
		stop func() int
	}
	var wg sync.WaitGroup
	var servers [2]started
	for i := range servers {
		wg.Go(func() {
			base, out, stop := startServe(t, ts.serve()...)
			servers[i] = started{base, out, stop}
		})
	}
	wg.Wait()
	for _, s := range servers {
		if s.stop == nil {
			t.FailNow() // startServe reported why
		}
	}
	for _, s := range servers {
		if strings.Contains(s.out.String(), "setup?token=") {
			t.Errorf("printed a setup link although the admin came from the environment")
		}
		if code := login(t, s.base, "boss@example.com", "a long enough password"); code != http.StatusOK {
			t.Errorf("login on %s: status %d", s.base, code)
		}
	}
	for _, s := range servers {
		if code := s.stop(); code != 0 {
			t.Errorf("exit code %d", code)
		}
	}
	created := 0
	db := ts.open(t)
	if err := db.Read().QueryRow(`SELECT COUNT(*) FROM users`).Scan(&created); err != nil {
		t.Fatal(err)
	}
	if created != 1 {
		t.Errorf("%d users, want the one admin", created)
	}
}

// Shutdown with a request in flight: during --drain-delay /readyz answers 503
// naming draining while /livez stays 200 and the in-flight request completes.
func TestServeDrainsReadinessBeforeShutdown(t *testing.T) {
	t.Setenv("PILCROW_ADMIN_EMAIL", "boss@example.com")
	t.Setenv("PILCROW_ADMIN_PASSWORD", "a long enough password")
	// Long enough that the probes below land inside it on a loaded machine;
	// the test waits it out once.
	base, _, stop := startServe(t, newTestSite(t).serve("--drain-delay", "3s")...)
	get := func(path string) (int, string) {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz before shutdown: %d %s", code, body)
	}
	pr, pw := io.Pipe()
	resc := make(chan int, 1)
	go func() {
		res, err := http.Post(base+"/api/auth/login", "application/json", pr)
		if err != nil {
			resc <- -1
			return
		}
		res.Body.Close()
		resc <- res.StatusCode
	}()
	fmt.Fprint(pw, `{"email":"boss@example.com",`)
	stopped := make(chan int, 1)
	go func() { stopped <- stop() }()
	// Drain is set as soon as shutdown begins; wait for it rather than sleep.
	var code int
	var body string
	for range 200 {
		if code, body = get("/readyz"); code == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "not ready: draining:") {
		t.Fatalf("/readyz while draining: %d %s", code, body)
	}
	if code, body := get("/livez"); code != http.StatusOK {
		t.Fatalf("/livez while draining: %d %s", code, body)
	}
	fmt.Fprint(pw, `"password":"a long enough password"}`)
	pw.Close()
	if st := <-resc; st != http.StatusOK {
		t.Fatalf("in-flight request: status %d", st)
	}
	if code := <-stopped; code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
