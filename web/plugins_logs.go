package web

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins"
)

// handlePluginLogs serves GET /api/plugins/{id}/logs: a page of the plugin's
// invocation logs, newest first, with its stats.
//
//	?outcome=ok|error|limit  ?level=debug|info|warn|error  ?kind=hook|route
//	?name=content:beforeSave ?limit=1..200 ?cursor=…
func (s *Server) handlePluginLogs(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := s.svc.Plugins.Get(r.Context(), id); err != nil {
		s.pluginError(w, r, err)
		return
	}
	logs := s.svc.Plugins.Logs()
	if logs == nil {
		problem(w, r, http.StatusNotFound, "invocation logs are not enabled on this site")
		return
	}
	qv := r.URL.Query()
	q := plugins.LogQuery{Outcome: qv.Get("outcome"), Level: qv.Get("level"), Kind: qv.Get("kind"), Name: qv.Get("name"), Cursor: qv.Get("cursor")}
	if v := qv.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.writeError(w, r, &HTTPError{Status: http.StatusBadRequest, Detail: "limit must be an integer",
				Errors: []cms.FieldError{{Path: "/query/limit", Message: "must be an integer from 1 to 200"}}})
			return
		}
		q.Limit = n
	}
	page, err := logs.Query(r.Context(), id, q)
	if err != nil {
		s.pluginError(w, r, err)
		return
	}
	stats, err := logs.Stats(r.Context(), id)
	if err != nil {
		s.pluginError(w, r, err)
		return
	}
	out := map[string]any{"items": page.Items, "stats": stats}
	if page.NextCursor != "" {
		out["nextCursor"] = page.NextCursor
	}
	writeJSON(w, http.StatusOK, out)
}
