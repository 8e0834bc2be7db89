// Command afterhooks measures whether plugin after-hook deliveries keep up
// with saves (issue 19): it builds and starts `pilcrow serve` on a fresh data
// folder, installs and activates the audit-log example plugin (an afterSave
// hook that writes to its storage), then runs -writers concurrent editors
// creating entries over loopback HTTP as fast as the server answers. After a
// warm-up it measures, over the same window, saves per second (201
// responses) and deliveries per second (the server's
// pilcrow_plugin_after_hook_deliveries_total{plugin="audit-log",outcome="ok"}),
// and the after-hook backlog at the window's start and end; then it stops
// the writers and reports how long the backlog takes to drain.
//
//	go run ./scripts/load/afterhooks -writers 16 -warmup 10s -measure 30s
//
// It reports the resident memory of the server and of each sandbox worker
// at the end of the window, while they are busy.
//
// Steady state means the backlog does not grow: deliveries/s ≥ 0.9 × saves/s
// is the bar.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	writers := flag.Int("writers", 16, "concurrent writers")
	warmup := flag.Duration("warmup", 10*time.Second, "load before the measured window")
	measure := flag.Duration("measure", 30*time.Second, "the measured window")
	workers := flag.Int("plugin-workers", 0, "the server's --plugin-workers (0: not passed, the server's default: two per CPU, 2 to 8)")
	keep := flag.Bool("keep", false, "keep the data folder (printed) for inspection")
	flag.DurationVar(&drainMax, "drain", 2*time.Minute, "how long to wait for the backlog to drain after the writers stop")
	flag.Parse()
	if err := run(*writers, *workers, *warmup, *measure, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "afterhooks:", err)
		os.Exit(1)
	}
}

var drainMax time.Duration

