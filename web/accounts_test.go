package web_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// A disabled user's session and token stop on the very next request, they
// cannot sign in again, and enabling them does not revive their tokens.
func TestDisabledUserIsSignedOutEverywhere(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	ed := ts.as(cms.RoleEditor)
	var tok struct{ Token string }
	ed.do("POST", "/api/tokens", map[string]any{"name": "script"}).want(http.StatusCreated).decode(&tok)
	bearer := ts.anon()
	bearer.Bearer = tok.Token
	bearer.do("GET", "/api/auth/session", nil).want(http.StatusOK)
	ed.do("GET", "/api/auth/session", nil).want(http.StatusOK)

	var u cms.User
	admin.do("PATCH", "/api/users/"+ed.User.ID, map[string]any{"disabled": true}).want(http.StatusOK).decode(&u)
	if !u.Disabled {
		t.Fatalf("PATCH answered %+v", u)
	}
	ed.do("GET", "/api/auth/session", nil).problem(http.StatusUnauthorized)
	bearer.do("GET", "/api/auth/session", nil).problem(http.StatusUnauthorized)
	p := ts.anon().do("POST", "/api/auth/login", map[string]string{"email": ed.User.Email, "password": testPassword}).problem(http.StatusUnauthorized)
	if !strings.Contains(p.Detail, "disabled") {
		t.Fatalf("login of a disabled account says %q", p.Detail)
	}
	// A wrong password does not learn that the account is disabled.
	p = ts.anon().do("POST", "/api/auth/login", map[string]string{"email": ed.User.Email, "password": "wrong password!"}).problem(http.StatusUnauthorized)
	if strings.Contains(p.Detail, "disabled") {
		t.Fatalf("a wrong password learnt the account is disabled: %q", p.Detail)
	}

	admin.do("PATCH", "/api/users/"+ed.User.ID, map[string]any{"disabled": false}).want(http.StatusOK)
	bearer.do("GET", "/api/auth/session", nil).problem(http.StatusUnauthorized)
	ts.login(ed.User.Email)
}

// The last enabled admin can be neither disabled, demoted nor deleted; the
// 409 names the rule. With a second admin, all three work.
func TestLastAdminIsKept(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	id := admin.User.ID
	for _, tc := range []struct {
		method string
		body   any
		what   string
	}{
		{"PATCH", map[string]any{"disabled": true}, "disabled"},
		{"PATCH", map[string]any{"role": "editor"}, "demoted"},
		{"DELETE", nil, "deleted"},
	} {
		p := admin.do(tc.method, "/api/users/"+id, tc.body).problem(http.StatusConflict)
		if !strings.Contains(p.Detail, "last enabled admin cannot be "+tc.what) {
			t.Errorf("%s %v: %q does not name the rule", tc.method, tc.body, p.Detail)
		}
	}
	// A disabled second admin does not count.
	other := ts.createUser("other-admin@example.com", cms.RoleAdmin)
	admin.do("PATCH", "/api/users/"+other.ID, map[string]any{"disabled": true}).want(http.StatusOK)
	admin.do("DELETE", "/api/users/"+id, nil).problem(http.StatusConflict)
	admin.do("PATCH", "/api/users/"+other.ID, map[string]any{"disabled": false}).want(http.StatusOK)
	admin.do("PATCH", "/api/users/"+id, map[string]any{"role": "editor"}).want(http.StatusOK)
}

// Deleting a user keeps their entries: without reassignTo they have no
// author (shown as deleted), with it they pass to that user.
func TestDeletedUsersEntriesStay(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(postsCollection)
	a1, a2 := ts.as(cms.RoleAuthor), ts.as(cms.RoleAuthor)
	e1 := a1.createEntry("posts", map[string]any{"title": "One"})
	e2 := a2.createEntry("posts", map[string]any{"title": "Two"})

	admin.do("DELETE", "/api/users/"+a1.User.ID, nil).want(http.StatusNoContent)
	if got := admin.getEntry("posts", e1.ID); got.AuthorID != "" || got.Data["title"] != "One" {
		t.Fatalf("entry of a deleted user: %+v", got)
	}
	p := admin.do("DELETE", "/api/users/"+a2.User.ID+"?reassignTo=nobody", nil).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/reassignTo") {
		t.Fatalf("bad reassignTo: %+v", p)
	}
	admin.do("DELETE", "/api/users/"+a2.User.ID+"?reassignTo="+admin.User.ID, nil).want(http.StatusNoContent)
	if got := admin.getEntry("posts", e2.ID); got.AuthorID != admin.User.ID {
		t.Fatalf("reassigned entry has author %q, want %q", got.AuthorID, admin.User.ID)
	}
	a1.do("GET", "/api/auth/session", nil).problem(http.StatusUnauthorized)
}

