package web

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// multipartOverhead is what a media upload request may carry beyond the file
// itself: boundaries, part headers, alt text and title.
const multipartOverhead = 1 << 20

// maxTextPart caps the alt and title parts of an upload.
const maxTextPart = 64 << 10

// mediaAPIRoutes are /api/media: every role may upload and browse; changing
// or deleting another user's item needs media:manage-all (checked in cms).
func (s *Server) mediaAPIRoutes(r chi.Router) {
	r.Use(s.require(cms.PermManageOwnMedia))
	r.Get("/", s.handleListMedia)
	r.With(s.idempotent).Post("/", s.handleUploadMedia)
	r.Get("/{id}", s.handleGetMedia)
	r.Patch("/{id}", s.handleUpdateMedia)
	r.Delete("/{id}", s.handleDeleteMedia)
}

// mediaFileRoutes serve the files at their stable, public URL
// /media/{id}/{filename}; the filename segment is for people and caches and
// is not checked, so renaming never breaks a link.
func (s *Server) mediaFileRoutes(r chi.Router) {
	for _, p := range []string{"/media/{id}", "/media/{id}/{filename}"} {
		r.Get(p, s.handleServeMedia)
		r.Head(p, s.handleServeMedia)
	}
}

// MediaFileURL is the stable path of a media item's file.
func MediaFileURL(m *cms.Media) string {
	return "/media/" + m.ID + "/" + url.PathEscape(m.Filename)
}

func withURL(m *cms.Media) *cms.Media {
	c := *m
	c.URL = MediaFileURL(m)
	return &c
}

func (s *Server) handleListMedia(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	mq := cms.MediaQuery{Cursor: q.Get("cursor"), Type: q.Get("type"), Search: q.Get("q")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.writeError(w, r, &cms.ValidationError{Errors: []cms.FieldError{{Path: "/limit", Message: "must be an integer"}}})
			return
		}
		mq.Limit = n
	}
	switch owner := q.Get("owner"); owner {
	case "":
	case "me":
		mq.OwnerID = currentUser(r).ID
	default:
		mq.OwnerID = owner
	}
	page, err := s.svc.Media.List(r.Context(), mq)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for i, m := range page.Items {
		page.Items[i] = withURL(m)
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleGetMedia(w http.ResponseWriter, r *http.Request) {
	m, err := s.svc.Media.Get(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, withURL(m))
}

func (s *Server) handleUpdateMedia(w http.ResponseWriter, r *http.Request) {
	var in cms.MediaPatch
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.svc.Media.Update(r.Context(), currentUser(r), chi.URLParam(r, "id"), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, withURL(m))
}

func (s *Server) handleDeleteMedia(w http.ResponseWriter, r *http.Request) {
	force := false
	if v := r.URL.Query().Get("force"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problem(w, r, http.StatusBadRequest, fmt.Sprintf("force=%q: want true or false", v))
			return
		}
		force = b
	}
	if err := s.svc.Media.Delete(r.Context(), currentUser(r), chi.URLParam(r, "id"), force); err != nil {
		s.mediaError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleUploadMedia reads a multipart body as a stream: the file part goes
// straight to the blob store (hashed, sniffed and size-capped on the way)
// and is never held whole in memory or spooled to a temporary file.
func (s *Server) handleUploadMedia(w http.ResponseWriter, r *http.Request) {
	lib := s.svc.Media
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		problem(w, r, http.StatusUnsupportedMediaType, fmt.Sprintf(
			"request body must be multipart/form-data with the file in a part named \"file\", got %q", r.Header.Get("Content-Type")))
		return
	}
	if params["boundary"] == "" {
		problem(w, r, http.StatusBadRequest, "multipart/form-data Content-Type has no boundary parameter")
		return
	}
	limit := lib.MaxBytes() + multipartOverhead
	if r.ContentLength > limit {
		s.mediaError(w, r, fmt.Errorf("%w: the limit is %d bytes", cms.ErrMediaTooLarge, lib.MaxBytes()))
		return
	}
	mr := multipart.NewReader(http.MaxBytesReader(w, r.Body, limit), params["boundary"])

	var alt, title string
	var received *cms.ReceivedMedia
	defer func() {
		if received != nil {
			lib.Discard(r.Context(), received)
		}
	}()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.mediaError(w, r, bodyError(err))
			return
		}
		switch name := part.FormName(); name {
		case "alt", "title":
			b, err := io.ReadAll(io.LimitReader(part, maxTextPart+1))
			if err != nil {
				s.mediaError(w, r, bodyError(err))
				return
			}
			if len(b) > maxTextPart {
				s.writeError(w, r, &cms.ValidationError{Errors: []cms.FieldError{{Path: "/" + name, Message: "is far too long"}}})
				return
			}
			if name == "alt" {
				alt = string(b)
			} else {
				title = string(b)
			}
		case "file":
			if received != nil {
				problem(w, r, http.StatusBadRequest, "send one file per request (a second \"file\" part was found)")
				return
			}
			src := &sourceReader{r: part}
			received, err = lib.Receive(r.Context(), currentUser(r), cms.MediaUpload{
				Filename: part.FileName(), DeclaredType: part.Header.Get("Content-Type"),
				Size: storage.UnknownSize, Body: src,
			})
			if err != nil {
				if src.err != nil && !errors.Is(err, cms.ErrMediaTooLarge) {
					err = bodyError(src.err)
				}
				s.mediaError(w, r, err)
				return
			}
		default:
			problem(w, r, http.StatusBadRequest, fmt.Sprintf("unknown multipart part %q; expected file, alt and title", name))
			return
		}
		part.Close()
	}
	if received == nil {
		s.writeError(w, r, &cms.ValidationError{Errors: []cms.FieldError{{Path: "/file", Message: "is required: send the file in a multipart part named \"file\""}}})
		return
	}
	m, err := lib.Commit(r.Context(), received, alt, title)
	received = nil // Commit discards the blob itself on failure
	if err != nil {
		s.mediaError(w, r, err)
		return
	}
	out := withURL(m)
	w.Header().Set("Location", "/api/media/"+m.ID)
	writeJSON(w, http.StatusCreated, out)
}

