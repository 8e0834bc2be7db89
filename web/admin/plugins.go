package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/web"
)

// Plugin pages (admins only). Bundles are uploaded by the page's script to
// the JSON API (POST /api/plugins); everything after — the consent screen,
// activation, settings, logs, uninstall — is plain forms here.

func (s *UI) adminPluginsEnabled() bool { return s.svc.Plugins != nil }

func (s *UI) adminPluginRoutes(r chi.Router) {
	if !s.adminPluginsEnabled() {
		return
	}
	r.Route("/plugins", func(r chi.Router) {
		r.Use(s.adminRequire(cms.PermManagePlugins))
		r.Get("/", s.handleAdminPlugins)
		r.Get("/{id}", s.handleAdminPlugin)
		r.Post("/{id}/activate", s.handleAdminActivatePlugin)
		r.Post("/{id}/deactivate", s.handleAdminDeactivatePlugin)
		r.Post("/{id}/reject-upgrade", s.handleAdminRejectUpgrade)
		r.Post("/{id}/uninstall", s.handleAdminUninstallPlugin)
		r.Get("/{id}/settings", s.handleAdminPluginSettings)
		r.Post("/{id}/settings", s.handleAdminSavePluginSettings)
		r.Get("/{id}/logs", s.handleAdminPluginLogs)
		r.Post("/{id}/action", s.handleAdminPluginAction)
		r.Get("/{id}/*", s.handleAdminPluginPage)
	})
}

// pluginRow is a plugin with its invocation stats, when logs are kept.
type pluginRow struct {
	Info  *plugins.Info
	Stats *plugins.LogStats
}

// pluginHealth is the dashboard's plugin summary.
type pluginHealth struct {
	Plugins []pluginRow
	// Dropped counts log records lost because the writer fell behind.
	Dropped int64
}

func (s *UI) pluginRows(r *http.Request) ([]pluginRow, error) {
	list, err := s.svc.Plugins.List(r.Context())
	if err != nil {
		return nil, err
	}
	rows := make([]pluginRow, len(list))
	logs := s.svc.Plugins.Logs()
	for i, p := range list {
		rows[i].Info = p
		if logs != nil {
			st, err := logs.Stats(r.Context(), p.ID)
			if err != nil {
				return nil, err
			}
			rows[i].Stats = st
		}
	}
	return rows, nil
}

// adminPluginHealth is nil when the site runs without plugins.
func (s *UI) adminPluginHealth(r *http.Request) (*pluginHealth, error) {
	if !s.adminPluginsEnabled() {
		return nil, nil
	}
	rows, err := s.pluginRows(r)
	if err != nil {
		return nil, err
	}
	h := &pluginHealth{Plugins: rows}
	if l := s.svc.Plugins.Logs(); l != nil {
		h.Dropped = l.Dropped()
	}
	return h, nil
}

func (s *UI) adminPluginFail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, plugins.ErrNotFound):
		s.adminError(w, r, http.StatusNotFound, "No such plugin.")
	case errors.Is(err, plugins.ErrConsent):
		s.adminError(w, r, http.StatusConflict, "The plugin now asks for something other than what you were shown, so it was not activated. Open it again and review the new list.")
	case errors.Is(err, plugins.ErrNothingPending), errors.Is(err, plugins.ErrLifecycle), errors.Is(err, plugins.ErrNoUpgrade):
		s.adminError(w, r, http.StatusConflict, err.Error())
	default:
		s.adminFail(w, r, err)
	}
}

func (s *UI) handleAdminPlugins(w http.ResponseWriter, r *http.Request) {
	rows, err := s.pluginRows(r)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	s.adminRender(w, r, http.StatusOK, "plugins", &adminPage{Title: "Plugins", Nav: "plugins", Data: rows})
}

// secretLine says, for one secret setting, where its value goes.
type secretLine struct {
	Key, Label, Where string
}

type pluginView struct {
	Info *plugins.Info
	// NeedsConsent: an install or upgrade waits for the admin.
	NeedsConsent bool
	PublicRoutes []manifest.Route
	Secrets      []secretLine
	Stats        *plugins.LogStats
	// Schedules are the cron schedules of the running version: the
	// manifest's and those the plugin registered with ctx.cron.
	Schedules []plugins.ScheduleInfo
	// Missing are the required settings still empty: the consent button
	// leads to the settings before activating.
	Missing []manifest.Setting
}

