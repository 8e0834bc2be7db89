package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/web"
)

// Plugin admin pages and dashboard widgets (SPEC §11). The host asks the
// plugin's private "admin" route for blocks — {type: "page", path, query},
// {type: "widget", id} or {type: "action", actionId, values, path | widget}
// — and renders them itself (blocks.go), so a plugin never puts markup or
// script on the admin's origin. Actions are plain form posts to
// /admin/plugins/{id}/action, checked for the session's CSRF token by web's
// middleware like every other admin form.

// adminRequest is the body the admin route receives.
type adminRequest struct {
	Type string `json:"type"`
	Path string `json:"path,omitempty"`
	ID   string `json:"id,omitempty"`
	// Query is the page URL's query (first values), {} when none.
	Query    map[string]string `json:"query"`
	ActionID string            `json:"actionId,omitempty"`
	// Values is {} for an action without inputs, absent otherwise.
	Values map[string]any `json:"values,omitzero"`
	// Widget names the widget an action came from ("" for a page).
	Widget string `json:"widget,omitempty"`
}

// blocksView is a rendered answer.
type blocksView struct {
	Plugin string
	Label  string
	HTML   template.HTML
	// Failed is set when the plugin could not answer; the page says so.
	Failed string
	Size   string
}

// pluginNavItem is one plugin page in the navigation.
type pluginNavItem struct {
	Plugin, Label, Href string
}

// callAdmin invokes the plugin's admin route and decodes its blocks.
// Dropped blocks are noted in the server log and the plugin's own log.
func (s *UI) callAdmin(r *http.Request, ap *plugins.ActivePlugin, req adminRequest) ([]decodedBlock, string, error) {
	ctx := r.Context()
	route, ok := ap.Manifest.Route(manifest.AdminRoute)
	if !ok {
		return nil, "", fmt.Errorf("%w: plugin %s declares no admin route", plugins.ErrNotFound, ap.ID)
	}
	if req.Query == nil {
		req.Query = map[string]string{}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, "", err
	}
	u := web.CurrentUser(r)
	rr := plugins.RouteRequest{
		Method: http.MethodPost, Body: body,
		Headers: map[string]string{"content-type": "application/json"},
		User:    &plugins.RouteUser{ID: u.ID, Name: u.Name, Role: string(u.Role)},
		IP:      s.web.ClientIP(r), URL: r.URL.String(),
	}
	res, err := s.svc.Plugins.ServeRoute(ctx, ap, route, rr)
	if err != nil {
		return nil, "", err
	}
	if res.Status < 200 || res.Status > 299 {
		return nil, "", fmt.Errorf("the admin route answered status %d", res.Status)
	}
	blocks, toast, dropped, err := parseAnswer(res.Body)
	if err != nil {
		return nil, "", err
	}
	if len(dropped) > 0 {
		s.noteDropped(ctx, ap, req, dropped)
	}
	return blocks, toast, nil
}

// noteDropped tells the plugin's author what was not shown, in the server
// log and in the plugin's log on its admin page.
func (s *UI) noteDropped(ctx context.Context, ap *plugins.ActivePlugin, req adminRequest, dropped []string) {
	what := req.Type + " " + req.Path + req.ID
	s.log.WarnContext(ctx, "plugin admin blocks dropped", "plugin", ap.ID, "request", what, "dropped", strings.Join(dropped, "; "))
	logs := s.svc.Plugins.Logs()
	if logs == nil {
		return
	}
	now := time.Now().UTC()
	rec := plugins.InvocationLog{PluginID: ap.ID, Version: ap.Manifest.Version, Kind: "admin", Name: what,
		StartedAt: now, Outcome: plugins.OutcomeOK}
	for _, d := range dropped {
		rec.Lines = append(rec.Lines, sandbox.LogLine{Level: "warn", Message: "dropped " + d, Time: now})
	}
	logs.Record(rec)
}

// adminFailure is what a page or widget shows when its plugin failed.
func (s *UI) adminFailure(r *http.Request, ap *plugins.ActivePlugin, err error) string {
	var re *plugins.RouteError
	if errors.As(err, &re) {
		return "The plugin failed to answer: " + re.Err.Error()
	}
	s.log.ErrorContext(r.Context(), "plugin admin call", "plugin", ap.ID, "err", err)
	return "The plugin could not answer: " + err.Error()
}

// pagePath is the page path of a request under /admin/plugins/{id}.
func pagePath(r *http.Request) string { return "/" + chi.URLParam(r, "*") }

