package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	pngenc "image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage/s3test"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// envNode makes this test binary run `pilcrow` with its arguments instead of
// the tests (see TestMain): the cluster tests start real server processes
// they can kill -9.
const envNode = "PILCROW_TEST_NODE"

// cluster is N `pilcrow serve` processes on one PostgreSQL database and one
// S3 bucket, each on its own loopback port: what a load balancer would have
// behind it.
type cluster struct {
	t     *testing.T
	env   []string
	args  []string
	nodes []*node
}

type node struct {
	name string
	url  string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

const clusterAdmin, clusterPassword = "ops@cluster.test", "a long cluster password"

func newCluster(t *testing.T, n int, extra ...string) *cluster {
	t.Helper()
	bucket, secretKey := clusterShared(t)
	c := &cluster{t: t,
		env: []string{envNode + "=1",
			"AWS_ACCESS_KEY_ID=" + s3test.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3test.SecretKey,
			"PILCROW_SECRET_KEY=" + secretKey,
			"PILCROW_ADMIN_EMAIL=" + clusterAdmin, "PILCROW_ADMIN_PASSWORD=" + clusterPassword},
		args: []string{"--database", storagetest.PostgresURL(t), "--media", bucket, "--drain-delay", "0s"},
	}
	// extra: "ENV=value" for the nodes' environment, "--flag" or
	// "--flag=value" for their command line.
	for _, x := range extra {
		if strings.HasPrefix(x, "--") {
			c.args = append(c.args, x)
		} else {
			c.env = append(c.env, x)
		}
	}
	// All at once, as an orchestrator starts replicas: migrations, the
	// first admin and the search tables must be set up exactly once.
	var wg sync.WaitGroup
	c.nodes = make([]*node, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); c.nodes[i] = c.start(string(rune('A' + i))) }()
	}
	wg.Wait()
	for _, nd := range c.nodes {
		if nd == nil {
			t.FailNow()
		}
	}
	t.Cleanup(c.stopAll)
	return c
}

// clusterShared is what every node of a cluster shares besides the
// database: a media bucket on a versitygw of the test's own (its --media
// value) and a fresh PILCROW_SECRET_KEY value.
func clusterShared(t *testing.T) (bucket, secretKey string) {
	t.Helper()
	gw, err := s3test.Start()
	gw = s3test.Need(t, gw, err)
	t.Cleanup(gw.Close)
	b, err := gw.NewBucket(context.Background(), "media")
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return b.String(), clusterSecretKey(key)
}

// clusterSecretKey is PILCROW_SECRET_KEY for key: a key id and the key.
func clusterSecretKey(key []byte) string {
	return "k1:" + base64.StdEncoding.EncodeToString(key)
}

