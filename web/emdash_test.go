package web_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/mail"
	"github.com/pilcrow-cms/pilcrow/mail/mailtest"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash/emdashtest"
	"github.com/pilcrow-cms/pilcrow/site"
)

const notesID = "pilcrow-fixtures-emdash-notes"

var posts = map[string]any{
	"name": "posts", "label": "Posts", "options": map[string]any{"public": true},
	"fields": []map[string]any{
		{"name": "title", "type": "string", "required": true},
		{"name": "body", "type": "markdown"},
	},
}

// emdashSite is a test site with mail on a loopback SMTP server and an HTTP
// server on loopback the plugin may fetch from; it returns the site, the
// mail server and the host:port of the HTTP server.
func emdashSite(t *testing.T) (*testSite, *mailtest.Server, string) {
	t.Helper()
	smtp := mailtest.Start(t, mailtest.Options{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "from": r.Header.Get("X-From")})
	}))
	t.Cleanup(api.Close)
	ts := pluginSite(t, func(c *site.Config) {
		c.Plugins.UnsafeAllowLoopbackEgress = true
		c.Mail = mail.Config{URL: smtp.URL(), From: "Site <noreply@site.test>"}
		c.Info.URL = "https://cms.example.org"
		c.Info.Name = "Example"
	})
	return ts, smtp, mustURL(t, api.URL).Host
}

