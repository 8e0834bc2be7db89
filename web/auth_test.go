package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
)

func TestSetupLinkCreatesFirstAdminOnce(t *testing.T) {
	ts := newTestSite(t)
	token, err := ts.Site.Auth.SetupToken(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := ts.anon()
	page := c.do("GET", "/setup?token="+token, nil).want(http.StatusOK)
	if !strings.Contains(string(page.Body), `<form method="post" action="/setup"`) {
		t.Fatalf("setup page has no form: %s", page.Body)
	}
	// A dead link is a page a person reads, saying why, with no form.
	dead := c.do("GET", "/setup?token=wrong", nil).want(http.StatusForbidden)
	if body := string(dead.Body); !strings.Contains(body, "The setup link is invalid, expired or already used.") || strings.Contains(body, "<form") {
		t.Fatalf("dead setup link page: %s", body)
	}

	// Weak input is refused without spending the link.
	p := c.do("POST", "/api/setup", map[string]string{"token": token, "email": "not-an-email", "password": "short"}).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/email") || !hasErrorAt(p, "/password") {
		t.Fatalf("want errors at /email and /password, got %+v", p.Errors)
	}

	// Two visitors race for the link: exactly one becomes admin.
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := ts.anon().do("POST", "/api/setup", map[string]string{"token": token, "email": "admin@example.com", "password": testPassword})
			statuses[i] = res.Status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusForbidden, http.StatusConflict:
		default:
			t.Fatalf("unexpected status %d", s)
		}
	}
	if created != 1 {
		t.Fatalf("%d setups succeeded, want exactly 1 (statuses %v)", created, statuses)
	}
	c.do("GET", "/setup?token="+token, nil).want(http.StatusForbidden)
	admin := ts.login("admin@example.com")
	if admin.User.Role != cms.RoleAdmin {
		t.Fatalf("setup made a %s", admin.User.Role)
	}
	if _, err := ts.Site.Auth.SetupToken(context.Background(), time.Hour); err == nil {
		t.Fatal("a site with an admin issued another setup link")
	}
}

