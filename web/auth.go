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
	if ok, wait, err := s.allowLogin(r, in.Email); err != nil {
		s.writeError(w, r, err)
		return
	} else if !ok {
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

var setupPage = template.Must(template.New("setup").Parse(pageHead + `
<title>Set up Pilcrow</title></head>
` + pageTop + `
<h1>Create the first admin</h1>
{{if .Done}}<p class="notice" role="status">Your admin account {{.Email}} is ready and you are signed in.</p>
<p><a class="button" href="/admin/">Open the admin</a></p>
{{else}}<p class="hint">This is the one-time setup of this site: the account you create here is its first admin, who can then invite everyone else.</p>
{{if .Error}}<div class="alert" role="alert" id="page-error"><p>{{.Error}}</p></div>{{end}}
{{if .Dead}}<p>Start <code>pilcrow serve</code> again for a new setup link, or <a href="/admin/login">sign in</a> if the site is already set up.</p>{{else}}
{{if .Errors}}<div class="alert" role="alert" id="page-error"><p>The account was not created:</p><ul>{{range .Errors}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
<form method="post" action="/setup" class="stack">
<input type="hidden" name="token" value="{{.Token}}">
<p><label for="email">Email</label> <input id="email" name="email" type="email" required value="{{.Email}}" autocomplete="username"></p>
<p><label for="name">Name</label> <input id="name" name="name" value="{{.Name}}" autocomplete="name"></p>
<p><label for="password">Password <span class="hint">(at least {{.MinPassword}} characters)</span></label> <input id="password" name="password" type="password" required minlength="{{.MinPassword}}" autocomplete="new-password"></p>
<p><button type="submit">Create admin</button></p>
</form>{{end}}{{end}}
` + pageBottom))

type setupView struct {
	Token, Email, Name, Error string
	// Errors are the validation problems as sentences.
	Errors []string
	Done   bool
	// Dead: the link cannot be used; no form.
	Dead        bool
	MinPassword int
	Style       pageStyle
}

// sentenceCase starts a problem detail with a capital and ends it with a
// full stop, for a page.
func sentenceCase(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func (s *Server) renderSetup(w http.ResponseWriter, status int, v setupView) {
	v.MinPassword = cms.MinPasswordLength
	v.Style = s.pageStyle()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("Referrer-Policy", "no-referrer") // the URL holds the setup secret
	w.WriteHeader(status)
	_ = setupPage.Execute(w, v)
}

func (s *Server) handleSetupPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if err := s.svc.Auth.CheckSetupToken(r.Context(), token); err != nil {
		// A person opened this link: answer with the page, saying why.
		var he *HTTPError
		if errors.As(setupError(err), &he) {
			s.renderSetup(w, he.Status, setupView{Error: sentenceCase(he.Detail), Dead: true})
			return
		}
		s.writeError(w, r, err)
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
		v.Errors = fieldSentences(ve)
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

// fieldSentences spells each validation problem for a page ("password must
// be at least 12 characters").
func fieldSentences(ve *cms.ValidationError) []string {
	out := make([]string, len(ve.Errors))
	for i, fe := range ve.Errors {
		out[i] = cms.PathName(fe.Path) + " " + fe.Message
	}
	return out
}
