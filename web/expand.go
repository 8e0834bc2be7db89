package web

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/web/markdown"
)

// maxExpand bounds how many fields one request may expand.
const maxExpand = 20

// delivery is what ?expand= and ?render= ask of a read.
type delivery struct {
	col    *cms.Collection
	expand []*cms.Field
	html   bool
}

func (d *delivery) none() bool { return d == nil || (len(d.expand) == 0 && !d.html) }

// parseDelivery reads ?expand=a,b (reference and media fields of col) and
// ?render=html. Anything else is a 400 naming the parameter and the field.
func parseDelivery(r *http.Request, col *cms.Collection) (*delivery, error) {
	q := r.URL.Query()
	d := &delivery{col: col}
	bad := func(param, msg string) error {
		return &HTTPError{Status: http.StatusBadRequest, Title: "Invalid query", Detail: param + " " + msg,
			Errors: []cms.FieldError{{Path: "/query/" + param, Message: msg}}}
	}
	switch v := q["render"]; {
	case len(v) == 0:
	case len(v) == 1 && v[0] == "html":
		d.html = true
	default:
		return nil, bad("render", fmt.Sprintf("must be html, got %q", strings.Join(v, ",")))
	}
	seen := map[string]bool{}
	for _, raw := range q["expand"] {
		for _, name := range strings.Split(raw, ",") {
			name = strings.TrimSpace(name)
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			f := col.Field(name)
			switch {
			case f == nil:
				return nil, bad("expand", fmt.Sprintf("names no field of collection %q: %q", col.Name, name))
			case f.Type != cms.TypeReference && f.Type != cms.TypeMedia:
				return nil, bad("expand", fmt.Sprintf("field %q is a %s field; only reference and media fields expand", name, f.Type))
			}
			d.expand = append(d.expand, f)
		}
	}
	if len(d.expand) > maxExpand {
		return nil, bad("expand", fmt.Sprintf("names %d fields; at most %d", len(d.expand), maxExpand))
	}
	return d, nil
}

// deliveryFor reads ?expand= and ?render= against the named collection. A
// missing collection is left for the read itself to report.
func (s *Server) deliveryFor(r *http.Request, collection string) (*delivery, error) {
	q := r.URL.Query()
	if !q.Has("expand") && !q.Has("render") {
		return &delivery{}, nil
	}
	col, err := s.svc.Content.Collection(r.Context(), collection)
	if err != nil {
		return nil, err
	}
	return parseDelivery(r, col)
}

// expandedMedia is a media item as an expanded field shows it.
type expandedMedia struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	MimeType string `json:"mimeType"`
	Width    *int   `json:"width"`
	Height   *int   `json:"height"`
	Alt      string `json:"alt"`
}

// expandedPublic is a referenced entry as the public API expands it.
type expandedPublic struct {
	ID          string         `json:"id"`
	Slug        string         `json:"slug"`
	Data        map[string]any `json:"data"`
	PublishedAt time.Time      `json:"publishedAt"`
}

// apply expands and renders the data maps in place (callers pass maps they
// own). Each expanded field costs one batch read for the whole page, whatever
// its length. u is the reader (nil on the public API, which then sees only
// public collections' published entries). A reference the reader may not
// read, or whose target is gone, keeps its id.
func (s *Server) applyDelivery(ctx context.Context, d *delivery, u *cms.User, public bool, datas []map[string]any) error {
	if d.none() {
		return nil
	}
	for _, f := range d.expand {
		ids := make([]string, 0, len(datas))
		for _, data := range datas {
			if id, ok := data[f.Name].(string); ok {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			continue
		}
		found, err := s.lookup(ctx, f, u, public, d.html, ids)
		if err != nil {
			return err
		}
		for _, data := range datas {
			if id, ok := data[f.Name].(string); ok {
				if v, ok := found[id]; ok {
					data[f.Name] = v
				}
			}
		}
	}
	if d.html {
		for _, data := range datas {
			if err := renderHTML(d.col, data); err != nil {
				return err
			}
		}
	}
	return nil
}

// lookup reads the targets of one field for ids, as expanded values.
func (s *Server) lookup(ctx context.Context, f *cms.Field, u *cms.User, public, html bool, ids []string) (map[string]any, error) {
	out := make(map[string]any, len(ids))
	if f.Type == cms.TypeMedia {
		if s.svc.Media == nil || (!public && !u.Can(cms.PermManageOwnMedia)) {
			return out, nil
		}
		items, err := s.svc.Media.GetMany(ctx, ids)
		if err != nil {
			return nil, err
		}
		for id, m := range items {
			out[id] = expandedMedia{ID: m.ID, URL: MediaFileURL(m), MimeType: m.MimeType, Width: m.Width, Height: m.Height, Alt: m.Alt}
		}
		return out, nil
	}
	target, err := s.svc.Content.Collection(ctx, f.Collection)
	if err != nil {
		return nil, err
	}
	if public {
		items, err := s.svc.Content.PublicEntriesByID(ctx, f.Collection, ids)
		if err != nil {
			return nil, err
		}
		for id, p := range items {
			data := maps.Clone(p.Data)
			if html {
				if err := renderHTML(target, data); err != nil {
					return nil, err
				}
			}
			out[id] = expandedPublic{ID: p.ID, Slug: p.Slug, Data: data, PublishedAt: p.PublishedAt}
		}
		return out, nil
	}
	items, err := s.svc.Content.EntriesByID(ctx, u, f.Collection, ids)
	if err != nil {
		if errors.Is(err, cms.ErrForbidden) {
			return out, nil
		}
		return nil, err
	}
	for id, e := range items {
		if html {
			if err := renderHTML(target, e.Data); err != nil {
				return nil, err
			}
		}
		out[id] = e
	}
	return out, nil
}

// renderHTML adds <field>Html beside every Markdown field of col in data.
// Field names are lowercase, so the added key never collides with a field.
func renderHTML(col *cms.Collection, data map[string]any) error {
	for _, f := range col.Fields {
		if f.Type != cms.TypeMarkdown {
			continue
		}
		src, ok := data[f.Name].(string)
		if !ok {
			continue
		}
		out, err := markdown.Render([]byte(src))
		if err != nil {
			return fmt.Errorf("render field %s: %w", f.Name, err)
		}
		data[f.Name+"Html"] = string(out)
	}
	return nil
}

// listParams is the query string for cms.ParseListQuery: the list's own
// parameters, without the delivery ones (expand, render) read here.
func listParams(r *http.Request) url.Values {
	q := r.URL.Query()
	q.Del("expand")
	q.Del("render")
	return q
}
