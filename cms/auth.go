package cms

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// APITokenPrefix marks Pilcrow API tokens so secret scanners can recognise leaks.
const APITokenPrefix = "pcw_"

// Session is a signed-in browser. The secret cookie value is only ever held by the
// client; the database keeps its SHA-256.
type Session struct {
	// ID names the session to its owner (listing, revoking); it is not a
	// credential.
	ID        string
	UserID    string
	CSRFToken string
	ExpiresAt time.Time
}

// APIToken describes a token without its secret.
type APIToken struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	// Scopes the token was given. What it may do is these, capped by its
	// creator's current role (Role.Grants).
	Scopes     []Scope    `json:"scopes"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
}

// Credential is what authenticated a token request: the creator and the
// token's scopes.
type Credential struct {
	User   *User
	Token  *APIToken
	Scopes []Scope
}

// Allows reports whether the token may act with need now.
func (c *Credential) Allows(need Scope) bool { return c.User.Role.Grants(c.Scopes, need) }

// Auth manages sessions, API tokens and the first-admin setup link.
type Auth struct {
	db         *storage.DB
	users      *Users
	SessionTTL time.Duration
	// InviteTTL and ResetTTL are how long an invite and a password-reset
	// link stay valid.
	InviteTTL, ResetTTL time.Duration
	now                 func() time.Time
	stmts               readStmts // the token lookup, on every API request
}

// NewAuth returns the auth service with a 14-day session lifetime, 72-hour
// invites and one-hour reset links.
func NewAuth(db *storage.DB, users *Users) *Auth {
	return &Auth{db: db, users: users, SessionTTL: 14 * 24 * time.Hour,
		InviteTTL: 72 * time.Hour, ResetTTL: time.Hour, now: time.Now}
}

// SetClock replaces the clock expiry is judged by (tests move time forward
// instead of sleeping). Call it before serving requests.
func (a *Auth) SetClock(now func() time.Time) { a.now = now; a.users.now = now }

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// CreateSession signs a user in and returns the cookie secret and the session.
func (a *Auth) CreateSession(ctx context.Context, userID string) (string, *Session, error) {
	return a.CreateSessionFrom(ctx, userID, "", "")
}

// CreateSessionFrom is CreateSession remembering the browser (User-Agent)
// and address the session started from, for its owner's session list.
func (a *Auth) CreateSessionFrom(ctx context.Context, userID, userAgent, ip string) (string, *Session, error) {
	secret := randomToken()
	now := a.now().UTC()
	if len(userAgent) > 300 {
		userAgent = userAgent[:300]
	}
	s := &Session{ID: uuid.Must(uuid.NewV7()).String(), UserID: userID, CSRFToken: randomToken(), ExpiresAt: now.Add(a.SessionTTL).Truncate(time.Millisecond)}
	err := a.db.Tx(ctx, func(tx *sql.Tx) error {
		// Expired sessions are swept here rather than by a timer: logins are rare
		// enough that this costs nothing and needs no background goroutine.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, now.UnixMilli()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, id, user_id, csrf_token, created_at, expires_at, user_agent, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			hashToken(secret), s.ID, userID, s.CSRFToken, now.UnixMilli(), s.ExpiresAt.UnixMilli(), userAgent, ip)
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("create session: %w", err)
	}
	return secret, s, nil
}

// SessionUser resolves a session cookie secret to its user and session.
// Unknown and expired sessions are ErrNotFound.
func (a *Auth) SessionUser(ctx context.Context, secret string) (*User, *Session, error) {
	var s Session
	var expires int64
	err := a.db.Read().QueryRowContext(ctx,
		`SELECT id, user_id, csrf_token, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?`,
		hashToken(secret), a.now().UTC().UnixMilli()).Scan(&s.ID, &s.UserID, &s.CSRFToken, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("session: %w", err)
	}
	s.ExpiresAt = time.UnixMilli(expires).UTC()
	u, err := a.users.Get(ctx, s.UserID)
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled { // disabling deletes sessions; this guards a race with it
		return nil, nil, ErrNotFound
	}
	return u, &s, nil
}

// SessionInfo describes one of a user's sessions to its owner.
type SessionInfo struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	UserAgent string    `json:"userAgent"`
	IP        string    `json:"ip"`
	// Current marks the session the list was asked from.
	Current bool `json:"current"`
}

// ListSessions returns a user's live sessions, newest first; current (a
// session id) is marked.
func (a *Auth) ListSessions(ctx context.Context, userID, current string) ([]SessionInfo, error) {
	rows, err := a.db.Read().QueryContext(ctx,
		`SELECT id, created_at, expires_at, user_agent, ip FROM sessions WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, id`,
		userID, a.now().UTC().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	out := []SessionInfo{}
	for rows.Next() {
		var si SessionInfo
		var created, expires int64
		if err := rows.Scan(&si.ID, &created, &expires, &si.UserAgent, &si.IP); err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		si.CreatedAt, si.ExpiresAt = time.UnixMilli(created).UTC(), time.UnixMilli(expires).UTC()
		si.Current = si.ID == current
		out = append(out, si)
	}
	return out, rows.Err()
}

// RevokeSession ends one of a user's sessions by id; another user's session
// is ErrNotFound.
func (a *Auth) RevokeSession(ctx context.Context, userID, id string) error {
	return a.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ? AND user_id = ?`, id, userID)
		if err != nil {
			return fmt.Errorf("revoke session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// DeleteSession signs a session out.
func (a *Auth) DeleteSession(ctx context.Context, secret string) error {
	return a.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, hashToken(secret))
		return err
	})
}