func run(writers, workers int, warmup, measure time.Duration, keep bool) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "pilcrow-afterhooks-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("data folder:", work)
	} else {
		defer os.RemoveAll(work)
	}
	bin := filepath.Join(work, "pilcrow")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd", "pilcrow")).CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	bundle := filepath.Join(work, "audit-log.zip")
	if out, err := exec.Command(bin, "plugin", "pack", filepath.Join(root, "examples", "plugins", "audit-log"), "-o", bundle).CombinedOutput(); err != nil {
		return fmt.Errorf("pack audit-log: %v\n%s", err, out)
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	args := []string{"serve", "--addr", addr, "--data", filepath.Join(work, "data"), "--log-level", "warn"}
	if workers > 0 {
		args = append(args, "--plugin-workers", strconv.Itoa(workers))
	}
	srv := exec.Command(bin, args...)
	srv.Env = append(os.Environ(), "PILCROW_ADMIN_EMAIL=admin@example.com", "PILCROW_ADMIN_PASSWORD=load-test-password")
	logf, err := os.Create(filepath.Join(work, "serve.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	base := "http://" + addr
	c, err := newClient(base)
	if err != nil {
		return err
	}
	if err := c.waitUp(); err != nil {
		return err
	}
	if err := c.login("admin@example.com", "load-test-password"); err != nil {
		return err
	}
	if _, err := c.json("POST", "/api/collections", map[string]any{"name": "posts", "label": "Posts",
		"fields": []map[string]any{{"name": "title", "type": "string", "required": true}, {"name": "body", "type": "markdown"}}}, http.StatusCreated); err != nil {
		return fmt.Errorf("create collection: %w", err)
	}
	if err := c.installActive(bundle); err != nil {
		return err
	}

	var saves, failures atomic.Int64
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				body := map[string]any{"data": map[string]any{"title": fmt.Sprintf("Entry %d-%d", w, i), "body": "Some words of the entry."}}
				if _, err := c.json("POST", "/api/collections/posts/entries", body, http.StatusCreated); err != nil {
					if ctx.Err() == nil {
						failures.Add(1)
					}
					continue
				}
				saves.Add(1)
			}
		})
	}
	time.Sleep(warmup)
	m0, err := c.metrics()
	if err != nil {
		stop()
		return err
	}
	s0, t0 := saves.Load(), time.Now()
	time.Sleep(measure)
	m1, err := c.metrics()
	s1, t1 := saves.Load(), time.Now()
	mem := memoryOf(srv.Process.Pid) // while the workers are busy
	stop()
	wg.Wait()
	if err != nil {
		return err
	}
	secs := t1.Sub(t0).Seconds()
	saveRate := float64(s1-s0) / secs
	delivRate := (m1.delivered - m0.delivered) / secs
	// The same from the backlog: every save queues one delivery, so what
	// was delivered is what was saved less what the backlog grew by. It
	// needs only the queue-depth gauge, so it also measures servers without
	// the delivery counter (a build from before it, to compare).
	backlogRate := (float64(s1-s0) - (m1.pending - m0.pending)) / secs
	shown := strconv.Itoa(workers)
	if workers == 0 {
		shown = fmt.Sprintf("the server's default (%d running)", len(mem.workers))
	}
	fmt.Printf("writers %d, plugin workers %s, warm-up %v, window %.1f s\n", writers, shown, warmup, secs)
	fmt.Printf("saves/s       %8.1f  (%d saves in the window, %d failed requests in all)\n", saveRate, s1-s0, failures.Load())
	fmt.Printf("deliveries/s  %8.1f  (audit-log afterSave, outcome ok; %.1f from saves − backlog growth)\n", delivRate, backlogRate)
	fmt.Printf("ratio         %8.3f  (deliveries/s ÷ saves/s; the bar is ≥ 0.9; %.3f from the backlog)\n", delivRate/saveRate, backlogRate/saveRate)
	fmt.Printf("backlog       %8.0f → %.0f pending after-hook deliveries (window start → end); dead %.0f; retries %.0f\n",
		m0.pending, m1.pending, m1.dead, m1.retried)
	fmt.Printf("memory        server %.1f MiB resident; sandbox workers %s\n", mib(mem.server), mem.workersLine())
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average  %s\n", strings.Join(strings.Fields(string(la))[:3], " "))
	}
	// Drain: how long the backlog left by the writers takes to deliver.
	start := time.Now()
	for {
		m, err := c.metrics()
		if err != nil {
			return err
		}
		if m.pending == 0 {
			fmt.Printf("drained       %8.1f s after the writers stopped (%.0f deliveries in all, %d saves)\n", time.Since(start).Seconds(), m.delivered, saves.Load())
			break
		}
		if time.Since(start) > drainMax {
			fmt.Printf("not drained  after %v: %.0f pending (%.0f delivered in all, %d saves)\n", drainMax, m.pending, m.delivered, saves.Load())
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

type client struct {
	base string
	http *http.Client
	csrf string
}

func newClient(base string) (*client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	return &client{base: base, http: &http.Client{Jar: jar, Transport: tr, Timeout: 60 * time.Second}}, nil
}

func (c *client) waitUp() error {
	for range 100 {
		if res, err := c.http.Get(c.base + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("the server did not start (see serve.log with -keep)")
}

func (c *client) login(email, password string) error {
	out, err := c.json("POST", "/api/auth/login", map[string]string{"email": email, "password": password}, http.StatusOK)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	var v struct {
		CSRFToken string `json:"csrfToken"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.CSRFToken == "" {
		return fmt.Errorf("login: no CSRF token in %s", out)
	}
	c.csrf = v.CSRFToken
	return nil
}

func (c *client) do(req *http.Request, want int) ([]byte, error) {
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, res.StatusCode, body)
	}
	return body, nil
}

func (c *client) json(method, path string, body any, want int) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, want)
}

func (c *client) installActive(bundle string) error {
	data, err := os.ReadFile(bundle)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("bundle", filepath.Base(bundle))
	if err != nil {
		return err
	}
	fw.Write(data)
	mw.Close()
	req, err := http.NewRequest("POST", c.base+"/api/plugins", &buf)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	out, err := c.do(req, http.StatusCreated)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	var info struct {
		ID      string `json:"id"`
		Consent struct {
			Capabilities []string `json:"capabilities"`
			AllowedHosts []string `json:"allowedHosts"`
		} `json:"consent"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return err
	}
	grant := map[string]any{"capabilities": orEmpty(info.Consent.Capabilities), "allowedHosts": orEmpty(info.Consent.AllowedHosts)}
	if _, err := c.json("POST", "/api/plugins/"+info.ID+"/activate", grant, http.StatusOK); err != nil {
		return fmt.Errorf("activate: %w", err)
	}
	return nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type sample struct{ delivered, retried, pending, dead float64 }

var metricLine = regexp.MustCompile(`^(pilcrow_plugin_after_hook_deliveries_total\{[^}]*\}|pilcrow_plugin_after_hooks_pending|pilcrow_plugin_after_hooks_dead) (\S+)$`)

func (c *client) metrics() (sample, error) {
	var s sample
	res, err := c.http.Get(c.base + "/metrics")
	if err != nil {
		return s, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := metricLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		switch {
		case m[1] == "pilcrow_plugin_after_hooks_pending":
			s.pending = v
		case m[1] == "pilcrow_plugin_after_hooks_dead":
			s.dead = v
		case strings.Contains(m[1], `plugin="audit-log"`) && strings.Contains(m[1], `outcome="ok"`):
			s.delivered = v
		case strings.Contains(m[1], `plugin="audit-log"`) && strings.Contains(m[1], `outcome="retry"`):
			s.retried = v
		}
	}
	return s, sc.Err()
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// repoRoot is the module's root: the nearest parent with go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run it inside the repository")
		}
		dir = parent
	}
}

// memory is the resident memory of the server and of each of its sandbox
// workers (its child processes), in bytes, from /proc (Linux).
type memory struct {
	server  int64
	workers []int64
}

func memoryOf(pid int) memory {
	m := memory{server: rss(pid)}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')') // the command name may hold spaces
		if i < 0 || i+2 > len(b) {
			continue
		}
		if f := strings.Fields(string(b[i+2:])); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			m.workers = append(m.workers, rss(child))
		}
	}
	return m
}

// rss is VmRSS of pid in bytes (0 when unknown).
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func (m memory) workersLine() string {
	if len(m.workers) == 0 {
		return "none running"
	}
	lo, hi, sum := m.workers[0], m.workers[0], int64(0)
	for _, w := range m.workers {
		lo, hi, sum = min(lo, w), max(hi, w), sum+w
	}
	return fmt.Sprintf("%d, %.1f–%.1f MiB resident each (%.1f MiB in all)", len(m.workers), mib(lo), mib(hi), mib(sum))
}