// StatusLine says in words where the plugin stands, instead of two version
// numbers side by side.
func (v pluginView) StatusLine() string {
	i := v.Info
	switch {
	case i.Upgrade != nil && i.Status == plugins.StatusInstalled && i.Running != "":
		return "Running " + i.Running + " · upgrade to " + i.Upgrade.To + " awaits your consent"
	case i.Running == "":
		return "Version " + i.Version + " · not activated yet: awaits your consent"
	case i.Status == plugins.StatusActive:
		return "Running " + i.Running
	default:
		return "Version " + i.Running + " · deactivated: nothing of it runs"
	}
}

func secretLines(m *manifest.Manifest) []secretLine {
	var out []secretLine
	if m == nil {
		return nil
	}
	for _, st := range m.Settings {
		if st.Type != manifest.SettingSecret {
			continue
		}
		l := secretLine{Key: st.Key, Label: st.Label}
		switch {
		case st.Inject != nil:
			host := st.Inject.Host
			if key := st.Inject.HostFromSetting; key != "" {
				host = "the host of the address in “" + key + "”"
				if hs, ok := m.Setting(key); ok {
					host = "the host of the address in “" + hs.Label + "”"
				}
			}
			l.Where = "sent only to " + host + " in the " + st.Inject.HeaderName() + " header; the plugin's code never sees it"
		case st.Exposed:
			l.Where = "readable by the plugin's code, which may send it to any host it is allowed to reach"
		default:
			l.Where = "stored sealed; not sent anywhere and not readable by the plugin's code"
		}
		out = append(out, l)
	}
	return out
}

func (s *UI) handleAdminPlugin(w http.ResponseWriter, r *http.Request) {
	info, err := s.svc.Plugins.Get(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.adminPluginFail(w, r, err)
		return
	}
	v := pluginView{Info: info, NeedsConsent: info.Status == plugins.StatusInstalled || info.Upgrade != nil,
		Secrets: secretLines(info.Manifest)}
	if info.Manifest != nil {
		for _, rt := range info.Manifest.Routes {
			if rt.Public {
				v.PublicRoutes = append(v.PublicRoutes, rt)
			}
		}
	}
	if logs := s.svc.Plugins.Logs(); logs != nil {
		if v.Stats, err = logs.Stats(r.Context(), info.ID); err != nil {
			s.adminFail(w, r, err)
			return
		}
	}
	if v.Schedules, err = s.svc.Plugins.Schedules(r.Context(), info.ID); err != nil {
		s.adminFail(w, r, err)
		return
	}
	if v.Missing, err = s.svc.Plugins.MissingSettings(r.Context(), info.ID); err != nil {
		s.adminFail(w, r, err)
		return
	}
	title := info.Name
	switch {
	case info.Upgrade != nil && info.Running != "":
		title = "Review the upgrade of " + info.Name
	case v.NeedsConsent:
		title = "Review " + info.Name + " before it runs"
	}
	s.adminRender(w, r, http.StatusOK, "plugin", &adminPage{Title: title, Nav: "plugins", Data: v})
}

// postedGrant is the grant a consent form carries: exactly the lists the
// consent screen showed; the manager refuses them if the plugin has asked
// for anything else since.
func postedGrant(r *http.Request) plugins.Grant {
	g := plugins.Grant{Capabilities: r.PostForm["capabilities"], AllowedHosts: r.PostForm["allowedHosts"]}
	if g.Capabilities == nil {
		g.Capabilities = []string{}
	}
	if g.AllowedHosts == nil {
		g.AllowedHosts = []string{}
	}
	return g
}

func (s *UI) handleAdminActivatePlugin(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	s.activateWith(w, r, postedGrant(r))
}