// NewToken is the input to CreateToken.
type NewToken struct {
	Name string `json:"name"`
	// Scopes default to the creator's full role.
	Scopes []Scope `json:"scopes"`
	// ExpiresAt nil never expires.
	ExpiresAt *time.Time `json:"expiresAt"`
}

// maxTokenLife bounds expiresAt so a typo cannot mean "forever".
const maxTokenLife = 10 * 365 * 24 * time.Hour

// CreateToken issues an API token for creator. The returned secret is shown
// once. limit, when not nil, is the most the new token may hold: the
// scopes of the token the request came with (a token cannot mint a
// stronger one). Scopes beyond the creator's role are ErrForbidden.
func (a *Auth) CreateToken(ctx context.Context, creator *User, in NewToken, limit []Scope) (*APIToken, string, error) {
	name := strings.TrimSpace(in.Name)
	var v ValidationError
	if name == "" {
		v.Add("/name", "is required")
	} else if utf8.RuneCountInString(name) > 100 {
		v.Add("/name", "must be at most 100 characters")
	}
	now := a.now().UTC().Truncate(time.Millisecond)
	if in.ExpiresAt != nil {
		switch {
		case !in.ExpiresAt.After(now):
			v.Add("/expiresAt", "must be in the future")
		case in.ExpiresAt.Sub(now) > maxTokenLife:
			v.Add("/expiresAt", "must be within ten years")
		}
	}
	scopes := in.Scopes
	if scopes == nil {
		scopes = creator.Role.Scopes()
		if limit != nil {
			scopes = limit
		}
	}
	if len(scopes) == 0 {
		v.Add("/scopes", "must name at least one scope (omit it for your role's full set)")
	}
	seen := map[Scope]bool{}
	clean := []Scope{}
	for i, sc := range scopes {
		if !sc.Valid() {
			v.Add(fmt.Sprintf("/scopes/%d", i), fmt.Sprintf("%q is not a scope (one of %s)", sc, scopeList(AllScopes)))
			continue
		}
		if !seen[sc] {
			seen[sc] = true
			clean = append(clean, sc)
		}
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	for _, sc := range clean {
		if !creator.Role.HasScope(sc) {
			return nil, "", forbiddenf("a token cannot exceed its creator's role: %s may not hold scope %s", creator.Role, sc)
		}
		if limit != nil && !creator.Role.Grants(limit, sc) {
			return nil, "", forbiddenf("a token cannot make a token stronger than itself: it lacks scope %s", sc)
		}
	}
	secret := APITokenPrefix + randomToken()
	t := &APIToken{ID: uuid.Must(uuid.NewV7()).String(), Name: name, Prefix: secret[:len(APITokenPrefix)+6], Scopes: clean, CreatedAt: now}
	var expires any
	if in.ExpiresAt != nil {
		e := in.ExpiresAt.UTC().Truncate(time.Millisecond)
		t.ExpiresAt, expires = &e, e.UnixMilli()
	}
	err := a.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, scopes, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, creator.ID, t.Name, hashToken(secret), t.Prefix, joinScopes(clean), expires, now.UnixMilli())
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("create token: %w", err)
	}
	return t, secret, nil
}

func scopeList(s []Scope) string {
	parts := make([]string, len(s))
	for i, sc := range s {
		parts[i] = string(sc)
	}
	return strings.Join(parts, ", ")
}

func joinScopes(s []Scope) string { return strings.ReplaceAll(scopeList(s), ", ", " ") }

// parseScopes reads a stored scope list; "" (tokens older than scopes) is
// the role's full set.
func parseScopes(stored string, role Role) []Scope {
	if stored == "" {
		return role.Scopes()
	}
	out := []Scope{}
	for _, f := range strings.Fields(stored) {
		out = append(out, Scope(f))
	}
	return out
}

// ListTokens returns a user's live tokens (expired ones included, marked by
// expiresAt, so their owner sees why a script stopped).
func (a *Auth) ListTokens(ctx context.Context, user *User) ([]*APIToken, error) {
	rows, err := a.db.Read().QueryContext(ctx,
		`SELECT id, name, prefix, scopes, expires_at, created_at, last_used_at FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at, id`, user.ID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []*APIToken{}
	for rows.Next() {
		var t APIToken
		var created int64
		var scopes string
		var used, expires sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Name, &t.Prefix, &scopes, &expires, &created, &used); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		t.Scopes = parseScopes(scopes, user.Role)
		t.CreatedAt = time.UnixMilli(created).UTC()
		if used.Valid {
			u := time.UnixMilli(used.Int64).UTC()
			t.LastUsedAt = &u
		}
		if expires.Valid {
			e := time.UnixMilli(expires.Int64).UTC()
			t.ExpiresAt = &e
		}
		out = append(out, &t)
	}
	return out, rows.Err()
}

