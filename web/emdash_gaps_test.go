package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash/emdashtest"
	"github.com/robfig/cron/v3"
)

const gapsID = "pilcrow-fixtures-emdash-gaps"

// gapsState reads what the gaps fixture's hooks recorded under keys, with
// how many times each ran ("count:<key>").
func gapsState(admin *client, keys ...string) map[string]any {
	admin.t.Helper()
	return admin.do("POST", "/api/p/"+gapsID+"/state", map[string]any{"keys": keys}).want(http.StatusOK).object()
}

func gapsJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestEmDashRouteInputSchema: a route whose code declares an `input` schema
// (zod's safeParse contract, here a tiny validator in the fixture) hands the
// handler the parsed value; input that fails it is a 400 problem naming every
// issue, and the handler does not run.
func TestEmDashRouteInputSchema(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.installActive(emdashtest.Bundle(t, "gaps"))
	anon := ts.anon()

	// Parsed, not raw: trimmed strings and the schema's defaults.
	got := anon.do("POST", "/api/p/"+gapsID+"/signup", map[string]any{"email": "  ada@example.com ", "name": " Ada ", "tags": []string{"a"}, "extra": true}).want(http.StatusOK).object()
	if s := gapsJSON(got); s != `{"input":{"email":"ada@example.com","name":"Ada","seats":1,"tags":["a"]},"method":"POST"}` {
		t.Errorf("valid input = %s", s)
	}

	for _, tc := range []struct {
		name    string
		body    any
		details []string // each must appear in the problem's detail
		paths   []string // the problem's errors, in order
	}{
		{
			name:    "every field wrong",
			body:    map[string]any{"email": "nope", "seats": 2.5, "tags": []any{"a", 3}},
			details: []string{"email: Invalid email", "name: Expected string, received undefined", "seats: Expected integer", "tags.1: Expected string, received number"},
			paths:   []string{"/email", "/name", "/seats", "/tags/1"},
		},
		{
			name:    "over the maximum",
			body:    map[string]any{"email": "a@b.example", "name": "A", "seats": 11},
			details: []string{"seats: Number must be less than or equal to 10"},
			paths:   []string{"/seats"},
		},
		{
			name:    "not an object",
			body:    []any{1, 2},
			details: []string{"Expected object, received object"},
			paths:   []string{""},
		},
		{
			name:    "no body",
			body:    nil,
			details: []string{"Expected object, received undefined"},
			paths:   []string{""},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := anon.do("POST", "/api/p/"+gapsID+"/signup", tc.body)
			p := r.problem(http.StatusBadRequest)
			if p.Title != "Invalid input" || !strings.HasPrefix(p.Detail, "the input does not match the route's schema: ") {
				t.Errorf("problem = %+v", p)
			}
			for _, d := range tc.details {
				if !strings.Contains(p.Detail, d) {
					t.Errorf("detail %q does not name %q", p.Detail, d)
				}
			}
			var paths []string
			for _, e := range p.Errors {
				paths = append(paths, e.Path)
				if e.Message == "" {
					t.Errorf("error at %q has no message", e.Path)
				}
			}
			if strings.Join(paths, ",") != strings.Join(tc.paths, ",") {
				t.Errorf("error paths = %q, want %q", paths, tc.paths)
			}
			// EmDash's own members stay, for clients written for EmDash.
			obj := r.object()
			issues, _ := obj["issues"].([]any)
			if obj["error"] != "Invalid input" || len(issues) != len(tc.paths) {
				t.Errorf("EmDash members = %s", r.Body)
			}
		})
	}
	// Only the valid call reached the handler.
	if st := gapsState(admin, "signup"); st["count:signup"] != float64(1) {
		t.Errorf("handler ran %v times, want 1", st["count:signup"])
	}
}

// TestEmDashCronTick: the cron task the fixture schedules at plugin:install
// (EmDash's ctx.cron.schedule(name, {schedule, data})) fires on a real tick
// of the site's plugin runtime, and the handler gets EmDash's cron event
// {name, data, scheduledAt}, once per due tick.
func TestEmDashCronTick(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)
	installed := time.Now().UTC()
	admin.installActive(emdashtest.Bundle(t, "gaps"))

	// A runner on the site's own database and plugin manager, with a clock
	// past the task's next run (the 1st of January): the site's own runner,
	// on the wall clock, is not due for weeks.
	var now time.Time
	runner := plugins.NewCronRunner(ts.Site.DB, ts.Site.Plugins, plugins.CronConfig{Now: func() time.Time { return now }})
	tick := func(at time.Time) {
		t.Helper()
		now = at
		if _, err := runner.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Not due yet (its next run was computed after installed): nothing runs.
	tick(installed)
	if st := gapsState(admin, "cron"); st["count:cron"] != float64(0) {
		t.Fatalf("cron ran before it was due: %s", gapsJSON(st))
	}
	sched, err := cron.ParseStandard("0 0 1 1 *")
	if err != nil {
		t.Fatal(err)
	}
	due := sched.Next(installed)
	// Whichever runner claims the due tick (this one, or in the unlikely
	// case the wall clock is there too, the site's), it runs exactly once.
	tick(due.Add(90 * time.Second))
	var st map[string]any
	eventually(t, "cron", func() bool {
		st = gapsState(admin, "cron")
		return st["count:cron"] == float64(1)
	})
	if s := gapsJSON(st["cron"]); s != `{"data":{"list":"weekly","n":2},"keys":["data","name","scheduledAt"],"name":"digest","scheduledAt":"`+due.Format(time.RFC3339)+`"}` {
		t.Errorf("cron event = %s", s)
	}
	// The same tick again does not run twice.
	tick(due.Add(2 * time.Minute))
	if st := gapsState(admin, "cron"); st["count:cron"] != float64(1) {
		t.Errorf("the tick ran %v times", st["count:cron"])
	}
}

