package cms

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Link kinds: a one-time link mailed to a person.
const (
	LinkInvite = "invite"
	LinkReset  = "reset"
)

// Link is a pending invite or password reset, without its secret.
type Link struct {
	Kind      string    `json:"kind"`
	Email     string    `json:"email"`
	Role      Role      `json:"role,omitempty"`
	UserID    string    `json:"-"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Invite creates a one-time invite for email with role, made by by, and
// returns its secret (to be mailed; only its hash is kept). An older
// pending invite for the same address is replaced. An address that already
// has an account is a validation error: invites make accounts, they do not
// change them.
func (a *Auth) Invite(ctx context.Context, by *User, email string, role Role) (string, *Link, error) {
	var v ValidationError
	email = validateEmail(&v, email)
	if !role.Valid() {
		v.Add("/role", `must be one of "admin", "editor", "author"`)
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	secret := randomToken()
	now := a.now().UTC()
	l := &Link{Kind: LinkInvite, Email: email, Role: role, ExpiresAt: now.Add(a.InviteTTL).Truncate(time.Millisecond)}
	err := a.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE email = ?`, email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return &ValidationError{Errors: []FieldError{{"/email", "already has an account"}}}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM account_links WHERE kind = 'invite' AND email = ?`, email); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO account_links (token_hash, kind, email, role, created_by, created_at, expires_at) VALUES (?, 'invite', ?, ?, ?, ?, ?)`,
			hashToken(secret), email, string(role), by.ID, now.UnixMilli(), l.ExpiresAt.UnixMilli())
		return err
	})
	var ve *ValidationError
	if errors.As(err, &ve) {
		return "", nil, err
	}
	if err != nil {
		return "", nil, fmt.Errorf("invite: %w", err)
	}
	return secret, l, nil
}

// CheckLink returns the live (unused, unexpired) link of kind with secret,
// or ErrNotFound.
func (a *Auth) CheckLink(ctx context.Context, kind, secret string) (*Link, error) {
	l := &Link{Kind: kind}
	var role, user sql.NullString
	var expires int64
	err := a.db.Read().QueryRowContext(ctx,
		`SELECT email, role, user_id, expires_at FROM account_links WHERE token_hash = ? AND kind = ? AND used_at IS NULL AND expires_at > ?`,
		hashToken(secret), kind, a.now().UTC().UnixMilli()).Scan(&l.Email, &role, &user, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	l.Role, l.UserID, l.ExpiresAt = Role(role.String), user.String, time.UnixMilli(expires).UTC()
	return l, nil
}

// spendLink marks a live link used in tx, or returns ErrNotFound. Two
// racing visitors cannot both spend it: the update is conditional.
func (a *Auth) spendLink(ctx context.Context, tx *sql.Tx, kind, secret string) (*Link, error) {
	now := a.now().UTC().UnixMilli()
	l := &Link{Kind: kind}
	var role, user sql.NullString
	var expires int64
	err := tx.QueryRowContext(ctx,
		`UPDATE account_links SET used_at = ? WHERE token_hash = ? AND kind = ? AND used_at IS NULL AND expires_at > ?
		 RETURNING email, role, user_id, expires_at`, now, hashToken(secret), kind, now).Scan(&l.Email, &role, &user, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	l.Role, l.UserID, l.ExpiresAt = Role(role.String), user.String, time.UnixMilli(expires).UTC()
	return l, nil
}

// AcceptInvite spends an invite and creates its account with the invited
// email and role, in one transaction: bad input leaves the link unspent.
func (a *Auth) AcceptInvite(ctx context.Context, secret, name, password string) (*User, error) {
	var u *User
	err := a.db.Tx(ctx, func(tx *sql.Tx) error {
		l, err := a.spendLink(ctx, tx, LinkInvite, secret)
		if err != nil {
			return err
		}
		u, err = a.users.create(ctx, tx, NewUser{Email: l.Email, Name: strings.TrimSpace(name), Role: l.Role, Password: password})
		return err
	})
	var ve *ValidationError
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.As(err, &ve) {
		return nil, fmt.Errorf("accept invite: %w", err)
	}
	return u, err
}

// RequestReset makes a password-reset link for the enabled account with
// email and returns its secret and the user; for an unknown or disabled
// address it returns ("", nil, nil) having done the same token work, so
// callers can answer alike. Only the newest link of a user is live.
func (a *Auth) RequestReset(ctx context.Context, email string) (string, *User, error) {
	secret := randomToken()
	hash := hashToken(secret)
	now := a.now().UTC()
	var u *User
	err := a.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, strings.TrimSpace(email)))
		if errors.Is(err, ErrNotFound) || (err == nil && u.Disabled) {
			u = nil
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM account_links WHERE kind = 'reset' AND user_id = ?`, u.ID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO account_links (token_hash, kind, email, user_id, created_at, expires_at) VALUES (?, 'reset', ?, ?, ?, ?)`,
			hash, u.Email, u.ID, now.UnixMilli(), now.Add(a.ResetTTL).UnixMilli())
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("password reset: %w", err)
	}
	if u == nil {
		return "", nil, nil
	}
	return secret, u, nil
}

// ConfirmReset spends a reset link and sets the user's password, ending all
// their sessions and any other pending reset, in one transaction.
func (a *Auth) ConfirmReset(ctx context.Context, secret, password string) (*User, error) {
	var v ValidationError
	validatePassword(&v, password)
	if err := v.Err(); err != nil {
		return nil, err
	}
	hash, err := hashPassword(a.users, password)
	if err != nil {
		return nil, err
	}
	var userID string
	err = a.db.Tx(ctx, func(tx *sql.Tx) error {
		l, err := a.spendLink(ctx, tx, LinkReset, secret)
		if err != nil {
			return err
		}
		userID = l.UserID
		now := a.now().UTC().UnixMilli()
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND disabled_at IS NULL`, hash, now, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM account_links WHERE kind = 'reset' AND user_id = ? AND used_at IS NULL`, userID)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("password reset: %w", err)
	}
	return a.users.Get(ctx, userID)
}
