package web

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net/http"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// The public pages a mailed link opens: accept an invite, choose a new
// password, ask for a reset link. They are plain server-rendered forms
// (no script), like /setup.
//
// CSRF: the visitor has no session yet, so each form carries a random
// value that must equal a cookie set with the page (double submit). A
// forged cross-site post cannot read the cookie, so cannot, for instance,
// sign a victim into the forger's freshly invited account.

const formCookie = "pilcrow_form"

func (s *Server) accountPageRoutes(r interface {
	Get(string, http.HandlerFunc)
	Post(string, http.HandlerFunc)
}) {
	r.Get("/invite", s.handleInvitePage)
	r.Post("/invite", s.handleInviteForm)
	r.Get("/reset-password", s.handleResetPage)
	r.Post("/reset-password", s.handleResetForm)
}

var accountPage = template.Must(template.New("account").Parse(pageHead + `
<title>{{.Title}} · Pilcrow</title></head>
` + pageTop + `
<h1>{{.Title}}</h1>
{{if .Error}}<div class="alert" role="alert"><p>{{.Error}}</p></div>{{end}}
{{if .Errors}}<div class="alert" role="alert"><ul>{{range .Errors}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
{{if .Done}}<p class="notice" role="status">{{.Done}}</p>{{if .SignedIn}}<p><a class="button" href="/admin/">Open the admin</a></p>{{end}}
{{else if eq .Kind "invite"}}
<p>You were invited as <strong>{{.Role}}</strong> with the address <strong>{{.Email}}</strong>.</p>
<form method="post" action="/invite" class="stack">
<input type="hidden" name="csrf" value="{{.CSRF}}"><input type="hidden" name="token" value="{{.Token}}">
<p><label for="name">Your name</label> <input id="name" name="name" value="{{.Name}}" autocomplete="name"></p>
<p><label for="password">Password <span class="hint">(at least {{.MinPassword}} characters)</span></label> <input id="password" name="password" type="password" required minlength="{{.MinPassword}}" autocomplete="new-password"></p>
<p><button type="submit">Create my account</button></p>
</form>
{{else if eq .Kind "reset"}}
<form method="post" action="/reset-password" class="stack">
<input type="hidden" name="csrf" value="{{.CSRF}}"><input type="hidden" name="token" value="{{.Token}}">
<p><label for="password">New password <span class="hint">(at least {{.MinPassword}} characters)</span></label> <input id="password" name="password" type="password" required minlength="{{.MinPassword}}" autocomplete="new-password"></p>
<p><button type="submit">Set new password</button></p>
</form>
{{else}}
<form method="post" action="/reset-password" class="stack">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<p><label for="email">Your account's email</label> <input id="email" name="email" type="email" required autocomplete="username"></p>
<p><button type="submit">Send me a reset link</button></p>
</form>
{{end}}
{{if not .SignedIn}}<p><a href="/admin/login">Back to sign in</a></p>{{end}}
` + pageBottom))

type accountView struct {
	Title, Kind, Token, Email, Name, Error, Done, CSRF string
	Role                                               cms.Role
	// Errors are the validation problems as sentences.
	Errors      []string
	SignedIn    bool
	MinPassword int
	Style       pageStyle
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, v accountView) {
	v.MinPassword = cms.MinPasswordLength
	v.Style = s.pageStyle()
	if v.Done == "" {
		v.CSRF = cms.NewSecret()
		http.SetCookie(w, &http.Cookie{Name: formCookie, Value: v.CSRF, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: s.isHTTPS(r), MaxAge: 3600})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("Referrer-Policy", "no-referrer") // the URL holds the link's secret
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = accountPage.Execute(w, v)
}

// formPost parses a posted form and checks its double-submit CSRF value.
func (s *Server) formPost(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		problem(w, r, http.StatusBadRequest, fmt.Sprintf("malformed form: %v", err))
		return false
	}
	c, err := r.Cookie(formCookie)
	got := r.PostForm.Get("csrf")
	if err != nil || got == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(got)) != 1 {
		problem(w, r, http.StatusForbidden, "this form has expired or was not sent from this site: reload the page and try again")
		return false
	}
	return true
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request, u *cms.User) error {
	secret, sess, err := s.svc.Auth.CreateSessionFrom(r.Context(), u.ID, r.UserAgent(), s.clientIP(r))
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", Expires: sess.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.isHTTPS(r)})
	return nil
}

