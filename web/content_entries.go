package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// entryRoutes mounts /api/collections/{name}/entries. Reading needs
// content:read; writing needs content:edit-own, and the content service
// refuses authors' changes to entries that are not theirs.
func (s *Server) entryRoutes(r chi.Router) {
	read := s.require(cms.PermReadContent)
	write := s.require(cms.PermEditOwnContent)
	r.With(read).Get("/", s.handleListEntries)
	r.With(write, s.idempotent).Post("/", s.handleCreateEntry)
	r.Route("/{id}", func(r chi.Router) {
		r.With(read).Get("/", s.handleGetEntry)
		r.With(write).Patch("/", s.handleUpdateEntry)
		r.With(write).Delete("/", s.handleDeleteEntry)
		r.With(write).Post("/publish", s.handlePublishEntry)
		r.With(write).Post("/unpublish", s.handleEntryAction(s.svc.Content.Unpublish))
		r.With(write).Post("/restore", s.handleEntryAction(s.svc.Content.Restore))
		r.With(read).Get("/revisions", s.handleListRevisions)
		r.With(read).Get("/revisions/diff", s.handleDiffRevisions)
		r.With(read).Get("/revisions/{rev}", s.handleGetRevision)
		r.With(write).Post("/revisions/{rev}/restore", s.handleRestoreRevision)
	})
}

// entryWrite is a create's or an update's body, decoded in one pass with
// its data (numbers kept exact): saves are the hottest writes.
type entryWrite struct {
	Data    map[string]any `json:"data"`
	Version *int64         `json:"version"`
}

func writeEntry(w http.ResponseWriter, status int, e *cms.Entry) {
	w.Header().Set("ETag", etag(e.Version))
	w.Header().Set("Cache-Control", "private, no-cache")
	writeJSON(w, status, e)
}