func firstValues(q url.Values) map[string]string {
	out := map[string]string{}
	for k, vs := range q {
		if len(vs) > 0 && k != "notice" {
			out[k] = vs[0]
		}
	}
	return out
}

// withNext sets each table's next-page link: the page with the same query
// (or the submitted values) and the table's cursor.
func withNext(blocks []decodedBlock, path string, query map[string]string) {
	for _, b := range blocks {
		t, ok := b.data.(*tableBlock)
		if !ok || t.NextCursor == "" {
			continue
		}
		q := url.Values{}
		for k, v := range query {
			q.Set(k, v)
		}
		q.Set("cursor", t.NextCursor)
		t.next = template.URL(path + "?" + q.Encode()) //nolint:gosec // path is a declared page path; the query is encoded
	}
}

func (s *UI) findAdminPlugin(w http.ResponseWriter, r *http.Request) (*plugins.ActivePlugin, bool) {
	ap, _, err := s.svc.Plugins.FindRoute(r.Context(), chi.URLParam(r, "id"), manifest.AdminRoute)
	if err != nil {
		if errors.Is(err, plugins.ErrNotFound) {
			s.adminError(w, r, http.StatusNotFound, "There is no admin page at "+r.URL.Path+": the plugin is not active or has no such page.")
			return nil, false
		}
		s.adminFail(w, r, err)
		return nil, false
	}
	return ap, true
}

func (s *UI) handleAdminPluginPage(w http.ResponseWriter, r *http.Request) {
	ap, ok := s.findAdminPlugin(w, r)
	if !ok {
		return
	}
	path := pagePath(r)
	page, ok := ap.Manifest.AdminPage(path)
	if !ok {
		s.adminError(w, r, http.StatusNotFound, "There is no admin page at "+r.URL.Path+".")
		return
	}
	query := firstValues(r.URL.Query())
	s.renderPluginPage(w, r, ap, page, adminRequest{Type: "page", Path: path, Query: query}, query, "")
}

// renderPluginPage asks for req's blocks and renders them as the page.
func (s *UI) renderPluginPage(w http.ResponseWriter, r *http.Request, ap *plugins.ActivePlugin, page manifest.AdminPage, req adminRequest, query map[string]string, toast string) {
	v := blocksView{Plugin: ap.Manifest.Name, Label: page.Label}
	blocks, t, err := s.callAdmin(r, ap, req)
	if t != "" {
		toast = t
	}
	if err != nil {
		v.Failed = s.adminFailure(r, ap, err)
	} else {
		withNext(blocks, "/admin/plugins/"+ap.ID+page.Path, query)
		v.HTML, err = renderBlocks(blocks, blockCtx{CSRF: csrfOf(r), Action: "/admin/plugins/" + ap.ID + "/action", Origin: "page:" + page.Path, Form: "b"})
		if err != nil {
			s.adminFail(w, r, err)
			return
		}
	}
	s.adminRender(w, r, http.StatusOK, "plugin_page", &adminPage{Title: page.Label + " · " + ap.Manifest.Name, Nav: "plugins", Notice: toast, Data: v})
}

func csrfOf(r *http.Request) string {
	if sess := web.CurrentSession(r); sess != nil {
		return sess.CSRFToken
	}
	return ""
}

// formValues turns the posted v.<name> fields into the action's values,
// typed by their t.<name> companions: numbers as numbers, toggles as
// booleans, everything else as text.
func formValues(form url.Values) (map[string]any, error) {
	out := map[string]any{}
	for k, vs := range form {
		name, ok := strings.CutPrefix(k, "t.")
		if !ok || len(vs) == 0 {
			continue
		}
		raw := form.Get("v." + name)
		switch vs[0] {
		case "toggle":
			out[name] = raw == "true"
		case "number":
			if raw == "" {
				out[name] = nil
				continue
			}
			n, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				return nil, fmt.Errorf("%s must be a number, got %q", name, raw)
			}
			out[name] = n
		default:
			out[name] = raw
		}
	}
	return out, nil
}

