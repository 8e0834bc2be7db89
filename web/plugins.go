package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
)

// The plugin admin API (SPEC §4, §5): admins only, problem+json on every error.
//
//	POST   /api/plugins                    upload a bundle (multipart part "bundle"; ?force=true to downgrade)
//	GET    /api/plugins                    list
//	GET    /api/plugins/{id}               detail, consent summary, pending upgrade
//	POST   /api/plugins/{id}/activate      {"capabilities": [...], "allowedHosts": [...]}
//	POST   /api/plugins/{id}/deactivate
//	POST   /api/plugins/{id}/reject-upgrade   discard the upgrade awaiting consent, keep the running version
//	DELETE /api/plugins/{id}?deleteData=true|false
//	GET    /api/plugins/{id}/settings      form, values, secretsSet (never secret values)
//	PATCH  /api/plugins/{id}/settings      {"key": value | null, ...}
//	GET    /api/plugins/{id}/logs          invocation logs (+ stats)
//	POST   /api/plugins/dev                development servers only: install and activate (plugin_dev.go)
func (s *Server) pluginAdminRoutes(r chi.Router) {
	r.Use(s.require(cms.PermManagePlugins))
	r.Get("/", s.handleListPlugins)
	r.Post("/", s.handleInstallPlugin)
	r.Post("/dev", s.handleDevInstallPlugin)
	r.Get("/{id}", s.handleGetPlugin)
	r.Delete("/{id}", s.handleUninstallPlugin)
	r.Post("/{id}/activate", s.handleActivatePlugin)
	r.Post("/{id}/deactivate", s.handleDeactivatePlugin)
	r.Post("/{id}/reject-upgrade", s.handleRejectPluginUpgrade)
	r.Get("/{id}/settings", s.handleGetPluginSettings)
	r.Patch("/{id}/settings", s.handlePatchPluginSettings)
	r.Get("/{id}/logs", s.handlePluginLogs)
}

// uploadOverhead is what a multipart request may carry beyond the bundle:
// part headers, boundaries and small fields.
const uploadOverhead = 64 << 10

func (s *Server) handleInstallPlugin(w http.ResponseWriter, r *http.Request) {
	force, err := boolParam(r, "force")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	data, err := readBundlePart(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// An EmDash bundle is translated once here; Install takes the result
	// as the Pilcrow bundle it is.
	if data, err = plugins.NativeBundle(r.Context(), data); err != nil {
		s.pluginError(w, r, err)
		return
	}
	// What was there before decides between 201 and 200; an unreadable
	// bundle has no "before" and Install reports its problems.
	var prev *plugins.Info
	if id := bundleID(data); id != "" {
		prev, _ = s.svc.Plugins.Get(r.Context(), id)
	}
	info, err := s.svc.Plugins.Install(r.Context(), data, currentUser(r).ID, force)
	if err != nil {
		s.pluginError(w, r, err)
		return
	}
	status := installStatus(prev, info)
	if status == http.StatusCreated {
		w.Header().Set("Location", "/api/plugins/"+info.ID)
	}
	writeJSON(w, status, info)
}

// installStatus: 201 when the upload created something awaiting consent (a
// new plugin, or an upgrade that asks for more); 200 when it changed nothing
// (the same bytes again) or applied directly (an upgrade asking for nothing
// new replaces the running version at once).
func installStatus(prev, now *plugins.Info) int {
	if now.Status != plugins.StatusInstalled {
		return http.StatusOK
	}
	if prev != nil && prev.Status == plugins.StatusInstalled && prev.Version == now.Version && prev.SHA256 == now.SHA256 {
		return http.StatusOK
	}
	return http.StatusCreated
}

// bundleID is the id a bundle claims, or "" when it does not read.
func bundleID(data []byte) string {
	b, err := bundle.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return ""
	}
	return b.Manifest.ID
}

// readBundlePart streams a multipart body and returns the "bundle" part,
// refusing anything but multipart/form-data, a missing part and a bundle over
// the size cap, each with a problem naming what is wrong.
func readBundlePart(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, &HTTPError{Status: http.StatusUnsupportedMediaType,
			Detail: fmt.Sprintf("upload the bundle as multipart/form-data with the .zip in part \"bundle\"; got Content-Type %q", ct)}
	}
	body := http.MaxBytesReader(w, r.Body, bundle.MaxCompressed+uploadOverhead)
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, &HTTPError{Status: http.StatusBadRequest, Detail: "the request has no part named \"bundle\"",
				Errors: []cms.FieldError{{Path: "/bundle", Message: "is required: the plugin's .zip bundle"}}}
		}
		if err != nil {
			return nil, multipartError(err)
		}
		if part.FormName() != "bundle" {
			_, _ = io.Copy(io.Discard, part)
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, bundle.MaxCompressed+1))
		if err != nil {
			return nil, multipartError(err)
		}
		if len(data) > bundle.MaxCompressed {
			return nil, &HTTPError{Status: http.StatusRequestEntityTooLarge,
				Detail: fmt.Sprintf("the bundle is larger than %d bytes (1 MiB), the limit for a plugin bundle", bundle.MaxCompressed),
				Errors: []cms.FieldError{{Path: "/bundle", Message: "is over 1 MiB"}}}
		}
		if len(data) == 0 {
			return nil, &HTTPError{Status: http.StatusBadRequest, Detail: "the \"bundle\" part is empty",
				Errors: []cms.FieldError{{Path: "/bundle", Message: "is empty"}}}
		}
		return data, nil
	}
}

func multipartError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &HTTPError{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the upload is larger than %d bytes", mbe.Limit), Err: err}
	}
	return &HTTPError{Status: http.StatusBadRequest, Detail: "malformed multipart body: " + err.Error(), Err: err}
}