// sourceReader remembers the request body's own read error, so a client that
// hangs up mid-upload is told 400, not blamed on the store.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// bodyError turns a failure reading the request body into a client error.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &HTTPError{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("request body is larger than %d bytes", mbe.Limit), Err: err}
	}
	return &HTTPError{Status: http.StatusBadRequest, Detail: "malformed or truncated multipart body: " + err.Error(), Err: err}
}

// mediaError maps the media library's errors to problems, then defers to
// writeError for the shared ones.
func (s *Server) mediaError(w http.ResponseWriter, r *http.Request, err error) {
	var te *cms.MediaTypeError
	var inUse *cms.MediaInUseError
	var rej *cms.HookRejection
	store := "the media store"
	if s.svc.Media != nil {
		store = "the media store (" + s.svc.Media.Store().Describe() + ")"
	}
	switch {
	case errors.As(err, &te):
		s.writeError(w, r, &HTTPError{Status: http.StatusUnsupportedMediaType, Detail: te.Reason, Err: err,
			Extra: map[string]any{"detectedType": te.Detected, "acceptedTypes": cms.AcceptedMediaTypes()}})
	case errors.Is(err, cms.ErrMediaTooLarge):
		s.writeError(w, r, &HTTPError{Status: http.StatusRequestEntityTooLarge, Detail: err.Error(), Err: err,
			Extra: map[string]any{"maxBytes": s.svc.Media.MaxBytes()}})
	case errors.As(err, &inUse):
		s.writeError(w, r, &HTTPError{Status: http.StatusConflict, Detail: inUse.Error(), Err: err,
			Extra: map[string]any{"references": inUse.Refs}})
	case errors.As(err, &rej):
		// A plugin's media:beforeUpload refused the file: the uploader's
		// problem to solve (or the plugin's to explain), never a 500.
		s.writeError(w, r, &HTTPError{Status: http.StatusUnprocessableEntity, Detail: rej.Error(),
			Errors: []cms.FieldError{{Path: "/file", Message: rej.Message}}, Extra: map[string]any{"plugin": rej.Plugin}, Err: err})
	case errors.Is(err, storage.ErrBlobUnavailable):
		s.log.WarnContext(r.Context(), "media store unavailable", slog.String("path", r.URL.Path), slog.Any("err", err))
		w.Header().Set("Retry-After", "30")
		s.writeError(w, r, &HTTPError{Status: http.StatusServiceUnavailable, Err: err,
			Detail: store + " is unreachable; nothing was changed. Try again shortly."})
	case errors.Is(err, storage.ErrBlobStore):
		s.log.ErrorContext(r.Context(), "media store refused the request", slog.String("path", r.URL.Path), slog.Any("err", err))
		s.writeError(w, r, &HTTPError{Status: http.StatusBadGateway, Err: err,
			Detail: store + " refused the request; nothing was changed. An administrator should check its bucket and credentials (the server log has details)."})
	default:
		s.writeError(w, r, err)
	}
}

