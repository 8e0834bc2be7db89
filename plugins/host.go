// Package plugins runs the plugin lifecycle inside the CMS: the host side of the
// sandbox's binding calls, install and consent, hook dispatch, routes and logs.
package plugins

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/mail"
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
// perHour is the plugin's limits.emailsPerHour; over it Send fails naming it.
type Mailer interface {
	Send(ctx context.Context, pluginID string, msg Email, perHour int) error
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
	// Cron answers ctx.cron; the Manager sets it to its cron runner.
	Cron *CronRunner
	// StorageBytes is the site's storage quota per plugin (0: the default
	// of manifest.SiteDefaults); a manifest's limits.storageBytes may lower it.
	StorageBytes int
	// Site describes the site to its plugins (ctx.site, ctx.url).
	Site sandbox.SiteInfo
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
	// Settings holds the plugin-visible setting values by key; those named
	// by network.allowedHostsFromSettings add allowed hosts.
	Settings map[string]any
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
	"kv.get":             (*Host).kvGet,
	"kv.set":             (*Host).kvSet,
	"kv.delete":          (*Host).kvDelete,
	"kv.list":            (*Host).kvList,
	"storage.get":        (*Host).storageGet,
	"storage.put":        (*Host).storagePut,
	"storage.delete":     (*Host).storageDelete,
	"storage.exists":     (*Host).storageExists,
	"storage.getMany":    (*Host).storageGetMany,
	"storage.putMany":    (*Host).storagePutMany,
	"storage.deleteMany": (*Host).storageDeleteMany,
	"storage.query":      (*Host).storageQuery,
	"storage.count":      (*Host).storageCount,
	"cron.schedule":      (*Host).cronSchedule,
	"cron.cancel":        (*Host).cronCancel,
	"cron.list":          (*Host).cronList,
	"content.get":        (*Host).contentGet,
	"content.list":       (*Host).contentList,
	"content.create":     (*Host).contentCreate,
	"content.update":     (*Host).contentUpdate,
	"content.delete":     (*Host).contentDelete,
	"media.get":          (*Host).mediaGet,
	"media.list":         (*Host).mediaList,
	"media.upload":       (*Host).mediaUpload,
	"media.delete":       (*Host).mediaDelete,
	"users.get":          (*Host).usersGet,
	"users.list":         (*Host).usersList,
	"http.fetch":         (*Host).fetch,
	"email.send":         (*Host).emailSend,
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
	if !m.Allowed(h.p.Capabilities, h.hooks()...) {
		return nil, fmt.Errorf("%w: %s needs %s", sandbox.ErrDenied, method, m.Needs())
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

// hooks are the hooks the plugin's manifest declares, which grant the hook
// APIs (ctx.cron).
func (h *Host) hooks() []manifest.HookName { return h.p.Manifest.HookNames() }

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
	return nil, storageErr(c.method, h.svc.Data.KVSet(ctx, h.id(), key, c.argv[1], h.storageQuota()))
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
		return nil, fmt.Errorf("%s: %w", c.method, ErrNoMail)
	}
	var msg Email
	if err := objectArg(c.method, c.argv, 0, &msg); err != nil {
		return nil, err
	}
	if len(msg.To) == 0 || msg.Subject == "" || (msg.Text == "" && msg.HTML == "") {
		return nil, badCall(c.method, "a message needs to, subject and text or html")
	}
	perHour := h.p.Manifest.EffectiveLimits(manifest.SiteDefaults).EmailsPerHour
	if err := h.svc.Mail.Send(ctx, h.id(), msg, perHour); err != nil {
		if errors.Is(err, mail.ErrInvalid) || errors.Is(err, mail.ErrRateLimited) {
			return nil, fmt.Errorf("%s: %w", c.method, err)
		}
		return nil, err
	}
	return nil, nil
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

// collection is the declaration of a ctx.storage.<collection> call's
// collection: only declared collections exist. Which fields can be queried
// is the storage layer's to check, against the indexes it built from the
// running version's manifest.
func (h *Host) collection(c hostCall) (manifest.StorageCollection, error) {
	decl, ok := h.p.Manifest.Storage[c.collection]
	if !ok {
		return decl, badCall(c.method, "storage collection %q is not declared in the manifest", c.collection)
	}
	return decl, nil
}

// storageQuota is the plugin's storage quota in bytes: the site's, lowered
// by the manifest's limits.storageBytes.
func (h *Host) storageQuota() int64 {
	site := manifest.SiteDefaults.StorageBytes
	if h.svc.StorageBytes > 0 {
		site = h.svc.StorageBytes
	}
	return int64(h.p.Manifest.EffectiveLimits(manifest.Limits{StorageBytes: site}).StorageBytes)
}

// storageErr prefixes a storage refusal with the method, so the plugin's
// error says which call failed.
func storageErr(method string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, storage.ErrInvalid) || errors.Is(err, storage.ErrUnique) || errors.Is(err, storage.ErrQuota) {
		return fmt.Errorf("%s: %w", method, err)
	}
	return err
}

