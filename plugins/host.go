// Package plugins runs the plugin lifecycle inside the CMS: the host side of the
// sandbox's binding calls, install and consent, hook dispatch, routes and logs.
package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// ErrBadCall marks a binding call whose arguments are wrong; the message says
// which, and reaches the plugin as the rejection of its promise.
var ErrBadCall = errors.New("bad call")

func badCall(method, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrBadCall, method, fmt.Sprintf(format, args...))
}

// Plugin is what the host needs to know about an installed plugin to answer its
// calls: the manifest it was granted and its secret settings.
type Plugin struct {
	Manifest *manifest.Manifest
	// Secrets holds secret setting values by key. Only the egress client sees
	// them, as headers injected on the host they are bound to.
	Secrets map[string]string
}

// Directory finds the plugin a call comes from. The sandbox has already checked
// the call against the invocation's grants; the host looks the plugin up again
// so scoping never depends on anything the isolate said.
type Directory interface {
	Plugin(ctx context.Context, pluginID string) (*Plugin, error)
}

// ContentAPI is the CMS content a plugin reaches through ctx.content, as JSON.
type ContentAPI interface {
	Get(ctx context.Context, collection, id string) (any, error)
	List(ctx context.Context, collection string, opts ListOptions) (any, error)
	Create(ctx context.Context, collection string, data map[string]any) (any, error)
	Update(ctx context.Context, collection, id string, data map[string]any) (any, error)
	Delete(ctx context.Context, collection, id string) error
}

// ListOptions are the options of ctx.content.list and ctx.users.list.
type ListOptions struct {
	Limit  int               `json:"limit,omitempty"`
	Cursor string            `json:"cursor,omitempty"`
	Sort   string            `json:"sort,omitempty"`
	Status string            `json:"status,omitempty"`
	Q      string            `json:"q,omitempty"`
	Filter map[string]string `json:"filter,omitempty"`
}

// UsersAPI is the user directory behind ctx.users. Implementations return
// public profiles only: never password hashes, tokens or sessions.
type UsersAPI interface {
	Get(ctx context.Context, id string) (any, error)
	List(ctx context.Context, opts ListOptions) (any, error)
}

// MediaAPI is the media library behind ctx.media.
type MediaAPI interface {
	Get(ctx context.Context, id string) (any, error)
	List(ctx context.Context, opts ListOptions) (any, error)
	Upload(ctx context.Context, in MediaUpload) (any, error)
	Delete(ctx context.Context, id string) error
}

// MediaUpload is ctx.media.upload's argument: the bytes come base64-encoded.
type MediaUpload struct {
	Filename string `json:"filename"`
	MimeType string `json:"mimeType"`
	Data     []byte `json:"data"`
	Alt      string `json:"alt,omitempty"`
	Title    string `json:"title,omitempty"`
}

// Mailer sends ctx.email.send messages through the site's transport.
type Mailer interface {
	Send(ctx context.Context, pluginID string, msg Email) error
}

// Email is ctx.email.send's argument.
type Email struct {
	To      Recipients `json:"to"`
	Subject string     `json:"subject"`
	Text    string     `json:"text,omitempty"`
	HTML    string     `json:"html,omitempty"`
	ReplyTo string     `json:"replyTo,omitempty"`
}

// Recipients accepts one address or a list, as ctx.email.send does.
type Recipients []string

// UnmarshalJSON accepts "a@b.c" or ["a@b.c", …].
func (r *Recipients) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*r = Recipients{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("to must be an address or a list of addresses")
	}
	*r = many
	return nil
}

// Host answers the binding calls of sandboxed plugins (it implements
// sandbox.Host). Optional services left nil answer "not available on this site".
type Host struct {
	Plugins Directory
	Data    *storage.PluginData
	Egress  *egress.Client
	Content ContentAPI
	Users   UsersAPI
	Media   MediaAPI
	Mail    Mailer
	Log     *slog.Logger
}

