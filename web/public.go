package web

import (
	"encoding/json"
	"hash/fnv"
	"maps"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// publicCacheControl lets browsers and CDNs keep public content for a minute,
// then revalidate cheaply with the ETag.
const publicCacheControl = "public, max-age=60"

// publicRoutes mounts /api/public: unauthenticated, published-only delivery.
func (s *Server) publicRoutes(r chi.Router) {
	r.Get("/{collection}", s.handlePublicList)
	r.Get("/{collection}/{slug}", s.handlePublicEntry)
}

func (s *Server) handlePublicEntry(w http.ResponseWriter, r *http.Request) {
	collection := chi.URLParam(r, "collection")
	e, err := s.svc.Content.PublicEntry(r.Context(), collection, chi.URLParam(r, "slug"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.deliveryFor(r, collection)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// page:metadata contributions are part of the body, so the ETag covers them.
	out := s.withMetadata(r, collection, e)
	if !d.none() {
		out.Data = maps.Clone(e.Data) // e is shared with the cache
		if err := s.applyDelivery(r.Context(), d, nil, true, []map[string]any{out.Data}); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	writeCacheable(w, r, out)
}

func (s *Server) handlePublicList(w http.ResponseWriter, r *http.Request) {
	q, err := cms.ParseListQuery(listParams(r))
	if err != nil {
		s.writeError(w, r, queryError(err))
		return
	}
	list := s.svc.Content.PublicList
	if rq := r.URL.Query(); !rq.Has("expand") && !rq.Has("render") {
		list = s.svc.Content.PublicListRaw // the stored data is sent as it is
	}
	page, err := list(r.Context(), chi.URLParam(r, "collection"), q)
	if err != nil {
		s.writeError(w, r, queryError(err))
		return
	}
	d, err := s.deliveryFor(r, chi.URLParam(r, "collection"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	datas := make([]map[string]any, len(page.Items))
	for i, p := range page.Items {
		datas[i] = p.Data // fresh per list: PublicList does not share its items
	}
	if err := s.applyDelivery(r.Context(), d, nil, true, datas); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeCacheable(w, r, page)
}

// writeCacheable sends v with an ETag derived from its bytes, so the tag
// changes exactly when the response would, and answers 304 to a matching
// If-None-Match.
func writeCacheable(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		problem(w, r, http.StatusInternalServerError, "internal error; could not encode the response")
		return
	}
	h := fnv.New64a()
	_, _ = h.Write(body)
	tag := `"` + strconv.FormatUint(h.Sum64(), 36) + `"`
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", publicCacheControl)
	if etagMatches(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(body, '\n'))
}

// etagMatches implements If-None-Match's weak comparison over a list of tags.
func etagMatches(header, tag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}