func TestSetupFormSignsInTheNewAdmin(t *testing.T) {
	ts := newTestSite(t)
	token, err := ts.Site.Auth.SetupToken(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := ts.anon()
	form := "token=" + token + "&email=owner%40example.com&password=" + strings.ReplaceAll(testPassword, " ", "+")
	res := c.do("POST", "/setup", form, "Content-Type: application/x-www-form-urlencoded").want(http.StatusCreated)
	if !strings.Contains(string(res.Body), "owner@example.com") {
		t.Fatalf("confirmation page does not name the admin: %s", res.Body)
	}
	var s struct{ User *cms.User }
	c.do("GET", "/api/auth/session", nil).want(http.StatusOK).decode(&s)
	if s.User == nil || s.User.Email != "owner@example.com" || s.User.Role != cms.RoleAdmin {
		t.Fatalf("session after setup: %+v", s.User)
	}
}

func TestLoginLogoutAndSessionRules(t *testing.T) {
	ts := newTestSite(t)
	ts.createUser("ed@example.com", cms.RoleEditor)

	bad := ts.anon().do("POST", "/api/auth/login", map[string]string{"email": "ed@example.com", "password": "wrong password!"})
	bad.problem(http.StatusUnauthorized)
	ts.anon().do("POST", "/api/auth/login", map[string]string{"email": "nobody@example.com", "password": testPassword}).problem(http.StatusUnauthorized)

	c := ts.login("ed@example.com")
	cookie := c.Session
	if !cookie.HttpOnly || cookie.SameSite == http.SameSiteNoneMode || cookie.SameSite == 0 {
		t.Fatalf("session cookie not HttpOnly+SameSite: %+v", cookie)
	}
	c.do("GET", "/api/auth/session", nil).want(http.StatusOK)

	// A stolen copy of the cookie dies with logout.
	thief := ts.anon()
	thief.http.Jar.SetCookies(mustURL(t, ts.URL), []*http.Cookie{{Name: cookie.Name, Value: cookie.Value, Path: "/"}})
	thief.do("GET", "/api/auth/session", nil).want(http.StatusOK)

	c.do("POST", "/api/auth/logout", nil).want(http.StatusNoContent)
	thief.do("GET", "/api/auth/session", nil).problem(http.StatusUnauthorized)
	c.do("GET", "/api/auth/session", nil).problem(http.StatusUnauthorized)
}

func TestSessionsExpire(t *testing.T) {
	ts := newTestSite(t)
	ts.createUser("ed@example.com", cms.RoleEditor)
	ts.Site.Auth.SessionTTL = 50 * time.Millisecond
	c := ts.login("ed@example.com")
	time.Sleep(100 * time.Millisecond)
	c.do("GET", "/api/auth/session", nil).problem(http.StatusUnauthorized)
}

func TestLoginRateLimit(t *testing.T) {
	login := func(c *client, email, password, from string) *response {
		return c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": password}, header("X-Forwarded-For: "+from))
	}
	const attacker, owner = "203.0.113.66", "198.51.100.7"
	t.Run("the owner is not locked out", func(t *testing.T) {
		ts := newTestSite(t, func(c *site.Config) { c.Web.LoginBurst = 3; c.Web.LoginRate = time.Hour; c.Web.TrustProxy = true })
		ts.createUser("ed@example.com", cms.RoleEditor)
		for range 3 {
			login(ts.anon(), "ed@example.com", "wrong password!", attacker).problem(http.StatusUnauthorized)
		}
		// The attacker's budget for this account is spent, even with the right password.
		res := login(ts.anon(), "ed@example.com", testPassword, attacker)
		res.problem(http.StatusTooManyRequests)
		if res.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		// The owner, from another address, signs in.
		login(ts.anon(), "ed@example.com", testPassword, owner).want(http.StatusOK)
		login(ts.anon(), "ed@example.com", "wrong password!", owner).problem(http.StatusUnauthorized)
	})
	t.Run("one client spraying accounts", func(t *testing.T) {
		ts := newTestSite(t, func(c *site.Config) { c.Web.LoginBurst = 3; c.Web.LoginRate = time.Hour; c.Web.TrustProxy = true })
		ts.createUser("au@example.com", cms.RoleAuthor)
		// Three times the pair budget over all accounts, then nothing, for
		// any account, the right password included.
		for i := range 3 * 3 {
			login(ts.anon(), fmt.Sprintf("guess%d@example.com", i), "wrong password!", attacker).problem(http.StatusUnauthorized)
		}
		login(ts.anon(), "au@example.com", testPassword, attacker).problem(http.StatusTooManyRequests)
		login(ts.anon(), "au@example.com", testPassword, owner).want(http.StatusOK)
	})
	t.Run("forwarded addresses count only behind a trusted proxy", func(t *testing.T) {
		ts := newTestSite(t, func(c *site.Config) { c.Web.LoginBurst = 3; c.Web.LoginRate = time.Hour })
		ts.createUser("ed@example.com", cms.RoleEditor)
		for i := range 3 {
			login(ts.anon(), "ed@example.com", "wrong password!", fmt.Sprintf("203.0.113.%d", i)).problem(http.StatusUnauthorized)
		}
		// A made-up X-Forwarded-For buys no fresh budget.
		login(ts.anon(), "ed@example.com", testPassword, "203.0.113.99").problem(http.StatusTooManyRequests)
	})
}

// TestLoginBudgetsSharedAcrossServers: two servers on one database (as two
// nodes of a cluster are; one SQLite file, or one PostgreSQL database with
// PILCROW_TEST_DATABASE=postgres) spend from the same login budgets, so an attacker
// gains nothing by spreading guesses over nodes behind a load balancer.
func TestLoginBudgetsSharedAcrossServers(t *testing.T) {
	cfg := func(c *site.Config) { c.Web.LoginBurst = 3; c.Web.LoginRate = time.Hour; c.Web.TrustProxy = true }
	a := newTestSite(t, cfg)
	b := newTestSite(t, cfg, func(c *site.Config) { c.DataDir, c.Database = a.Dir, a.Site.Database })
	a.createUser("ed@example.com", cms.RoleEditor)
	login := func(ts *testSite, email, password, from string) *response {
		return ts.anon().do("POST", "/api/auth/login", map[string]string{"email": email, "password": password}, header("X-Forwarded-For: "+from))
	}
	const attacker, owner, sprayer = "203.0.113.66", "198.51.100.7", "203.0.113.77"
	login(a, "ed@example.com", "wrong password!", attacker).problem(http.StatusUnauthorized)
	login(b, "ed@example.com", "wrong password!", attacker).problem(http.StatusUnauthorized)
	login(a, "ed@example.com", "wrong password!", attacker).problem(http.StatusUnauthorized)
	// Three failures over two servers spend the pair's budget on both.
	for _, ts := range []*testSite{a, b} {
		res := login(ts, "ed@example.com", testPassword, attacker)
		res.problem(http.StatusTooManyRequests)
		if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra <= 0 || ra > 3600 {
			t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
		}
	}
	// The owner, from elsewhere, is not locked out on either.
	login(b, "ed@example.com", testPassword, owner).want(http.StatusOK)
	login(a, "ed@example.com", testPassword, owner).want(http.StatusOK)
	// A client's own budget (three pairs' worth) is shared too.
	for i := range 3 * 3 {
		login([]*testSite{a, b}[i%2], fmt.Sprintf("guess%d@example.com", i), "wrong password!", sprayer).problem(http.StatusUnauthorized)
	}
	login(a, "ed@example.com", testPassword, sprayer).problem(http.StatusTooManyRequests)
	login(b, "ed@example.com", testPassword, sprayer).problem(http.StatusTooManyRequests)
}

func TestCSRFRequiredForCookieAuthenticatedWrites(t *testing.T) {
	ts := newTestSite(t)
	c := ts.as(cms.RoleAdmin)
	csrf := c.CSRF
	c.CSRF = ""
	c.do("POST", "/api/tokens", map[string]string{"name": "ci"}).problem(http.StatusForbidden)
	c.CSRF = "forged"
	c.do("POST", "/api/tokens", map[string]string{"name": "ci"}).problem(http.StatusForbidden)
	c.CSRF = csrf
	c.do("POST", "/api/tokens", map[string]string{"name": "ci"}).want(http.StatusCreated)
	// Safe methods need no token.
	c.CSRF = ""
	c.do("GET", "/api/tokens", nil).want(http.StatusOK)
}

func TestAPITokensWorkUntilRevoked(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	var tok struct {
		ID, Name, Token, Prefix string
	}
	admin.do("POST", "/api/tokens", map[string]string{"name": "deploy script"}).want(http.StatusCreated).decode(&tok)
	if !strings.HasPrefix(tok.Token, cms.APITokenPrefix) || tok.ID == "" || !strings.HasPrefix(tok.Token, tok.Prefix) {
		t.Fatalf("token response %+v", tok)
	}
	// The list never shows the secret again.
	list := admin.do("GET", "/api/tokens", nil).want(http.StatusOK)
	if strings.Contains(string(list.Body), tok.Token) {
		t.Fatal("token list leaks the secret")
	}

	script := ts.anon()
	script.Bearer = tok.Token
	script.do("GET", "/api/users", nil).want(http.StatusOK)
	// Bearer requests need no CSRF token.
	script.do("POST", "/api/users", map[string]string{"email": "new@example.com", "role": "author", "password": testPassword}).want(http.StatusCreated)

	admin.do("DELETE", "/api/tokens/"+tok.ID, nil).want(http.StatusNoContent)
	script.do("GET", "/api/users", nil).problem(http.StatusUnauthorized)
	admin.do("DELETE", "/api/tokens/"+tok.ID, nil).problem(http.StatusNotFound)

	script.Bearer = "pcw_made-up"
	script.do("GET", "/api/auth/session", nil).problem(http.StatusUnauthorized)
}

func TestRoleChecksOnUserManagement(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	for _, role := range []cms.Role{cms.RoleEditor, cms.RoleAuthor} {
		c := ts.as(role)
		c.do("GET", "/api/users", nil).problem(http.StatusForbidden)
		c.do("POST", "/api/users", map[string]string{"email": "x@example.com", "role": "admin", "password": testPassword}).problem(http.StatusForbidden)
		c.do("PATCH", "/api/users/"+c.User.ID, map[string]string{"role": "admin"}).problem(http.StatusForbidden)
	}
	ts.anon().do("GET", "/api/users", nil).problem(http.StatusUnauthorized)

	var u cms.User
	admin.do("POST", "/api/users", map[string]string{"email": "w@example.com", "role": "author", "password": testPassword}).want(http.StatusCreated).decode(&u)
	admin.do("POST", "/api/users", map[string]string{"email": "W@example.com", "role": "author", "password": testPassword}).problem(http.StatusUnprocessableEntity)
	admin.do("PATCH", "/api/users/"+u.ID, map[string]string{"role": "editor"}).want(http.StatusOK)
	admin.do("PATCH", "/api/users/"+u.ID, map[string]string{"role": "owner"}).problem(http.StatusUnprocessableEntity)
	// The last admin cannot be demoted or deleted.
	admin.do("PATCH", "/api/users/"+admin.User.ID, map[string]string{"role": "editor"}).problem(http.StatusConflict)
	admin.do("DELETE", "/api/users/"+admin.User.ID, nil).problem(http.StatusConflict)
	admin.do("DELETE", "/api/users/"+u.ID, nil).want(http.StatusNoContent)
	admin.do("GET", "/api/users/"+u.ID, nil).problem(http.StatusNotFound)
}

func TestRestartKeepsUsersAndSessions(t *testing.T) {
	ts := newTestSite(t)
	ts.createUser("ed@example.com", cms.RoleEditor)
	c := ts.login("ed@example.com")
	ts.restart()
	c.do("GET", "/api/auth/session", nil).want(http.StatusOK)
	ts.login("ed@example.com")
	c.do("POST", "/api/auth/logout", nil).want(http.StatusNoContent)
	ts.restart()
	c.do("GET", "/api/auth/session", nil).problem(http.StatusUnauthorized)
}

func TestBadRequestsGetProblems(t *testing.T) {
	ts := newTestSite(t, func(c *site.Config) { c.Web.MaxBodyBytes = 1024 })
	admin := ts.as(cms.RoleAdmin)
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		hdr    []header
		status int
	}{
		{"malformed JSON", "POST", "/api/users", `{"email": `, nil, http.StatusBadRequest},
		{"not JSON at all", "POST", "/api/users", `<xml/>`, nil, http.StatusBadRequest},
		{"trailing data", "POST", "/api/tokens", `{"name":"a"} {"name":"b"}`, nil, http.StatusBadRequest},
		{"wrong type", "POST", "/api/users", `{"email": 42}`, nil, http.StatusBadRequest},
		{"unknown field", "POST", "/api/tokens", `{"name":"a","admin":true}`, nil, http.StatusBadRequest},
		{"empty body", "POST", "/api/tokens", ``, nil, http.StatusBadRequest},
		{"wrong content type", "POST", "/api/tokens", `name=a`, []header{"Content-Type: text/plain"}, http.StatusUnsupportedMediaType},
		{"oversized", "POST", "/api/tokens", `{"name":"` + strings.Repeat("a", 4096) + `"}`, nil, http.StatusRequestEntityTooLarge},
		{"unknown route", "GET", "/api/nope", nil, nil, http.StatusNotFound},
		{"unknown page", "GET", "/nope", nil, nil, http.StatusNotFound},
		{"wrong method", "PUT", "/api/auth/login", nil, nil, http.StatusMethodNotAllowed},
		{"bad auth header", "GET", "/api/users", nil, []header{"Authorization: Basic Zm9vOmJhcg=="}, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := *admin
			c.t = t
			c.do(tc.method, tc.path, tc.body, tc.hdr...).problem(tc.status)
		})
	}
	p := admin.do("POST", "/api/users", `{"email": 42}`).problem(http.StatusBadRequest)
	if !hasErrorAt(p, "/email") {
		t.Fatalf("wrong-type problem does not point at /email: %+v", p)
	}
	// Nothing was written by any of the above.
	users, err := ts.Site.Users.List(context.Background())
	if err != nil || len(users) != 1 {
		t.Fatalf("users after bad requests: %d, %v", len(users), err)
	}
	tokens, _ := ts.Site.Auth.ListTokens(context.Background(), admin.User)
	if len(tokens) != 0 {
		t.Fatalf("bad requests created %d tokens", len(tokens))
	}
}