// activateWith activates the plugin with the consented grant. While a
// required setting is empty the admin gets the settings form as the next
// step (consent → settings → active), carrying the grant, instead of an
// error.
func (s *UI) activateWith(w http.ResponseWriter, r *http.Request, g plugins.Grant) {
	id := chi.URLParam(r, "id")
	_, err := s.svc.Plugins.Activate(r.Context(), id, g, web.CurrentUser(r).ID)
	var ms *plugins.MissingSettingsError
	switch {
	case errors.As(err, &ms):
		errs := map[string][]string{}
		for _, st := range ms.Settings {
			errs["/"+st.Key] = []string{"is required before the plugin can run"}
		}
		s.renderPluginSettings(w, r, http.StatusOK, nil, errs, "", &g)
	case err != nil:
		s.adminPluginFail(w, r, err)
	default:
		redirectNotice(w, r, "/admin/plugins/"+id, "activated")
	}
}

func (s *UI) handleAdminRejectUpgrade(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	id := chi.URLParam(r, "id")
	if _, err := s.svc.Plugins.RejectUpgrade(r.Context(), id); err != nil {
		s.adminPluginFail(w, r, err)
		return
	}
	redirectNotice(w, r, "/admin/plugins/"+id, "upgrade-rejected")
}

func (s *UI) handleAdminDeactivatePlugin(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	id := chi.URLParam(r, "id")
	if _, err := s.svc.Plugins.Deactivate(r.Context(), id); err != nil {
		s.adminPluginFail(w, r, err)
		return
	}
	redirectNotice(w, r, "/admin/plugins/"+id, "deactivated")
}

func (s *UI) handleAdminUninstallPlugin(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	deleteData := r.PostForm.Get("delete_data") != ""
	if err := s.svc.Plugins.Uninstall(r.Context(), chi.URLParam(r, "id"), deleteData); err != nil {
		s.adminPluginFail(w, r, err)
		return
	}
	redirectNotice(w, r, "/admin/plugins", "uninstalled")
}

// settingControl is one control of a plugin's generated settings form.
type settingControl struct {
	S      manifest.Setting
	ID     string
	Value  string
	On     bool
	IsSet  bool // secrets: a value is stored
	Where  string
	Errs   []string
	Number bool
	// AllowsHost: the setting is one of network.allowedHostsFromSettings;
	// Host is the origin its saved value lets the plugin reach.
	AllowsHost bool
	Host       string
}

type settingsView struct {
	Info     *plugins.Info
	Controls []settingControl
	// Activate is set when the form is the step between consent and
	// activation: it carries the consented grant, and saving activates.
	Activate *plugins.Grant
}

func (s *UI) renderPluginSettings(w http.ResponseWriter, r *http.Request, status int, echo map[string]string, errs map[string][]string, pageErr string, activate *plugins.Grant) {
	ctx := r.Context()
	id := chi.URLParam(r, "id")
	info, err := s.svc.Plugins.Get(ctx, id)
	if err != nil {
		s.adminPluginFail(w, r, err)
		return
	}
	sv, err := s.svc.Plugins.Settings(ctx, id)
	if err != nil {
		s.adminPluginFail(w, r, err)
		return
	}
	where := map[string]string{}
	for _, l := range secretLines(info.Manifest) {
		where[l.Key] = l.Where
	}
	v := settingsView{Info: info, Activate: activate}
	for _, st := range sv.Fields {
		c := settingControl{S: st, ID: "setting-" + st.Key, Errs: errs["/"+st.Key], Where: where[st.Key],
			IsSet: slices.Contains(sv.SecretsSet, st.Key), Number: st.Type == manifest.SettingNumber}
		c.Host, c.AllowsHost = sv.AllowedHosts[st.Key]
		val, has := sv.Values[st.Key]
		if e, ok := echo[st.Key]; ok {
			val, has = e, true
		}
		if has && st.Type != manifest.SettingSecret {
			switch x := val.(type) {
			case bool:
				c.On = x
			case string:
				c.Value = x
				c.On = x == "true"
			case float64:
				c.Value = strconv.FormatFloat(x, 'f', -1, 64)
			case nil:
			default:
				b, _ := json.Marshal(x)
				c.Value = string(b)
			}
		}
		v.Controls = append(v.Controls, c)
	}
	title := "Settings of " + info.Name
	if activate != nil {
		title = "Set up " + info.Name + " before it runs"
	}
	s.adminRender(w, r, status, "plugin_settings", &adminPage{Title: title, Nav: "plugins", Error: pageErr, Data: v})
}

