// Package plugins runs the plugin lifecycle inside the CMS: the host side of the
// sandbox's binding calls, install and consent, hook dispatch, routes and logs.
package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// ErrBadCall marks a binding call whose arguments are wrong; the message says
// which, and reaches the plugin as the rejection of its promise.
var ErrBadCall = errors.New("bad call")

func badCall(method, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrBadCall, method, fmt.Sprintf(format, args...))
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

// Services are the site's implementations behind ctx.*, shared by every
// plugin. Optional services left nil answer "not available on this site".
type Services struct {
	Data    *storage.PluginData
	Egress  *egress.Client
	Content ContentAPI
	Users   UsersAPI
	Media   MediaAPI
	Mail    Mailer
}

// Plugin is what a host needs to know about the plugin of one invocation.
type Plugin struct {
	// Manifest is the running version's; its ID scopes every call.
	Manifest *manifest.Manifest
	// Capabilities are those the invocation was granted: the manifest's,
	// less any withheld (`plugin run --deny`).
	Capabilities []manifest.Capability
	// Secrets holds secret setting values by key. Only the egress client sees
	// them, as headers injected on the host they are bound to.
	Secrets map[string]string
}

// Host answers the ctx.* calls of one invocation; it implements
// sandbox.Host. It is bound when the invocation starts to the plugin's
// manifest, grant and opened secrets, so no call looks the plugin up again.
type Host struct {
	svc *Services
	p   *Plugin
	// revoked, when set, is asked before every call: the plugin was
	// deactivated or uninstalled after the invocation started.
	revoked func() bool

	fetchOnce sync.Once
	fetchCfg  fetchConfig
}

// ErrRevoked refuses a host call of a plugin that was deactivated or
// uninstalled while its invocation ran.
var ErrRevoked = errors.New("the plugin was deactivated or uninstalled while this invocation ran")

// Bind returns the host of one invocation of p. revoked may be nil; once it
// reports true, every further call is refused with ErrRevoked.
func (s *Services) Bind(p *Plugin, revoked func() bool) *Host {
	return &Host{svc: s, p: p, revoked: revoked}
}

// hostCall is one call as an implementation sees it.
type hostCall struct {
	// method is the name the plugin called, for messages.
	method string
	// collection is the storage collection of a CollectionAPI method.
	collection string
	argv       []json.RawMessage
}

type hostImpl func(h *Host, ctx context.Context, c hostCall) (any, error)

// hostImpls implement every manifest.HostMethods entry, by key; a test keeps
// the two equal. Adding a capability adds its methods here.
var hostImpls = map[string]hostImpl{
	"kv.get":         (*Host).kvGet,
	"kv.set":         (*Host).kvSet,
	"kv.delete":      (*Host).kvDelete,
	"kv.list":        (*Host).kvList,
	"storage.get":    (*Host).storageGet,
	"storage.put":    (*Host).storagePut,
	"storage.delete": (*Host).storageDelete,
	"storage.query":  (*Host).storageQuery,
	"storage.count":  (*Host).storageCount,
	"content.get":    (*Host).contentGet,
	"content.list":   (*Host).contentList,
	"content.create": (*Host).contentCreate,
	"content.update": (*Host).contentUpdate,
	"content.delete": (*Host).contentDelete,
	"media.get":      (*Host).mediaGet,
	"media.list":     (*Host).mediaList,
	"media.upload":   (*Host).mediaUpload,
	"media.delete":   (*Host).mediaDelete,
	"users.get":      (*Host).usersGet,
	"users.list":     (*Host).usersList,
	"http.fetch":     (*Host).fetch,
	"email.send":     (*Host).emailSend,
}

