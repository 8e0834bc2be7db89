// Package cms is Pilcrow's content domain: users, sessions, API tokens, roles and
// permissions, collections, entries, revisions, publishing and media records.
// It knows nothing about HTTP; the web package maps its errors to responses.
package cms

import (
	"errors"
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

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = fe.Path + ": " + fe.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
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
