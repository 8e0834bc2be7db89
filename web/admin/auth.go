package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/web"
)

type adminLoginView struct{ Next, Email string }

func (s *UI) handleAdminLoginPage(w http.ResponseWriter, r *http.Request) {
	if web.CurrentSession(r) != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.adminRender(w, r, http.StatusOK, "login", &adminPage{Title: "Sign in",
		Data: adminLoginView{Next: safeNext(r.URL.Query().Get("next"))}})
}

// sameOrigin rejects a cross-site form post to the login form (login CSRF:
// signing a victim into the attacker's account). Browsers send Origin on POST.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return o == ""
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

func (s *UI) handleAdminLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.adminError(w, r, http.StatusBadRequest, "The form could not be read: "+err.Error())
		return
	}
	v := adminLoginView{Next: safeNext(r.PostForm.Get("next")), Email: strings.TrimSpace(r.PostForm.Get("email"))}
	page := &adminPage{Title: "Sign in", Data: v}
	if !sameOrigin(r) {
		page.Error = "This sign-in form was sent from another site; open the admin directly and try again."
		s.adminRender(w, r, http.StatusForbidden, "login", page)
		return
	}
	password := r.PostForm.Get("password")
	if v.Email == "" || password == "" {
		page.Error = "Enter your email and password."
		s.adminRender(w, r, http.StatusUnprocessableEntity, "login", page)
		return
	}
	if ok, _, err := s.web.AllowLogin(r, v.Email); err != nil {
		s.adminFail(w, r, err)
		return
	} else if !ok {
		page.Error = "Too many sign-in attempts. Wait a minute and try again."
		s.adminRender(w, r, http.StatusTooManyRequests, "login", page)
		return
	}
	u, err := s.svc.Users.Authenticate(r.Context(), v.Email, password)
	if errors.Is(err, cms.ErrInvalidCredentials) {
		page.Error = "That email and password do not match an account."
		s.adminRender(w, r, http.StatusUnauthorized, "login", page)
		return
	}
	if errors.Is(err, cms.ErrAccountDisabled) {
		page.Error = "This account is disabled. Ask an admin."
		s.adminRender(w, r, http.StatusUnauthorized, "login", page)
		return
	}
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	secret, sess, err := s.svc.Auth.CreateSessionFrom(r.Context(), u.ID, r.UserAgent(), s.web.ClientIP(r))
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: web.SessionCookie, Value: secret, Path: "/", Expires: sess.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.web.IsHTTPS(r)})
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

func (s *UI) handleAdminLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(web.SessionCookie); err == nil {
		if err := s.svc.Auth.DeleteSession(r.Context(), c.Value); err != nil {
			s.adminFail(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: web.SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.web.IsHTTPS(r)})
	http.Redirect(w, r, "/admin/login?notice=loggedout", http.StatusSeeOther)
}