func pngDot(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestEmDashBundleInstall: an unchanged EmDash sandboxed bundle installs
// through POST /api/plugins, shows its translated grants and origin, and
// runs with EmDash's ctx, events and route shapes, under Pilcrow's limits.
func TestEmDashBundleInstall(t *testing.T) {
	ts, smtp, apiHost := emdashSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(posts)
	editor := ts.as(cms.RoleEditor)

	bundle := emdashtest.Notes(t, apiHost)
	in := admin.install(bundle, http.StatusCreated)
	if in.ID != notesID || in.Version != "1.2.0" || in.Status != "installed" {
		t.Fatalf("install = %+v", in)
	}
	if got := strings.Join(in.Consent.Capabilities, ","); got != "content:read,content:write,media:write,users:read,network:request,email:send,page:metadata" {
		t.Errorf("consent capabilities = %s", got)
	}
	if len(in.Consent.Lines) == 0 || !strings.Contains(in.Consent.Lines[0], "EmDash plugin bundle") {
		t.Errorf("consent lines = %q", in.Consent.Lines)
	}
	var exposed bool
	for _, l := range in.Consent.Lines {
		exposed = exposed || strings.Contains(l, "API key")
	}
	if !exposed {
		t.Errorf("the consent screen must name the exposed secret: %q", in.Consent.Lines)
	}
	// The same bytes again change nothing.
	if again := admin.install(bundle, http.StatusOK); again.Status != "installed" {
		t.Fatalf("re-upload = %+v", again)
	}
	admin.consent(in)
	admin.do("PATCH", "/api/plugins/"+notesID+"/settings", map[string]any{"greeting": "bonjour", "maxItems": 500, "apiKey": "s3cret"}).want(http.StatusOK)

	call := func(c *client, op string, extra map[string]any) map[string]any {
		t.Helper()
		body := map[string]any{"op": op}
		for k, v := range extra {
			body[k] = v
		}
		return c.do("POST", "/api/p/"+notesID+"/ctx", body).want(http.StatusOK).object()
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }

	// Route shapes: a GET's input is its query; cacheControl applies to
	// GET; a result shaped like {status, …} is still plain JSON.
	res := ts.anon().do("GET", "/api/p/"+notesID+"/ping?x=1&y=2", nil, header("User-Agent: emdash-test"))
	res.want(http.StatusOK)
	if res.Header.Get("Cache-Control") != "public, max-age=60" {
		t.Errorf("Cache-Control = %q", res.Header.Get("Cache-Control"))
	}
	if got := js(res.object()); got != `{"input":{"x":"1","y":"2"},"ip":"string","method":"GET","pong":"bonjour","status":"fine","user":"none","userAgent":"emdash-test"}` {
		t.Errorf("ping = %s", got)
	}
	// A POST's input is its body; the caller is an EmDash UserInfo with a
	// role level; "content:edit_any" admits editors, not authors.
	who := editor.do("POST", "/api/p/"+notesID+"/whoami", map[string]any{"a": 1}).want(http.StatusOK).object()
	u, _ := who["user"].(map[string]any)
	if u["id"] != editor.User.ID || u["role"] != float64(40) || js(who["input"]) != `{"a":1}` {
		t.Errorf("whoami = %s", js(who))
	}
	ts.as(cms.RoleAuthor).do("POST", "/api/p/"+notesID+"/whoami", nil).problem(http.StatusForbidden)
	editor.do("POST", "/api/p/"+notesID+"/ctx", map[string]any{"op": "site"}).problem(http.StatusForbidden)

	// ctx.kv, with settings read as "settings:<key>": saved values and
	// defaults; a number outside its declared range reads as unset; the
	// exposed secret is readable.
	if got := js(call(admin, "kv", nil)); got != `{"apiKey":"s3cret","deleted":true,"deletedAgain":false,"get":{"n":1},"greeting":"bonjour","lastSync":"never","maxItems":null,"missing":null,"settings":["settings:apiKey","settings:contact","settings:enabled","settings:greeting","settings:lastSync","settings:mode"]}` {
		t.Errorf("kv = %s", got)
	}
	// ctx.storage with EmDash's query options.
	if got := js(call(admin, "storage", nil)); got != `{"count":3,"countSave":2,"deleted":true,"deletedMany":2,"exists":true,"get":{"at":1,"key":"k1","type":"save"},"many":["e1","e3"],"next":["e1"],"query":{"cursor":"string","hasMore":true,"ids":["e2"]},"range":["e2","e3"]}` {
		t.Errorf("storage = %s", got)
	}
	// ctx.content: EmDash's ContentItem and PaginatedResult; what Pilcrow
	// cannot do is an error naming it, never a silently different result.
	// The plugin's own write does not run its own beforeSave hook.
	if got := js(call(admin, "content", nil)); got != `{"created":{"keys":["createdAt","data","id","locale","publishedAt","slug","status","type","updatedAt"],"locale":null,"status":"draft","title":"  From EmDash  ","type":"posts"},"deleted":true,"deletedAgain":false,"drafts":1,"got":true,"list":{"itemKeys":["createdAt","data","id","locale","publishedAt","slug","status","type","updatedAt"],"keys":["hasMore","items"],"n":1},"missing":null,"orderBy":"ctx.content.list orderBy is not supported by Pilcrow (see docs/emdash.md)","updated":"Updated"}` {
		t.Errorf("content = %s", got)
	}
	// ctx.media: upload(filename, contentType, bytes) and EmDash's items.
	if got := js(call(admin, "media", map[string]any{"png": base64.StdEncoding.EncodeToString(pngDot(t))})); got != `{"deleted":true,"deletedAgain":false,"getUploadUrl":"ctx.media.getUploadUrl (direct uploads to storage); use ctx.media.upload is not supported by Pilcrow (see docs/emdash.md)","got":{"filename":"dot.png","keys":["createdAt","filename","id","mimeType","size","url"],"mimeType":"image/png"},"images":1,"texts":0,"upload":{"keys":["mediaId","storageKey","url"],"same":true}}` {
		t.Errorf("media = %s", got)
	}
	// An upload (not the plugin's own: that runs none of its hooks) runs
	// its media:afterUpload with {media}.
	editor.mustUpload(filePart("dot.png", "image/png", pngDot(t)))
	eventually(t, "media:afterUpload", func() bool {
		v, _ := call(admin, "kvget", map[string]any{"key": "lastMedia"})["value"].(map[string]any)
		return v != nil && v["filename"] == "dot.png" && js(v["keys"]) == `["createdAt","filename","id","mimeType","size","url"]`
	})
	// ctx.users: role levels, getByEmail, list filtered by role.
	if got := js(call(admin, "users", map[string]any{"email": strings.ToUpper(editor.User.Email)})); got != `{"admins":["`+admin.User.Email+`"],"all":3,"byEmail":{"email":"`+editor.User.Email+`","keys":["createdAt","email","id","name","role"],"role":40},"get":true,"nobody":null}` {
		t.Errorf("users = %s", got)
	}
	// ctx.http to the allowed host only.
	if got := js(call(admin, "http", map[string]any{"url": "http://" + apiHost})); got != `{"elsewhere":"refused","json":{"from":"emdash","path":"/hello"},"status":200}` {
		t.Errorf("http = %s", got)
	}
	// ctx.email through the site's transport.
	if got := js(call(admin, "email", map[string]any{"to": "reader@example.com"})); got != `{}` {
		t.Errorf("email = %s", got)
	}
	if msgs := smtp.Wait(t, 1, 60*time.Second); !strings.Contains(string(msgs[0].Data), "From EmDash") || !strings.Contains(strings.Join(msgs[0].To, ","), "reader@example.com") {
		t.Errorf("mail = %+v", msgs[0])
	}
	// ctx.cron: schedule(name, {schedule, data}), list, cancel.
	if got := js(call(admin, "cron", nil)); got != `{"after":0,"listed":[{"last":null,"name":"digest","next":"string","schedule":"@daily"}]}` {
		t.Errorf("cron = %s", got)
	}
	// plugin:install ran at the first activation.
	if got := js(call(admin, "kvget", map[string]any{"key": "installedBy"})); got != `{"value":"emdash-notes"}` {
		t.Errorf("plugin:install = %s", got)
	}
	// ctx.site, ctx.url, ctx.plugin, ctx.log; no taxonomies, db or env.
	if got := js(call(admin, "site", nil)); got != `{"absent":{"db":false,"env":false,"taxonomies":"undefined"},"plugin":{"id":"`+notesID+`","version":"1.2.0"},"site":{"locale":"string","name":"Example","url":"https://cms.example.org"},"url":"https://cms.example.org/posts/x"}` {
		t.Errorf("site = %s", got)
	}

	// Hooks with EmDash's events: beforeSave gets {content, collection,
	// isNew} and its returned content is saved; a throw rejects the save.
	e := editor.createEntry("posts", map[string]any{"title": "  Hello  ", "body": "x"})
	if e.Data["title"] != "Hello (new)" {
		t.Fatalf("beforeSave: title = %v", e.Data["title"])
	}
	if _, has := e.Data["id"]; has {
		t.Fatal("the id EmDash's event carries must not be saved as a field")
	}
	r := editor.do("POST", "/api/collections/posts/entries", map[string]any{"data": map[string]any{"title": "forbidden words"}})
	if p := r.problem(http.StatusUnprocessableEntity); !strings.Contains(p.Detail, "refuses forbidden titles") || r.object()["plugin"] != notesID {
		t.Fatalf("rejection = %s", r.Body)
	}
	eventually(t, "content:afterSave", func() bool {
		v, _ := call(admin, "kvget", map[string]any{"key": "lastSaved"})["value"].(map[string]any)
		return v != nil && v["id"] == e.ID && v["collection"] == "posts" && v["isNew"] == true && v["title"] == "Hello (new)"
	})
	// beforeDelete returning false vetoes.
	keep := editor.createEntry("posts", map[string]any{"title": "Keep me"})
	if res := editor.do("DELETE", "/api/collections/posts/entries/"+keep.ID, nil); res.Status < 400 {
		t.Fatalf("beforeDelete veto: status %d", res.Status)
	}
	editor.getEntry("posts", keep.ID)
	// page:metadata contributions become Pilcrow's meta.
	editor.action("posts", e.ID, "publish", nil).want(http.StatusOK)
	var pub struct{ Meta []map[string]any }
	ts.anon().do("GET", "/api/public/posts/"+e.Slug, nil).want(http.StatusOK).decode(&pub)
	var slugMeta, site, ld bool
	for _, m := range pub.Meta {
		slugMeta = slugMeta || m["name"] == "emdash-slug" && m["content"] == e.Slug
		site = site || m["property"] == "og:site_name" && m["content"] == "Example"
		ld = ld || m["kind"] == "jsonld" || m["kind"] == "jsonLd" || m["type"] == "application/ld+json"
	}
	if !slugMeta || !site || !ld {
		t.Errorf("page metadata = %v", pub.Meta)
	}
}

// TestEmDashBundleRefusals: what Pilcrow cannot honour is refused at
// install, one problem per feature, and hostile archives get the zip rules.
func TestEmDashBundleRefusals(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)
	m, backend := emdashtest.NotesFiles(t, func(m map[string]any) {
		m["capabilities"] = []any{"content:write", "taxonomies:read", "network:request:unrestricted"}
		m["allowedHosts"] = []any{}
		m["hooks"] = []any{"comment:moderate", "email:deliver"}
		m["mcp"] = map[string]any{"tools": []any{}}
		m["routes"] = []any{"admin"}
	})
	data := emdashtest.Tarball(t, emdashtest.Entry{Name: "manifest.json", Body: m}, emdashtest.Entry{Name: "backend.js", Body: backend})
	p := admin.uploadBundle("/api/plugins", "bundle", data).problem(http.StatusUnprocessableEntity)
	for _, path := range []string{"/manifest.json/capabilities/1", "/manifest.json/capabilities/2", "/manifest.json/hooks/0", "/manifest.json/hooks/1", "/manifest.json/mcp"} {
		if !hasErrorAt(p, path) {
			t.Errorf("no problem at %s: %+v", path, p.Errors)
		}
	}
	if len(p.Errors) != 5 {
		t.Errorf("want 5 problems, one per feature: %+v", p.Errors)
	}
	link := emdashtest.Tarball(t, emdashtest.Entry{Name: "manifest.json", Body: m}, emdashtest.Entry{Name: "backend.js", Type: tar.TypeSymlink, Linkname: "/etc/passwd"})
	if p := admin.uploadBundle("/api/plugins", "bundle", link).problem(http.StatusUnprocessableEntity); !hasErrorAt(p, "bundle:/backend.js") {
		t.Errorf("symlink: %+v", p)
	}
	var list struct{ Items []pluginInfo }
	admin.do("GET", "/api/plugins", nil).want(http.StatusOK).decode(&list)
	if len(list.Items) != 0 {
		t.Fatalf("a refused bundle was installed: %+v", list.Items)
	}
}