func (s *Server) handleListEntries(w http.ResponseWriter, r *http.Request) {
	q, err := cms.ParseListQuery(listParams(r))
	if err != nil {
		s.writeError(w, r, queryError(err))
		return
	}
	d, err := s.deliveryFor(r, chi.URLParam(r, "name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.Content.ListEntries(r.Context(), currentUser(r), chi.URLParam(r, "name"), q)
	if err != nil {
		s.writeError(w, r, queryError(err))
		return
	}
	datas := make([]map[string]any, len(page.Items))
	for i, e := range page.Items {
		datas[i] = e.Data
	}
	if err := s.applyDelivery(r.Context(), d, currentUser(r), false, datas); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// queryError makes a problem with the query string a 400, not a 422.
func queryError(err error) error {
	var ve *cms.ValidationError
	if errors.As(err, &ve) {
		return &HTTPError{Status: http.StatusBadRequest, Title: "Invalid query", Detail: ve.Error(), Errors: ve.Errors, Err: err}
	}
	return err
}

func (s *Server) handleCreateEntry(w http.ResponseWriter, r *http.Request) {
	var in entryWrite
	if err := s.decodeJSONExact(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	data := in.Data
	if data == nil {
		data = map[string]any{}
	}
	if in.Version != nil {
		s.writeError(w, r, &cms.ValidationError{Errors: []cms.FieldError{{Path: "/version", Message: "is not allowed when creating an entry"}}})
		return
	}
	e, err := s.svc.Content.CreateEntry(r.Context(), currentUser(r), chi.URLParam(r, "name"), data)
	if err != nil {
		s.writeContentError(w, r, err, false)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/collections/%s/entries/%s", e.Collection, e.ID))
	writeEntry(w, http.StatusCreated, e)
}

func (s *Server) handleGetEntry(w http.ResponseWriter, r *http.Request) {
	d, err := s.deliveryFor(r, chi.URLParam(r, "name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	e, err := s.svc.Content.GetEntry(r.Context(), currentUser(r), chi.URLParam(r, "name"), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.applyDelivery(r.Context(), d, currentUser(r), false, []map[string]any{e.Data}); err != nil {
		s.writeError(w, r, err)
		return
	}
	// The version says nothing of expanded entries, so an expanded read is
	// never answered 304 (the ETag stays the version, for If-Match).
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == etag(e.Version) && len(d.expand) == 0 {
		w.Header().Set("ETag", etag(e.Version))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeEntry(w, http.StatusOK, e)
}

// handleUpdateEntry merges data into the entry. A precondition is required:
// If-Match or a body "version"; without either the write could silently
// overwrite someone else's, so it gets 428.
func (s *Server) handleUpdateEntry(w http.ResponseWriter, r *http.Request) {
	var in entryWrite
	if err := s.decodeJSONExact(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	expect, fromHeader, given, err := versionFrom(r, in.Version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !given {
		s.writeError(w, r, &HTTPError{Status: http.StatusPreconditionRequired,
			Detail: `send If-Match: "<version>" (the entry's ETag) or a "version" member, so a stale edit cannot overwrite a newer one`})
		return
	}
	data := in.Data
	if data == nil {
		data = map[string]any{}
	}
	e, err := s.svc.Content.UpdateEntry(r.Context(), currentUser(r), chi.URLParam(r, "name"), chi.URLParam(r, "id"), data, expect)
	if err != nil {
		s.writeContentError(w, r, err, fromHeader)
		return
	}
	writeEntry(w, http.StatusOK, e)
}

// handleDeleteEntry moves the entry to the trash, or with ?purge=true deletes
// it for good. Either answers 200 with the entry as it was left (purge: 204).
func (s *Server) handleDeleteEntry(w http.ResponseWriter, r *http.Request) {
	purge, err := boolParam(r, "purge")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	expect, fromHeader, _, err := versionFrom(r, nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	name, id := chi.URLParam(r, "name"), chi.URLParam(r, "id")
	if purge {
		if err := s.svc.Content.Purge(r.Context(), currentUser(r), name, id, expect); err != nil {
			s.writeContentError(w, r, err, fromHeader)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	e, err := s.svc.Content.Trash(r.Context(), currentUser(r), name, id, expect)
	if err != nil {
		s.writeContentError(w, r, err, fromHeader)
		return
	}
	writeEntry(w, http.StatusOK, e)
}

type publishRequest struct {
	// At schedules publication; absent or past means now.
	At      *string `json:"at"`
	Version *int64  `json:"version"`
}

func (s *Server) handlePublishEntry(w http.ResponseWriter, r *http.Request) {
	var in publishRequest
	if r.ContentLength != 0 {
		if err := s.decodeJSON(w, r, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	var at *time.Time
	if in.At != nil {
		t, err := time.Parse(time.RFC3339Nano, *in.At)
		if err != nil {
			s.writeError(w, r, &cms.ValidationError{Errors: []cms.FieldError{{Path: "/at", Message: `must be an RFC 3339 date-time such as "2026-01-02T15:04:05Z"`}}})
			return
		}
		at = &t
	}
	expect, fromHeader, _, err := versionFrom(r, in.Version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	e, err := s.svc.Content.Publish(r.Context(), currentUser(r), chi.URLParam(r, "name"), chi.URLParam(r, "id"), at, expect)
	if err != nil {
		s.writeContentError(w, r, err, fromHeader)
		return
	}
	writeEntry(w, http.StatusOK, e)
}

// handleEntryAction serves a body-less state change (unpublish, restore) with
// an optional If-Match.
func (s *Server) handleEntryAction(act func(ctx context.Context, u *cms.User, collection, id string, expect int64) (*cms.Entry, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		expect, fromHeader, _, err := versionFrom(r, nil)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		e, err := act(r.Context(), currentUser(r), chi.URLParam(r, "name"), chi.URLParam(r, "id"), expect)
		if err != nil {
			s.writeContentError(w, r, err, fromHeader)
			return
		}
		writeEntry(w, http.StatusOK, e)
	}
}

func (s *Server) handleListRevisions(w http.ResponseWriter, r *http.Request) {
	q, err := cms.ParseRevisionQuery(r.URL.Query())
	if err != nil {
		s.writeError(w, r, queryError(err))
		return
	}
	page, err := s.svc.Content.RevisionPage(r.Context(), currentUser(r), chi.URLParam(r, "name"), chi.URLParam(r, "id"), q)
	if err != nil {
		s.writeError(w, r, queryError(err))
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func revParam(w http.ResponseWriter, r *http.Request, s *Server, raw, path string) (int, bool) {
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		s.writeError(w, r, &HTTPError{Status: http.StatusBadRequest, Detail: fmt.Sprintf("revision must be a number ≥ 1, got %q", raw),
			Errors: []cms.FieldError{{Path: path, Message: "must be a revision number ≥ 1"}}})
		return 0, false
	}
	return n, true
}

func (s *Server) handleGetRevision(w http.ResponseWriter, r *http.Request) {
	rev, ok := revParam(w, r, s, chi.URLParam(r, "rev"), "/rev")
	if !ok {
		return
	}
	out, err := s.svc.Content.Revision(r.Context(), currentUser(r), chi.URLParam(r, "name"), chi.URLParam(r, "id"), rev)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDiffRevisions(w http.ResponseWriter, r *http.Request) {
	from, ok := revParam(w, r, s, r.URL.Query().Get("from"), "/query/from")
	if !ok {
		return
	}
	to, ok := revParam(w, r, s, r.URL.Query().Get("to"), "/query/to")
	if !ok {
		return
	}
	d, err := s.svc.Content.DiffRevisions(r.Context(), currentUser(r), chi.URLParam(r, "name"), chi.URLParam(r, "id"), from, to)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) handleRestoreRevision(w http.ResponseWriter, r *http.Request) {
	rev, ok := revParam(w, r, s, chi.URLParam(r, "rev"), "/rev")
	if !ok {
		return
	}
	expect, fromHeader, _, err := versionFrom(r, nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	e, err := s.svc.Content.RestoreRevision(r.Context(), currentUser(r), chi.URLParam(r, "name"), chi.URLParam(r, "id"), rev, expect)
	if err != nil {
		s.writeContentError(w, r, err, fromHeader)
		return
	}
	writeEntry(w, http.StatusOK, e)
}
