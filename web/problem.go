package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// Problem is an RFC 9457 problem document. Validation problems list every
// offending input in Errors, each located by a JSON path.
type Problem struct {
	Type     string           `json:"type"`
	Title    string           `json:"title"`
	Status   int              `json:"status"`
	Detail   string           `json:"detail,omitempty"`
	Instance string           `json:"instance,omitempty"`
	Errors   []cms.FieldError `json:"errors,omitempty"`
	// Extra members, e.g. the current version on a conflict.
	Extra map[string]any `json:"-"`
}

// MarshalJSON flattens Extra into the document, as RFC 9457 extension members.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Extra) == 0 {
		return b, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range p.Extra {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

func writeProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if r != nil {
		p.Instance = r.URL.Path
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// diskFullDetail is the problem detail of a write refused for lack of space.
const diskFullDetail = "the server's disk is full, so nothing was saved; reads still work, and the same request succeeds once the operator frees space"

// workerFaultRetrySeconds is the Retry-After of a sandbox worker fault: a
// crashed worker's replacement starts within a second or two.
const workerFaultRetrySeconds = 2

func problem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	writeProblem(w, r, Problem{Status: status, Detail: detail})
}

// HTTPError lets handlers and other packages choose a status explicitly.
type HTTPError struct {
	Status int
	// Title is the problem's title; empty: the status text.
	Title  string
	Detail string
	Errors []cms.FieldError
	Extra  map[string]any
	Err    error
}

func (e *HTTPError) Error() string { return e.Detail }
func (e *HTTPError) Unwrap() error { return e.Err }

// writeError maps domain errors to problem responses. The detail of a domain
// error is its own message (cms.Message), never err.Error(): what wrapped it
// on the way up ("update entry: …") and sentinel words ("forbidden: …") are
// for logs. Anything unrecognised is a 500 whose detail is logged, never
// shown: internals are not for the client.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *HTTPError
	var ve *cms.ValidationError
	switch {
	case errors.As(err, &he):
		writeProblem(w, r, Problem{Status: he.Status, Title: he.Title, Detail: he.Detail, Errors: he.Errors, Extra: he.Extra})
	case errors.As(err, &ve):
		writeProblem(w, r, Problem{Status: http.StatusUnprocessableEntity, Title: "Validation failed",
			Detail: ve.Error(), Errors: ve.Errors})
	case errors.Is(err, cms.ErrNotFound):
		problem(w, r, http.StatusNotFound, cms.Message(err))
	case errors.Is(err, cms.ErrForbidden):
		problem(w, r, http.StatusForbidden, cms.Message(err))
	case errors.Is(err, cms.ErrConflict):
		problem(w, r, http.StatusConflict, cms.Message(err))
	case errors.Is(err, cms.ErrInvalidCredentials), errors.Is(err, cms.ErrAccountDisabled):
		problem(w, r, http.StatusUnauthorized, cms.Message(err))
	case errors.Is(err, sandbox.ErrWorkerFault):
		// The plugin sandbox failed twice (or could not start a worker):
		// not the plugin's verdict, and likely fine on a retry.
		s.log.WarnContext(r.Context(), "plugin sandbox fault", slog.String("path", r.URL.Path), slog.Any("err", err))
		w.Header().Set("Retry-After", strconv.Itoa(workerFaultRetrySeconds))
		problem(w, r, http.StatusServiceUnavailable, "the plugin sandbox failed to run this request; retry shortly")
	case storage.IsDiskFull(err):
		// Not the client's fault and not a bug: the operator must free space.
		// Nothing was written, reads go on working, and the same request
		// succeeds once there is room again.
		s.log.ErrorContext(r.Context(), "write refused: disk full", slog.String("path", r.URL.Path), slog.Any("err", err))
		writeProblem(w, r, Problem{Status: http.StatusInsufficientStorage, Title: "Insufficient storage",
			Detail: diskFullDetail})
	case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		// The client went away; nobody reads this response.
		problem(w, r, 499, "request cancelled")
	default:
		s.log.ErrorContext(r.Context(), "request failed", slog.String("path", r.URL.Path), slog.Any("err", err))
		problem(w, r, http.StatusInternalServerError, "internal error; the server log has details")
	}
}
