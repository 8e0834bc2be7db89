// Package cms is Pilcrow's content domain: users, sessions, API tokens, roles and
// permissions, collections, entries, revisions, publishing and media records.
// It knows nothing about HTTP; the web package maps its errors to responses.
package cms

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors callers test with errors.Is.
var (
	ErrNotFound           = errors.New("not found")
	ErrForbidden          = errors.New("forbidden")
	ErrConflict           = errors.New("conflict")
	ErrInvalidCredentials = errors.New("invalid email or password")
	ErrSetupDone          = errors.New("setup already completed")
	ErrAccountDisabled    = errors.New("this account is disabled")
)

// FieldError is one problem with one input value, located by a JSON path such as
// "/data/title".
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ValidationError carries every problem found in an input at once.
type ValidationError struct {
	Errors []FieldError
}

// Error reads as a sentence about the input ("title is required; rating
// must be at most 5"), with no prefix: it is what an API client's problem
// detail and the admin show, and callers add no words of their own.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = PathName(fe.Path) + " " + fe.Message
	}
	return strings.Join(parts, "; ")
}

// PathName is the input a JSON path of a FieldError names, as people call
// it: "/data/title" is title, "/query/limit" limit, "/fields/0/name"
// fields.0.name.
func PathName(path string) string {
	for _, p := range []string{"/data/", "/query/"} {
		if strings.HasPrefix(path, p) {
			path = strings.TrimPrefix(path, p)
			break
		}
	}
	path = strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", ".")
	if path == "" {
		return "the input"
	}
	return path
}

// Problem is an error meant for people: Msg is the whole message a client
// or the admin shows (no sentinel text before it), Kind the sentinel
// (ErrNotFound, ErrForbidden, ErrConflict) that errors.Is matches.
type Problem struct {
	Kind error
	Msg  string
}

func (e *Problem) Error() string        { return e.Msg }
func (e *Problem) Is(target error) bool { return target == e.Kind }

func problemf(kind error, format string, args ...any) error {
	return &Problem{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func notFoundf(format string, args ...any) error  { return problemf(ErrNotFound, format, args...) }
func forbiddenf(format string, args ...any) error { return problemf(ErrForbidden, format, args...) }
func conflictf(format string, args ...any) error  { return problemf(ErrConflict, format, args...) }

// Message is what people are told about err: a Problem's or validation
// error's own words, whatever wrapped it on the way up (an operation's
// name, a transaction), or a plain phrase for a bare sentinel. It is ""
// for errors that are not the client's to read (internal failures).
func Message(err error) string {
	var p *Problem
	var ve *ValidationError
	var stale *StaleVersionError
	var inUse *MediaInUseError
	switch {
	case errors.As(err, &p):
		return p.Msg
	case errors.As(err, &ve):
		return ve.Error()
	case errors.As(err, &stale):
		return stale.Error()
	case errors.As(err, &inUse):
		return inUse.Error()
	case errors.Is(err, ErrNotFound):
		return "not found"
	case errors.Is(err, ErrForbidden):
		return "not allowed"
	case errors.Is(err, ErrConflict):
		return "this conflicts with the current state"
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, ErrAccountDisabled), errors.Is(err, ErrSetupDone):
		return errorText(err)
	}
	return ""
}

// errorText is the sentinel's own text, without what wrapped it.
func errorText(err error) string {
	for _, s := range []error{ErrInvalidCredentials, ErrAccountDisabled, ErrSetupDone} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return err.Error()
}

// Add records a problem.
func (e *ValidationError) Add(path, msg string) { e.Errors = append(e.Errors, FieldError{path, msg}) }

// Err returns e when it holds problems and nil otherwise.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Errors) == 0 {
		return nil
	}
	return e
}