// RevokeToken revokes one of a user's tokens. Admins may pass any user's token id
// with userID "" to revoke it regardless of owner.
func (a *Auth) RevokeToken(ctx context.Context, userID, tokenID string) error {
	return a.db.Tx(ctx, func(tx *sql.Tx) error {
		q := `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`
		args := []any{a.now().UTC().UnixMilli(), tokenID}
		if userID != "" {
			q += ` AND user_id = ?`
			args = append(args, userID)
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// tokenOwnerColumns are userColumns of the users row aliased u.
const tokenOwnerColumns = `u.id, u.email, u.name, u.role, u.disabled_at, u.created_at, u.updated_at`

// TokenUser resolves a bearer token to its creator and scopes. Revoked,
// expired and unknown tokens, and tokens of disabled users, are
// ErrNotFound. The creator is read afresh on every request, so a demotion
// or a disabling takes effect on the next one.
func (a *Auth) TokenUser(ctx context.Context, secret string) (*Credential, error) {
	if !strings.HasPrefix(secret, APITokenPrefix) {
		return nil, ErrNotFound
	}
	now := a.now().UTC()
	var t APIToken
	var scopes string
	var used, expires sql.NullInt64
	var created int64
	// The token and its owner in one statement: every API request with a
	// token asks. The token is looked up in a subquery the planner keeps
	// apart (LIMIT): as a plain join, once ANALYZE (or PRAGMA optimize) has
	// written sqlite_stat4, SQLite weighs the join order by the bound hash
	// and so prepares the statement again at every execution (3× its cost).
	var us userScan
	err := a.stmts.queryRow(ctx, a.db.Read(),
		`SELECT t.id, t.name, t.prefix, t.scopes, t.expires_at, t.created_at, t.last_used_at, `+tokenOwnerColumns+`
		 FROM (SELECT id, user_id, name, prefix, scopes, expires_at, created_at, last_used_at FROM api_tokens
		       WHERE token_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) LIMIT 1) t
		 JOIN users u ON u.id = t.user_id`,
		hashToken(secret), now.UnixMilli()).Scan(append([]any{&t.ID, &t.Name, &t.Prefix, &scopes, &expires, &created, &used}, us.dest()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	u := us.user()
	if u.Disabled {
		return nil, ErrNotFound
	}
	t.CreatedAt = time.UnixMilli(created).UTC()
	if expires.Valid {
		e := time.UnixMilli(expires.Int64).UTC()
		t.ExpiresAt = &e
	}
	t.Scopes = parseScopes(scopes, u.Role)
	// Record use at most once a minute so a busy script does not turn every read into a write.
	if !used.Valid || now.Sub(time.UnixMilli(used.Int64)) > time.Minute {
		_ = a.db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, now.UnixMilli(), t.ID)
			return err
		})
	}
	return &Credential{User: u, Token: &t, Scopes: t.Scopes}, nil
}

// SetupToken returns a fresh one-time first-admin setup secret, or ErrSetupDone when
// the site already has users. Each start on an empty site issues a new link and
// invalidates older ones.
func (a *Auth) SetupToken(ctx context.Context, ttl time.Duration) (string, error) {
	n, err := a.users.Count(ctx)
	if err != nil {
		return "", err
	}
	if n > 0 {
		return "", ErrSetupDone
	}
	secret := randomToken()
	now := a.now().UTC()
	err = a.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM setup_tokens`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES (?, ?, ?)`,
			hashToken(secret), now.UnixMilli(), now.Add(ttl).UnixMilli())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("setup token: %w", err)
	}
	return secret, nil
}

// CheckSetupToken reports whether secret is a live setup token.
func (a *Auth) CheckSetupToken(ctx context.Context, secret string) error {
	var n int
	err := a.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM setup_tokens WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`,
		hashToken(secret), a.now().UTC().UnixMilli()).Scan(&n)
	if err != nil {
		return fmt.Errorf("setup token: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// CompleteSetup creates the first admin with a live setup token, spending it.
// The token and the user are written in one transaction so two visitors racing
// for the link cannot both become admin.
func (a *Auth) CompleteSetup(ctx context.Context, secret string, in NewUser) (*User, error) {
	in.Role = RoleAdmin
	var v ValidationError
	in.Email = validateEmail(&v, in.Email)
	validatePassword(&v, in.Password)
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := a.now().UTC().UnixMilli()
	err := a.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE setup_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`,
			now, hashToken(secret), now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		var users int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&users); err != nil {
			return err
		}
		if users > 0 {
			return ErrSetupDone
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrSetupDone) {
			return nil, err
		}
		return nil, fmt.Errorf("setup: %w", err)
	}
	return a.users.Create(ctx, in)
}

// NewSecret returns a fresh random URL-safe secret (256 bits).
func NewSecret() string { return randomToken() }