// Call dispatches one binding call. args is the JSON array of the JS arguments.
func (h *Host) Call(ctx context.Context, pluginID, method string, args json.RawMessage) (json.RawMessage, error) {
	p, err := h.Plugins.Plugin(ctx, pluginID)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", pluginID, err)
	}
	var argv []json.RawMessage
	if len(args) > 0 {
		if err := json.Unmarshal(args, &argv); err != nil {
			return nil, badCall(method, "arguments must be a JSON array")
		}
	}
	res, err := h.call(ctx, pluginID, p, method, argv)
	if err != nil {
		return nil, err
	}
	if raw, ok := res.(json.RawMessage); ok {
		return raw, nil
	}
	return json.Marshal(res)
}

func (h *Host) call(ctx context.Context, pluginID string, p *Plugin, method string, argv []json.RawMessage) (any, error) {
	if coll, op, ok := storageMethod(method); ok {
		return h.storage(ctx, pluginID, p, coll, op, argv)
	}
	switch method {
	case "kv.get":
		key, err := stringArg(method, argv, 0, "key")
		if err != nil {
			return nil, err
		}
		v, err := h.Data.KVGet(ctx, pluginID, key)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil // a missing key reads as null, like a Map
		}
		return v, err
	case "kv.set":
		key, err := stringArg(method, argv, 0, "key")
		if err != nil {
			return nil, err
		}
		if len(argv) < 2 {
			return nil, badCall(method, "needs a value")
		}
		return nil, h.Data.KVSet(ctx, pluginID, key, argv[1])
	case "kv.delete":
		key, err := stringArg(method, argv, 0, "key")
		if err != nil {
			return nil, err
		}
		return nil, h.Data.KVDelete(ctx, pluginID, key)
	case "kv.list":
		prefix, err := optionalString(method, argv, 0, "prefix")
		if err != nil {
			return nil, err
		}
		return h.kvList(ctx, pluginID, prefix)
	case "http.fetch":
		return h.fetch(ctx, p, argv)
	case "email.send":
		if h.Mail == nil {
			return nil, badCall(method, "this site has no email transport configured")
		}
		var msg Email
		if err := objectArg(method, argv, 0, &msg); err != nil {
			return nil, err
		}
		if len(msg.To) == 0 || msg.Subject == "" || (msg.Text == "" && msg.HTML == "") {
			return nil, badCall(method, "a message needs to, subject and text or html")
		}
		return nil, h.Mail.Send(ctx, pluginID, msg)
	case "users.get", "users.list":
		if h.Users == nil {
			return nil, badCall(method, "not available on this site")
		}
		if method == "users.get" {
			id, err := stringArg(method, argv, 0, "id")
			if err != nil {
				return nil, err
			}
			return h.Users.Get(ctx, id)
		}
		var opts ListOptions
		if err := optionalObject(method, argv, 0, &opts); err != nil {
			return nil, err
		}
		return h.Users.List(ctx, opts)
	}
	if strings.HasPrefix(method, "content.") {
		return h.content(ctx, method, argv)
	}
	if strings.HasPrefix(method, "media.") {
		return h.media(ctx, method, argv)
	}
	return nil, badCall(method, "unknown method")
}

// maxKVList bounds what one kv.list returns; a plugin that keeps more keys
// narrows its prefix.
const maxKVList = 1000

func (h *Host) kvList(ctx context.Context, pluginID, prefix string) ([]storage.KVEntry, error) {
	var all []storage.KVEntry
	cursor := ""
	for {
		items, next, err := h.Data.KVList(ctx, pluginID, prefix, cursor, storage.MaxPageSize)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" || len(all) >= maxKVList {
			if len(all) > maxKVList {
				all = all[:maxKVList]
			}
			if all == nil {
				all = []storage.KVEntry{}
			}
			return all, nil
		}
		cursor = next
	}
}

func page[T any](items []T, next string) map[string]any {
	out := map[string]any{"items": items}
	if next != "" {
		out["nextCursor"] = next
	}
	return out
}

func storageMethod(method string) (coll, op string, ok bool) {
	rest, ok := strings.CutPrefix(method, "storage.")
	if !ok {
		return "", "", false
	}
	coll, op, ok = strings.Cut(rest, ".")
	return coll, op, ok
}