const deadLink = "This link is invalid, has expired or was already used. Ask for a new one."

func (s *Server) handleInvitePage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	v := accountView{Title: "Accept your invitation", Kind: "invite", Token: token}
	l, err := s.svc.Auth.CheckLink(r.Context(), cms.LinkInvite, token)
	switch {
	case errors.Is(err, cms.ErrNotFound):
		v.Kind, v.Error = "dead", deadLink
		s.renderAccount(w, r, http.StatusGone, v)
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	v.Email, v.Role = l.Email, l.Role
	s.renderAccount(w, r, http.StatusOK, v)
}

func (s *Server) handleInviteForm(w http.ResponseWriter, r *http.Request) {
	if !s.formPost(w, r) {
		return
	}
	v := accountView{Title: "Accept your invitation", Kind: "invite", Token: r.PostForm.Get("token"), Name: r.PostForm.Get("name")}
	u, err := s.svc.Auth.AcceptInvite(r.Context(), v.Token, v.Name, r.PostForm.Get("password"))
	var ve *cms.ValidationError
	switch {
	case errors.As(err, &ve):
		if l, lerr := s.svc.Auth.CheckLink(r.Context(), cms.LinkInvite, v.Token); lerr == nil {
			v.Email, v.Role = l.Email, l.Role
		}
		v.Errors = fieldSentences(ve)
		s.renderAccount(w, r, http.StatusUnprocessableEntity, v)
		return
	case errors.Is(err, cms.ErrNotFound):
		v.Kind, v.Error = "dead", deadLink
		s.renderAccount(w, r, http.StatusGone, v)
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	if err := s.signIn(w, r, u); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.renderAccount(w, r, http.StatusCreated, accountView{Title: "Welcome", Done: "Your account " + u.Email + " is ready and you are signed in.", SignedIn: true})
}

func (s *Server) handleResetPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" {
		s.renderAccount(w, r, http.StatusOK, accountView{Title: "Forgot your password?", Kind: "ask"})
		return
	}
	v := accountView{Title: "Choose a new password", Kind: "reset", Token: token}
	if _, err := s.svc.Auth.CheckLink(r.Context(), cms.LinkReset, token); err != nil {
		if !errors.Is(err, cms.ErrNotFound) {
			s.writeError(w, r, err)
			return
		}
		v.Kind, v.Error = "dead", deadLink
		s.renderAccount(w, r, http.StatusGone, v)
		return
	}
	s.renderAccount(w, r, http.StatusOK, v)
}

func (s *Server) handleResetForm(w http.ResponseWriter, r *http.Request) {
	if !s.formPost(w, r) {
		return
	}
	token := r.PostForm.Get("token")
	if token == "" { // asking for a link
		email := r.PostForm.Get("email")
		v := accountView{Title: "Forgot your password?", Kind: "ask"}
		if email == "" || len(email) > 254 {
			v.Error = "Enter your account's email address."
			s.renderAccount(w, r, http.StatusUnprocessableEntity, v)
			return
		}
		if ok, _, err := s.allowLogin(r, email); err != nil {
			s.writeError(w, r, err)
			return
		} else if !ok {
			v.Error = "Too many attempts. Wait a minute and try again."
			s.renderAccount(w, r, http.StatusTooManyRequests, v)
			return
		}
		done := resetNoMail["detail"]
		if s.svc.Mail != nil {
			done = resetAccepted["detail"]
			s.startResetWork(r, email)
		} else {
			s.log.WarnContext(r.Context(), "password reset asked for, but this site has no --smtp: no link was made or sent")
		}
		s.renderAccount(w, r, http.StatusAccepted, accountView{Title: "Check your mail", Done: done})
		return
	}
	v := accountView{Title: "Choose a new password", Kind: "reset", Token: token}
	u, err := s.svc.Auth.ConfirmReset(r.Context(), token, r.PostForm.Get("password"))
	var ve *cms.ValidationError
	switch {
	case errors.As(err, &ve):
		v.Errors = fieldSentences(ve)
		s.renderAccount(w, r, http.StatusUnprocessableEntity, v)
		return
	case errors.Is(err, cms.ErrNotFound):
		v.Kind, v.Error = "dead", deadLink
		s.renderAccount(w, r, http.StatusGone, v)
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	if err := s.signIn(w, r, u); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.renderAccount(w, r, http.StatusOK, accountView{Title: "Password changed", Done: "Your new password is set; you are signed in and every other session has ended.", SignedIn: true})
}
