package web

import (
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type sessionResponse struct {
	User      *cms.User `json:"user"`
	CSRFToken string    `json:"csrfToken,omitempty"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var in loginRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	var v cms.ValidationError
	if strings.TrimSpace(in.Email) == "" {
		v.Add("/email", "is required")
	}
	if in.Password == "" {
		v.Add("/password", "is required")
	}
	if err := v.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if ok, wait := s.allowLogin(r, in.Email); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		problem(w, r, http.StatusTooManyRequests, "too many login attempts; try again later")
		return
	}
	u, err := s.svc.Users.Authenticate(r.Context(), in.Email, in.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.startSession(w, r, u, http.StatusOK)
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u *cms.User, status int) {
	secret, sess, err := s.svc.Auth.CreateSessionFrom(r.Context(), u.ID, r.UserAgent(), s.clientIP(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: secret, Path: "/", Expires: sess.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.isHTTPS(r),
	})
	writeJSON(w, status, sessionResponse{User: u, CSRFToken: sess.CSRFToken, ExpiresAt: sess.ExpiresAt})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil && currentSession(r) != nil {
		if err := s.svc.Auth.DeleteSession(r.Context(), c.Value); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.isHTTPS(r)})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	if u == nil {
		problem(w, r, http.StatusUnauthorized, "not signed in")
		return
	}
	resp := sessionResponse{User: u}
	if sess := currentSession(r); sess != nil {
		resp.CSRFToken = sess.CSRFToken
		resp.ExpiresAt = sess.ExpiresAt
	}
	writeJSON(w, http.StatusOK, resp)
}

type setupRequest struct {
	Token    string `json:"token"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

// handleSetupAPI creates the first admin from the one-time setup token and signs
// them in.
func (s *Server) handleSetupAPI(w http.ResponseWriter, r *http.Request) {
	var in setupRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.svc.Auth.CompleteSetup(r.Context(), in.Token, cms.NewUser{Email: in.Email, Name: in.Name, Password: in.Password})
	if err != nil {
		s.writeError(w, r, setupError(err))
		return
	}
	s.startSession(w, r, u, http.StatusCreated)
}

func setupError(err error) error {
	switch {
	case errors.Is(err, cms.ErrNotFound):
		return &HTTPError{Status: http.StatusForbidden, Detail: "the setup link is invalid, expired or already used", Err: err}
	case errors.Is(err, cms.ErrSetupDone):
		return &HTTPError{Status: http.StatusConflict, Detail: "this site already has an admin", Err: err}
	}
	return err
}

var setupPage = template.Must(template.New("setup").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Set up Pilcrow</title></head>
<body><main>
<h1>Create the first admin</h1>
{{if .Done}}<p role="status">Your admin account {{.Email}} is ready and you are signed in.</p>
<p><a href="/admin/">Open the admin</a></p>
{{else}}{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
{{range .Errors}}<p role="alert">{{.Path}}: {{.Message}}</p>{{end}}
<form method="post" action="/setup">
<input type="hidden" name="token" value="{{.Token}}">
<p><label for="email">Email</label> <input id="email" name="email" type="email" required value="{{.Email}}" autocomplete="username"></p>
<p><label for="name">Name</label> <input id="name" name="name" value="{{.Name}}"></p>
<p><label for="password">Password (at least {{.MinPassword}} characters)</label> <input id="password" name="password" type="password" required minlength="{{.MinPassword}}" autocomplete="new-password"></p>
<p><button type="submit">Create admin</button></p>
</form>{{end}}
</main></body></html>`))

type setupView struct {
	Token, Email, Name, Error string
	Errors                    []cms.FieldError
	Done                      bool
	MinPassword               int
}

func (s *Server) renderSetup(w http.ResponseWriter, status int, v setupView) {
	v.MinPassword = cms.MinPasswordLength
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("Referrer-Policy", "no-referrer") // the URL holds the setup secret
	w.WriteHeader(status)
	_ = setupPage.Execute(w, v)
}

func (s *Server) handleSetupPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if err := s.svc.Auth.CheckSetupToken(r.Context(), token); err != nil {
		s.writeError(w, r, setupError(err))
		return
	}
	s.renderSetup(w, http.StatusOK, setupView{Token: token})
}

func (s *Server) handleSetupForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		problem(w, r, http.StatusBadRequest, fmt.Sprintf("malformed form: %v", err))
		return
	}
	v := setupView{Token: r.PostForm.Get("token"), Email: r.PostForm.Get("email"), Name: r.PostForm.Get("name")}
	u, err := s.svc.Auth.CompleteSetup(r.Context(), v.Token, cms.NewUser{Email: v.Email, Name: v.Name, Password: r.PostForm.Get("password")})
	var ve *cms.ValidationError
	switch {
	case errors.As(err, &ve):
		v.Errors = ve.Errors
		s.renderSetup(w, http.StatusUnprocessableEntity, v)
		return
	case err != nil:
		s.writeError(w, r, setupError(err))
		return
	}
	secret, sess, err := s.svc.Auth.CreateSession(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", Expires: sess.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.isHTTPS(r)})
	s.renderSetup(w, http.StatusCreated, setupView{Done: true, Email: u.Email})
}
