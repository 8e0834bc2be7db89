package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/webhooks"
)

// GET /api/openapi.json describes every JSON API route in OpenAPI 3.1. It is
// built from apiRoutes, one row per route, on every request: the collection
// schemas come from the current definitions, so a field change shows at
// once and there is no cache to go stale. TestOpenAPICoversRouter walks the
// chi router and fails when a route and its row disagree, so a new route
// needs a new row.

// access says who may call a route.
type access int

const (
	public   access = iota // anyone; a signed-in caller is still recognised
	signedIn               // any signed-in user or API token
	perm                   // a user whose role has the row's Perm
)

// needs names the service a route is mounted with (see Server.routes).
type needs int

const (
	always needs = iota
	needsContent
	needsMedia
	needsPlugins
	needsWebhooks
)

// apiParam is a query or header parameter.
type apiParam struct {
	Name, In, Description string
	Schema                map[string]any
	Style                 string // "deepObject" for filter[field][op]
	Required              bool
}

// multipartBody describes a multipart/form-data request body.
type multipartBody struct {
	Parts    map[string]map[string]any
	Required []string
}

// apiRoute is one row of the route table.
type apiRoute struct {
	Method string // an HTTP method, or "ANY" for a route that takes all of them
	Path   string // OpenAPI form: /api/collections/{name}
	ID     string // operationId
	Tag    string
	Summary,
	Description string
	Access access
	Perm   cms.Permission
	Needs  needs
	Query  []apiParam
	Header []apiParam
	// Body is nil, a Go value whose type is the JSON body, or a multipartBody.
	Body         any
	BodyOptional bool
	// Status is the success status; Resp the Go value whose type is its
	// JSON body (nil for none). Also lists further success statuses
	// with the same body (e.g. 200 beside 201).
	Status int
	Resp   any
	Also   []int
	// RespHeaders are success response headers: "ETag", "Location".
	RespHeaders []string
	// NotModified adds a 304 answer to If-None-Match.
	NotModified bool
	// Errors are the problem statuses worth naming; every operation also
	// has a default problem+json response.
	Errors []int
	// AnyBody marks routes whose request and response bodies are the
	// plugin's own (any media type).
	AnyBody bool
	// File marks routes that answer a stored file in its own media type.
	File bool
}

// Documentation-only shapes of list responses written as maps.
type (
	userList struct {
		Items []*cms.User `json:"items"`
	}
	sessionList struct {
		Items []cms.SessionInfo `json:"items"`
	}
	resetAnswer struct {
		Status string `json:"status"`
		Detail string `json:"detail"`
	}
	tokenList struct {
		Items []*cms.APIToken `json:"items"`
	}
	collectionList struct {
		Items []*cms.Collection `json:"items"`
	}
	revisionList struct {
		Items []*cms.Revision `json:"items"`
	}
	pluginList struct {
		Items []*plugins.Info `json:"items"`
	}
	pluginLogPage struct {
		Items      []plugins.InvocationLog `json:"items"`
		Stats      plugins.LogStats        `json:"stats"`
		NextCursor string                  `json:"nextCursor,omitempty"`
	}
	healthStatus struct {
		Status string `json:"status"`
	}
	// settingValues is a PATCH of plugin settings: key → value, null clears.
	settingValues map[string]any
)

