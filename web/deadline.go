package web

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"time"
)

// bodyDeadline bounds how long a request body may take to arrive: BodyTimeout
// for JSON and form bodies, UploadTimeout for multipart uploads. The server's
// own timeouts cover only the headers and idle connections, so without this
// a client trickling a body one byte a second holds a connection (and a
// handler) indefinitely. When the deadline passes, reads fail, the handler
// answers (408 for JSON) and the connection is closed.
//
// The deadline is lifted once the body has been read to its end: net/http
// then watches the connection for a client hang-up, and a deadline passing
// during a long handler would cancel the request's context.
func (s *Server) bodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		d := s.cfg.BodyTimeout
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
			d = s.cfg.UploadTimeout
		}
		rc := http.NewResponseController(w)
		// Not every ResponseWriter (a test recorder) has a connection to
		// bound; the body is then read without a deadline.
		if err := rc.SetReadDeadline(time.Now().Add(d)); err == nil {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		next.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.lifted {
		b.lifted = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