func (h *Host) storageID(c hostCall) (string, error) {
	if _, err := h.collection(c); err != nil {
		return "", err
	}
	return stringArg(c.method, c.argv, 0, "id")
}

func (h *Host) storageGet(ctx context.Context, c hostCall) (any, error) {
	id, err := h.storageID(c)
	if err != nil {
		return nil, err
	}
	d, err := h.svc.Data.DocGet(ctx, h.id(), c.collection, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, storageErr(c.method, err)
	}
	return d.Data, nil
}

func (h *Host) storageExists(ctx context.Context, c hostCall) (any, error) {
	id, err := h.storageID(c)
	if err != nil {
		return nil, err
	}
	ok, err := h.svc.Data.DocExists(ctx, h.id(), c.collection, id)
	return ok, storageErr(c.method, err)
}

func (h *Host) storagePut(ctx context.Context, c hostCall) (any, error) {
	id, err := h.storageID(c)
	if err != nil {
		return nil, err
	}
	if len(c.argv) < 2 {
		return nil, badCall(c.method, "needs a document")
	}
	return nil, storageErr(c.method, h.svc.Data.DocPut(ctx, h.id(), c.collection, id, c.argv[1], h.storageQuota()))
}

func (h *Host) storageDelete(ctx context.Context, c hostCall) (any, error) {
	id, err := h.storageID(c)
	if err != nil {
		return nil, err
	}
	existed, err := h.svc.Data.DocDelete(ctx, h.id(), c.collection, id)
	return existed, storageErr(c.method, err)
}

// batchArg reads the array argument of a batch call, bounded before its
// items are decoded.
func batchArg(c hostCall, what string) ([]json.RawMessage, error) {
	var raw []json.RawMessage
	if len(c.argv) == 0 || json.Unmarshal(c.argv[0], &raw) != nil {
		return nil, badCall(c.method, "needs an array of %s", what)
	}
	if len(raw) > storage.MaxBatch {
		return nil, badCall(c.method, "takes at most %d %s in one call, not %d", storage.MaxBatch, what, len(raw))
	}
	return raw, nil
}

func idsArg(c hostCall) ([]string, error) {
	raw, err := batchArg(c, "ids")
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &ids[i]); err != nil {
			return nil, badCall(c.method, "id %d is not a string", i)
		}
	}
	return ids, nil
}

func (h *Host) storageGetMany(ctx context.Context, c hostCall) (any, error) {
	if _, err := h.collection(c); err != nil {
		return nil, err
	}
	ids, err := idsArg(c)
	if err != nil {
		return nil, err
	}
	docs, err := h.svc.Data.DocGetMany(ctx, h.id(), c.collection, ids)
	if err != nil {
		return nil, storageErr(c.method, err)
	}
	// Pairs, which the isolate turns into a Map in this order.
	pairs := make([][2]any, len(docs))
	for i, d := range docs {
		pairs[i] = [2]any{d.ID, d.Data}
	}
	return pairs, nil
}

