package admin

import (
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/web"
)

type usersView struct {
	Users []*cms.User
	Roles []cms.Role
	// Form echoes the create form after a failed attempt.
	Form cms.NewUser
	Errs map[string][]string
}

var adminRoles = []cms.Role{cms.RoleAdmin, cms.RoleEditor, cms.RoleAuthor}

func (s *UI) renderUsers(w http.ResponseWriter, r *http.Request, status int, v usersView, pageErr string) {
	users, err := s.svc.Users.List(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	v.Users, v.Roles = users, adminRoles
	if v.Form.Role == "" {
		v.Form.Role = cms.RoleEditor
	}
	s.adminRender(w, r, status, "users", &adminPage{Title: "Users", Nav: "users", Error: pageErr, Data: v})
}

func (s *UI) handleAdminUsers(w http.ResponseWriter, r *http.Request) {
	s.renderUsers(w, r, http.StatusOK, usersView{}, "")
}

func (s *UI) handleAdminCreateUser(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	in := cms.NewUser{Email: strings.TrimSpace(r.PostForm.Get("email")), Name: strings.TrimSpace(r.PostForm.Get("name")),
		Role: cms.Role(r.PostForm.Get("role")), Password: r.PostForm.Get("password")}
	if _, err := s.svc.Users.Create(r.Context(), in); err != nil {
		status, msg := adminErrorStatus(err)
		if status == http.StatusInternalServerError {
			s.adminFail(w, r, err)
			return
		}
		byPath, _ := errorsByPath(err)
		if byPath != nil {
			msg = "The user was not created: fix the problems marked below."
		}
		in.Password = ""
		s.renderUsers(w, r, status, usersView{Form: in, Errs: byPath}, msg)
		return
	}
	redirectNotice(w, r, "/admin/users", "created")
}

func (s *UI) handleAdminUserRole(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	role := cms.Role(r.PostForm.Get("role"))
	if _, err := s.svc.Users.Update(r.Context(), chi.URLParam(r, "id"), cms.UserUpdate{Role: &role}); err != nil {
		status, msg := adminErrorStatus(err)
		if status == http.StatusInternalServerError || errors.Is(err, cms.ErrNotFound) {
			s.adminFail(w, r, err)
			return
		}
		s.renderUsers(w, r, status, usersView{}, "The role was not changed: "+msg)
		return
	}
	redirectNotice(w, r, "/admin/users", "role")
}

type tokensView struct {
	Tokens []*cms.APIToken
	// Secret is a token just created: shown this once.
	Secret, SecretName string
	Errs               map[string][]string
}

func (s *UI) renderTokens(w http.ResponseWriter, r *http.Request, status int, v tokensView, pageErr string) {
	toks, err := s.svc.Auth.ListTokens(r.Context(), web.CurrentUser(r))
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	v.Tokens = toks
	s.adminRender(w, r, status, "tokens", &adminPage{Title: "API tokens", Nav: "tokens", Error: pageErr, Data: v})
}

func (s *UI) handleAdminTokens(w http.ResponseWriter, r *http.Request) {
	s.renderTokens(w, r, http.StatusOK, tokensView{}, "")
}

func (s *UI) handleAdminCreateToken(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	tok, secret, err := s.svc.Auth.CreateToken(r.Context(), web.CurrentUser(r), cms.NewToken{Name: name}, nil)
	if err != nil {
		status, msg := adminErrorStatus(err)
		if status == http.StatusInternalServerError {
			s.adminFail(w, r, err)
			return
		}
		byPath, _ := errorsByPath(err)
		s.renderTokens(w, r, status, tokensView{Errs: byPath}, "The token was not created: "+msg)
		return
	}
	// Rendered directly, not redirected: the secret must never sit in a URL.
	s.renderTokens(w, r, http.StatusCreated, tokensView{Secret: secret, SecretName: tok.Name}, "")
}

func (s *UI) handleAdminRevokeToken(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	if err := s.svc.Auth.RevokeToken(r.Context(), web.CurrentUser(r).ID, chi.URLParam(r, "id")); err != nil {
		s.adminFail(w, r, err)
		return
	}
	redirectNotice(w, r, "/admin/tokens", "revoked")
}
