package admin

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/web"
)

type accountView struct {
	User     *cms.User
	Sessions []cms.SessionInfo
	Errs     map[string][]string
}

func (s *UI) renderAccount(w http.ResponseWriter, r *http.Request, status int, v accountView, pageErr string) {
	u := web.CurrentUser(r)
	list, err := s.svc.Auth.ListSessions(r.Context(), u.ID, web.CurrentSession(r).ID)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	v.User, v.Sessions = u, list
	s.adminRender(w, r, status, "account", &adminPage{Title: "Your account", Nav: "account", Error: pageErr, Data: v})
}

func (s *UI) handleAdminAccount(w http.ResponseWriter, r *http.Request) {
	s.renderAccount(w, r, http.StatusOK, accountView{}, "")
}

// handleAdminPassword changes the signed-in user's password; their other
// sessions end, this one stays.
func (s *UI) handleAdminPassword(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	err := s.svc.Users.ChangePassword(r.Context(), web.CurrentUser(r).ID, r.PostForm.Get("current"), r.PostForm.Get("new"), web.CurrentSession(r).ID)
	if err != nil {
		status, msg := adminErrorStatus(err)
		if status == http.StatusInternalServerError {
			s.adminFail(w, r, err)
			return
		}
		byPath, _ := errorsByPath(err)
		if byPath != nil {
			msg = "The password was not changed: fix the problems marked below."
		}
		s.renderAccount(w, r, status, accountView{Errs: byPath}, msg)
		return
	}
	redirectNotice(w, r, "/admin/account", "password")
}

func (s *UI) handleAdminRevokeSession(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	id := chi.URLParam(r, "id")
	if err := s.svc.Auth.RevokeSession(r.Context(), web.CurrentUser(r).ID, id); err != nil {
		if errors.Is(err, cms.ErrNotFound) {
			s.renderAccount(w, r, http.StatusNotFound, accountView{}, "That session has already ended.")
			return
		}
		s.adminFail(w, r, err)
		return
	}
	if id == web.CurrentSession(r).ID {
		http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
		return
	}
	redirectNotice(w, r, "/admin/account", "session")
}