var (
	limitParam      = apiParam{Name: "limit", In: "query", Description: fmt.Sprintf("page size, 1 to %d (default %d)", cms.MaxLimit, cms.DefaultLimit), Schema: map[string]any{"type": "integer", "minimum": 1, "maximum": cms.MaxLimit}}
	cursorParam     = apiParam{Name: "cursor", In: "query", Description: "the nextCursor of the previous page", Schema: map[string]any{"type": "string"}}
	listQueryParams = []apiParam{limitParam, cursorParam,
		{Name: "sort", In: "query", Description: "comma-separated field names, - for descending (e.g. -publishedAt,title)", Schema: map[string]any{"type": "string"}},
		{Name: "q", In: "query", Description: "full-text search", Schema: map[string]any{"type": "string", "maxLength": 200}},
		{Name: "filter", In: "query", Style: "deepObject", Description: "filter[field]=value or filter[field][op]=value; op is one of eq, ne, lt, lte, gt, gte, in, contains",
			Schema: map[string]any{"type": "object", "additionalProperties": map[string]any{
				"anyOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}}}}},
	}
	statusParam = apiParam{Name: "status", In: "query", Description: "comma-separated statuses: draft, scheduled, published, trashed", Schema: map[string]any{"type": "string"}}
	purgeParam  = apiParam{Name: "purge", In: "query", Description: "delete for good instead of moving to the trash", Schema: map[string]any{"type": "boolean"}}
	ifMatch     = apiParam{Name: "If-Match", In: "header", Description: `the entry's ETag ("3") or *; a stale one is 412`, Schema: map[string]any{"type": "string"}}
	ifNoneMatch = apiParam{Name: "If-None-Match", In: "header", Description: "an ETag from an earlier answer; 304 when unchanged", Schema: map[string]any{"type": "string"}}
	// Delivery (docs/delivery.md): expansion, rendering, idempotent
	// creates and image variants.
	expandParam    = apiParam{Name: "expand", In: "query", Description: "comma-separated reference and media fields to replace by the objects they name (one level, permission checked)", Schema: map[string]any{"type": "string"}}
	renderParam    = apiParam{Name: "render", In: "query", Description: "html: add <field>Html, sanitised HTML, for each Markdown field", Schema: map[string]any{"type": "string", "enum": []any{"html"}}}
	idempotencyKey = apiParam{Name: "Idempotency-Key", In: "header", Description: "a key unique to this create; a repeat within 24 h returns the first result (422 if the request differs)", Schema: map[string]any{"type": "string", "maxLength": 255}}
	variantParams  = []apiParam{
		{Name: "w", In: "query", Description: "image variant width in pixels", Schema: map[string]any{"type": "integer", "minimum": 1, "maximum": 4096}},
		{Name: "h", In: "query", Description: "image variant height in pixels", Schema: map[string]any{"type": "integer", "minimum": 1, "maximum": 4096}},
		{Name: "fit", In: "query", Description: "how a variant fills w×h", Schema: map[string]any{"type": "string", "enum": []any{"cover", "contain"}}},
		{Name: "format", In: "query", Description: "image variant format", Schema: map[string]any{"type": "string", "enum": []any{"jpeg", "png"}}},
	}
)

// apiRoutes is the route table: every JSON route under /api, the health
// check, and the media file URLs front-ends fetch.
var apiRoutes = []apiRoute{
	{Method: "GET", Path: "/healthz", ID: "health", Tag: "meta", Summary: "Health check (the database answers)", Access: public, Status: 200, Resp: healthStatus{}, Errors: []int{503}},
	{Method: "GET", Path: "/livez", ID: "live", Tag: "meta", Summary: "Liveness probe (the process serves HTTP; checks nothing else)", Access: public, Status: 200, Resp: healthStatus{}},
	{Method: "GET", Path: "/readyz", ID: "ready", Tag: "meta", Summary: "Readiness probe (database, schema version and media store answer; 503 naming the failing check, or while draining)", Access: public, Status: 200, Resp: healthStatus{}, Errors: []int{503}},
	{Method: "GET", Path: "/api/openapi.json", ID: "getOpenAPI", Tag: "meta", Summary: "This OpenAPI document", Access: public, Status: 200, Resp: map[string]any{}},
	{Method: "POST", Path: "/api/setup", ID: "setup", Tag: "auth", Summary: "Create the first admin with the one-time setup token and sign in", Access: public,
		Body: setupRequest{}, Status: 201, Resp: sessionResponse{}, Errors: []int{403, 409, 422}},
	{Method: "POST", Path: "/api/auth/login", ID: "login", Tag: "auth", Summary: "Sign in; sets the session cookie and returns the CSRF token", Access: public,
		Body: loginRequest{}, Status: 200, Resp: sessionResponse{}, Errors: []int{401, 422, 429}},
	{Method: "POST", Path: "/api/auth/logout", ID: "logout", Tag: "auth", Summary: "Sign out (ends the session)", Access: public, Status: 204},
	{Method: "POST", Path: "/api/auth/password", ID: "changePassword", Tag: "auth", Summary: "Change your own password (your other sessions end)", Access: signedIn, Body: changePasswordRequest{}, Status: 204, Errors: []int{422}},
	{Method: "GET", Path: "/api/auth/sessions", ID: "listSessions", Tag: "auth", Summary: "Your sessions", Access: signedIn, Status: 200, Resp: sessionList{}},
	{Method: "DELETE", Path: "/api/auth/sessions/{id}", ID: "revokeSession", Tag: "auth", Summary: "End one of your sessions", Access: signedIn, Status: 204},
	{Method: "POST", Path: "/api/auth/password-reset", ID: "requestPasswordReset", Tag: "auth", Summary: "Ask for a password reset link (the same answer for every address)", Access: public, Body: resetRequest{}, Status: 202, Resp: resetAnswer{}, Errors: []int{429}},
	{Method: "POST", Path: "/api/auth/password-reset/confirm", ID: "confirmPasswordReset", Tag: "auth", Summary: "Set a new password with a reset link's token; signs in", Access: public, Body: resetConfirmRequest{}, Status: 200, Resp: sessionResponse{}, Errors: []int{410, 422}},
	{Method: "POST", Path: "/api/auth/invite/accept", ID: "acceptInvite", Tag: "auth", Summary: "Accept an invite: create the account and sign in", Access: public, Body: acceptInviteRequest{}, Status: 201, Resp: sessionResponse{}, Errors: []int{410, 422}},
	{Method: "GET", Path: "/api/auth/session", ID: "getSession", Tag: "auth", Summary: "The signed-in user", Access: public, Status: 200, Resp: sessionResponse{}, Errors: []int{401}},

	{Method: "GET", Path: "/api/users", ID: "listUsers", Tag: "users", Summary: "List users", Access: perm, Perm: cms.PermManageUsers, Status: 200, Resp: userList{}},
	{Method: "POST", Path: "/api/users", ID: "createUser", Header: []apiParam{idempotencyKey}, Tag: "users", Summary: "Create a user", Access: perm, Perm: cms.PermManageUsers, Body: cms.NewUser{}, Status: 201, Resp: cms.User{}, Errors: []int{409, 422}},
	{Method: "POST", Path: "/api/users/invite", ID: "inviteUser", Tag: "users", Summary: "Invite someone by email with a role", Access: perm, Perm: cms.PermManageUsers, Body: inviteRequest{}, Status: 201, Resp: InviteResult{}, Errors: []int{409, 422}},
	{Method: "GET", Path: "/api/users/{id}", ID: "getUser", Tag: "users", Summary: "Get a user", Access: perm, Perm: cms.PermManageUsers, Status: 200, Resp: cms.User{}},
	{Method: "PATCH", Path: "/api/users/{id}", ID: "updateUser", Tag: "users", Summary: "Change a user's name, role or password", Access: perm, Perm: cms.PermManageUsers, Body: cms.UserUpdate{}, Status: 200, Resp: cms.User{}, Errors: []int{409, 422}},
	{Method: "DELETE", Path: "/api/users/{id}", ID: "deleteUser", Tag: "users", Summary: "Delete a user", Access: perm, Perm: cms.PermManageUsers, Status: 204, Errors: []int{409}},

	{Method: "GET", Path: "/api/tokens", ID: "listTokens", Tag: "tokens", Summary: "List your API tokens", Access: signedIn, Status: 200, Resp: tokenList{}},
	{Method: "POST", Path: "/api/tokens", ID: "createToken", Tag: "tokens", Summary: "Create an API token; the secret is shown once", Access: signedIn, Body: cms.NewToken{}, Status: 201, Resp: createTokenResponse{}, Errors: []int{422}},
	{Method: "DELETE", Path: "/api/tokens/{id}", ID: "revokeToken", Tag: "tokens", Summary: "Revoke one of your tokens (admins: anyone's)", Access: signedIn, Status: 204},

	{Method: "GET", Path: "/api/collections", ID: "listCollections", Tag: "collections", Summary: "List collections", Access: perm, Perm: cms.PermReadContent, Needs: needsContent, Status: 200, Resp: collectionList{}},
	{Method: "POST", Path: "/api/collections", ID: "createCollection", Header: []apiParam{idempotencyKey}, Tag: "collections", Summary: "Create a collection", Access: perm, Perm: cms.PermManageCollections, Needs: needsContent, Body: cms.CollectionInput{}, Status: 201, Resp: cms.Collection{}, RespHeaders: []string{"Location"}, Errors: []int{409, 422}},
	{Method: "GET", Path: "/api/collections/{name}", ID: "getCollection", Tag: "collections", Summary: "Get a collection's definition", Access: perm, Perm: cms.PermReadContent, Needs: needsContent, Status: 200, Resp: cms.Collection{}},
	{Method: "PATCH", Path: "/api/collections/{name}", ID: "patchCollection", Tag: "collections", Summary: "Change part of a collection", Access: perm, Perm: cms.PermManageCollections, Needs: needsContent, Body: cms.CollectionPatch{}, Status: 200, Resp: cms.Collection{}, Errors: []int{409, 422}},
	{Method: "PUT", Path: "/api/collections/{name}", ID: "putCollection", Tag: "collections", Summary: "Replace a collection's definition", Access: perm, Perm: cms.PermManageCollections, Needs: needsContent, Body: cms.CollectionInput{}, Status: 200, Resp: cms.Collection{}, Errors: []int{409, 422}},
	{Method: "DELETE", Path: "/api/collections/{name}", ID: "deleteCollection", Tag: "collections", Summary: "Delete a collection (?purge=true also deletes its entries)", Access: perm, Perm: cms.PermManageCollections, Needs: needsContent, Query: []apiParam{purgeParam}, Status: 204, Errors: []int{409}},

	{Method: "GET", Path: "/api/collections/{name}/entries", ID: "listEntries", Tag: "entries", Summary: "List entries", Access: perm, Perm: cms.PermReadContent, Needs: needsContent, Query: append(slices.Clone(listQueryParams), statusParam, expandParam, renderParam), Status: 200, Resp: cms.EntryPage{}},
	{Method: "POST", Path: "/api/collections/{name}/entries", ID: "createEntry", Header: []apiParam{idempotencyKey}, Tag: "entries", Summary: "Create an entry (a draft when the collection has drafts)", Access: perm, Perm: cms.PermEditOwnContent, Needs: needsContent, Body: entryWrite{}, Status: 201, Resp: cms.Entry{}, RespHeaders: []string{"ETag", "Location"}, Errors: []int{409, 422}},
	{Method: "GET", Path: "/api/collections/{name}/entries/{id}", ID: "getEntry", Tag: "entries", Summary: "Get an entry", Access: perm, Perm: cms.PermReadContent, Needs: needsContent, Query: []apiParam{expandParam, renderParam}, Header: []apiParam{ifNoneMatch}, Status: 200, Resp: cms.Entry{}, RespHeaders: []string{"ETag"}, NotModified: true},
	{Method: "PATCH", Path: "/api/collections/{name}/entries/{id}", ID: "updateEntry", Tag: "entries", Summary: "Merge data into an entry; needs If-Match or a body version", Access: perm, Perm: cms.PermEditOwnContent, Needs: needsContent, Header: []apiParam{ifMatch}, Body: entryWrite{}, Status: 200, Resp: cms.Entry{}, RespHeaders: []string{"ETag"}, Errors: []int{409, 412, 422, 428}},
	{Method: "DELETE", Path: "/api/collections/{name}/entries/{id}", ID: "deleteEntry", Tag: "entries", Summary: "Move an entry to the trash (200) or, with ?purge=true, delete it for good (204)", Access: perm, Perm: cms.PermEditOwnContent, Needs: needsContent, Query: []apiParam{purgeParam}, Header: []apiParam{ifMatch}, Status: 200, Resp: cms.Entry{}, RespHeaders: []string{"ETag"}, Errors: []int{409, 412}},
	{Method: "POST", Path: "/api/collections/{name}/entries/{id}/publish", ID: "publishEntry", Tag: "entries", Summary: "Publish now, or at a later time", Access: perm, Perm: cms.PermEditOwnContent, Needs: needsContent, Header: []apiParam{ifMatch}, Body: publishRequest{}, BodyOptional: true, Status: 200, Resp: cms.Entry{}, RespHeaders: []string{"ETag"}, Errors: []int{409, 412, 422}},
	{Method: "POST", Path: "/api/collections/{name}/entries/{id}/unpublish", ID: "unpublishEntry", Tag: "entries", Summary: "Unpublish (back to draft)", Access: perm, Perm: cms.PermEditOwnContent, Needs: needsContent, Header: []apiParam{ifMatch}, Status: 200, Resp: cms.Entry{}, RespHeaders: []string{"ETag"}, Errors: []int{409, 412}},
	{Method: "POST", Path: "/api/collections/{name}/entries/{id}/restore", ID: "restoreEntry", Tag: "entries", Summary: "Restore from the trash", Access: perm, Perm: cms.PermEditOwnContent, Needs: needsContent, Header: []apiParam{ifMatch}, Status: 200, Resp: cms.Entry{}, RespHeaders: []string{"ETag"}, Errors: []int{409, 412}},
	{Method: "GET", Path: "/api/collections/{name}/entries/{id}/revisions", ID: "listRevisions", Tag: "revisions", Summary: "List an entry's revisions, newest first, a page at a time", Access: perm, Perm: cms.PermReadContent, Needs: needsContent, Query: []apiParam{limitParam, cursorParam}, Status: 200, Resp: cms.RevisionPage{}},
	{Method: "GET", Path: "/api/collections/{name}/entries/{id}/revisions/diff", ID: "diffRevisions", Tag: "revisions", Summary: "Compare two revisions", Access: perm, Perm: cms.PermReadContent, Needs: needsContent,
		Query: []apiParam{{Name: "from", In: "query", Required: true, Schema: map[string]any{"type": "integer", "minimum": 1}}, {Name: "to", In: "query", Required: true, Schema: map[string]any{"type": "integer", "minimum": 1}}}, Status: 200, Resp: cms.RevisionDiff{}},
	{Method: "GET", Path: "/api/collections/{name}/entries/{id}/revisions/{rev}", ID: "getRevision", Tag: "revisions", Summary: "Get one revision", Access: perm, Perm: cms.PermReadContent, Needs: needsContent, Status: 200, Resp: cms.Revision{}},
	{Method: "POST", Path: "/api/collections/{name}/entries/{id}/revisions/{rev}/restore", ID: "restoreRevision", Tag: "revisions", Summary: "Make a revision's data the entry's draft", Access: perm, Perm: cms.PermEditOwnContent, Needs: needsContent, Header: []apiParam{ifMatch}, Status: 200, Resp: cms.Entry{}, RespHeaders: []string{"ETag"}, Errors: []int{409, 412}},

	{Method: "GET", Path: "/api/public/{collection}", ID: "publicList", Tag: "public", Summary: "Published entries, for front-ends (no sign-in)", Access: public, Needs: needsContent, Query: append(slices.Clone(listQueryParams), expandParam, renderParam), Header: []apiParam{ifNoneMatch}, Status: 200, Resp: cms.PublicPage{}, RespHeaders: []string{"ETag"}, NotModified: true},
	{Method: "GET", Path: "/api/public/{collection}/{slug}", ID: "publicEntry", Tag: "public", Summary: "One published entry by slug", Access: public, Needs: needsContent, Query: []apiParam{expandParam, renderParam}, Header: []apiParam{ifNoneMatch}, Status: 200, Resp: cms.PublicEntry{}, RespHeaders: []string{"ETag"}, NotModified: true},

	{Method: "GET", Path: "/api/media", ID: "listMedia", Tag: "media", Summary: "List media", Access: perm, Perm: cms.PermManageOwnMedia, Needs: needsMedia,
		Query: []apiParam{limitParam, cursorParam, {Name: "type", In: "query", Description: "image, video, audio or document", Schema: map[string]any{"type": "string"}},
			{Name: "q", In: "query", Description: "search filenames, alt text and titles", Schema: map[string]any{"type": "string"}},
			{Name: "owner", In: "query", Description: "a user id, or me", Schema: map[string]any{"type": "string"}}}, Status: 200, Resp: cms.MediaPage{}},
	{Method: "POST", Path: "/api/media", ID: "uploadMedia", Header: []apiParam{idempotencyKey}, Tag: "media", Summary: "Upload a file", Access: perm, Perm: cms.PermManageOwnMedia, Needs: needsMedia,
		Body:   multipartBody{Parts: map[string]map[string]any{"file": {"type": "string", "contentMediaType": "application/octet-stream"}, "alt": {"type": "string"}, "title": {"type": "string"}}, Required: []string{"file"}},
		Status: 201, Resp: cms.Media{}, RespHeaders: []string{"Location"}, Errors: []int{413, 415, 422}},
	{Method: "GET", Path: "/api/media/{id}", ID: "getMedia", Tag: "media", Summary: "Get a media item", Access: perm, Perm: cms.PermManageOwnMedia, Needs: needsMedia, Status: 200, Resp: cms.Media{}},
	{Method: "PATCH", Path: "/api/media/{id}", ID: "updateMedia", Tag: "media", Summary: "Change alt text or title", Access: perm, Perm: cms.PermManageOwnMedia, Needs: needsMedia, Body: cms.MediaPatch{}, Status: 200, Resp: cms.Media{}, Errors: []int{422}},
	{Method: "DELETE", Path: "/api/media/{id}", ID: "deleteMedia", Tag: "media", Summary: "Delete a media item (409 while entries use it, unless ?force=true)", Access: perm, Perm: cms.PermManageOwnMedia, Needs: needsMedia,
		Query: []apiParam{{Name: "force", In: "query", Schema: map[string]any{"type": "boolean"}}}, Status: 204, Errors: []int{409}},

	{Method: "GET", Path: "/media/{id}", ID: "getMediaFile", Tag: "media", Summary: "A media item's file (public URL)", Access: public, Needs: needsMedia, File: true, Query: variantParams, Header: []apiParam{ifNoneMatch}, Status: 200, RespHeaders: []string{"ETag"}, NotModified: true},
	{Method: "HEAD", Path: "/media/{id}", ID: "headMediaFile", Tag: "media", Summary: "A media item's file headers", Access: public, Needs: needsMedia, File: true, Status: 200, RespHeaders: []string{"ETag"}},
	{Method: "GET", Path: "/media/{id}/{filename}", ID: "getMediaFileNamed", Tag: "media", Summary: "A media item's file; the filename is for people and caches and is not checked", Access: public, Needs: needsMedia, File: true, Query: variantParams, Header: []apiParam{ifNoneMatch}, Status: 200, RespHeaders: []string{"ETag"}, NotModified: true},
	{Method: "HEAD", Path: "/media/{id}/{filename}", ID: "headMediaFileNamed", Tag: "media", Summary: "A media item's file headers", Access: public, Needs: needsMedia, File: true, Status: 200, RespHeaders: []string{"ETag"}},

	{Method: "GET", Path: "/api/plugins", ID: "listPlugins", Tag: "plugins", Summary: "List installed plugins", Access: perm, Perm: cms.PermManagePlugins, Needs: needsPlugins, Status: 200, Resp: pluginList{}},
	{Method: "POST", Path: "/api/plugins", ID: "installPlugin", Tag: "plugins", Summary: "Upload a plugin bundle, a .zip or an EmDash sandboxed .tar.gz (201: awaiting consent; 200: unchanged or applied)", Access: perm, Perm: cms.PermManagePlugins, Needs: needsPlugins,
		Query:  []apiParam{{Name: "force", In: "query", Description: "allow a downgrade", Schema: map[string]any{"type": "boolean"}}},
		Body:   multipartBody{Parts: map[string]map[string]any{"bundle": {"type": "string", "contentMediaType": "application/octet-stream"}}, Required: []string{"bundle"}},
		Status: 201, Also: []int{200}, Resp: plugins.Info{}, RespHeaders: []string{"Location"}, Errors: []int{409, 413, 415, 422}},
	{Method: "POST", Path: "/api/plugins/dev", ID: "devInstallPlugin", Tag: "plugins", Summary: "Development servers only (serve --dev): upload a bundle over any installed version and activate it with everything it asks for (403 elsewhere)", Access: perm, Perm: cms.PermManagePlugins, Needs: needsPlugins,
		Body:   multipartBody{Parts: map[string]map[string]any{"bundle": {"type": "string", "contentMediaType": "application/octet-stream"}}, Required: []string{"bundle"}},
		Status: 200, Resp: plugins.Info{}, Errors: []int{409, 413, 415, 422}},
	{Method: "GET", Path: "/api/plugins/{id}", ID: "getPlugin", Tag: "plugins", Summary: "A plugin, its consent summary and any pending upgrade", Access: perm, Perm: cms.PermManagePlugins, Needs: needsPlugins, Status: 200, Resp: plugins.Info{}},
	{Method: "DELETE", Path: "/api/plugins/{id}", ID: "uninstallPlugin", Tag: "plugins", Summary: "Uninstall a plugin", Access: perm, Perm: cms.PermManagePlugins, Needs: needsPlugins,
		Query: []apiParam{{Name: "deleteData", In: "query", Description: "also delete the plugin's stored data", Schema: map[string]any{"type": "boolean"}}}, Status: 204},
	{Method: "POST", Path: "/api/plugins/{id}/activate", ID: "activatePlugin", Tag: "plugins", Summary: "Consent to exactly the listed capabilities and hosts, and activate", Access: perm, Perm: cms.PermManagePlugins, Needs: needsPlugins, Body: plugins.Grant{}, Status: 200, Resp: plugins.Info{}, Errors: []int{409, 422}},
	{Method: "POST", Path: "/api/plugins/{id}/reject-upgrade", ID: "rejectPluginUpgrade", Tag: "plugins", Summary: "Discard the upgrade awaiting consent and keep the running version", Access: perm, Perm: cms.PermManagePlugins, Needs: needsPlugins, Status: 200, Resp: plugins.Info{}, Errors: []int{409}},
	{Method: "POST", Path: "/api/plugins/{id}/deactivate", ID: "deactivatePlugin", Tag: "plugins", Summary: "Deactivate a plugin", Access: perm, Perm: cms.PermManagePlugins, Needs: needsPlugins, Status: 200, Resp: plugins.Info{}},
	{Method: "GET", Path: "/api/plugins/{id}/settings", ID: "getPluginSettings", Tag: "plugins", Summary: "The settings form and values (never secret values)", Access: perm, Perm: cms.PermManagePlugins, Needs: needsPlugins, Status: 200, Resp: plugins.SettingsView{}},
	{Method: "PATCH", Path: "/api/plugins/{id}/settings", ID: "patchPluginSettings", Tag: "plugins", Summary: "Change settings (null clears one)", Access: perm, Perm: cms.PermManagePlugins, Needs: needsPlugins, Body: settingValues{}, Status: 200, Resp: plugins.SettingsView{}, Errors: []int{422}},
	{Method: "GET", Path: "/api/plugins/{id}/logs", ID: "getPluginLogs", Tag: "plugins", Summary: "A page of the plugin's invocation logs, newest first, with stats", Access: perm, Perm: cms.PermManagePlugins, Needs: needsPlugins,
		Query: []apiParam{limitParam, cursorParam,
			{Name: "outcome", In: "query", Schema: map[string]any{"type": "string", "enum": []string{"ok", "error", "limit"}}},
			{Name: "level", In: "query", Schema: map[string]any{"type": "string", "enum": []string{"debug", "info", "warn", "error"}}},
			{Name: "kind", In: "query", Schema: map[string]any{"type": "string", "enum": []string{"hook", "route"}}},
			{Name: "name", In: "query", Description: "a hook or route name", Schema: map[string]any{"type": "string"}}},
		Status: 200, Resp: pluginLogPage{}},
	{Method: "GET", Path: "/api/webhooks", ID: "listWebhooks", Tag: "webhooks", Summary: "List webhooks (never their secrets)", Access: perm, Perm: cms.PermManageWebhooks, Needs: needsWebhooks, Status: 200, Resp: webhookList{}},
	{Method: "POST", Path: "/api/webhooks", ID: "createWebhook", Tag: "webhooks", Summary: "Register a webhook; its signing secret is shown once", Access: perm, Perm: cms.PermManageWebhooks, Needs: needsWebhooks, Body: webhooks.Input{}, Status: 201, Resp: webhooks.Created{}, Errors: []int{422}},
	{Method: "GET", Path: "/api/webhooks/{id}", ID: "getWebhook", Tag: "webhooks", Summary: "Get a webhook", Access: perm, Perm: cms.PermManageWebhooks, Needs: needsWebhooks, Status: 200, Resp: webhooks.Webhook{}},
	{Method: "PUT", Path: "/api/webhooks/{id}", ID: "putWebhook", Tag: "webhooks", Summary: "Replace a webhook's URL, events and collections (the secret stays)", Access: perm, Perm: cms.PermManageWebhooks, Needs: needsWebhooks, Body: webhooks.Input{}, Status: 200, Resp: webhooks.Webhook{}, Errors: []int{422}},
	{Method: "DELETE", Path: "/api/webhooks/{id}", ID: "deleteWebhook", Tag: "webhooks", Summary: "Delete a webhook and its delivery log", Access: perm, Perm: cms.PermManageWebhooks, Needs: needsWebhooks, Status: 204},
	{Method: "GET", Path: "/api/webhooks/{id}/deliveries", ID: "listWebhookDeliveries", Tag: "webhooks", Summary: "A webhook's recent deliveries, newest first", Access: perm, Perm: cms.PermManageWebhooks, Needs: needsWebhooks,
		Query:  []apiParam{{Name: "limit", In: "query", Description: fmt.Sprintf("1 to %d (default %d)", webhooks.MaxDeliveries, webhooks.MaxDeliveries), Schema: map[string]any{"type": "integer", "minimum": 1, "maximum": webhooks.MaxDeliveries}}},
		Status: 200, Resp: deliveryList{}},
	{Method: "GET", Path: "/api/webhooks/{id}/deliveries/{deliveryId}", ID: "getWebhookDelivery", Tag: "webhooks", Summary: "One delivery with its body and every attempt", Access: perm, Perm: cms.PermManageWebhooks, Needs: needsWebhooks, Status: 200, Resp: webhooks.Delivery{}},
	{Method: "POST", Path: "/api/webhooks/{id}/deliveries/{deliveryId}/redeliver", ID: "redeliverWebhook", Tag: "webhooks", Summary: "Send a delivery's message again (same webhook-id and body)", Access: perm, Perm: cms.PermManageWebhooks, Needs: needsWebhooks, Status: 202, Resp: webhooks.Delivery{}},

	{Method: "ANY", Path: "/api/p/{pluginId}/{route}", ID: "pluginRoute", Tag: "plugin routes", Summary: "A route of an active plugin", Access: public, Needs: needsPlugins, AnyBody: true,
		Description: "The plugin declares the route public (rate limited per client) or private (a signed-in role at least the route's permission). Bodies are the plugin's own. {route} may span several path segments.",
		Status:      200, Errors: []int{401, 403, 404, 413, 429, 502, 503}},
}

// anyMethods are the methods an "ANY" row stands for: every one OpenAPI names.
var anyMethods = []string{"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}

// routeTable is apiRoutes limited to what this server mounts.
func (s *Server) routeTable() []apiRoute {
	var out []apiRoute
	for _, rt := range apiRoutes {
		switch {
		case rt.Needs == needsContent && s.svc.Content == nil,
			rt.Needs == needsMedia && s.svc.Media == nil,
			rt.Needs == needsPlugins && s.svc.Plugins == nil,
			rt.Needs == needsWebhooks && s.svc.Webhooks == nil:
			continue
		}
		out = append(out, rt)
	}
	return out
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	var cols []*cms.Collection
	if s.svc.Content != nil {
		var err error
		if cols, err = s.svc.Content.ListCollections(r.Context()); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	doc := buildOpenAPI(s.routeTable(), cols)
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, doc)
}

var pathParamRE = regexp.MustCompile(`\{([^}]+)\}`)

// pathParamDocs describe the path parameters by name.
var pathParamDocs = map[string]string{
	"id":         "the item's id",
	"name":       "the collection's name",
	"collection": "the collection's name",
	"slug":       "the entry's slug",
	"rev":        "a revision number (1, 2, …)",
	"pluginId":   "the plugin's id",
	"route":      "the route's name as the plugin declares it",
	"filename":   "any name; the file's own is used in links",
	"deliveryId": "a webhook delivery's id",
}

// buildOpenAPI assembles the document from the route table and the current
// collections.
func buildOpenAPI(routes []apiRoute, cols []*cms.Collection) map[string]any {
	g := newSchemaGen()
	g.of(cms.FieldError{})
	g.defs["Problem"] = problemSchema()
	paths := map[string]any{}
	for _, rt := range routes {
		item, _ := paths[rt.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		methods := []string{rt.Method}
		if rt.Method == "ANY" {
			methods = anyMethods
		}
		for i, m := range methods {
			op := operation(g, rt)
			if len(methods) > 1 {
				op["operationId"] = fmt.Sprintf("%s%s", rt.ID, capitalise(strings.ToLower(m)))
				if i > 0 {
					delete(op, "description")
				}
			}
			item[strings.ToLower(m)] = op
		}
	}
	names := make([]string, 0, len(cols))
	for _, c := range cols {
		data := "Data_" + c.Name
		g.defs[data] = collectionDataSchema(c)
		g.defs["Entry_"+c.Name] = map[string]any{
			"description": "An entry of " + c.Name + ", its data typed by the collection's fields.",
			"allOf":       []any{componentRef("Entry"), map[string]any{"properties": map[string]any{"data": componentRef(data)}}},
		}
		g.defs["PublicEntry_"+c.Name] = map[string]any{
			"allOf": []any{componentRef("PublicEntry"), map[string]any{"properties": map[string]any{"data": componentRef(data)}}},
		}
		names = append(names, c.Name)
	}
	// The generic Entry and PublicEntry exist even before any collection does.
	g.of(cms.Entry{})
	g.of(cms.PublicEntry{})
	sort.Strings(names)
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Pilcrow API",
			"version":     "1",
			"description": "The JSON API of this Pilcrow site. Errors are RFC 9457 problem documents. Each collection has a component schema Entry_<name> typed by its fields; this document is regenerated on every request, so it always matches the current collections.",
		},
		"x-pilcrow-collections": names,
		"paths":                 paths,
		"components": map[string]any{
			"schemas": g.defs,
			"responses": map[string]any{
				"Problem": map[string]any{"description": "An RFC 9457 problem document",
					"content": map[string]any{"application/problem+json": map[string]any{"schema": componentRef("Problem")}}},
			},
			"securitySchemes": map[string]any{
				"sessionCookie": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookie,
					"description": "The session cookie set by POST /api/auth/login. Unsafe methods also need csrfHeader."},
				"csrfHeader": map[string]any{"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
					"description": "The csrfToken from login or GET /api/auth/session; required with the session cookie on POST, PUT, PATCH and DELETE."},
				"bearerToken": map[string]any{"type": "http", "scheme": "bearer",
					"description": "An API token from POST /api/tokens, sent as Authorization: Bearer <token>. No CSRF token is needed."},
			},
		},
	}
}

func operation(g *schemaGen, rt apiRoute) map[string]any {
	op := map[string]any{"operationId": rt.ID, "summary": rt.Summary, "tags": []string{rt.Tag}}
	desc := rt.Description
	if rt.Access == perm {
		op["x-pilcrow-permission"] = string(rt.Perm)
		desc = strings.TrimSpace(desc + " Needs the " + string(rt.Perm) + " permission.")
	}
	if desc != "" {
		op["description"] = desc
	}
	safe := isSafeMethod(rt.Method)
	cookie := map[string]any{"sessionCookie": []string{}}
	if !safe {
		cookie["csrfHeader"] = []string{}
	}
	security := []any{map[string]any{"bearerToken": []string{}}, cookie}
	if rt.Access == public {
		security = append(security, map[string]any{}) // credentials optional
	}
	op["security"] = security

	var params []any
	for _, m := range pathParamRE.FindAllStringSubmatch(rt.Path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true,
			"description": pathParamDocs[m[1]], "schema": map[string]any{"type": "string"}})
	}
	for _, p := range append(slices.Clone(rt.Query), rt.Header...) {
		pm := map[string]any{"name": p.Name, "in": p.In, "schema": p.Schema}
		if p.Description != "" {
			pm["description"] = p.Description
		}
		if p.Required {
			pm["required"] = true
		}
		if p.Style != "" {
			pm["style"], pm["explode"] = p.Style, true
		}
		params = append(params, pm)
	}
	if len(params) > 0 {
		op["parameters"] = params
	}

	switch b := rt.Body.(type) {
	case nil:
		if rt.AnyBody && !safe {
			op["requestBody"] = map[string]any{"content": map[string]any{"*/*": map[string]any{"schema": map[string]any{}}}}
		}
	case multipartBody:
		props := map[string]any{}
		for k, v := range b.Parts {
			props[k] = v
		}
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"multipart/form-data": map[string]any{
			"schema": map[string]any{"type": "object", "properties": props, "required": b.Required}}}}
	default:
		g.input = true
		schema := g.of(b)
		g.input = false
		op["requestBody"] = map[string]any{"required": !rt.BodyOptional, "content": map[string]any{
			"application/json": map[string]any{"schema": schema}}}
	}

	responses := map[string]any{}
	ok := map[string]any{"description": http.StatusText(rt.Status)}
	switch {
	case rt.AnyBody:
		ok["description"] = "The plugin's answer"
		ok["content"] = map[string]any{"*/*": map[string]any{"schema": map[string]any{}}}
	case rt.File:
		ok["description"] = "The file, in its own media type (Range requests are served: 206)"
		ok["content"] = map[string]any{"*/*": map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": "application/octet-stream"}}}
	case rt.Resp != nil:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.of(rt.Resp)}}
	}
	if len(rt.RespHeaders) > 0 {
		hs := map[string]any{}
		for _, h := range rt.RespHeaders {
			hs[h] = map[string]any{"schema": map[string]any{"type": "string"}}
		}
		ok["headers"] = hs
	}
	responses[fmt.Sprint(rt.Status)] = ok
	for _, st := range rt.Also {
		responses[fmt.Sprint(st)] = ok
	}
	if rt.ID == "deleteEntry" {
		responses["204"] = map[string]any{"description": "Deleted for good (?purge=true)"}
	}
	if rt.File {
		responses["206"] = map[string]any{"description": "Part of the file (Range)"}
		responses["302"] = map[string]any{"description": "Redirect to a short-lived signed URL (S3 store with presigned delivery)",
			"headers": map[string]any{"Location": map[string]any{"schema": map[string]any{"type": "string"}}}}
	}
	if rt.NotModified {
		responses["304"] = map[string]any{"description": "Not modified (If-None-Match matched)"}
	}
	for _, st := range problemStatuses(rt) {
		responses[fmt.Sprint(st)] = map[string]any{"$ref": "#/components/responses/Problem"}
	}
	responses["default"] = map[string]any{"$ref": "#/components/responses/Problem"}
	op["responses"] = responses
	return op
}