// TestEmDashContentAndMediaHooks: content:afterDelete, content:afterPublish,
// content:afterUnpublish and media:beforeUpload run through a real site's
// content and media requests with EmDash's event shapes; beforeUpload's throw
// and its changed name refuse the upload, and nothing is stored.
func TestEmDashContentAndMediaHooks(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(posts)
	admin.installActive(emdashtest.Bundle(t, "gaps"))
	editor := ts.as(cms.RoleEditor)

	e := editor.createEntry("posts", map[string]any{"title": "Gaps"})
	editor.action("posts", e.ID, "publish", nil).want(http.StatusOK)
	eventually(t, "content:afterPublish", func() bool {
		return gapsState(admin, "afterPublish")["count:afterPublish"] == float64(1)
	})
	if s := gapsJSON(gapsState(admin, "afterPublish")["afterPublish"]); s != `{"collection":"posts","id":"`+e.ID+`","keys":["collection","content"],"title":"Gaps"}` {
		t.Errorf("afterPublish event = %s", s)
	}
	editor.action("posts", e.ID, "unpublish", nil).want(http.StatusOK)
	eventually(t, "content:afterUnpublish", func() bool {
		return gapsState(admin, "afterUnpublish")["count:afterUnpublish"] == float64(1)
	})
	if s := gapsJSON(gapsState(admin, "afterUnpublish")["afterUnpublish"]); s != `{"collection":"posts","id":"`+e.ID+`","keys":["collection","content"],"title":"Gaps"}` {
		t.Errorf("afterUnpublish event = %s", s)
	}
	if res := editor.do("DELETE", "/api/collections/posts/entries/"+e.ID, nil); res.Status >= 300 {
		t.Fatalf("delete: status %d: %s", res.Status, res.Body)
	}
	eventually(t, "content:afterDelete", func() bool {
		return gapsState(admin, "afterDelete")["count:afterDelete"] == float64(1)
	})
	if s := gapsJSON(gapsState(admin, "afterDelete")["afterDelete"]); s != `{"collection":"posts","id":"`+e.ID+`","keys":["collection","id","permanent"],"permanent":false}` {
		t.Errorf("afterDelete event = %s", s)
	}

	// media:beforeUpload sees {file: {name, type, size}} and lets it through.
	dot := pngDot(t)
	m := editor.mustUpload(filePart("gaps.png", "image/png", dot))
	if s := gapsJSON(gapsState(admin, "beforeUpload")["beforeUpload"]); s != `{"fileKeys":["name","size","type"],"keys":["file"],"name":"gaps.png","size":`+gapsJSON(len(dot))+`,"type":"image/png"}` {
		t.Errorf("beforeUpload event = %s", s)
	}
	// A throw refuses the upload, naming the plugin's reason; so does a
	// changed name, which Pilcrow cannot apply.
	for name, want := range map[string]string{
		"secret-plan.png": "gaps refuses files named secret-*",
		"rename-dot.png":  "Pilcrow cannot rename or retype an upload",
	} {
		r := editor.upload(filePart(name, "image/png", dot))
		p := r.problem(http.StatusUnprocessableEntity)
		if !strings.Contains(p.Detail, want) || !hasErrorAt(p, "/file") || r.object()["plugin"] != gapsID {
			t.Errorf("%s: problem %s does not say %q", name, r.Body, want)
		}
	}
	if st := gapsState(admin, "beforeUpload"); st["count:beforeUpload"] != float64(3) {
		t.Errorf("beforeUpload ran %v times, want 3", st["count:beforeUpload"])
	}
	var list struct{ Items []mediaJSON }
	editor.do("GET", "/api/media", nil).want(http.StatusOK).decode(&list)
	if len(list.Items) != 1 || list.Items[0].ID != m.ID {
		t.Errorf("media after refusals = %+v", list.Items)
	}
}
