package web

import (
	"context"
	"net/http"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins"
)

// MetadataSource collects plugins' page:metadata contributions for a
// published entry; *plugins.Dispatcher implements it. It never fails: a
// failing plugin contributes nothing.
type MetadataSource interface {
	Metadata(ctx context.Context, collection string, e *cms.PublicEntry) []plugins.MetaTag
}

// withMetadata returns e with the plugins' contributions in Meta. It copies
// the entry: the content service may hand out the same cached value to
// concurrent requests.
func (s *Server) withMetadata(r *http.Request, collection string, e *cms.PublicEntry) *cms.PublicEntry {
	out := *e
	out.Meta = []any{}
	if s.svc.Metadata == nil {
		return &out
	}
	for _, t := range s.svc.Metadata.Metadata(r.Context(), collection, e) {
		out.Meta = append(out.Meta, t)
	}
	return &out
}