func (s *Server) handleListPlugins(w http.ResponseWriter, r *http.Request) {
	list, err := s.svc.Plugins.List(r.Context())
	if err != nil {
		s.pluginError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

func (s *Server) handleGetPlugin(w http.ResponseWriter, r *http.Request) {
	info, err := s.svc.Plugins.Get(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.pluginError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) handleActivatePlugin(w http.ResponseWriter, r *http.Request) {
	var g plugins.Grant
	if err := s.decodeJSON(w, r, &g); err != nil {
		s.writeError(w, r, err)
		return
	}
	info, err := s.svc.Plugins.Activate(r.Context(), chi.URLParam(r, "id"), g, currentUser(r).ID)
	if err != nil {
		s.pluginError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) handleDeactivatePlugin(w http.ResponseWriter, r *http.Request) {
	info, err := s.svc.Plugins.Deactivate(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.pluginError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) handleRejectPluginUpgrade(w http.ResponseWriter, r *http.Request) {
	info, err := s.svc.Plugins.RejectUpgrade(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.pluginError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) handleUninstallPlugin(w http.ResponseWriter, r *http.Request) {
	deleteData, err := boolParam(r, "deleteData")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.Plugins.Uninstall(r.Context(), chi.URLParam(r, "id"), deleteData); err != nil {
		s.pluginError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleGetPluginSettings(w http.ResponseWriter, r *http.Request) {
	view, err := s.svc.Plugins.Settings(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.pluginError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}

func (s *Server) handlePatchPluginSettings(w http.ResponseWriter, r *http.Request) {
	var values map[string]json.RawMessage
	if err := s.decodeJSON(w, r, &values); err != nil {
		s.writeError(w, r, err)
		return
	}
	if values == nil {
		s.writeError(w, r, &HTTPError{Status: http.StatusBadRequest, Detail: "the body must be a JSON object of setting values"})
		return
	}
	view, err := s.svc.Plugins.UpdateSettings(r.Context(), chi.URLParam(r, "id"), values)
	if err != nil {
		s.pluginError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// pluginError maps the plugin lifecycle's errors to problems, then falls back
// to the general mapping.
func (s *Server) pluginError(w http.ResponseWriter, r *http.Request, err error) {
	var be *bundle.Error
	var re *plugins.RouteError
	var ms *plugins.MissingSettingsError
	switch {
	case errors.As(err, &ms):
		// The admin (or a script) is sent to the settings first: one error
		// per empty setting, with its key, so a client can show the form.
		errs := make([]cms.FieldError, len(ms.Settings))
		for i, st := range ms.Settings {
			errs[i] = cms.FieldError{Path: "/settings/" + st.Key, Message: fmt.Sprintf("%q is required: set it with PATCH /api/plugins/%s/settings, then activate", st.Label, ms.Plugin)}
		}
		writeProblem(w, r, Problem{Status: http.StatusConflict, Title: "Required settings are empty", Detail: ms.Error(),
			Errors: errs, Extra: map[string]any{"missingSettings": ms.Keys()}})
	case errors.As(err, &be):
		writeProblem(w, r, Problem{Status: http.StatusUnprocessableEntity, Title: "Invalid plugin bundle",
			Detail: fmt.Sprintf("the bundle has %d problem(s); each is listed in errors", len(be.Problems)),
			Errors: fieldErrors(be.Problems), Extra: map[string]any{"problems": be.Problems}})
	case errors.As(err, &re):
		extra := map[string]any{"plugin": re.Plugin, "route": re.Route}
		if re.Limit != "" {
			extra["limit"] = re.Limit
		}
		writeProblem(w, r, Problem{Status: http.StatusBadGateway, Title: "Plugin route failed",
			Detail: re.Error(), Extra: extra})
	case errors.Is(err, plugins.ErrNotFound):
		problem(w, r, http.StatusNotFound, err.Error())
	case errors.Is(err, plugins.ErrConsent):
		problem(w, r, http.StatusConflict, err.Error()+"; send exactly the capabilities and allowedHosts of the consent summary")
	case errors.Is(err, plugins.ErrVersionExists), errors.Is(err, plugins.ErrDowngrade), errors.Is(err, plugins.ErrNothingPending), errors.Is(err, plugins.ErrNoUpgrade):
		problem(w, r, http.StatusConflict, err.Error())
	case errors.Is(err, plugins.ErrLifecycle):
		writeProblem(w, r, Problem{Status: http.StatusUnprocessableEntity, Title: "Plugin lifecycle hook failed",
			Detail: err.Error(), Extra: map[string]any{"plugin": chi.URLParam(r, "id")}})
	case errors.Is(err, plugins.ErrBadLogQuery):
		problem(w, r, http.StatusBadRequest, err.Error())
	default:
		s.writeError(w, r, err)
	}
}

// fieldErrors lists bundle problems as problem+json errors. Manifest problems
// are JSON pointers into manifest.json, prefixed so they read as locations in
// the upload ("/manifest.json/hooks/0"); bundle problems keep their
// "bundle:/NAME" path. Line and column are in the "problems" member.
func fieldErrors(ps manifest.Problems) []cms.FieldError {
	out := make([]cms.FieldError, 0, len(ps))
	for _, p := range ps {
		path := p.Path
		if p.File != "" && p.File != "plugin.js" {
			path = "/" + p.File + p.Path
		}
		msg := p.Message
		if p.Line > 0 {
			msg = fmt.Sprintf("%s (line %d, column %d)", msg, p.Line, p.Column)
		}
		out = append(out, cms.FieldError{Path: path, Message: msg})
	}
	return out
}