func (c *cluster) start(name string) *node {
	t := c.t
	exe, err := os.Executable()
	if err != nil {
		t.Error(err)
		return nil
	}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, c.args...)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), c.env...)
	out := &syncBuffer{}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Error(err)
		return nil
	}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Error(err)
		return nil
	}
	nd := &node{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			out.Write([]byte(line + "\n"))
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(nd.done) }()
	select {
	case nd.url = <-urls:
	case <-nd.done:
		t.Errorf("node %s exited at start: %s", name, out.String())
		return nil
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Errorf("node %s did not start: %s", name, out.String())
		return nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(nd.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nd
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("node %s not ready: %v %s", name, err, out.String())
			return nd
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends a node the way a crash does: no drain, no cleanup.
func (nd *node) kill() {
	_ = nd.cmd.Process.Signal(syscall.SIGKILL)
	<-nd.done
}

func (c *cluster) stopAll() {
	for _, nd := range c.nodes {
		if nd == nil {
			continue
		}
		_ = nd.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-nd.done:
		case <-time.After(20 * time.Second):
			nd.kill()
		}
		if c.t.Failed() {
			c.t.Logf("node %s log:\n%s", nd.name, nd.out.String())
		}
	}
}

// api is a client of one node with an API token (no CSRF, any node).
type api struct {
	t     *testing.T
	base  string
	token string
}

func (c *cluster) adminToken(nd *node) string {
	t := c.t
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	res, err := hc.Post(nd.url+"/api/auth/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, clusterAdmin, clusterPassword)))
	if err != nil {
		t.Fatal(err)
	}
	var sess struct {
		CSRFToken string `json:"csrfToken"`
	}
	mustDecode(t, res, http.StatusOK, &sess)
	req, _ := http.NewRequest("POST", nd.url+"/api/tokens", strings.NewReader(`{"name":"cluster test"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", sess.CSRFToken)
	res, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	mustDecode(t, res, http.StatusCreated, &tok)
	return tok.Token
}

func (a api) do(method, path string, body any, into any) int {
	a.t.Helper()
	code, _ := a.doRaw(method, path, body, into)
	return code
}

func (a api) doRaw(method, path string, body any, into any) (int, []byte) {
	a.t.Helper()
	var r io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case *multipartUpload:
		r, ctype = &b.buf, b.ctype
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.base+path, r)
	if err != nil {
		a.t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if into != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, into); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	if res.StatusCode >= 500 {
		a.t.Errorf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	return res.StatusCode, raw
}

func (a api) must(method, path string, body any, want int, into any) {
	a.t.Helper()
	if got, raw := a.doRaw(method, path, body, into); got != want {
		a.t.Fatalf("%s %s on %s: status %d, want %d: %s", method, path, a.base, got, want, raw)
	}
}

type multipartUpload struct {
	buf   bytes.Buffer
	ctype string
}

func upload(filename string, content []byte) *multipartUpload {
	u := &multipartUpload{}
	mw := multipart.NewWriter(&u.buf)
	w, _ := mw.CreateFormFile("file", filename)
	w.Write(content)
	mw.Close()
	u.ctype = mw.FormDataContentType()
	return u
}

// seenWithin polls check until it returns "" or the deadline passes, and
// returns how long it took. A write acknowledged by one node must be seen on
// every node within 1 s (SPEC §15); the deadline is wider than that so a
// loaded CI machine does not flake, and the measured delay is logged.
func seenWithin(t *testing.T, what string, check func() string) time.Duration {
	t.Helper()
	start := time.Now()
	const deadline = 5 * time.Second
	for {
		msg := check()
		if msg == "" {
			d := time.Since(start)
			t.Logf("%s: seen after %v", what, d.Round(time.Millisecond))
			return d
		}
		if time.Since(start) > deadline {
			t.Fatalf("%s: not seen within %v: %s", what, deadline, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustDecode(t *testing.T, res *http.Response, want int, into any) {
	t.Helper()
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, want, raw)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
}

type clusterEntry struct {
	ID      string         `json:"id"`
	Slug    string         `json:"slug"`
	Version int            `json:"version"`
	Data    map[string]any `json:"data"`
}

// Three nodes on one PostgreSQL database and one S3 bucket serve one site:
// a write through any node is what every node serves.
func TestClusterThreeNodes(t *testing.T) {
	c := newCluster(t, 3)
	a, b, cc := c.nodes[0], c.nodes[1], c.nodes[2]
	token := c.adminToken(a)
	on := func(nd *node) api { return api{t: t, base: nd.url, token: token} }
	public := func(nd *node) api { return api{t: t, base: nd.url} }

	// Started together, the nodes made one admin from the environment.
	var users struct {
		Items []struct {
			Email string `json:"email"`
		} `json:"items"`
	}
	on(cc).must("GET", "/api/users", nil, http.StatusOK, &users)
	if len(users.Items) != 1 || users.Items[0].Email != clusterAdmin {
		t.Fatalf("users after three nodes started at once: %+v", users.Items)
	}

	on(a).must("POST", "/api/collections", map[string]any{
		"name": "posts", "label": "Posts", "options": map[string]any{"public": true, "drafts": true},
		"fields": []map[string]any{
			{"name": "title", "type": "string", "required": true},
			{"name": "slug", "type": "slug", "from": "title"},
		},
	}, http.StatusCreated, nil)
	// The new collection is known everywhere: B accepts an entry for it.
	var e clusterEntry
	seenWithin(t, "a collection made on A, used on B", func() string {
		if code := on(b).do("POST", "/api/collections/posts/entries", map[string]any{"data": map[string]any{"title": "Hello cluster"}}, &e); code != http.StatusCreated {
			return fmt.Sprintf("create on B: %d", code)
		}
		return ""
	})
	slugPath := "/api/public/posts/" + e.Slug
	for _, nd := range c.nodes {
		if code := public(nd).do("GET", slugPath, nil, nil); code != http.StatusNotFound {
			t.Fatalf("a draft is served publicly by %s: %d", nd.name, code)
		}
	}

	// Published on A: served by B and C.
	on(a).must("POST", "/api/collections/posts/entries/"+e.ID+"/publish", nil, http.StatusOK, &e)
	for _, nd := range []*node{b, cc} {
		seenWithin(t, "publish on A, read on "+nd.name, func() string {
			var got clusterEntry
			if code := public(nd).do("GET", slugPath, nil, &got); code != http.StatusOK {
				return fmt.Sprintf("status %d", code)
			}
			return ""
		})
	}
	// Read on B and C first (their caches hold the entry), then changed and
	// republished on A: the new title everywhere.
	on(a).must("PATCH", "/api/collections/posts/entries/"+e.ID, map[string]any{"version": e.Version, "data": map[string]any{"title": "Hello again"}}, http.StatusOK, &e)
	on(a).must("POST", "/api/collections/posts/entries/"+e.ID+"/publish", nil, http.StatusOK, &e)
	for _, nd := range []*node{b, cc} {
		seenWithin(t, "republish on A, read on "+nd.name, func() string {
			var got clusterEntry
			public(nd).do("GET", slugPath, nil, &got)
			if got.Data["title"] != "Hello again" {
				return fmt.Sprintf("title %v", got.Data["title"])
			}
			return ""
		})
	}
	// Unpublished on C: gone from A and B.
	on(cc).must("POST", "/api/collections/posts/entries/"+e.ID+"/unpublish", nil, http.StatusOK, &e)
	for _, nd := range []*node{a, b} {
		seenWithin(t, "unpublish on C, read on "+nd.name, func() string {
			if code := public(nd).do("GET", slugPath, nil, nil); code != http.StatusNotFound {
				return fmt.Sprintf("status %d", code)
			}
			return ""
		})
	}

	// A field added on A is accepted by C's validation.
	on(a).must("PATCH", "/api/collections/posts", map[string]any{"fields": []map[string]any{
		{"name": "title", "type": "string", "required": true},
		{"name": "slug", "type": "slug", "from": "title"},
		{"name": "subtitle", "type": "string"},
	}}, http.StatusOK, nil)
	seenWithin(t, "a field added on A, used on C", func() string {
		var got clusterEntry
		if code := on(cc).do("POST", "/api/collections/posts/entries", map[string]any{"data": map[string]any{"title": "With subtitle", "subtitle": "new"}}, &got); code != http.StatusCreated {
			return fmt.Sprintf("create on C: %d", code)
		}
		return ""
	})

	// Uploaded through A, downloaded through C (the bucket is shared).
	var png bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	if err := pngenc.Encode(&png, img); err != nil {
		t.Fatal(err)
	}
	content := png.Bytes()
	var m struct {
		ID string `json:"id"`
	}
	on(a).must("POST", "/api/media", upload("dot.png", content), http.StatusCreated, &m)
	res, err := http.Get(cc.url + "/media/" + m.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
		t.Fatalf("media uploaded on A, read on C: %d %q", res.StatusCode, got)
	}
}
