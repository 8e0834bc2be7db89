package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/internal/cputree"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/site/sitetest"
)

// Plugin benchmarks over loopback HTTP, against a real site with a real
// sandbox pool (2 workers):
//
//	go test ./web -run '^$' -bench 'PluginEntrySave|PluginRoute' -benchtime 2000x -cpu 2
//
// PluginEntrySave reports p50 and p99 of one entry save (POST, sequential)
// with no plugin, with one trivial content:beforeSave hook (returns nothing)
// and with three (reading-time, content-guard and a title normaliser), and
// cpu-ns/op: the CPU time of the whole process (client, server, invocation
// log writer) and its sandbox workers per save (proc-cpu-ns/op: the process
// alone, without the workers); PluginRoute reports requests per
// second of a trivial public route (anonymous clients, as on a public site)
// with 8 concurrent clients.

type pluginBenchSite struct {
	st     *site.Site
	srv    *httptest.Server
	client *http.Client
	token  string
}

func openPluginBenchSite(b *testing.B) *pluginBenchSite {
	b.Helper()
	ctx := context.Background()
	ts := sitetest.New(b, sitetest.Quiet, func(c *site.Config) {
		c.Web.PublicRouteBurst = 1 << 30
		c.Web.PublicRouteRate = time.Nanosecond
	})
	st := ts.Site
	bs := &pluginBenchSite{st: st, srv: ts.Srv,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	u, err := st.Users.Create(ctx, cms.NewUser{Email: "bench@example.com", Name: "Bench", Role: cms.RoleAdmin, Password: testPassword})
	if err != nil {
		b.Fatal(err)
	}
	if _, bs.token, err = st.Auth.CreateToken(ctx, u, cms.NewToken{Name: "bench"}, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Content.CreateCollection(ctx, cms.CollectionInput{Name: "articles", Label: "Articles", Fields: []*cms.Field{
		{Name: "title", Type: cms.TypeString, Required: true}, {Name: "body", Type: cms.TypeMarkdown}, {Name: "reading_time", Type: cms.TypeInteger},
	}}); err != nil {
		b.Fatal(err)
	}
	return bs
}

// activate installs and consents to a bundle through the manager.
func (bs *pluginBenchSite) activate(b *testing.B, data []byte, settings map[string]any) {
	b.Helper()
	ctx := context.Background()
	in, err := bs.st.Plugins.Install(ctx, data, "", false)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bs.st.Plugins.Activate(ctx, in.ID, plugins.Grant{Capabilities: in.Consent.Capabilities, AllowedHosts: in.Consent.AllowedHosts}, ""); err != nil {
		b.Fatal(err)
	}
	if len(settings) > 0 {
		raw := map[string]json.RawMessage{}
		for k, v := range settings {
			raw[k], _ = json.Marshal(v)
		}
		if _, err := bs.st.Plugins.UpdateSettings(ctx, in.ID, raw); err != nil {
			b.Fatal(err)
		}
	}
}

// do sends a request, with the admin's token unless anonymous.
func (bs *pluginBenchSite) do(b *testing.B, method, path string, body []byte, want int, anonymous ...bool) {
	req, _ := http.NewRequest(method, bs.srv.URL+path, bytes.NewReader(body))
	if len(anonymous) == 0 || !anonymous[0] {
		req.Header.Set("Authorization", "Bearer "+bs.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := bs.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	msg, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		b.Fatalf("%s %s: %d %s", method, path, res.StatusCode, msg)
	}
}

const normaliserSource = `export default { hooks: { "content:beforeSave": (ev) => {
  const title = String(ev.data.title || "").replace(/\s+/g, " ").trim();
  return Object.assign({}, ev.data, { title: title.charAt(0).toUpperCase() + title.slice(1) });
} } };`

func BenchmarkPluginEntrySave(b *testing.B) {
	body := []byte(fmt.Sprintf(`{"data":{"title":"  a   benchmark   entry ","body":%q}}`,
		"Some *Markdown* with [a link](https://example.com) and enough words to count. "+string(bytes.Repeat([]byte("word "), 300))))
	for _, hooks := range []int{0, 1, 3} {
		b.Run(fmt.Sprintf("hooks=%d", hooks), func(b *testing.B) {
			bs := openPluginBenchSite(b)
			if hooks == 1 {
				bs.activate(b, packPlugin(b, map[string]any{"id": "trivial", "version": "1.0.0", "name": "Trivial",
					"capabilities": []string{"content:write"}, "hooks": []string{"content:beforeSave"}},
					`export default { hooks: { "content:beforeSave": (ev) => {} } };`), nil)
			}
			if hooks == 3 {
				bs.activate(b, examplePlugin(b, "reading-time"), map[string]any{"collections": "articles", "field": "reading_time"})
				bs.activate(b, examplePlugin(b, "content-guard"), map[string]any{"bannedWords": "lorem ipsum\nforbidden\n# comment"})
				bs.activate(b, packPlugin(b, map[string]any{"id": "normaliser", "version": "1.0.0", "name": "Normaliser",
					"capabilities": []string{"content:write"}, "hooks": []string{"content:beforeSave"}}, normaliserSource), nil)
			}
			for range 20 { // warm the workers, the program cache and SQLite
				bs.do(b, "POST", "/api/collections/articles/entries", body, http.StatusCreated)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			cpu0, own0 := cputree.Self(), cputree.SelfOnly()
			for range b.N {
				t0 := time.Now()
				bs.do(b, "POST", "/api/collections/articles/entries", body, http.StatusCreated)
				lat = append(lat, time.Since(t0))
			}
			// The invocation log rows of these saves are part of their cost.
			if err := bs.st.Plugins.Logs().Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			cpu, own := cputree.Self()-cpu0, cputree.SelfOnly()-own0
			b.StopTimer()
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(own)/float64(b.N), "proc-cpu-ns/op")
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

func BenchmarkPluginRoute(b *testing.B) {
	bs := openPluginBenchSite(b)
	bs.activate(b, packPlugin(b, map[string]any{"id": "pinger", "version": "1.0.0", "name": "Pinger",
		"routes": []map[string]any{{"name": "ping", "public": true}}}, `export default { routes: { ping: () => ({ pong: true }) } };`), nil)
	for range 20 {
		bs.do(b, "GET", "/api/p/pinger/ping", nil, http.StatusOK, true)
	}
	b.SetParallelism(4) // 4×GOMAXPROCS concurrent clients
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bs.do(b, "GET", "/api/p/pinger/ping", nil, http.StatusOK, true)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