// Call dispatches one binding call. args is the JSON array of the JS
// arguments. The sandbox has checked the call against the invocation's grant
// already; the host checks it again against the grant it was bound to, so
// scoping never depends on anything the isolate or a worker said.
func (h *Host) Call(ctx context.Context, pluginID, method string, args json.RawMessage) (json.RawMessage, error) {
	id := h.p.Manifest.ID
	if pluginID != id {
		return nil, fmt.Errorf("%w: a call for plugin %s reached the host of %s", sandbox.ErrDenied, pluginID, id)
	}
	if h.revoked != nil && h.revoked() {
		return nil, fmt.Errorf("%s: %w", method, ErrRevoked)
	}
	m, coll, ok := manifest.ResolveHostCall(method)
	impl := hostImpls[m.Key]
	if !ok || impl == nil {
		return nil, badCall(method, "unknown method")
	}
	if !m.Allowed(h.p.Capabilities) {
		return nil, fmt.Errorf("%w: %s needs capability %s", sandbox.ErrDenied, method, m.GrantedBy[0])
	}
	c := hostCall{method: method, collection: coll}
	if len(args) > 0 {
		if err := json.Unmarshal(args, &c.argv); err != nil {
			return nil, badCall(method, "arguments must be a JSON array")
		}
	}
	res, err := impl(h, ctx, c)
	if err != nil {
		return nil, err
	}
	if raw, ok := res.(json.RawMessage); ok {
		return raw, nil
	}
	return json.Marshal(res)
}

func (h *Host) id() string { return h.p.Manifest.ID }

func (h *Host) kvGet(ctx context.Context, c hostCall) (any, error) {
	key, err := stringArg(c.method, c.argv, 0, "key")
	if err != nil {
		return nil, err
	}
	v, err := h.svc.Data.KVGet(ctx, h.id(), key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil // a missing key reads as null, like a Map
	}
	return v, err
}

func (h *Host) kvSet(ctx context.Context, c hostCall) (any, error) {
	key, err := stringArg(c.method, c.argv, 0, "key")
	if err != nil {
		return nil, err
	}
	if len(c.argv) < 2 {
		return nil, badCall(c.method, "needs a value")
	}
	return nil, h.svc.Data.KVSet(ctx, h.id(), key, c.argv[1])
}

func (h *Host) kvDelete(ctx context.Context, c hostCall) (any, error) {
	key, err := stringArg(c.method, c.argv, 0, "key")
	if err != nil {
		return nil, err
	}
	return nil, h.svc.Data.KVDelete(ctx, h.id(), key)
}

func (h *Host) emailSend(ctx context.Context, c hostCall) (any, error) {
	if h.svc.Mail == nil {
		return nil, badCall(c.method, "this site has no email transport configured")
	}
	var msg Email
	if err := objectArg(c.method, c.argv, 0, &msg); err != nil {
		return nil, err
	}
	if len(msg.To) == 0 || msg.Subject == "" || (msg.Text == "" && msg.HTML == "") {
		return nil, badCall(c.method, "a message needs to, subject and text or html")
	}
	return nil, h.svc.Mail.Send(ctx, h.id(), msg)
}

func (h *Host) usersGet(ctx context.Context, c hostCall) (any, error) {
	if h.svc.Users == nil {
		return nil, badCall(c.method, "not available on this site")
	}
	id, err := stringArg(c.method, c.argv, 0, "id")
	if err != nil {
		return nil, err
	}
	return h.svc.Users.Get(ctx, id)
}

func (h *Host) usersList(ctx context.Context, c hostCall) (any, error) {
	if h.svc.Users == nil {
		return nil, badCall(c.method, "not available on this site")
	}
	var opts ListOptions
	if err := optionalObject(c.method, c.argv, 0, &opts); err != nil {
		return nil, err
	}
	return h.svc.Users.List(ctx, opts)
}

// maxKVList bounds what one kv.list returns; a plugin that keeps more keys
// narrows its prefix.
const maxKVList = 1000

