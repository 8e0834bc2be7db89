package site

import (
	"context"
	"errors"
	"net/url"
	"strconv"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins"
)

// pluginContent is ctx.content: the CMS content service as plugins see it.
//
// Plugins act as the system (a nil *cms.User), with the rights their grant
// gives and no more: the sandbox and plugins.Host have already checked the
// content:read / content:write capability. Entries a plugin creates therefore
// have no human author (authorId is absent); their revisions name the plugin
// (cms.WithPlugin), as does the plugin's invocation log.
type pluginContent struct{ c *cms.Content }

var _ plugins.ContentAPI = pluginContent{}

// Get returns an entry's working copy, or null when there is none.
func (p pluginContent) Get(ctx context.Context, collection, id string) (any, error) {
	e, err := p.c.GetEntry(ctx, nil, collection, id)
	if errors.Is(err, cms.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// List runs the admin list query (same syntax as the HTTP API's query string).
func (p pluginContent) List(ctx context.Context, collection string, opts plugins.ListOptions) (any, error) {
	q, err := cms.ParseListQuery(listValues(opts))
	if err != nil {
		return nil, err
	}
	return p.c.ListEntries(ctx, nil, collection, q)
}

// listValues spells ListOptions as the list endpoints' query parameters, so
// plugins get exactly the HTTP API's validation and messages.
func listValues(opts plugins.ListOptions) url.Values {
	v := url.Values{}
	if opts.Limit != 0 {
		v.Set("limit", strconv.Itoa(opts.Limit))
	}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("cursor", opts.Cursor)
	set("sort", opts.Sort)
	set("status", opts.Status)
	set("q", opts.Q)
	for k, val := range opts.Filter {
		v.Set("filter["+k+"]", val)
	}
	return v
}

// Create adds a draft entry. Its beforeSave hooks run like any other save's.
func (p pluginContent) Create(ctx context.Context, collection string, data map[string]any) (any, error) {
	return p.c.CreateEntry(cms.WithPlugin(ctx, plugins.CallingPlugin(ctx)), nil, collection, data)
}

// Update merges data into an entry; the system's "any version" merge means a
// concurrent edit makes it start over rather than be overwritten.
func (p pluginContent) Update(ctx context.Context, collection, id string, data map[string]any) (any, error) {
	return p.c.UpdateEntry(cms.WithPlugin(ctx, plugins.CallingPlugin(ctx)), nil, collection, id, data, 0)
}

// Delete moves an entry to the trash (never a purge: an admin can undo it).
func (p pluginContent) Delete(ctx context.Context, collection, id string) error {
	_, err := p.c.Trash(ctx, nil, collection, id, 0)
	return err
}