// storage answers ctx.storage.<collection>.*: only declared collections, and
// queries only on declared index fields, so a plugin cannot turn its storage
// into unindexed full scans of a large table.
func (h *Host) storage(ctx context.Context, pluginID string, p *Plugin, coll, op string, argv []json.RawMessage) (any, error) {
	method := "storage." + coll + "." + op
	decl, ok := p.Manifest.Storage[coll]
	if !ok {
		return nil, badCall(method, "storage collection %q is not declared in the manifest", coll)
	}
	switch op {
	case "get":
		id, err := stringArg(method, argv, 0, "id")
		if err != nil {
			return nil, err
		}
		d, err := h.Data.DocGet(ctx, pluginID, coll, id)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return d.Data, nil
	case "put":
		id, err := stringArg(method, argv, 0, "id")
		if err != nil {
			return nil, err
		}
		if len(argv) < 2 {
			return nil, badCall(method, "needs a document")
		}
		return nil, h.Data.DocPut(ctx, pluginID, coll, id, argv[1])
	case "delete":
		id, err := stringArg(method, argv, 0, "id")
		if err != nil {
			return nil, err
		}
		return h.Data.DocDelete(ctx, pluginID, coll, id)
	case "query":
		var q struct {
			Where   map[string]any `json:"where"`
			OrderBy string         `json:"orderBy"`
			Limit   int            `json:"limit"`
			Cursor  string         `json:"cursor"`
		}
		if err := optionalObject(method, argv, 0, &q); err != nil {
			return nil, err
		}
		fields := map[string]any{}
		for k, v := range q.Where {
			fields[k] = v
		}
		if q.OrderBy != "" {
			fields[strings.TrimPrefix(q.OrderBy, "-")] = nil
		}
		if err := indexedOnly(method, decl, fields); err != nil {
			return nil, err
		}
		docs, next, err := h.Data.DocList(ctx, pluginID, coll, storage.DocQuery{Where: q.Where, OrderBy: q.OrderBy, Limit: q.Limit, Cursor: q.Cursor})
		if err != nil {
			return nil, err
		}
		return page(docs, next), nil
	case "count":
		var where map[string]any
		if err := optionalObject(method, argv, 0, &where); err != nil {
			return nil, err
		}
		if err := indexedOnly(method, decl, where); err != nil {
			return nil, err
		}
		return h.Data.DocCount(ctx, pluginID, coll, where)
	}
	return nil, badCall(method, "unknown operation %q", op)
}

func indexedOnly(method string, decl manifest.StorageCollection, where map[string]any) error {
	for field := range where {
		found := false
		for _, ix := range decl.Indexes {
			for _, f := range ix {
				found = found || f == field
			}
		}
		if !found {
			return badCall(method, "field %q is not a declared index of this collection", field)
		}
	}
	return nil
}

type fetchInit struct {
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
	Body    *string           `json:"body"`
}