// handleServeMedia sends a media file. Files in a presigning store are a
// redirect to a short-lived URL (unless proxying is configured); others are
// streamed with http.ServeContent, which answers Range and conditional
// requests. The headers keep browsers from treating any file as a page of
// this site: nosniff, a sandboxing CSP, and attachment for non-media types.
func (s *Server) handleServeMedia(w http.ResponseWriter, r *http.Request) {
	lib := s.svc.Media
	m, err := lib.Get(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if cms.IsVariantQuery(r.URL.Query()) {
		s.serveVariant(w, r, m)
		return
	}
	url, ttl, ok, err := lib.PresignedURL(r.Context(), m)
	if err != nil {
		s.mediaError(w, r, err)
		return
	}
	if ok {
		// Browsers may reuse the redirect only while the URL is still valid.
		h.Set("Cache-Control", fmt.Sprintf("private, max-age=%d", int((ttl/2)/time.Second)))
		http.Redirect(w, r, url, http.StatusFound)
		return
	}
	f, err := lib.OpenFile(r.Context(), m)
	if err != nil {
		s.mediaError(w, r, err)
		return
	}
	defer f.Close()
	h.Set("Content-Type", m.MimeType)
	h.Set("Content-Disposition", m.ContentDisposition())
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	h.Set("ETag", `"`+m.SHA256+`"`)
	h.Set("Cache-Control", "public, max-age=86400")
	http.ServeContent(w, r, "", m.CreatedAt, f)
}

// serveVariant sends a resized copy of an image (?w=&h=&fit=&format=). The
// ETag is known from the original's hash and the parameters, so a revalidation
// is answered 304 without touching the store. Variants are always streamed
// through Pilcrow, also from S3: they are small, and cached in the store.
func (s *Server) serveVariant(w http.ResponseWriter, r *http.Request, m *cms.Media) {
	spec, err := cms.ParseVariantSpec(r.URL.Query())
	if err != nil {
		s.writeError(w, r, queryError(err))
		return
	}
	h := w.Header()
	tag := cms.VariantETag(m, spec)
	h.Set("ETag", tag)
	h.Set("Cache-Control", "public, max-age=86400")
	if etagMatches(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	f, err := s.svc.Media.Variant(r.Context(), m, spec)
	if err != nil {
		h.Del("ETag")
		h.Del("Cache-Control")
		if errors.Is(err, cms.ErrVariantSourceTooLarge) {
			s.writeError(w, r, &HTTPError{Status: http.StatusUnprocessableEntity, Detail: err.Error(), Err: err,
				Extra: map[string]any{"maxPixels": cms.MaxVariantSourcePixels}})
			return
		}
		if errors.Is(err, cms.ErrUnsupportedMedia) {
			s.writeError(w, r, &HTTPError{Status: http.StatusUnsupportedMediaType, Detail: err.Error(), Err: err})
			return
		}
		s.mediaError(w, r, err)
		return
	}
	defer f.Close()
	h.Set("Content-Type", cms.VariantContentType(m, spec))
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	http.ServeContent(w, r, "", m.CreatedAt, f)
}
