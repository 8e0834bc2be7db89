package cms

// Role is a user's role. Roles are fixed, like WordPress's: what each may do is
// decided here, in one table, and nowhere else.
type Role string

const (
	RoleAdmin  Role = "admin"  // everything, plugins and users included
	RoleEditor Role = "editor" // all content and media
	RoleAuthor Role = "author" // own entries and media
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleEditor || r == RoleAuthor }

// Permission is something a role may be allowed to do.
type Permission string

const (
	PermManageUsers       Permission = "users:manage"
	PermManagePlugins     Permission = "plugins:manage"
	PermManageCollections Permission = "collections:manage"
	PermEditAllContent    Permission = "content:edit-all"
	PermEditOwnContent    Permission = "content:edit-own"
	PermPublish           Permission = "content:publish"
	PermManageAllMedia    Permission = "media:manage-all"
	PermManageOwnMedia    Permission = "media:manage-own"
	PermReadContent       Permission = "content:read"
	// PermManageWebhooks: webhooks can send every entry to another host.
	PermManageWebhooks Permission = "webhooks:manage"
)

var rolePermissions = map[Role]map[Permission]bool{
	RoleAdmin: {
		PermManageUsers: true, PermManagePlugins: true, PermManageCollections: true,
		PermEditAllContent: true, PermEditOwnContent: true, PermPublish: true,
		PermManageAllMedia: true, PermManageOwnMedia: true, PermReadContent: true,
		PermManageWebhooks: true,
	},
	RoleEditor: {
		PermEditAllContent: true, PermEditOwnContent: true, PermPublish: true,
		PermManageAllMedia: true, PermManageOwnMedia: true, PermReadContent: true,
	},
	RoleAuthor: {
		PermEditOwnContent: true, PermPublish: true, PermManageOwnMedia: true, PermReadContent: true,
	},
}

// Can reports whether the role grants p.
func (r Role) Can(p Permission) bool { return rolePermissions[r][p] }

// Can reports whether u's role grants p. A nil user can do nothing.
func (u *User) Can(p Permission) bool { return u != nil && u.Role.Can(p) }

// Scope is what an API token may be used for. A token's scopes narrow its
// creator's role; they never widen it (see Role.Scopes).
type Scope string

const (
	ScopeContentRead  Scope = "content:read"
	ScopeContentWrite Scope = "content:write"
	ScopeMediaRead    Scope = "media:read"
	ScopeMediaWrite   Scope = "media:write"
	ScopeUsers        Scope = "users"
	// ScopePlugins covers plugin administration (admins only, by role) and
	// calling plugins' private routes (any role the route admits).
	ScopePlugins Scope = "plugins"
	// ScopeAdmin covers everything, collection schemas included; only
	// admins may hold it.
	ScopeAdmin Scope = "admin"
)

// AllScopes is the whole vocabulary, in the order the admin shows it.
var AllScopes = []Scope{ScopeContentRead, ScopeContentWrite, ScopeMediaRead, ScopeMediaWrite, ScopeUsers, ScopePlugins, ScopeAdmin}

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool {
	for _, k := range AllScopes {
		if s == k {
			return true
		}
	}
	return false
}

var roleScopes = map[Role][]Scope{
	RoleAdmin:  AllScopes,
	RoleEditor: {ScopeContentRead, ScopeContentWrite, ScopeMediaRead, ScopeMediaWrite, ScopePlugins},
	RoleAuthor: {ScopeContentRead, ScopeContentWrite, ScopeMediaRead, ScopeMediaWrite, ScopePlugins},
}

// Scopes are the scopes a token of this role may hold: the role's full
// power. Within a scope the role still decides (an author's content:write
// token edits only the author's entries).
func (r Role) Scopes() []Scope { return append([]Scope(nil), roleScopes[r]...) }

// HasScope reports whether the role may hold s.
func (r Role) HasScope(s Scope) bool {
	for _, k := range roleScopes[r] {
		if k == s {
			return true
		}
	}
	return false
}

// Grants reports whether a token holding scopes, made by a user whose role
// is now r, may act with need. The creator's current role caps the token,
// so demoting the creator takes power from their tokens at once; admin
// implies every scope.
func (r Role) Grants(scopes []Scope, need Scope) bool {
	if !r.HasScope(need) {
		return false
	}
	for _, s := range scopes {
		if s == need || (s == ScopeAdmin && r.HasScope(ScopeAdmin)) {
			return true
		}
	}
	return false
}