// problemStatuses are the error statuses an operation names: those every
// route of its kind can answer plus the row's own.
func problemStatuses(rt apiRoute) []int {
	set := map[int]bool{}
	for _, st := range rt.Errors {
		set[st] = true
	}
	if rt.Access != public {
		set[401] = true
	}
	if rt.Access == perm || !isSafeMethod(rt.Method) {
		set[403] = true // the permission, or a missing CSRF token
	}
	if pathParamRE.MatchString(rt.Path) {
		set[404] = true
	}
	if len(rt.Query) > 0 || rt.Body != nil || len(rt.Header) > 0 {
		set[400] = true
	}
	if _, isJSON := rt.Body.(multipartBody); rt.Body != nil && !isJSON {
		set[413], set[415] = true, true
	}
	out := make([]int, 0, len(set))
	for st := range set {
		out = append(out, st)
	}
	slices.Sort(out)
	return out
}

func problemSchema() map[string]any {
	return map[string]any{
		"type":        "object",
		"description": "An RFC 9457 problem document. Validation problems list every offending input in errors, each located by a JSON pointer (/data/title, /query/limit). Extension members carry details such as currentVersion on a version conflict.",
		"required":    []string{"type", "title", "status"},
		"properties": map[string]any{
			"type":     map[string]any{"type": "string"},
			"title":    map[string]any{"type": "string"},
			"status":   map[string]any{"type": "integer", "minimum": 400, "maximum": 599},
			"detail":   map[string]any{"type": "string"},
			"instance": map[string]any{"type": "string"},
			"errors":   map[string]any{"type": "array", "items": componentRef("FieldError")},
			"currentVersion": map[string]any{"type": "integer",
				"description": "on 409/412 version conflicts: the entry's current version"},
			"plugin": map[string]any{"type": "string", "description": "the plugin that rejected the request"},
		},
		"additionalProperties": true,
	}
}

// OpenAPI returns the document for the given collections as JSON, for tools
// (and tests) that want it without an HTTP round trip.
func (s *Server) OpenAPI(cols []*cms.Collection) ([]byte, error) {
	return json.Marshal(buildOpenAPI(s.routeTable(), cols))
}
