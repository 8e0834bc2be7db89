package cms

import "testing"

func TestRoleGrants(t *testing.T) {
	tests := []struct {
		role   Role
		scopes []Scope
		need   Scope
		want   bool
	}{
		{RoleAdmin, []Scope{ScopeAdmin}, ScopeUsers, true},
		{RoleAdmin, []Scope{ScopeContentRead}, ScopeContentWrite, false},
		{RoleAdmin, []Scope{ScopeUsers}, ScopeUsers, true},
		// A demoted admin's admin token keeps only what the new role has.
		{RoleEditor, []Scope{ScopeAdmin}, ScopeUsers, false},
		{RoleEditor, []Scope{ScopeAdmin}, ScopeContentWrite, false},
		{RoleEditor, []Scope{ScopeUsers, ScopeContentRead}, ScopeUsers, false},
		{RoleEditor, []Scope{ScopeUsers, ScopeContentRead}, ScopeContentRead, true},
		{RoleAuthor, []Scope{ScopeMediaWrite}, ScopeMediaWrite, true},
		{RoleAuthor, []Scope{ScopeMediaWrite}, ScopeMediaRead, false},
		{RoleAuthor, nil, ScopeContentRead, false},
		{Role("ghost"), AllScopes, ScopeContentRead, false},
	}
	for _, tc := range tests {
		if got := tc.role.Grants(tc.scopes, tc.need); got != tc.want {
			t.Errorf("%s with %v needing %s: %v, want %v", tc.role, tc.scopes, tc.need, got, tc.want)
		}
	}
	for _, r := range []Role{RoleAdmin, RoleEditor, RoleAuthor} {
		for _, s := range r.Scopes() {
			if !s.Valid() || !r.HasScope(s) {
				t.Errorf("%s's scope %s", r, s)
			}
		}
	}
}