func TestMetricsToken(t *testing.T) {
	ts := newTestSite(t, func(c *site.Config) { c.Web.MetricsToken = "s3cret-metrics" })
	c := ts.anon()
	res := c.do("GET", "/metrics", nil)
	res.problem(http.StatusUnauthorized)
	if res.Header.Get("WWW-Authenticate") == "" || strings.Contains(string(res.Body), "go_goroutines") {
		t.Fatalf("unauthorised /metrics answered %v %s", res.Header, res.Body)
	}
	c.do("GET", "/metrics", nil, header("Authorization: Bearer wrong")).problem(http.StatusUnauthorized)
	c.do("GET", "/metrics", nil, header("Authorization: Basic czNjcmV0LW1ldHJpY3M=")).problem(http.StatusUnauthorized)
	// Being an admin is not the metrics token: scrapers get their own secret.
	admin := ts.as(cms.RoleAdmin)
	admin.do("GET", "/metrics", nil).problem(http.StatusUnauthorized)
	m := c.do("GET", "/metrics", nil, header("Authorization: Bearer s3cret-metrics")).want(http.StatusOK)
	if !strings.Contains(string(m.Body), "go_goroutines") {
		t.Fatalf("metrics body: %.200s", m.Body)
	}
	// API tokens still work everywhere else.
	var tok struct{ Token string }
	admin.do("POST", "/api/tokens", map[string]string{"name": "ci"}).want(http.StatusCreated).decode(&tok)
	c.do("GET", "/api/users", nil, header("Authorization: Bearer "+tok.Token)).want(http.StatusOK)
}

func TestMetricsElsewhere(t *testing.T) {
	ts := newTestSite(t, func(c *site.Config) { c.Web.MetricsElsewhere = true })
	ts.anon().do("GET", "/metrics", nil).problem(http.StatusNotFound)
}

func TestHealthAndMetrics(t *testing.T) {
	ts := newTestSite(t)
	c := ts.anon()
	c.do("GET", "/healthz", nil).want(http.StatusOK)
	c.do("GET", "/api/auth/session", nil).want(http.StatusUnauthorized)
	m := c.do("GET", "/metrics", nil).want(http.StatusOK)
	for _, want := range []string{
		`pilcrow_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`pilcrow_http_requests_total{method="GET",route="/api/auth/session",status="401"} 1`,
		`pilcrow_http_request_duration_seconds_bucket{method="GET",route="/healthz"`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(m.Body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	ts.Site.DB.Close()
	c.do("GET", "/healthz", nil).problem(http.StatusServiceUnavailable)
}