type fetchResponse struct {
	Status     int               `json:"status"`
	StatusText string            `json:"statusText"`
	OK         bool              `json:"ok"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
	URL        string            `json:"url"`
	Redirected bool              `json:"redirected"`
}

// fetch runs ctx.http.fetch through the egress client, injecting the plugin's
// bound secrets on the hosts they are bound to.
func (h *Host) fetch(ctx context.Context, p *Plugin, argv []json.RawMessage) (any, error) {
	const method = "http.fetch"
	if h.Egress == nil {
		return nil, badCall(method, "outbound HTTP is not available on this site")
	}
	rawURL, err := stringArg(method, argv, 0, "url")
	if err != nil {
		return nil, err
	}
	var init fetchInit
	if err := optionalObject(method, argv, 1, &init); err != nil {
		return nil, err
	}
	hosts, err := manifest.ParseHostSet(p.Manifest.AllowedHosts())
	if err != nil {
		return nil, fmt.Errorf("%s: the manifest's allowedHosts: %w", method, err)
	}
	req := egress.Request{Method: init.Method, URL: rawURL, Headers: init.Headers}
	if init.Body != nil {
		req.Body = []byte(*init.Body)
	}
	for _, s := range p.Manifest.Settings {
		if s.Type != manifest.SettingSecret || s.Inject == nil {
			continue
		}
		v, ok := p.Secrets[s.Key]
		if !ok || v == "" {
			continue
		}
		pat, err := s.Inject.Pattern()
		if err != nil {
			continue // Parse refused such manifests; nothing to inject
		}
		req.Inject = append(req.Inject, egress.HeaderInjection{
			Hosts: singleHost{pat}, Header: s.Inject.HeaderName(), Value: s.Inject.HeaderValue(v),
		})
	}
	res, err := h.Egress.Fetch(ctx, hosts, req)
	if err != nil {
		return nil, err
	}
	body := string(res.Body)
	if !utf8.ValidString(body) {
		body = strings.ToValidUTF8(body, "\uFFFD")
	}
	return fetchResponse{Status: res.Status, StatusText: res.StatusText, OK: res.Status >= 200 && res.Status < 300,
		Headers: res.Headers, Body: body, URL: res.URL, Redirected: res.Redirected}, nil
}

// singleHost is a host policy of one pattern, for secret injection.
type singleHost struct{ p manifest.HostPattern }

func (s singleHost) Allows(u *url.URL) bool {
	return manifest.HostSet{s.p}.Allows(u)
}

func (h *Host) content(ctx context.Context, method string, argv []json.RawMessage) (any, error) {
	if h.Content == nil {
		return nil, badCall(method, "not available on this site")
	}
	coll, err := stringArg(method, argv, 0, "collection")
	if err != nil {
		return nil, err
	}
	switch method {
	case "content.get":
		id, err := stringArg(method, argv, 1, "id")
		if err != nil {
			return nil, err
		}
		return h.Content.Get(ctx, coll, id)
	case "content.list":
		var opts ListOptions
		if err := optionalObject(method, argv, 1, &opts); err != nil {
			return nil, err
		}
		return h.Content.List(ctx, coll, opts)
	case "content.create":
		var data map[string]any
		if err := objectArg(method, argv, 1, &data); err != nil {
			return nil, err
		}
		return h.Content.Create(ctx, coll, data)
	case "content.update":
		id, err := stringArg(method, argv, 1, "id")
		if err != nil {
			return nil, err
		}
		var data map[string]any
		if err := objectArg(method, argv, 2, &data); err != nil {
			return nil, err
		}
		return h.Content.Update(ctx, coll, id, data)
	case "content.delete":
		id, err := stringArg(method, argv, 1, "id")
		if err != nil {
			return nil, err
		}
		return nil, h.Content.Delete(ctx, coll, id)
	}
	return nil, badCall(method, "unknown method")
}

func (h *Host) media(ctx context.Context, method string, argv []json.RawMessage) (any, error) {
	if h.Media == nil {
		return nil, badCall(method, "not available on this site")
	}
	switch method {
	case "media.get", "media.delete":
		id, err := stringArg(method, argv, 0, "id")
		if err != nil {
			return nil, err
		}
		if method == "media.get" {
			return h.Media.Get(ctx, id)
		}
		return nil, h.Media.Delete(ctx, id)
	case "media.list":
		var opts ListOptions
		if err := optionalObject(method, argv, 0, &opts); err != nil {
			return nil, err
		}
		return h.Media.List(ctx, opts)
	case "media.upload":
		var in MediaUpload
		if err := objectArg(method, argv, 0, &in); err != nil {
			return nil, err
		}
		return h.Media.Upload(ctx, in)
	}
	return nil, badCall(method, "unknown method")
}

func stringArg(method string, argv []json.RawMessage, i int, name string) (string, error) {
	if i >= len(argv) {
		return "", badCall(method, "missing argument %s", name)
	}
	var s string
	if err := json.Unmarshal(argv[i], &s); err != nil {
		return "", badCall(method, "%s must be a string", name)
	}
	return s, nil
}

func optionalString(method string, argv []json.RawMessage, i int, name string) (string, error) {
	if i >= len(argv) || string(argv[i]) == "null" {
		return "", nil
	}
	return stringArg(method, argv, i, name)
}

func objectArg(method string, argv []json.RawMessage, i int, v any) error {
	if i >= len(argv) || string(argv[i]) == "null" {
		return badCall(method, "missing argument %d", i+1)
	}
	if err := json.Unmarshal(argv[i], v); err != nil {
		return badCall(method, "argument %d: %v", i+1, err)
	}
	return nil
}

func optionalObject(method string, argv []json.RawMessage, i int, v any) error {
	if i >= len(argv) || string(argv[i]) == "null" {
		return nil
	}
	return objectArg(method, argv, i, v)
}
