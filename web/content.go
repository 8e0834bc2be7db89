package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// contentRoutes mounts /api/collections: collection definitions and, under
// /{name}/entries, their entries.
func (s *Server) contentRoutes(r chi.Router) {
	r.Use(s.requireUser)
	r.With(s.require(cms.PermReadContent)).Get("/", s.handleListCollections)
	r.With(s.require(cms.PermManageCollections), s.idempotent).Post("/", s.handleCreateCollection)
	r.Route("/{name}", func(r chi.Router) {
		r.With(s.require(cms.PermReadContent)).Get("/", s.handleGetCollection)
		r.With(s.require(cms.PermManageCollections)).Patch("/", s.handlePatchCollection)
		r.With(s.require(cms.PermManageCollections)).Put("/", s.handlePutCollection)
		r.With(s.require(cms.PermManageCollections)).Delete("/", s.handleDeleteCollection)
		r.Route("/entries", s.entryRoutes)
	})
}

func (s *Server) handleListCollections(w http.ResponseWriter, r *http.Request) {
	cols, err := s.svc.Content.ListCollections(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": cols})
}

func (s *Server) handleCreateCollection(w http.ResponseWriter, r *http.Request) {
	var in cms.CollectionInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	col, err := s.svc.Content.CreateCollection(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/collections/"+col.Name)
	writeJSON(w, http.StatusCreated, col)
}

func (s *Server) handleGetCollection(w http.ResponseWriter, r *http.Request) {
	col, err := s.svc.Content.Collection(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, col)
}

func (s *Server) handlePatchCollection(w http.ResponseWriter, r *http.Request) {
	var in cms.CollectionPatch
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.updateCollection(w, r, in)
}

// handlePutCollection replaces the definition: label and fields are required,
// options not given return to their defaults.
func (s *Server) handlePutCollection(w http.ResponseWriter, r *http.Request) {
	var in cms.CollectionInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	name := chi.URLParam(r, "name")
	var v cms.ValidationError
	if in.Name != "" && in.Name != name {
		v.Add("/name", fmt.Sprintf("must be %q (collections cannot be renamed) or absent", name))
	}
	if in.Fields == nil {
		v.Add("/fields", "is required when replacing a collection (use PATCH to change part of it)")
	}
	if err := v.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, f := true, false
	opts := &cms.OptionsInput{Drafts: &t, Revisions: &t, Scheduling: &t, Public: &f}
	if in.Options != nil {
		if in.Options.Drafts != nil {
			opts.Drafts = in.Options.Drafts
		}
		if in.Options.Revisions != nil {
			opts.Revisions = in.Options.Revisions
		}
		if in.Options.Scheduling != nil {
			opts.Scheduling = in.Options.Scheduling
		}
		if in.Options.Public != nil {
			opts.Public = in.Options.Public
		}
	}
	s.updateCollection(w, r, cms.CollectionPatch{Label: &in.Label, Fields: in.Fields, Options: opts})
}

func (s *Server) updateCollection(w http.ResponseWriter, r *http.Request, in cms.CollectionPatch) {
	col, err := s.svc.Content.UpdateCollection(r.Context(), chi.URLParam(r, "name"), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, col)
}

func (s *Server) handleDeleteCollection(w http.ResponseWriter, r *http.Request) {
	purge, err := boolParam(r, "purge")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.Content.DeleteCollection(r.Context(), chi.URLParam(r, "name"), purge); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &HTTPError{Status: http.StatusBadRequest, Detail: fmt.Sprintf("query parameter %s must be true or false", name),
			Errors: []cms.FieldError{{Path: "/query/" + name, Message: "must be true or false"}}}
	}
	return b, nil
}

// versionFrom reads the precondition of a write: If-Match (the entry's ETag,
// "*" for any) or else a "version" in the body. fromHeader tells which, since a
// stale If-Match is 412 and a stale body version 409.
func versionFrom(r *http.Request, body *int64) (expect int64, fromHeader, given bool, err error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h != "" {
		if h == "*" {
			return 0, true, true, nil
		}
		t := strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
		n, perr := strconv.ParseInt(t, 10, 64)
		if perr != nil || n < 1 {
			return 0, true, true, &HTTPError{Status: http.StatusBadRequest,
				Detail: fmt.Sprintf(`If-Match must be the entry's ETag, e.g. "3"; got %s`, h)}
		}
		return n, true, true, nil
	}
	if body != nil {
		if *body < 1 {
			return 0, false, true, &cms.ValidationError{Errors: []cms.FieldError{{Path: "/version", Message: "must be a version number ≥ 1"}}}
		}
		return *body, false, true, nil
	}
	return 0, false, false, nil
}

// writeContentError maps the content service's errors that need more than the
// generic mapping: stale versions (with the current version) and hook rejections
// (naming the plugin).
func (s *Server) writeContentError(w http.ResponseWriter, r *http.Request, err error, fromHeader bool) {
	var stale *cms.StaleVersionError
	var rej *cms.HookRejection
	switch {
	case errors.As(err, &stale):
		status := http.StatusConflict
		if fromHeader {
			status = http.StatusPreconditionFailed
		}
		w.Header().Set("ETag", etag(stale.Current))
		s.writeError(w, r, &HTTPError{Status: status, Detail: stale.Error(), Extra: map[string]any{"currentVersion": stale.Current}, Err: err})
	case errors.As(err, &rej):
		s.writeError(w, r, &HTTPError{Status: http.StatusUnprocessableEntity, Detail: rej.Error(),
			Errors: []cms.FieldError{{Path: "/data", Message: rej.Message}}, Extra: map[string]any{"plugin": rej.Plugin}, Err: err})
	default:
		s.writeError(w, r, err)
	}
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }
