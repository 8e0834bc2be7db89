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
)

var rolePermissions = map[Role]map[Permission]bool{
	RoleAdmin: {
		PermManageUsers: true, PermManagePlugins: true, PermManageCollections: true,
		PermEditAllContent: true, PermEditOwnContent: true, PermPublish: true,
		PermManageAllMedia: true, PermManageOwnMedia: true, PermReadContent: true,
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