// TestEmDashSourceImport: an EmDash source folder imported with
// plugins/emdash.Import (what `pilcrow plugin import` runs) packs into a
// bundle that installs and runs with the options its code declares.
func TestEmDashSourceImport(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(posts)
	dir := filepath.Join(t.TempDir(), "notes-src")
	if _, err := emdash.Import(context.Background(), emdashtest.Dir("notes-src"), dir); err != nil {
		t.Fatal(err)
	}
	in := admin.install(packDir(t, dir), http.StatusCreated)
	if in.ID != "notes-src" || !strings.Contains(in.Consent.Lines[0], "an EmDash plugin's source (notes-src 0.3.0)") {
		t.Fatalf("install = %+v", in)
	}
	admin.consent(in)
	// errorPolicy "continue" in the code: the failing beforeSave is logged
	// and the save goes on; afterSave (priority 7, timeout 1500) runs.
	author := ts.as(cms.RoleAuthor)
	e := author.createEntry("posts", map[string]any{"title": "boom"})
	if e.Data["title"] != "boom" {
		t.Fatalf("entry = %+v", e)
	}
	eventually(t, "content:afterSave", func() bool {
		var n struct{ Notes int }
		author.do("GET", "/api/p/notes-src/count", nil).want(http.StatusOK).decode(&n)
		return n.Notes == 1
	})
	var hello struct{ Hello string }
	ts.anon().do("GET", "/api/p/notes-src/hello?name=Ada", nil).want(http.StatusOK).decode(&hello)
	if hello.Hello != "Ada" {
		t.Fatalf("hello = %+v", hello)
	}
	ts.anon().do("GET", "/api/p/notes-src/count", nil).problem(http.StatusUnauthorized)
}

