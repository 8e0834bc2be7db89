package admin_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/site/sitetest"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/web"
)

// The admin login form and the API login spend one budget (web's limiter,
// reached through Server.AllowLogin): alternating between them gains an
// attacker nothing. Each row spends the burst in a different mix.
func TestAdminLoginSharesTheAPILoginBudget(t *testing.T) {
	const burst = 3
	tests := []struct {
		name      string
		viaAdmin  int // wrong passwords sent to /admin/login
		viaAPI    int // wrong passwords sent to /api/auth/login
		thenAdmin bool
	}{
		{"api then admin", 0, burst, true},
		{"admin then api", burst, 0, false},
		{"mixed, admin last", 1, burst - 1, true},
		{"mixed, api last", burst - 1, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := sitetest.New(t, sitetest.Quiet, func(c *site.Config) { c.Web.LoginBurst = burst; c.Web.LoginRate = time.Hour })
			ts.CreateUser("ed@example.com", cms.RoleEditor)
			for range tt.viaAdmin {
				if got := adminLogin(t, ts.URL, "ed@example.com", "wrong password!"); got != http.StatusUnauthorized {
					t.Fatalf("admin login with a wrong password: %d, want 401", got)
				}
			}
			for range tt.viaAPI {
				if got := apiLogin(t, ts.URL, "ed@example.com", "wrong password!"); got != http.StatusUnauthorized {
					t.Fatalf("API login with a wrong password: %d, want 401", got)
				}
			}
			// The right password no longer helps, on either form.
			if tt.thenAdmin {
				if got := adminLogin(t, ts.URL, "ed@example.com", sitetest.Password); got != http.StatusTooManyRequests {
					t.Fatalf("admin login after the budget is spent: %d, want 429", got)
				}
			} else if got := apiLogin(t, ts.URL, "ed@example.com", sitetest.Password); got != http.StatusTooManyRequests {
				t.Fatalf("API login after the budget is spent: %d, want 429", got)
			}
		})
	}
}

// A server built without Services.Admin serves no admin: /admin is an
// unknown route (problem+json 404), not an empty page or a panic.
func TestServerWithoutAdmin(t *testing.T) {
	db, err := storage.Open(t.Context(), t.TempDir()+"/pilcrow.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	users := cms.NewUsers(db, sitetest.PasswordParams)
	srv := httptest.NewServer(web.New(web.DefaultConfig(), web.Services{DB: db, Users: users, Auth: cms.NewAuth(db, users)},
		slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	for _, path := range []string{"/admin", "/admin/", "/admin/login", "/admin/static/admin.css"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var p web.Problem
		if res.StatusCode != http.StatusNotFound || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") ||
			json.Unmarshal(body, &p) != nil || p.Status != http.StatusNotFound {
			t.Errorf("GET %s without an admin: %d %s %s, want a 404 problem", path, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
}

// noRedirects keeps a login's redirect from being followed, so its status shows.
var noRedirects = &http.Client{Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func adminLogin(t *testing.T, base, email, password string) int {
	t.Helper()
	res, err := noRedirects.PostForm(base+"/admin/login", url.Values{"email": {email}, "password": {password}, "next": {"/admin/"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func apiLogin(t *testing.T, base, email, password string) int {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	res, err := noRedirects.Post(base+"/api/auth/login", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