func (h *Host) kvList(ctx context.Context, c hostCall) (any, error) {
	prefix, err := optionalString(c.method, c.argv, 0, "prefix")
	if err != nil {
		return nil, err
	}
	var all []storage.KVEntry
	cursor := ""
	for {
		items, next, err := h.svc.Data.KVList(ctx, h.id(), prefix, cursor, storage.MaxPageSize)
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

// collection is the declaration of a ctx.storage.<collection> call's
// collection: only declared collections exist, and queries run only on
// declared index fields, so a plugin cannot turn its storage into unindexed
// full scans of a large table.
func (h *Host) collection(c hostCall) (manifest.StorageCollection, error) {
	decl, ok := h.p.Manifest.Storage[c.collection]
	if !ok {
		return decl, badCall(c.method, "storage collection %q is not declared in the manifest", c.collection)
	}
	return decl, nil
}

func (h *Host) storageGet(ctx context.Context, c hostCall) (any, error) {
	if _, err := h.collection(c); err != nil {
		return nil, err
	}
	id, err := stringArg(c.method, c.argv, 0, "id")
	if err != nil {
		return nil, err
	}
	d, err := h.svc.Data.DocGet(ctx, h.id(), c.collection, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return d.Data, nil
}

func (h *Host) storagePut(ctx context.Context, c hostCall) (any, error) {
	if _, err := h.collection(c); err != nil {
		return nil, err
	}
	id, err := stringArg(c.method, c.argv, 0, "id")
	if err != nil {
		return nil, err
	}
	if len(c.argv) < 2 {
		return nil, badCall(c.method, "needs a document")
	}
	return nil, h.svc.Data.DocPut(ctx, h.id(), c.collection, id, c.argv[1])
}

func (h *Host) storageDelete(ctx context.Context, c hostCall) (any, error) {
	if _, err := h.collection(c); err != nil {
		return nil, err
	}
	id, err := stringArg(c.method, c.argv, 0, "id")
	if err != nil {
		return nil, err
	}
	return h.svc.Data.DocDelete(ctx, h.id(), c.collection, id)
}

func (h *Host) storageQuery(ctx context.Context, c hostCall) (any, error) {
	decl, err := h.collection(c)
	if err != nil {
		return nil, err
	}
	var q struct {
		Where   map[string]any `json:"where"`
		OrderBy string         `json:"orderBy"`
		Limit   int            `json:"limit"`
		Cursor  string         `json:"cursor"`
	}
	if err := optionalObject(c.method, c.argv, 0, &q); err != nil {
		return nil, err
	}
	fields := map[string]any{}
	for k, v := range q.Where {
		fields[k] = v
	}
	if q.OrderBy != "" {
		fields[strings.TrimPrefix(q.OrderBy, "-")] = nil
	}
	if err := indexedOnly(c.method, decl, fields); err != nil {
		return nil, err
	}
	docs, next, err := h.svc.Data.DocList(ctx, h.id(), c.collection, storage.DocQuery{Where: q.Where, OrderBy: q.OrderBy, Limit: q.Limit, Cursor: q.Cursor})
	if err != nil {
		return nil, err
	}
	return page(docs, next), nil
}

func (h *Host) storageCount(ctx context.Context, c hostCall) (any, error) {
	decl, err := h.collection(c)
	if err != nil {
		return nil, err
	}
	var where map[string]any
	if err := optionalObject(c.method, c.argv, 0, &where); err != nil {
		return nil, err
	}
	if err := indexedOnly(c.method, decl, where); err != nil {
		return nil, err
	}
	return h.svc.Data.DocCount(ctx, h.id(), c.collection, where)
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

// fetchConfig is what every ctx.http.fetch of an invocation shares: the
// parsed allowed hosts and the secret headers to inject.
type fetchConfig struct {
	hosts  manifest.HostSet
	inject []egress.HeaderInjection
	err    error
}

// fetchSetup builds the fetchConfig on the invocation's first fetch.
func (h *Host) fetchSetup() *fetchConfig {
	h.fetchOnce.Do(func() {
		mf := h.p.Manifest
		cfg := &h.fetchCfg
		if cfg.hosts, cfg.err = manifest.ParseHostSet(mf.AllowedHosts()); cfg.err != nil {
			cfg.err = fmt.Errorf("http.fetch: the manifest's allowedHosts: %w", cfg.err)
			return
		}
		for _, s := range mf.Settings {
			if s.Type != manifest.SettingSecret || s.Inject == nil {
				continue
			}
			v, ok := h.p.Secrets[s.Key]
			if !ok || v == "" {
				continue
			}
			pat, err := s.Inject.Pattern()
			if err != nil {
				continue // Parse refused such manifests; nothing to inject
			}
			cfg.inject = append(cfg.inject, egress.HeaderInjection{
				Hosts: singleHost{pat}, Header: s.Inject.HeaderName(), Value: s.Inject.HeaderValue(v),
			})
		}
	})
	return &h.fetchCfg
}

// fetch runs ctx.http.fetch through the egress client, injecting the plugin's
// bound secrets on the hosts they are bound to.
func (h *Host) fetch(ctx context.Context, c hostCall) (any, error) {
	if h.svc.Egress == nil {
		return nil, badCall(c.method, "outbound HTTP is not available on this site")
	}
	rawURL, err := stringArg(c.method, c.argv, 0, "url")
	if err != nil {
		return nil, err
	}
	var init fetchInit
	if err := optionalObject(c.method, c.argv, 1, &init); err != nil {
		return nil, err
	}
	cfg := h.fetchSetup()
	if cfg.err != nil {
		return nil, cfg.err
	}
	req := egress.Request{Method: init.Method, URL: rawURL, Headers: init.Headers, Inject: cfg.inject}
	if init.Body != nil {
		req.Body = []byte(*init.Body)
	}
	res, err := h.svc.Egress.Fetch(ctx, cfg.hosts, req)
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

// contentArgs checks that the site has content and reads the collection
// every ctx.content method takes first.
func (h *Host) contentArgs(c hostCall) (string, error) {
	if h.svc.Content == nil {
		return "", badCall(c.method, "not available on this site")
	}
	return stringArg(c.method, c.argv, 0, "collection")
}

func (h *Host) contentGet(ctx context.Context, c hostCall) (any, error) {
	coll, err := h.contentArgs(c)
	if err != nil {
		return nil, err
	}
	id, err := stringArg(c.method, c.argv, 1, "id")
	if err != nil {
		return nil, err
	}
	return h.svc.Content.Get(ctx, coll, id)
}

func (h *Host) contentList(ctx context.Context, c hostCall) (any, error) {
	coll, err := h.contentArgs(c)
	if err != nil {
		return nil, err
	}
	var opts ListOptions
	if err := optionalObject(c.method, c.argv, 1, &opts); err != nil {
		return nil, err
	}
	return h.svc.Content.List(ctx, coll, opts)
}

func (h *Host) contentCreate(ctx context.Context, c hostCall) (any, error) {
	coll, err := h.contentArgs(c)
	if err != nil {
		return nil, err
	}
	var data map[string]any
	if err := objectArg(c.method, c.argv, 1, &data); err != nil {
		return nil, err
	}
	return h.svc.Content.Create(ctx, coll, data)
}

func (h *Host) contentUpdate(ctx context.Context, c hostCall) (any, error) {
	coll, err := h.contentArgs(c)
	if err != nil {
		return nil, err
	}
	id, err := stringArg(c.method, c.argv, 1, "id")
	if err != nil {
		return nil, err
	}
	var data map[string]any
	if err := objectArg(c.method, c.argv, 2, &data); err != nil {
		return nil, err
	}
	return h.svc.Content.Update(ctx, coll, id, data)
}

func (h *Host) contentDelete(ctx context.Context, c hostCall) (any, error) {
	coll, err := h.contentArgs(c)
	if err != nil {
		return nil, err
	}
	id, err := stringArg(c.method, c.argv, 1, "id")
	if err != nil {
		return nil, err
	}
	return nil, h.svc.Content.Delete(ctx, coll, id)
}

func (h *Host) mediaGet(ctx context.Context, c hostCall) (any, error) {
	if h.svc.Media == nil {
		return nil, badCall(c.method, "not available on this site")
	}
	id, err := stringArg(c.method, c.argv, 0, "id")
	if err != nil {
		return nil, err
	}
	return h.svc.Media.Get(ctx, id)
}

func (h *Host) mediaDelete(ctx context.Context, c hostCall) (any, error) {
	if h.svc.Media == nil {
		return nil, badCall(c.method, "not available on this site")
	}
	id, err := stringArg(c.method, c.argv, 0, "id")
	if err != nil {
		return nil, err
	}
	return nil, h.svc.Media.Delete(ctx, id)
}

func (h *Host) mediaList(ctx context.Context, c hostCall) (any, error) {
	if h.svc.Media == nil {
		return nil, badCall(c.method, "not available on this site")
	}
	var opts ListOptions
	if err := optionalObject(c.method, c.argv, 0, &opts); err != nil {
		return nil, err
	}
	return h.svc.Media.List(ctx, opts)
}

func (h *Host) mediaUpload(ctx context.Context, c hostCall) (any, error) {
	if h.svc.Media == nil {
		return nil, badCall(c.method, "not available on this site")
	}
	var in MediaUpload
	if err := objectArg(c.method, c.argv, 0, &in); err != nil {
		return nil, err
	}
	return h.svc.Media.Upload(ctx, in)
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
