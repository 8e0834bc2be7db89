package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is the HTTPS server the cluster-probe plugin reports to,
// counting what each node delivered.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	// saves: deliveryId → times received; title of each deliveryId.
	saves     map[string]int
	titles    map[string]string
	publishes map[string]map[string]bool // entry id → its deliveryIds
	ticks     map[string]int             // scheduledAt → times received
	badAuth   int
	hold      string // a title whose first delivery is held until release
	held      chan string
	release   chan struct{}
	heldFrom  string // the remote address of the held request
	heldOnce  bool
}

const receiverToken = "set-through-node-A"

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{saves: map[string]int{}, titles: map[string]string{}, publishes: map[string]map[string]bool{},
		ticks: map[string]int{}, held: make(chan string, 1), release: make(chan struct{})}
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(rc.serve))
	t.Cleanup(func() {
		rc.mu.Lock()
		if rc.release != nil {
			close(rc.release)
			rc.release = nil
		}
		rc.mu.Unlock()
		rc.srv.Close()
	})
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	var body struct {
		DeliveryID  string `json:"deliveryId"`
		ID          string `json:"id"`
		Title       string `json:"title"`
		ScheduledAt string `json:"scheduledAt"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	rc.mu.Lock()
	if r.Header.Get("Authorization") != "Bearer "+receiverToken {
		rc.badAuth++
		rc.mu.Unlock()
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case "/save":
		if body.Title == rc.hold && rc.hold != "" && !rc.heldOnce {
			rc.heldOnce, rc.heldFrom = true, r.RemoteAddr
			rc.saves[body.DeliveryID]++
			rc.titles[body.DeliveryID] = body.Title
			release := rc.release
			rc.mu.Unlock()
			rc.held <- body.DeliveryID
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		rc.saves[body.DeliveryID]++
		rc.titles[body.DeliveryID] = body.Title
	case "/publish":
		if rc.publishes[body.ID] == nil {
			rc.publishes[body.ID] = map[string]bool{}
		}
		rc.publishes[body.ID][body.DeliveryID] = true
	case "/cron":
		rc.ticks[body.ScheduledAt]++
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// certFile writes the receiver's certificate where the nodes' TLS stack
// trusts it (Go reads SSL_CERT_FILE on Linux).
func (rc *receiver) certFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "receiver.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rc.srv.Certificate().Raw})
	if err := os.WriteFile(path, cert, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func bundleZip(t *testing.T, dir string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range []string{"manifest.json", "plugin.js"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(name)
		w.Write(data)
	}
	zw.Close()
	return b.Bytes()
}

func bundleUpload(data []byte) *multipartUpload {
	u := &multipartUpload{}
	mw := multipart.NewWriter(&u.buf)
	w, _ := mw.CreateFormFile("bundle", "cluster-probe.zip")
	w.Write(data)
	mw.Close()
	u.ctype = mw.FormDataContentType()
	return u
}

// Plugins on three nodes: a secret saved through one node is injected by
// the others, each after-hook event is delivered (by deliveryId) and a
// delivery cut off by a node's kill -9 is delivered again by another, a
// scheduled publication happens once, and a cron tick runs once.
func TestClusterPluginsAndQueue(t *testing.T) {
	rc := newReceiver(t)
	c := newCluster(t, 3, "SSL_CERT_FILE="+rc.certFile(t), "--unsafe-allow-loopback-egress", "--after-hook-timeout=4s")
	a := c.nodes[0]
	token := c.adminToken(a)
	on := func(nd *node) api { return api{t: t, base: nd.url, token: token} }

	var info struct {
		ID      string `json:"id"`
		Consent struct {
			Capabilities []string `json:"capabilities"`
			AllowedHosts []string `json:"allowedHosts"`
		} `json:"consent"`
	}
	on(a).must("POST", "/api/plugins", bundleUpload(bundleZip(t, "testdata/cluster-probe")), http.StatusCreated, &info)
	on(a).must("PATCH", "/api/plugins/cluster-probe/settings", map[string]any{"url": rc.srv.URL, "token": receiverToken}, http.StatusOK, nil)
	on(a).must("POST", "/api/plugins/cluster-probe/activate", map[string]any{
		"capabilities": info.Consent.Capabilities, "allowedHosts": info.Consent.AllowedHosts}, http.StatusOK, nil)
	on(a).must("POST", "/api/collections", map[string]any{
		"name": "notes", "label": "Notes", "options": map[string]any{"public": true, "drafts": true},
		"fields": []map[string]any{{"name": "title", "type": "string", "required": true}},
	}, http.StatusCreated, nil)

	// 300 saves spread over the three nodes, three writers at once.
	const saves = 300
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < saves; i += 3 {
				// The new collection reaches B and C within a second.
				for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
					code := on(c.nodes[i%3]).do("POST", "/api/collections/notes/entries", map[string]any{"data": map[string]any{"title": "note " + strconv.Itoa(i)}}, nil)
					if code == http.StatusCreated {
						break
					}
					if time.Since(start) > 5*time.Second {
						t.Errorf("create on %s: status %d", c.nodes[i%3].name, code)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rc.mu.Lock()
		n, dup, bad := len(rc.saves), 0, rc.badAuth
		for _, k := range rc.saves {
			dup += k - 1
		}
		rc.mu.Unlock()
		if n == saves {
			t.Logf("%d saves: %d deliveries by deliveryId, %d repeated (at least once), %d without the token", saves, n, dup, bad)
			break
		}
		if bad > 0 {
			t.Fatalf("%d deliveries came without the secret saved through node A", bad)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d saves, %d distinct deliveries arrived", saves, n)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A delivery cut off by kill -9 of the node sending it is delivered
	// again, once, by another node after its lease lapses.
	rc.mu.Lock()
	rc.hold = "held note"
	rc.mu.Unlock()
	on(a).must("POST", "/api/collections/notes/entries", map[string]any{"data": map[string]any{"title": "held note"}}, http.StatusCreated, nil)
	var heldID string
	select {
	case heldID = <-rc.held:
	case <-time.After(time.Minute):
		t.Fatal("the held delivery never arrived")
	}
	rc.mu.Lock()
	from := rc.heldFrom
	rc.mu.Unlock()
	victim := c.nodeOwning(t, from)
	t.Logf("node %s holds the delivery; kill -9", victim.name)
	victim.kill()
	seenWithin2(t, time.Minute, "redelivery after kill -9", func() string {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.saves[heldID] < 2 {
			return fmt.Sprintf("received %d times", rc.saves[heldID])
		}
		return ""
	})
	// A restarted node keeps the cluster at three for what follows.
	c.nodes[c.index(victim)] = c.start(victim.name)

	// Scheduled publications, due in 3 s, each published once.
	due := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339)
	var scheduled []string
	for i := range 12 {
		var e clusterEntry
		nd := c.nodes[i%3]
		on(nd).must("POST", "/api/collections/notes/entries", map[string]any{"data": map[string]any{"title": "scheduled " + strconv.Itoa(i)}}, http.StatusCreated, &e)
		on(nd).must("POST", "/api/collections/notes/entries/"+e.ID+"/publish", map[string]any{"at": due}, http.StatusOK, nil)
		scheduled = append(scheduled, e.ID)
	}
	seenWithin2(t, time.Minute, "scheduled publications", func() string {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, id := range scheduled {
			if len(rc.publishes[id]) == 0 {
				return "entry " + id + " not published yet"
			}
		}
		return ""
	})
	// One cron tick (they are due each minute) reported once.
	seenWithin2(t, 75*time.Second, "a cron tick", func() string {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if len(rc.ticks) == 0 {
			return "no tick yet"
		}
		return ""
	})
	time.Sleep(3 * time.Second) // another node's duplicate would have arrived by now
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, id := range scheduled {
		if n := len(rc.publishes[id]); n != 1 {
			t.Errorf("entry %s was published %d times", id, n)
		}
	}
	for at, n := range rc.ticks {
		if n != 1 {
			t.Errorf("cron tick %s ran %d times", at, n)
		}
	}
}

func seenWithin2(t *testing.T, limit time.Duration, what string, check func() string) {
	t.Helper()
	start := time.Now()
	for {
		msg := check()
		if msg == "" {
			t.Logf("%s: after %v", what, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v: %s", what, limit, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cluster) index(nd *node) int {
	for i, x := range c.nodes {
		if x == nd {
			return i
		}
	}
	return -1
}

// nodeOwning finds the node whose process holds the TCP connection whose
// local end is remoteAddr (as the receiver saw it): the node delivering.
func (c *cluster) nodeOwning(t *testing.T, remoteAddr string) *node {
	t.Helper()
	_, portText, _ := strings.Cut(remoteAddr, ":")
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatalf("remote address %q", remoteAddr)
	}
	inode := socketInode(t, port)
	for _, nd := range c.nodes {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", nd.cmd.Process.Pid))
		for _, fd := range fds {
			link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", nd.cmd.Process.Pid, fd.Name()))
			if link == "socket:["+inode+"]" {
				return nd
			}
		}
	}
	t.Fatalf("no node holds the connection from %s", remoteAddr)
	return nil
}

// socketInode reads /proc/net/tcp{,6} for the socket whose local port is port.
func socketInode(t *testing.T, port int) string {
	t.Helper()
	want := fmt.Sprintf(":%04X", port)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) > 9 && strings.HasSuffix(fields[1], want) {
				return fields[9]
			}
		}
	}
	t.Fatalf("no socket on local port %d", port)
	return ""
}