// TestEmDashBundleUpgrade: a new version of an EmDash bundle is an upgrade
// like any other: asking for a new host waits for consent with the change
// shown; the same version with other content is refused.
func TestEmDashBundleUpgrade(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.installActive(emdashtest.Notes(t))
	pack := func(edit func(m map[string]any)) []byte {
		m, backend := emdashtest.NotesFiles(t, edit)
		return emdashtest.Tarball(t, emdashtest.Entry{Name: "manifest.json", Body: m}, emdashtest.Entry{Name: "backend.js", Body: backend})
	}
	up := admin.install(pack(func(m map[string]any) {
		m["version"] = "1.3.0"
		m["allowedHosts"] = []any{"api.example.com", "*.cdn.example.com", "new.example.com"}
	}), http.StatusCreated)
	if up.Upgrade == nil || up.Upgrade.To != "1.3.0" || !up.Upgrade.Escalation || up.Running != "1.2.0" {
		t.Fatalf("upgrade = %+v", up)
	}
	admin.uploadBundle("/api/plugins", "bundle", pack(func(m map[string]any) {
		m["version"] = "1.2.0"
		m["routes"] = []any{map[string]any{"name": "ping", "public": true}, "whoami", "ctx", "admin"}
	})).problem(http.StatusConflict)
}
