package web

import (
	"bytes"
	"context"
	"errors"
	htmltemplate "html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/mail"
)

type changePasswordRequest struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

// handleChangePassword changes the caller's own password; every other
// session ends, the one asking (if a session) stays.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	if u == nil {
		problem(w, r, http.StatusUnauthorized, "sign in or send an API token")
		return
	}
	var in changePasswordRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	keep := ""
	if sess := currentSession(r); sess != nil {
		keep = sess.ID
	}
	if err := s.svc.Users.ChangePassword(r.Context(), u.ID, in.Current, in.New, keep); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	if u == nil {
		problem(w, r, http.StatusUnauthorized, "sign in or send an API token")
		return
	}
	cur := ""
	if sess := currentSession(r); sess != nil {
		cur = sess.ID
	}
	list, err := s.svc.Auth.ListSessions(r.Context(), u.ID, cur)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

// handleRevokeSession ends one of the caller's sessions (the current one
// too: that is a sign-out).
func (s *Server) handleRevokeSession(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	if u == nil {
		problem(w, r, http.StatusUnauthorized, "sign in or send an API token")
		return
	}
	if err := s.svc.Auth.RevokeSession(r.Context(), u.ID, chi.URLParam(r, "id")); err != nil {
		if errors.Is(err, cms.ErrNotFound) {
			problem(w, r, http.StatusNotFound, "you have no session with this id")
			return
		}
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type inviteRequest struct {
	Email string   `json:"email"`
	Role  cms.Role `json:"role"`
}

// InviteResult is what an invite answers.
type InviteResult struct {
	Email     string    `json:"email"`
	Role      cms.Role  `json:"role"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Mailed says the invite went to the outbox. Without --smtp it did not,
	// and Link is given to the admin to pass on themselves.
	Mailed bool   `json:"mailed"`
	Link   string `json:"link,omitempty"`
}

func (s *Server) siteURL() string {
	if s.svc.SiteURL != "" {
		return strings.TrimRight(s.svc.SiteURL, "/")
	}
	if s.cfg.BaseURL != "" {
		return strings.TrimRight(s.cfg.BaseURL, "/")
	}
	return "http://localhost:8080"
}

func (s *Server) handleInvite(w http.ResponseWriter, r *http.Request) {
	var in inviteRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.invite(r.Context(), currentUser(r), in.Email, in.Role)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// invite makes an invite and mails it, or (no mail) returns its link.
func (s *Server) invite(ctx context.Context, by *cms.User, email string, role cms.Role) (*InviteResult, error) {
	secret, l, err := s.svc.Auth.Invite(ctx, by, email, role)
	if err != nil {
		return nil, err
	}
	link := s.siteURL() + "/invite?token=" + url.QueryEscape(secret)
	out := &InviteResult{Email: l.Email, Role: l.Role, ExpiresAt: l.ExpiresAt}
	if s.svc.Mail == nil {
		out.Link = link
		return out, nil
	}
	msg, err := accountMail(inviteMail, mailView{SiteURL: s.siteURL(), Link: link, Email: l.Email, Role: string(l.Role),
		From: displayName(by), Expires: l.ExpiresAt.Format(time.RFC1123)})
	if err != nil {
		return nil, err
	}
	msg.To, msg.Subject, msg.Origin = []string{l.Email}, "You are invited to "+s.siteURL(), "site"
	if _, err := s.svc.Mail.Enqueue(ctx, nil, msg); err != nil {
		return nil, err
	}
	out.Mailed = true
	return out, nil
}

func displayName(u *cms.User) string {
	if u == nil {
		return "An admin"
	}
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

type acceptInviteRequest struct {
	Token    string `json:"token"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

// handleAcceptInvite spends an invite, creates the account and signs it in.
func (s *Server) handleAcceptInvite(w http.ResponseWriter, r *http.Request) {
	var in acceptInviteRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.svc.Auth.AcceptInvite(r.Context(), in.Token, in.Name, in.Password)
	if err != nil {
		s.writeError(w, r, linkError(err, "invite"))
		return
	}
	s.startSession(w, r, u, http.StatusCreated)
}

func linkError(err error, what string) error {
	if errors.Is(err, cms.ErrNotFound) {
		return &HTTPError{Status: http.StatusGone, Detail: "the " + what + " link is invalid, expired or already used", Err: err}
	}
	return err
}

type resetRequest struct {
	Email string `json:"email"`
}

// The reset answers. Each is the same for every address, known or not; the
// second is what a site without mail says, rather than pretend it sent any.
var (
	resetAccepted = map[string]string{"status": "accepted",
		"detail": "If an account uses this address, a link to choose a new password is on its way to it."}
	resetNoMail = map[string]string{"status": "accepted",
		"detail": "This site sends no mail, so no reset link was sent: ask an admin to set a new password for you."}
)

// handleResetRequest always answers 202 with the same body. The lookup,
// link and mail happen after the answer, off the request, so neither the
// body nor the time taken says whether the address has an account.
func (s *Server) handleResetRequest(w http.ResponseWriter, r *http.Request) {
	var in resetRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	email := strings.TrimSpace(in.Email)
	if email == "" || len(email) > 254 {
		s.writeError(w, r, &cms.ValidationError{Errors: []cms.FieldError{{Path: "/email", Message: "is required (at most 254 bytes)"}}})
		return
	}
	// Reset requests spend sign-in attempts: they cost an argon2id-free
	// lookup but send mail, and must not become a mail cannon.
	if ok, wait, err := s.allowLogin(r, email); err != nil {
		s.writeError(w, r, err)
		return
	} else if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		problem(w, r, http.StatusTooManyRequests, "too many attempts; try again later")
		return
	}
	if s.svc.Mail == nil {
		s.log.WarnContext(r.Context(), "password reset asked for, but this site has no --smtp: no link was made or sent")
		writeJSON(w, http.StatusAccepted, resetNoMail)
		return
	}
	s.startResetWork(r, email)
	writeJSON(w, http.StatusAccepted, resetAccepted)
}

// startResetWork makes and mails the reset link for email off the request.
func (s *Server) startResetWork(r *http.Request, email string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	work := func() {
		defer cancel()
		s.sendReset(ctx, email)
	}
	select {
	case s.accountWork <- struct{}{}:
		go func() { defer func() { <-s.accountWork }(); work() }()
	default:
		work() // busy: answer later rather than start unbounded goroutines
	}
}

func (s *Server) sendReset(ctx context.Context, email string) {
	secret, u, err := s.svc.Auth.RequestReset(ctx, email)
	if err != nil {
		s.log.ErrorContext(ctx, "password reset failed", "err", err)
		return
	}
	if u == nil {
		return
	}
	link := s.siteURL() + "/reset-password?token=" + url.QueryEscape(secret)
	msg, err := accountMail(resetMail, mailView{SiteURL: s.siteURL(), Link: link, Email: u.Email,
		Expires: time.Now().Add(s.svc.Auth.ResetTTL).UTC().Format(time.RFC1123)})
	if err == nil {
		msg.To, msg.Subject, msg.Origin = []string{u.Email}, "Choose a new password for "+s.siteURL(), "site"
		_, err = s.svc.Mail.Enqueue(ctx, nil, msg)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "password reset mail not queued", "err", err)
	}
}

type resetConfirmRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// handleResetConfirm spends a reset link, sets the password, ends every
// session of the account and signs this browser in.
func (s *Server) handleResetConfirm(w http.ResponseWriter, r *http.Request) {
	var in resetConfirmRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.svc.Auth.ConfirmReset(r.Context(), in.Token, in.Password)
	if err != nil {
		s.writeError(w, r, linkError(err, "password reset"))
		return
	}
	s.startSession(w, r, u, http.StatusOK)
}

// Mail templates: each has a plain-text and an HTML body; the HTML one is
// html/template, so the values (addresses, names) are escaped.
type mailView struct {
	SiteURL, Link, Email, Role, From, Expires string
}

type mailTemplate struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

var inviteMail = mailTemplate{
	text: texttemplate.Must(texttemplate.New("invite").Parse(`{{.From}} invited you to {{.SiteURL}} as {{.Role}}.

Choose your password here (the link works once, until {{.Expires}}):

{{.Link}}

If you did not expect this, ignore this message.
`)),
	html: htmltemplate.Must(htmltemplate.New("invite").Parse(`<!doctype html><html><body>
<p>{{.From}} invited you to <strong>{{.SiteURL}}</strong> as {{.Role}}.</p>
<p><a href="{{.Link}}">Choose your password</a> (the link works once, until {{.Expires}}).</p>
<p>If you did not expect this, ignore this message.</p>
</body></html>`)),
}

var resetMail = mailTemplate{
	text: texttemplate.Must(texttemplate.New("reset").Parse(`Someone asked to reset the password of {{.Email}} on {{.SiteURL}}.

Choose a new password here (the link works once, until {{.Expires}}):

{{.Link}}

If it was not you, ignore this message: your password stays as it is.
`)),
	html: htmltemplate.Must(htmltemplate.New("reset").Parse(`<!doctype html><html><body>
<p>Someone asked to reset the password of {{.Email}} on <strong>{{.SiteURL}}</strong>.</p>
<p><a href="{{.Link}}">Choose a new password</a> (the link works once, until {{.Expires}}).</p>
<p>If it was not you, ignore this message: your password stays as it is.</p>
</body></html>`)),
}

func accountMail(t mailTemplate, v mailView) (mail.Message, error) {
	var text, html bytes.Buffer
	if err := t.text.Execute(&text, v); err != nil {
		return mail.Message{}, err
	}
	if err := t.html.Execute(&html, v); err != nil {
		return mail.Message{}, err
	}
	return mail.Message{Text: text.String(), HTML: html.String()}, nil
}
