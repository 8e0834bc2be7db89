package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

// maxReplayBody: responses larger than this are not kept for replay (create
// responses are a few KiB).
const maxReplayBody = 1 << 20

// replayedHeaders are the response headers a replay repeats.
var replayedHeaders = []string{"Content-Type", "Location", "ETag", "Cache-Control"}

// idempotent makes a POST create honour Idempotency-Key, after Stripe's
// semantics: the first request with a key runs and its response (status,
// headers, body) is kept for 24 hours; a repeat with the same key and the
// same request gets that response again, marked Idempotent-Replayed: true,
// without running; the same key with a different request is a 422; a repeat
// while the first still runs is a 409. Keys belong to the signed-in user, so
// two users' keys never meet. Server errors (5xx) are not kept: retrying
// them runs the request again.
func (s *Server) idempotent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		u := currentUser(r)
		if key == "" || r.Method != http.MethodPost || u == nil || s.idem == nil {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > maxIdempotencyKey || !printableASCII(key) {
			problem(w, r, http.StatusBadRequest, fmt.Sprintf("Idempotency-Key must be 1 to %d printable ASCII characters (a UUID is a good key)", maxIdempotencyKey))
			return
		}
		scope := "user:" + u.ID
		stored, err := s.idem.Begin(r.Context(), scope, key)
		if errors.Is(err, cms.ErrIdempotencyInProgress) {
			w.Header().Set("Retry-After", "1")
			problem(w, r, http.StatusConflict, "a request with this Idempotency-Key is still being processed; retry once it has finished")
			return
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		fp := newFingerprint(r)
		if stored != nil {
			// Read the whole body to compare it; it is not acted on.
			if _, err := io.Copy(fp, http.MaxBytesReader(w, r.Body, s.bodyLimit(r))); err != nil {
				s.writeError(w, r, bodyError(err))
				return
			}
			if fp.sum() != stored.Fingerprint {
				s.writeError(w, r, &HTTPError{Status: http.StatusUnprocessableEntity,
					Detail: "Idempotency-Key was already used with a different request (method, path or body); use a new key for a new request",
					Errors: []cms.FieldError{{Path: "/headers/Idempotency-Key", Message: "was used for a different request"}}})
				return
			}
			for k, v := range stored.Headers {
				w.Header().Set(k, v)
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(stored.Status)
			_, _ = w.Write(stored.Body)
			return
		}
		r.Body = &teeBody{r: r.Body, w: fp}
		rec := &recorder{ResponseWriter: w}
		finished := false
		defer func() {
			if !finished {
				_ = s.idem.Abandon(r.Context(), scope, key)
			}
		}()
		next.ServeHTTP(rec, r)
		if rec.status >= 500 || rec.status == 0 || rec.overflow {
			return
		}
		// Drain what the handler left unread, so the fingerprint covers the
		// whole body.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, s.bodyLimit(r)))
		headers := map[string]string{}
		for _, h := range replayedHeaders {
			if v := rec.Header().Get(h); v != "" {
				headers[h] = v
			}
		}
		if err := s.idem.Finish(r.Context(), scope, key, cms.StoredResponse{Fingerprint: fp.sum(), Status: rec.status, Headers: headers, Body: rec.body.Bytes()}); err != nil {
			s.log.WarnContext(r.Context(), "idempotency: response not kept", "err", err)
			return
		}
		finished = true
	})
}

// bodyLimit is the largest body a keyed request may carry.
func (s *Server) bodyLimit(r *http.Request) int64 {
	if s.svc.Media != nil && r.URL.Path == "/api/media" {
		return s.svc.Media.MaxBytes() + multipartOverhead
	}
	return s.cfg.MaxBodyBytes
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// fingerprint hashes a request's method, path and body. A multipart
// body's boundary is left out of the hash: clients pick a new random one on
// every retry, which would otherwise make each retry look like a new request.
type fingerprint struct {
	h        hash.Hash
	boundary []byte
	pending  []byte // a tail that may be the start of a boundary
}

func newFingerprint(r *http.Request) *fingerprint {
	f := &fingerprint{h: sha256.New()}
	fmt.Fprintf(f.h, "%s %s?%s\n", r.Method, r.URL.Path, r.URL.RawQuery)
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" && params["boundary"] != "" {
		f.boundary = []byte(params["boundary"])
	}
	return f
}

func (f *fingerprint) Write(p []byte) (int, error) {
	if len(f.boundary) == 0 {
		return f.h.Write(p)
	}
	buf := append(f.pending, p...)
	for {
		i := bytes.Index(buf, f.boundary)
		if i < 0 {
			break
		}
		f.h.Write(buf[:i])
		buf = buf[i+len(f.boundary):]
	}
	// Keep back what could be the first bytes of a boundary split across writes.
	keep := min(len(buf), len(f.boundary)-1)
	f.h.Write(buf[:len(buf)-keep])
	f.pending = append([]byte(nil), buf[len(buf)-keep:]...)
	return len(p), nil
}

func (f *fingerprint) sum() string {
	f.h.Write(f.pending)
	f.pending = nil
	return hex.EncodeToString(f.h.Sum(nil))
}

// teeBody hashes the request body as the handler reads it.
type teeBody struct {
	r io.ReadCloser
	w io.Writer
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		_, _ = t.w.Write(p[:n])
	}
	return n, err
}

func (t *teeBody) Close() error { return t.r.Close() }

// recorder keeps a copy of the response for replay.
type recorder struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	overflow bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(p) > maxReplayBody {
		r.overflow = true
	} else if !r.overflow {
		r.body.Write(p)
	}
	return r.ResponseWriter.Write(p)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
