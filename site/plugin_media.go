package site

import (
	"bytes"
	"context"
	"errors"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins"
)

// pluginMedia is ctx.media: the media library as plugins see it.
//
// Uploads and deletes run as a system editor with no user id: items a plugin
// uploads have no owner (like entries plugins create have no author), and a
// plugin may delete any item that no entry references — never a referenced
// one, since the library refuses those without force.
type pluginMedia struct{ l *cms.MediaLibrary }

var _ plugins.MediaAPI = pluginMedia{}

// pluginActor is the role plugins act with in the media library. Its empty ID
// records no owner.
var pluginActor = &cms.User{Name: "plugin", Role: cms.RoleEditor}

// Get returns one media item, or null.
func (p pluginMedia) Get(ctx context.Context, id string) (any, error) {
	m, err := p.l.Get(ctx, id)
	if errors.Is(err, cms.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// List pages through the library, newest first. Q searches filename, alt and
// title; Filter["type"] narrows by MIME kind, family or type.
func (p pluginMedia) List(ctx context.Context, opts plugins.ListOptions) (any, error) {
	return p.l.List(ctx, cms.MediaQuery{Limit: opts.Limit, Cursor: opts.Cursor, Search: opts.Q, Type: opts.Filter["type"]})
}

// Upload stores bytes the plugin made or fetched, sniffed and capped like
// any upload.
func (p pluginMedia) Upload(ctx context.Context, in plugins.MediaUpload) (any, error) {
	return p.l.Upload(ctx, pluginActor, cms.MediaUpload{
		Filename: in.Filename, DeclaredType: in.MimeType, Size: int64(len(in.Data)),
		Body: bytes.NewReader(in.Data), Alt: in.Alt, Title: in.Title,
	})
}

// Delete removes an unreferenced media item.
func (p pluginMedia) Delete(ctx context.Context, id string) error {
	return p.l.Delete(ctx, pluginActor, id, false)
}