func (h *Host) storagePutMany(ctx context.Context, c hostCall) (any, error) {
	if _, err := h.collection(c); err != nil {
		return nil, err
	}
	raw, err := batchArg(c, "{id, data} items")
	if err != nil {
		return nil, err
	}
	docs := make([]storage.DocInput, len(raw))
	for i, r := range raw {
		var item struct {
			ID   *string         `json:"id"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(r, &item); err != nil || item.ID == nil || len(item.Data) == 0 {
			return nil, badCall(c.method, "item %d must be {id: string, data: object}", i)
		}
		docs[i] = storage.DocInput{ID: *item.ID, Data: item.Data}
	}
	return nil, storageErr(c.method, h.svc.Data.DocPutMany(ctx, h.id(), c.collection, docs, h.storageQuota()))
}

func (h *Host) storageDeleteMany(ctx context.Context, c hostCall) (any, error) {
	if _, err := h.collection(c); err != nil {
		return nil, err
	}
	ids, err := idsArg(c)
	if err != nil {
		return nil, err
	}
	n, err := h.svc.Data.DocDeleteMany(ctx, h.id(), c.collection, ids)
	return n, storageErr(c.method, err)
}

// storagePage is what query answers: EmDash's shape ({items, cursor,
// hasMore}) with items as {id, data}.
type storagePage struct {
	Items   []storedDoc `json:"items"`
	Cursor  string      `json:"cursor,omitempty"`
	HasMore bool        `json:"hasMore"`
}

type storedDoc struct {
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

func firstArg(c hostCall) json.RawMessage {
	if len(c.argv) == 0 {
		return nil
	}
	return c.argv[0]
}

func (h *Host) storageQuery(ctx context.Context, c hostCall) (any, error) {
	if _, err := h.collection(c); err != nil {
		return nil, err
	}
	q, err := storage.ParseDocQuery(firstArg(c))
	if err != nil {
		return nil, storageErr(c.method, err)
	}
	p, err := h.svc.Data.DocQuery(ctx, h.id(), c.collection, q)
	if err != nil {
		return nil, storageErr(c.method, err)
	}
	out := storagePage{Items: make([]storedDoc, len(p.Items)), Cursor: p.Cursor, HasMore: p.Cursor != ""}
	for i, d := range p.Items {
		out.Items[i] = storedDoc{ID: d.ID, Data: d.Data}
	}
	return out, nil
}

func (h *Host) storageCount(ctx context.Context, c hostCall) (any, error) {
	if _, err := h.collection(c); err != nil {
		return nil, err
	}
	where, err := storage.ParseWhere(firstArg(c))
	if err != nil {
		return nil, storageErr(c.method, err)
	}
	n, err := h.svc.Data.DocCount(ctx, h.id(), c.collection, where)
	return n, storageErr(c.method, err)
}

type fetchInit struct {
	Method  string       `json:"method"`
	Headers fetchHeaders `json:"headers"`
	Body    *string      `json:"body"`
	// BodyBase64 carries a body of bytes (an ArrayBuffer or typed array).
	BodyBase64 *string `json:"bodyBase64"`
}

// fetchHeaders accepts init.headers as an object of names to values or an
// array of [name, value] pairs (the isolate sends a Headers object as
// pairs); values of one name are joined with ", ", as Headers does.
type fetchHeaders map[string]string

func (h *fetchHeaders) UnmarshalJSON(b []byte) error {
	out := fetchHeaders{}
	add := func(name, value string) {
		for k, v := range out {
			if strings.EqualFold(k, name) {
				out[k] = v + ", " + value
				return
			}
		}
		out[name] = value
	}
	var pairs [][]string
	if err := json.Unmarshal(b, &pairs); err == nil {
		for _, p := range pairs {
			if len(p) != 2 {
				return errors.New("each header must be a [name, value] pair")
			}
			add(p[0], p[1])
		}
		*h = out
		return nil
	}
	var obj map[string]string
	if err := json.Unmarshal(b, &obj); err != nil {
		return errors.New("headers must be an object of strings or an array of [name, value] pairs")
	}
	for _, k := range sortedNames(obj) {
		add(k, obj[k])
	}
	*h = out
	return nil
}

func sortedNames(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// fetchResponse is http.fetch's answer; the isolate turns it into a
// Response. A body that is not UTF-8 travels as BodyBase64, so
// arrayBuffer() sees the bytes the server sent.
type fetchResponse struct {
	Status     int               `json:"status"`
	StatusText string            `json:"statusText"`
	OK         bool              `json:"ok"`
	Headers    map[string]string `json:"headers"`
	Body       *string           `json:"body,omitempty"`
	BodyBase64 *string           `json:"bodyBase64,omitempty"`
	URL        string            `json:"url"`
	Redirected bool              `json:"redirected"`
}

// fetchConfig is what every ctx.http.fetch of an invocation shares: the
// parsed allowed hosts and the secret headers to inject.
type fetchConfig struct {
	hosts  fetchPolicy
	inject []egress.HeaderInjection
	err    error
}

// fetchPolicy is a plugin's reachable hosts: the manifest's allowed hosts,
// and over https only, the hosts of its allowedHostsFromSettings settings
// as saved. The egress client's address checks apply to both.
type fetchPolicy struct {
	manifest manifest.HostSet
	settings manifest.HostSet
}

func (p fetchPolicy) Allows(u *url.URL) bool {
	return p.manifest.Allows(u) || (u != nil && u.Scheme == "https" && p.settings.Allows(u))
}

// settingHosts are the hosts the saved allowedHostsFromSettings settings
// allow, by setting key; a setting left empty or not an https URL allows
// nothing.
func settingHosts(mf *manifest.Manifest, settings map[string]any) map[string]manifest.HostPattern {
	out := map[string]manifest.HostPattern{}
	for _, key := range mf.HostsFromSettings() {
		v, _ := settings[key].(string)
		if v == "" {
			continue
		}
		if p, err := manifest.SettingHost(v); err == nil {
			out[key] = p
		}
	}
	return out
}

// fetchSetup builds the fetchConfig on the invocation's first fetch.
func (h *Host) fetchSetup() *fetchConfig {
	h.fetchOnce.Do(func() {
		mf := h.p.Manifest
		cfg := &h.fetchCfg
		if cfg.hosts.manifest, cfg.err = manifest.ParseHostSet(mf.AllowedHosts()); cfg.err != nil {
			cfg.err = fmt.Errorf("http.fetch: the manifest's allowedHosts: %w", cfg.err)
			return
		}
		fromSettings := settingHosts(mf, h.p.Settings)
		for _, p := range fromSettings {
			cfg.hosts.settings = append(cfg.hosts.settings, p)
		}
		for _, s := range mf.Settings {
			if s.Type != manifest.SettingSecret || s.Inject == nil {
				continue
			}
			v, ok := h.p.Secrets[s.Key]
			if !ok || v == "" {
				continue
			}
			var pat manifest.HostPattern
			var err error
			if key := s.Inject.HostFromSetting; key != "" {
				var found bool
				if pat, found = fromSettings[key]; !found {
					continue // the address is not set: nowhere to send the secret
				}
			} else if pat, err = s.Inject.Pattern(); err != nil {
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
	switch {
	case init.BodyBase64 != nil:
		if req.Body, err = base64.StdEncoding.DecodeString(*init.BodyBase64); err != nil {
			return nil, badCall(c.method, "bodyBase64 is not base64")
		}
	case init.Body != nil:
		req.Body = []byte(*init.Body)
	}
	res, err := h.svc.Egress.Fetch(ctx, cfg.hosts, req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: the request was cancelled: %w", c.method, ctx.Err())
		}
		return nil, err
	}
	out := fetchResponse{Status: res.Status, StatusText: res.StatusText, OK: res.Status >= 200 && res.Status < 300,
		Headers: res.Headers, URL: res.URL, Redirected: res.Redirected}
	if utf8.Valid(res.Body) {
		body := string(res.Body)
		out.Body = &body
	} else {
		b64 := base64.StdEncoding.EncodeToString(res.Body)
		out.BodyBase64 = &b64
	}
	return out, nil
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

func (h *Host) cronRunner(c hostCall) (*CronRunner, error) {
	if h.svc.Cron == nil {
		return nil, badCall(c.method, "not available on this site")
	}
	return h.svc.Cron, nil
}

// cronSchedule is ctx.cron.schedule(name, schedule, data?), or EmDash's
// ctx.cron.schedule(name, {schedule, data?}).
func (h *Host) cronSchedule(ctx context.Context, c hostCall) (any, error) {
	cr, err := h.cronRunner(c)
	if err != nil {
		return nil, err
	}
	name, err := stringArg(c.method, c.argv, 0, "name")
	if err != nil {
		return nil, err
	}
	if len(c.argv) < 2 {
		return nil, badCall(c.method, "needs a schedule")
	}
	var schedule string
	var data json.RawMessage
	if err := json.Unmarshal(c.argv[1], &schedule); err != nil {
		var opts struct {
			Schedule *string         `json:"schedule"`
			Data     json.RawMessage `json:"data"`
		}
		if json.Unmarshal(c.argv[1], &opts) != nil || opts.Schedule == nil {
			return nil, badCall(c.method, "schedule must be a string (\"0 * * * *\", \"@daily\") or {schedule, data}")
		}
		schedule, data = *opts.Schedule, opts.Data
	}
	if len(c.argv) > 2 && data == nil {
		data = c.argv[2]
	}
	return nil, cr.Schedule(ctx, h.p.Manifest, name, schedule, data)
}

func (h *Host) cronCancel(ctx context.Context, c hostCall) (any, error) {
	cr, err := h.cronRunner(c)
	if err != nil {
		return nil, err
	}
	name, err := stringArg(c.method, c.argv, 0, "name")
	if err != nil {
		return nil, err
	}
	return cr.Cancel(ctx, h.p.Manifest, name)
}

func (h *Host) cronList(ctx context.Context, c hostCall) (any, error) {
	cr, err := h.cronRunner(c)
	if err != nil {
		return nil, err
	}
	return cr.Schedules(ctx, h.p.Manifest)
}
