package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"reflect"
	"strings"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// decodeJSON reads a JSON request body into v. It enforces the content type and the
// size cap, refuses unknown fields and trailing data, and names the offending
// field, so a malformed request is a 4xx the client can act on and never a 500.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return s.decodeBody(w, r, v, false)
}

// decodeJSONExact is decodeJSON keeping numbers in untyped values (an
// entry's data) as json.Number, so none is rounded through a float.
func (s *Server) decodeJSONExact(w http.ResponseWriter, r *http.Request, v any) error {
	return s.decodeBody(w, r, v, true)
}

func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any, exact bool) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &HTTPError{Status: http.StatusUnsupportedMediaType, Detail: fmt.Sprintf("request body must be application/json, got %q", ct)}
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if exact {
		dec.UseNumber()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		return &HTTPError{Status: http.StatusBadRequest, Detail: "request body must hold a single JSON value"}
	}
	return nil
}

func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &HTTPError{Status: http.StatusRequestTimeout, Detail: "request body did not arrive within the body timeout (--body-timeout)", Err: err}
	case errors.As(err, &mbe):
		return &HTTPError{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("request body is larger than %d bytes", mbe.Limit)}
	case errors.Is(err, io.EOF):
		return &HTTPError{Status: http.StatusBadRequest, Detail: "request body is empty; expected JSON"}
	case errors.As(err, &se):
		return &HTTPError{Status: http.StatusBadRequest, Detail: fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)}
	case errors.As(err, &te):
		path := "/" + strings.ReplaceAll(te.Field, ".", "/")
		return &HTTPError{Status: http.StatusBadRequest, Detail: "wrong JSON type",
			Errors: []cms.FieldError{{Path: path, Message: fmt.Sprintf("must be %s, not %s", jsonKindOf(te.Type), te.Value)}}}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &HTTPError{Status: http.StatusBadRequest, Detail: "malformed JSON: unexpected end of body"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &HTTPError{Status: http.StatusBadRequest, Detail: "unknown field " + field,
			Errors: []cms.FieldError{{Path: "/" + field, Message: "is not a known field"}}}
	default:
		return &HTTPError{Status: http.StatusBadRequest, Detail: "malformed JSON: " + err.Error()}
	}
}

// jsonKindOf names t as JSON does: a map or struct is an object, a slice an
// array (Go's names, map[string]interface {}, mean nothing to a client).
func jsonKindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return t.String()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