func (s *UI) handleAdminPluginSettings(w http.ResponseWriter, r *http.Request) {
	s.renderPluginSettings(w, r, http.StatusOK, nil, nil, "", nil)
}

// handleAdminSavePluginSettings turns the generated form back into the JSON
// values UpdateSettings checks. An empty secret field keeps the stored secret
// (it is write-only, so the form never shows it); "clear" removes it.
func (s *UI) handleAdminSavePluginSettings(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	ctx := r.Context()
	id := chi.URLParam(r, "id")
	sv, err := s.svc.Plugins.Settings(ctx, id)
	if err != nil {
		s.adminPluginFail(w, r, err)
		return
	}
	values := map[string]json.RawMessage{}
	echo := map[string]string{}
	var verr cms.ValidationError
	for _, st := range sv.Fields {
		key := "s." + st.Key
		raw := strings.TrimSpace(r.PostForm.Get(key))
		switch st.Type {
		case manifest.SettingSecret:
			switch {
			case r.PostForm.Get(key+".clear") != "":
				values[st.Key] = json.RawMessage("null")
			case raw != "":
				values[st.Key], _ = json.Marshal(raw)
			}
			continue
		case manifest.SettingBoolean:
			values[st.Key], _ = json.Marshal(raw != "")
			echo[st.Key] = strconv.FormatBool(raw != "")
			continue
		}
		echo[st.Key] = raw
		switch {
		case raw == "":
			values[st.Key] = json.RawMessage("null")
		case st.Type == manifest.SettingNumber:
			x, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				verr.Add("/"+st.Key, "must be a number")
				continue
			}
			values[st.Key], _ = json.Marshal(x)
		default:
			values[st.Key], _ = json.Marshal(raw)
		}
	}
	// The activation step: the consented grant travels with the form.
	var activate *plugins.Grant
	if r.PostForm.Get("activate") != "" {
		g := postedGrant(r)
		activate = &g
	}
	err = verr.Err()
	if err == nil {
		_, err = s.svc.Plugins.UpdateSettings(ctx, id, values)
	}
	if err != nil {
		byPath, _ := errorsByPath(err)
		if byPath == nil {
			s.adminPluginFail(w, r, err)
			return
		}
		s.renderPluginSettings(w, r, http.StatusUnprocessableEntity, echo, byPath, "Not saved: fix the problems marked below.", activate)
		return
	}
	if activate != nil {
		s.activateWith(w, r, *activate)
		return
	}
	redirectNotice(w, r, "/admin/plugins/"+id+"/settings", "settings")
}

type pluginLogsView struct {
	Info    *plugins.Info
	Page    *plugins.LogPage
	Stats   *plugins.LogStats
	Outcome string
	Next    string
}

func (s *UI) handleAdminPluginLogs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	info, err := s.svc.Plugins.Get(ctx, chi.URLParam(r, "id"))
	if err != nil {
		s.adminPluginFail(w, r, err)
		return
	}
	logs := s.svc.Plugins.Logs()
	if logs == nil {
		s.adminError(w, r, http.StatusNotFound, "Invocation logs are not kept on this site.")
		return
	}
	q := r.URL.Query()
	v := pluginLogsView{Info: info, Outcome: q.Get("outcome")}
	if v.Page, err = logs.Query(ctx, info.ID, plugins.LogQuery{Outcome: v.Outcome, Cursor: q.Get("cursor"), Limit: 50}); err != nil {
		if errors.Is(err, plugins.ErrBadLogQuery) {
			s.adminError(w, r, http.StatusBadRequest, err.Error())
			return
		}
		s.adminFail(w, r, err)
		return
	}
	if v.Stats, err = logs.Stats(ctx, info.ID); err != nil {
		s.adminFail(w, r, err)
		return
	}
	if v.Page.NextCursor != "" {
		next := url.Values{"cursor": {v.Page.NextCursor}}
		if v.Outcome != "" {
			next.Set("outcome", v.Outcome)
		}
		v.Next = next.Encode()
	}
	s.adminRender(w, r, http.StatusOK, "plugin_logs", &adminPage{Title: "Logs of " + info.Name, Nav: "plugins", Data: v})
}