func (s *UI) handleAdminPluginAction(w http.ResponseWriter, r *http.Request) {
	ap, ok := s.findAdminPlugin(w, r)
	if !ok {
		return
	}
	actionID := r.PostFormValue("action_id")
	if checkActionID("action_id", actionID) != nil {
		s.adminError(w, r, http.StatusBadRequest, "The form names no valid action.")
		return
	}
	values, err := formValues(r.PostForm)
	if err != nil {
		s.adminError(w, r, http.StatusBadRequest, "The form has a bad value: "+err.Error())
		return
	}
	kind, ref, _ := strings.Cut(r.PostFormValue("origin"), ":")
	req := adminRequest{Type: "action", ActionID: actionID, Values: values}
	var page manifest.AdminPage
	switch kind {
	case "page":
		p, ok := ap.Manifest.AdminPage(ref)
		if !ok {
			s.adminError(w, r, http.StatusBadRequest, "The form came from a page the plugin does not declare.")
			return
		}
		page, req.Path = p, ref
	case "widget":
		wd, ok := ap.Manifest.AdminWidget(ref)
		if !ok {
			s.adminError(w, r, http.StatusBadRequest, "The form came from a widget the plugin does not declare.")
			return
		}
		page, req.Widget = manifest.AdminPage{Path: "", Label: wd.Title}, ref
	default:
		s.adminError(w, r, http.StatusBadRequest, "The form does not say which page it came from.")
		return
	}
	blocks, toast, err := s.callAdmin(r, ap, req)
	if err != nil {
		v := blocksView{Plugin: ap.Manifest.Name, Label: page.Label, Failed: s.adminFailure(r, ap, err)}
		s.adminRender(w, r, http.StatusBadGateway, "plugin_page", &adminPage{Title: page.Label, Nav: "plugins", Data: v})
		return
	}
	// An answer with only a toast shows the page again, freshly asked for.
	if len(blocks) == 0 && kind == "page" {
		s.renderPluginPage(w, r, ap, page, adminRequest{Type: "page", Path: page.Path, Query: map[string]string{}}, nil, toast)
		return
	}
	if len(blocks) == 0 {
		if toast == "" {
			toast = "Done."
		}
		s.renderToastOnly(w, r, ap, page, toast)
		return
	}
	query := map[string]string{}
	for k, v := range values {
		if v != nil {
			query[k] = fmt.Sprint(v)
		}
	}
	v := blocksView{Plugin: ap.Manifest.Name, Label: page.Label}
	if kind == "page" {
		withNext(blocks, "/admin/plugins/"+ap.ID+page.Path, query)
	}
	v.HTML, err = renderBlocks(blocks, blockCtx{CSRF: csrfOf(r), Action: "/admin/plugins/" + ap.ID + "/action", Origin: kind + ":" + ref, Form: "b"})
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	s.adminRender(w, r, http.StatusOK, "plugin_page", &adminPage{Title: page.Label + " · " + ap.Manifest.Name, Nav: "plugins", Notice: toast, Data: v})
}

func (s *UI) renderToastOnly(w http.ResponseWriter, r *http.Request, ap *plugins.ActivePlugin, page manifest.AdminPage, toast string) {
	v := blocksView{Plugin: ap.Manifest.Name, Label: page.Label}
	s.adminRender(w, r, http.StatusOK, "plugin_page", &adminPage{Title: page.Label, Nav: "plugins", Notice: toast, Data: v})
}

// adminWidgets renders every active plugin's dashboard widgets. A widget
// whose plugin fails shows why; it never fails the dashboard.
func (s *UI) adminWidgets(r *http.Request) ([]blocksView, error) {
	if !s.adminPluginsEnabled() {
		return nil, nil
	}
	list, err := s.svc.Plugins.Active(r.Context())
	if err != nil {
		return nil, err
	}
	var out []blocksView
	for _, ap := range list {
		for _, wd := range ap.Manifest.AdminWidgets() {
			v := blocksView{Plugin: ap.Manifest.Name, Label: wd.Title, Size: wd.Size}
			if v.Size == "" {
				v.Size = "full"
			}
			blocks, _, err := s.callAdmin(r, ap, adminRequest{Type: "widget", ID: wd.ID})
			if err != nil {
				v.Failed = s.adminFailure(r, ap, err)
			} else {
				v.HTML, err = renderBlocks(blocks, blockCtx{CSRF: csrfOf(r), Action: "/admin/plugins/" + ap.ID + "/action",
					Origin: "widget:" + wd.ID, Form: "w-" + ap.ID + "-" + wd.ID})
				if err != nil {
					return nil, err
				}
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// pluginNav lists the active plugins' pages for the navigation.
func (s *UI) pluginNav(ctx context.Context) []pluginNavItem {
	list, err := s.svc.Plugins.Active(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "plugin pages for the navigation", "err", err)
		return nil
	}
	var out []pluginNavItem
	for _, ap := range list {
		for _, p := range ap.Manifest.AdminPages() {
			out = append(out, pluginNavItem{Plugin: ap.Manifest.Name, Label: p.Label, Href: "/admin/plugins/" + ap.ID + p.Path})
		}
	}
	return out
}