// Changing one's own password ends the other sessions and keeps this one;
// sessions can be listed and revoked by their owner only.
func TestOwnPasswordAndSessions(t *testing.T) {
	ts := newTestSite(t)
	ed := ts.as(cms.RoleEditor)
	other := ts.login(ed.User.Email)
	third := ts.login(ed.User.Email)
	stranger := ts.as(cms.RoleEditor)

	var list struct {
		Items []cms.SessionInfo `json:"items"`
	}
	ed.do("GET", "/api/auth/sessions", nil).want(http.StatusOK).decode(&list)
	if len(list.Items) != 3 {
		t.Fatalf("%d sessions listed, want 3", len(list.Items))
	}
	var current, thirdID string
	for _, s := range list.Items {
		if s.Current {
			current = s.ID
		} else if thirdID == "" {
			thirdID = s.ID
		}
		if s.IP == "" || s.UserAgent == "" {
			t.Errorf("session %+v lacks its address or browser", s)
		}
	}
	if current == "" {
		t.Fatal("no session is marked current")
	}
	stranger.do("DELETE", "/api/auth/sessions/"+thirdID, nil).problem(http.StatusNotFound)
	ed.do("DELETE", "/api/auth/sessions/"+thirdID, nil).want(http.StatusNoContent)
	alive := 0
	for _, c := range []*client{other, third} {
		if c.do("GET", "/api/auth/session", nil).Status == http.StatusOK {
			alive++
		}
	}
	if alive != 1 {
		t.Fatalf("%d of the two other sessions alive after revoking one", alive)
	}

	p := ed.do("POST", "/api/auth/password", map[string]string{"current": "not my password", "new": "a brand new password"}).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/current") {
		t.Fatalf("wrong current password: %+v", p)
	}
	p = ed.do("POST", "/api/auth/password", map[string]string{"current": testPassword, "new": "short"}).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/new") {
		t.Fatalf("short new password: %+v", p)
	}
	ed.do("POST", "/api/auth/password", `{"current": 1}`).problem(http.StatusBadRequest)
	ed.do("POST", "/api/auth/password", map[string]string{"current": testPassword, "new": "a brand new password"}).want(http.StatusNoContent)
	ed.do("GET", "/api/auth/session", nil).want(http.StatusOK)
	other.do("GET", "/api/auth/session", nil).problem(http.StatusUnauthorized)
	third.do("GET", "/api/auth/session", nil).problem(http.StatusUnauthorized)
	stranger.do("GET", "/api/auth/session", nil).want(http.StatusOK)
	ts.anon().do("POST", "/api/auth/login", map[string]string{"email": ed.User.Email, "password": "a brand new password"}).want(http.StatusOK)
}

// testClock is a clock tests move forward; Site.Auth reads it.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }
func withClock(ts *testSite) *testClock {
	c := &testClock{}
	ts.Site.Auth.SetClock(c.now)
	return c
}

