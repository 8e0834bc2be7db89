package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/web"
)

func (s *UI) adminMediaRoutes(r chi.Router) {
	r.Get("/media", s.handleAdminMedia)
	r.Post("/media/{id}", s.handleAdminUpdateMedia)
	r.Post("/media/{id}/delete", s.handleAdminDeleteMedia)
}

type mediaView struct {
	Items        []*cms.Media
	Q, Type      string
	Next         string
	Paged        bool
	MaxBytes     int64
	Accept       string
	InUse        *cms.MediaInUseError
	InUseName    string
	EditedID     string
	EditedErrors map[string][]string
}

const adminMediaPage = 48

func (s *UI) renderMedia(w http.ResponseWriter, r *http.Request, status int, v mediaView, pageErr string) {
	q := r.URL.Query()
	v.Q, v.Type, v.Paged = q.Get("q"), q.Get("type"), q.Get("cursor") != ""
	page, err := s.svc.Media.List(r.Context(), cms.MediaQuery{Limit: adminMediaPage, Cursor: q.Get("cursor"), Search: v.Q, Type: v.Type})
	if err != nil {
		st, msg := adminErrorStatus(err)
		if st != http.StatusUnprocessableEntity {
			s.adminFail(w, r, err)
			return
		}
		status, pageErr = st, "The search could not run: "+msg
		page = &cms.MediaPage{}
	}
	v.Items = page.Items
	if page.NextCursor != "" {
		next := url.Values{"cursor": {page.NextCursor}}
		if v.Q != "" {
			next.Set("q", v.Q)
		}
		if v.Type != "" {
			next.Set("type", v.Type)
		}
		v.Next = next.Encode()
	}
	v.MaxBytes = s.svc.Media.MaxBytes()
	v.Accept = strings.Join(cms.AcceptedMediaTypes(), ",")
	s.adminRender(w, r, status, "media", &adminPage{Title: "Media library", Nav: "media", Error: pageErr, Data: v})
}

func (s *UI) handleAdminMedia(w http.ResponseWriter, r *http.Request) {
	s.renderMedia(w, r, http.StatusOK, mediaView{}, "")
}

func (s *UI) handleAdminUpdateMedia(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	id := chi.URLParam(r, "id")
	alt, title := r.PostForm.Get("alt"), r.PostForm.Get("title")
	if _, err := s.svc.Media.Update(r.Context(), web.CurrentUser(r), id, cms.MediaPatch{Alt: &alt, Title: &title}); err != nil {
		status, msg := adminErrorStatus(err)
		byPath, _ := errorsByPath(err)
		if byPath == nil {
			s.adminFail(w, r, err)
			return
		}
		s.renderMedia(w, r, status, mediaView{EditedID: id, EditedErrors: byPath}, "Not saved: "+msg)
		return
	}
	redirectNotice(w, r, "/admin/media", "saved")
}

func (s *UI) handleAdminDeleteMedia(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	id := chi.URLParam(r, "id")
	err := s.svc.Media.Delete(r.Context(), web.CurrentUser(r), id, false)
	var inUse *cms.MediaInUseError
	if errors.As(err, &inUse) {
		v := mediaView{InUse: inUse, InUseName: id}
		if m, gerr := s.svc.Media.Get(r.Context(), id); gerr == nil {
			v.InUseName = m.Filename
		}
		s.renderMedia(w, r, http.StatusConflict, v, "")
		return
	}
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	redirectNotice(w, r, "/admin/media", "deleted")
}
