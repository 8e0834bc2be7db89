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
	UserID    string
	CSRFToken string
	ExpiresAt time.Time
}

// APIToken describes a token without its secret.
type APIToken struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
}

// Auth manages sessions, API tokens and the first-admin setup link.
type Auth struct {
	db         *storage.DB
	users      *Users
	SessionTTL time.Duration
	now        func() time.Time
}

// NewAuth returns the auth service with a 14-day session lifetime.
func NewAuth(db *storage.DB, users *Users) *Auth {
	return &Auth{db: db, users: users, SessionTTL: 14 * 24 * time.Hour, now: time.Now}
}

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
	secret := randomToken()
	now := a.now().UTC()
	s := &Session{UserID: userID, CSRFToken: randomToken(), ExpiresAt: now.Add(a.SessionTTL).Truncate(time.Millisecond)}
	err := a.db.Tx(ctx, func(tx *sql.Tx) error {
		// Expired sessions are swept here rather than by a timer: logins are rare
		// enough that this costs nothing and needs no background goroutine.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, now.UnixMilli()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			hashToken(secret), userID, s.CSRFToken, now.UnixMilli(), s.ExpiresAt.UnixMilli())
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
		`SELECT user_id, csrf_token, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?`,
		hashToken(secret), a.now().UTC().UnixMilli()).Scan(&s.UserID, &s.CSRFToken, &expires)
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
	return u, &s, nil
}

// DeleteSession signs a session out.
func (a *Auth) DeleteSession(ctx context.Context, secret string) error {
	return a.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, hashToken(secret))
		return err
	})
}

// CreateToken issues an API token for a user. The returned secret is shown once.
func (a *Auth) CreateToken(ctx context.Context, userID, name string) (*APIToken, string, error) {
	name = strings.TrimSpace(name)
	var v ValidationError
	if name == "" {
		v.Add("/name", "is required")
	} else if utf8.RuneCountInString(name) > 100 {
		v.Add("/name", "must be at most 100 characters")
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	secret := APITokenPrefix + randomToken()
	now := a.now().UTC().Truncate(time.Millisecond)
	t := &APIToken{ID: uuid.Must(uuid.NewV7()).String(), Name: name, Prefix: secret[:len(APITokenPrefix)+6], CreatedAt: now}
	err := a.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, userID, t.Name, hashToken(secret), t.Prefix, now.UnixMilli())
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("create token: %w", err)
	}
	return t, secret, nil
}

// ListTokens returns a user's live tokens.
func (a *Auth) ListTokens(ctx context.Context, userID string) ([]*APIToken, error) {
	rows, err := a.db.Read().QueryContext(ctx,
		`SELECT id, name, prefix, created_at, last_used_at FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []*APIToken{}
	for rows.Next() {
		var t APIToken
		var created int64
		var used sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Name, &t.Prefix, &created, &used); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		t.CreatedAt = time.UnixMilli(created).UTC()
		if used.Valid {
			u := time.UnixMilli(used.Int64).UTC()
			t.LastUsedAt = &u
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

// TokenUser resolves a bearer token to its user. Revoked and unknown tokens are ErrNotFound.
func (a *Auth) TokenUser(ctx context.Context, secret string) (*User, error) {
	if !strings.HasPrefix(secret, APITokenPrefix) {
		return nil, ErrNotFound
	}
	var id, userID string
	var used sql.NullInt64
	err := a.db.Read().QueryRowContext(ctx,
		`SELECT id, user_id, last_used_at FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL`, hashToken(secret)).Scan(&id, &userID, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	now := a.now().UTC()
	// Record use at most once a minute so a busy script does not turn every read into a write.
	if !used.Valid || now.Sub(time.UnixMilli(used.Int64)) > time.Minute {
		_ = a.db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, now.UnixMilli(), id)
			return err
		})
	}
	return a.users.Get(ctx, userID)
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
