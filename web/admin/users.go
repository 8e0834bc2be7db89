package admin

import (
	"errors"
	"net/http"
	"strings"
	"time"

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
	// Invite is an invite just made; its Link is set when the site has no
	// mail, for the admin to pass on.
	Invite *web.InviteResult
	// InviteForm echoes the invite form after a failed attempt.
	InviteForm cms.NewUser
	InviteErrs map[string][]string
	Me         string
}

var adminRoles = []cms.Role{cms.RoleAdmin, cms.RoleEditor, cms.RoleAuthor}

func (s *UI) renderUsers(w http.ResponseWriter, r *http.Request, status int, v usersView, pageErr string) {
	users, err := s.svc.Users.List(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	v.Users, v.Roles, v.Me = users, adminRoles, web.CurrentUser(r).ID
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
	// Scopes are those the signed-in user's role may give a token.
	Scopes  []cms.Scope
	Expires []tokenLife
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
	v.Tokens, v.Scopes, v.Expires = toks, web.CurrentUser(r).Role.Scopes(), tokenLives
	s.adminRender(w, r, status, "tokens", &adminPage{Title: "API tokens", Nav: "tokens", Error: pageErr, Data: v})
}

func (s *UI) handleAdminTokens(w http.ResponseWriter, r *http.Request) {
	s.renderTokens(w, r, http.StatusOK, tokensView{}, "")
}

func (s *UI) handleAdminCreateToken(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	in := cms.NewToken{Name: strings.TrimSpace(r.PostForm.Get("name"))}
	for _, sc := range r.PostForm["scope"] {
		in.Scopes = append(in.Scopes, cms.Scope(sc))
	}
	if in.Scopes == nil {
		in.Scopes = []cms.Scope{} // none ticked: refused, rather than silently the full role
	}
	if life := r.PostForm.Get("expires"); life != "" && life != "never" {
		d, err := time.ParseDuration(life)
		if err != nil || d <= 0 {
			s.renderTokens(w, r, http.StatusUnprocessableEntity, tokensView{}, "The token was not created: choose an expiry from the list.")
			return
		}
		at := time.Now().Add(d)
		in.ExpiresAt = &at
	}
	tok, secret, err := s.svc.Auth.CreateToken(r.Context(), web.CurrentUser(r), in, nil)
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

// tokenLife is an expiry choice on the token form.
type tokenLife struct{ Value, Label string }

var tokenLives = []tokenLife{{"168h", "7 days"}, {"720h", "30 days"}, {"2160h", "90 days"}, {"8760h", "1 year"}, {"never", "never"}}

// handleAdminUserDisabled disables or enables a user.
func (s *UI) handleAdminUserDisabled(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	disabled := r.PostForm.Get("disabled") == "true"
	if _, err := s.svc.Users.Update(r.Context(), chi.URLParam(r, "id"), cms.UserUpdate{Disabled: &disabled}); err != nil {
		status, msg := adminErrorStatus(err)
		if status == http.StatusInternalServerError || errors.Is(err, cms.ErrNotFound) {
			s.adminFail(w, r, err)
			return
		}
		s.renderUsers(w, r, status, usersView{}, "Not changed: "+msg)
		return
	}
	redirectNotice(w, r, "/admin/users", map[bool]string{true: "disabled", false: "enabled"}[disabled])
}

// handleAdminDeleteUser deletes a user; their entries stay, without an
// author or passed to the chosen user.
func (s *UI) handleAdminDeleteUser(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	if err := s.svc.Users.Delete(r.Context(), chi.URLParam(r, "id"), r.PostForm.Get("reassignTo")); err != nil {
		status, msg := adminErrorStatus(err)
		if status == http.StatusInternalServerError || errors.Is(err, cms.ErrNotFound) {
			s.adminFail(w, r, err)
			return
		}
		s.renderUsers(w, r, status, usersView{}, "Not deleted: "+msg)
		return
	}
	redirectNotice(w, r, "/admin/users", "deleted-user")
}

// handleAdminInvite invites someone. Rendered directly, not redirected:
// without mail the page shows the link, which must not sit in a URL.
func (s *UI) handleAdminInvite(w http.ResponseWriter, r *http.Request) {
	if !s.adminParseForm(w, r) {
		return
	}
	form := cms.NewUser{Email: strings.TrimSpace(r.PostForm.Get("email")), Role: cms.Role(r.PostForm.Get("role"))}
	res, err := s.web.Invite(r.Context(), web.CurrentUser(r), form.Email, form.Role)
	if err != nil {
		status, msg := adminErrorStatus(err)
		if status == http.StatusInternalServerError {
			s.adminFail(w, r, err)
			return
		}
		byPath, _ := errorsByPath(err)
		if byPath != nil {
			msg = "The invite was not made: fix the problems marked below."
		}
		s.renderUsers(w, r, status, usersView{InviteForm: form, InviteErrs: byPath}, msg)
		return
	}
	s.renderUsers(w, r, http.StatusCreated, usersView{Invite: res}, "")
}