// Token scopes and expiry: the default is the creator's role, a token can
// never exceed it, an expired token is 401, and demoting the creator takes
// the token's power on the next request.
func TestTokenScopesAndExpiry(t *testing.T) {
	ts := newTestSite(t)
	clock := withClock(ts)
	admin := ts.as(cms.RoleAdmin)
	ed := ts.as(cms.RoleEditor)
	admin.mustCreateCollection(postsCollection)

	type tokenJSON struct {
		Token     string      `json:"token"`
		Scopes    []cms.Scope `json:"scopes"`
		ExpiresAt *time.Time  `json:"expiresAt"`
	}
	var def tokenJSON
	ed.do("POST", "/api/tokens", map[string]any{"name": "default"}).want(http.StatusCreated).decode(&def)
	if strings.Join(scopeStrings(def.Scopes), " ") != "content:read content:write media:read media:write plugins" {
		t.Fatalf("an editor's default token has scopes %v", def.Scopes)
	}
	p := ed.do("POST", "/api/tokens", map[string]any{"name": "too much", "scopes": []string{"content:read", "users"}}).problem(http.StatusForbidden)
	if !strings.Contains(p.Detail, "cannot exceed its creator's role") {
		t.Fatalf("over-scoped token: %q", p.Detail)
	}
	p = ed.do("POST", "/api/tokens", map[string]any{"name": "x", "scopes": []string{"content:reed"}}).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/scopes/0") {
		t.Fatalf("unknown scope: %+v", p)
	}
	ed.do("POST", "/api/tokens", map[string]any{"name": "x", "scopes": []string{}}).problem(http.StatusUnprocessableEntity)
	ed.do("POST", "/api/tokens", map[string]any{"name": "x", "expiresAt": time.Now().Add(-time.Hour)}).problem(http.StatusUnprocessableEntity)
	ed.do("POST", "/api/tokens", map[string]any{"name": "x", "expiresAt": "tomorrow"}).problem(http.StatusBadRequest)

	var ro tokenJSON
	ed.do("POST", "/api/tokens", map[string]any{"name": "reader", "scopes": []string{"content:read"},
		"expiresAt": time.Now().Add(time.Hour)}).want(http.StatusCreated).decode(&ro)
	reader := ts.anon()
	reader.Bearer = ro.Token
	reader.do("GET", "/api/collections/posts/entries", nil).want(http.StatusOK)
	p = reader.do("POST", "/api/collections/posts/entries", map[string]any{"data": map[string]any{"title": "no"}}).problem(http.StatusForbidden)
	if !strings.Contains(p.Detail, "lacks scope content:write") {
		t.Fatalf("read-only token writing: %q", p.Detail)
	}
	reader.do("GET", "/api/media", nil).problem(http.StatusForbidden)
	// A token cannot mint a stronger token.
	reader.do("POST", "/api/tokens", map[string]any{"name": "escalate", "scopes": []string{"content:write"}}).problem(http.StatusForbidden)
	var child tokenJSON
	reader.do("POST", "/api/tokens", map[string]any{"name": "child"}).want(http.StatusCreated).decode(&child)
	if len(child.Scopes) != 1 || child.Scopes[0] != cms.ScopeContentRead {
		t.Fatalf("a token's child token has scopes %v", child.Scopes)
	}

	clock.advance(61 * time.Minute)
	p = reader.do("GET", "/api/collections/posts/entries", nil).problem(http.StatusUnauthorized)
	if !strings.Contains(p.Detail, "expired") {
		t.Fatalf("expired token: %q", p.Detail)
	}

	// An admin's full token loses users and admin when the admin is demoted.
	var full tokenJSON
	boss := ts.as(cms.RoleAdmin)
	boss.do("POST", "/api/tokens", map[string]any{"name": "full"}).want(http.StatusCreated).decode(&full)
	bc := ts.anon()
	bc.Bearer = full.Token
	bc.do("GET", "/api/users", nil).want(http.StatusOK)
	admin.do("PATCH", "/api/users/"+boss.User.ID, map[string]any{"role": "editor"}).want(http.StatusOK)
	p = bc.do("GET", "/api/users", nil).problem(http.StatusForbidden)
	if !strings.Contains(p.Detail, "lacks scope users") {
		t.Fatalf("demoted creator's token: %q", p.Detail)
	}
	bc.do("GET", "/api/collections/posts/entries", nil).want(http.StatusOK)
	bc.do("POST", "/api/collections", map[string]any{"name": "x"}).problem(http.StatusForbidden)
}

func scopeStrings(s []cms.Scope) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return out
}

// ctx is a short name for tests' background context.
var bg = context.Background()
