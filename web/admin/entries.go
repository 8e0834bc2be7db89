package admin

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/web"
)

func (s *UI) adminEntryRoutes(r chi.Router) {
	r.Post("/preview", s.handleAdminPreview)
	r.Route("/collections/{col}", func(r chi.Router) {
		r.Get("/entries", s.handleAdminEntries)
		r.Get("/trash", s.handleAdminTrash)
		r.Get("/entries/new", s.handleAdminNewEntry)
		r.Post("/entries/new", s.handleAdminCreateEntry)
		r.Get("/entries/{id}", s.handleAdminEditEntry)
		r.Post("/entries/{id}", s.handleAdminSaveEntry)
		r.Post("/entries/{id}/restore", s.handleAdminRestoreEntry)
		r.Post("/entries/{id}/purge", s.handleAdminPurgeEntry)
		r.Get("/entries/{id}/revisions", s.handleAdminRevisions)
		r.Post("/entries/{id}/revisions/{rev}/restore", s.handleAdminRestoreRevision)
	})
}

// entryFilter is the list page's search form, echoed back into its controls.
type entryFilter struct {
	Q, Status, Field, Op, Value string
}

type entriesView struct {
	Collection *cms.Collection
	Items      []dashEntry
	Filter     entryFilter
	// Next is the query string of the next page; empty on the last. First
	// is the first page with the same filters.
	Next, First string
	Paged       bool
	Statuses    []string
	Ops         []string
	Trash       bool
}

const adminPageSize = 20

// listValues turns the page's friendly parameters into the list syntax
// cms.ParseListQuery reads (which rejects anything else).
func (f entryFilter) listValues(cursor string, trash bool) url.Values {
	q := url.Values{"limit": {strconv.Itoa(adminPageSize)}, "sort": {"-updatedAt"}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if f.Q != "" {
		q.Set("q", f.Q)
	}
	switch {
	case trash:
		q.Set("status", string(cms.StatusTrashed))
	case f.Status != "":
		q.Set("status", f.Status)
	}
	if f.Field != "" && f.Value != "" {
		op := f.Op
		if op == "" {
			op = "eq"
		}
		q.Set("filter["+f.Field+"]["+op+"]", f.Value)
	}
	return q
}

func (s *UI) handleAdminEntries(w http.ResponseWriter, r *http.Request) { s.entryList(w, r, false) }
func (s *UI) handleAdminTrash(w http.ResponseWriter, r *http.Request)   { s.entryList(w, r, true) }

func (s *UI) entryList(w http.ResponseWriter, r *http.Request, trash bool) {
	ctx := r.Context()
	col, err := s.svc.Content.Collection(ctx, chi.URLParam(r, "col"))
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := entryFilter{Q: q.Get("q"), Status: q.Get("status"), Field: q.Get("field"), Op: q.Get("op"), Value: q.Get("value")}
	v := entriesView{Collection: col, Filter: f, Trash: trash, Paged: q.Get("cursor") != "",
		Statuses: []string{"draft", "scheduled", "published"}, Ops: []string{"eq", "ne", "contains", "lt", "lte", "gt", "gte", "in"}}
	page := &adminPage{Title: col.Label, Nav: "content", Data: &v}
	if trash {
		page.Title = "Trash: " + col.Label
	}
	lq, err := cms.ParseListQuery(f.listValues(q.Get("cursor"), trash))
	var res *cms.EntryPage
	if err == nil {
		res, err = s.svc.Content.ListEntries(ctx, web.CurrentUser(r), col.Name, lq)
	}
	if err != nil {
		status, msg := adminErrorStatus(err)
		if status != http.StatusUnprocessableEntity {
			s.adminFail(w, r, err)
			return
		}
		page.Error = "The search could not run: " + msg
		s.adminRender(w, r, status, "entries", page)
		return
	}
	for _, e := range res.Items {
		v.Items = append(v.Items, dashEntry{Collection: col, Entry: e, Title: entryTitle(col, e)})
	}
	filters := url.Values{}
	for k, val := range map[string]string{"q": f.Q, "status": f.Status, "field": f.Field, "op": f.Op, "value": f.Value} {
		if val != "" {
			filters.Set(k, val)
		}
	}
	v.First = filters.Encode()
	if res.NextCursor != "" {
		filters.Set("cursor", res.NextCursor)
		v.Next = filters.Encode()
	}
	s.adminRender(w, r, http.StatusOK, "entries", page)
}

// formVersion reads the version a form was rendered with: the optimistic
// concurrency check every state change goes through.
func formVersion(r *http.Request) int64 {
	n, _ := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	return n
}

func (s *UI) handleAdminRestoreEntry(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	col, id := chi.URLParam(r, "col"), chi.URLParam(r, "id")
	if _, err := s.svc.Content.Restore(r.Context(), web.CurrentUser(r), col, id, formVersion(r)); err != nil {
		s.adminFail(w, r, err)
		return
	}
	redirectNotice(w, r, "/admin/collections/"+col+"/entries/"+id, "restored")
}

func (s *UI) handleAdminPurgeEntry(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	col, id := chi.URLParam(r, "col"), chi.URLParam(r, "id")
	if err := s.svc.Content.Purge(r.Context(), web.CurrentUser(r), col, id, formVersion(r)); err != nil {
		s.adminFail(w, r, err)
		return
	}
	redirectNotice(w, r, "/admin/collections/"+col+"/trash", "purged")
}
