package cms

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// User is a person who can sign in. The password hash never leaves this package.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  Role   `json:"role"`
	// Disabled accounts cannot sign in; their sessions ended and their
	// tokens were revoked when they were disabled.
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// MinPasswordLength follows NIST SP 800-63B's floor for user-chosen secrets.
const MinPasswordLength = 10

// Users manages accounts and password checks.
type Users struct {
	db     *storage.DB
	params *argon2id.Params
	// dummyHash is checked against when an email is unknown, so a failed login
	// costs the same whether or not the account exists.
	dummyHash string
	now       func() time.Time
	stmts     readStmts // Get runs on every authenticated request
}

// NewUsers returns the user service. params nil means argon2id's defaults
// (64 MiB, 1 pass, 2 lanes); tests pass cheaper ones.
func NewUsers(db *storage.DB, params *argon2id.Params) *Users {
	if params == nil {
		params = argon2id.DefaultParams
	}
	dummy, _ := argon2id.CreateHash("pilcrow-dummy-password", params)
	return &Users{db: db, params: params, dummyHash: dummy, now: time.Now}
}

// NewUser is the input to Create.
type NewUser struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	Password string `json:"password"`
}

// UserUpdate changes some of a user's attributes; nil fields are left alone.
type UserUpdate struct {
	Name     *string `json:"name"`
	Role     *Role   `json:"role"`
	Password *string `json:"password"`
	// Disabled true disables the account (ending its sessions and revoking
	// its tokens); false enables it again.
	Disabled *bool `json:"disabled"`
}

func validateEmail(v *ValidationError, email string) string {
	email = strings.TrimSpace(email)
	if email == "" {
		v.Add("/email", "is required")
		return email
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 {
		v.Add("/email", "is not a valid email address")
	}
	return email
}

func validatePassword(v *ValidationError, pw string) {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLength:
		v.Add("/password", fmt.Sprintf("must be at least %d characters", MinPasswordLength))
	case len(pw) > 1024:
		v.Add("/password", "must be at most 1024 bytes")
	}
}

// Create adds a user.
func (s *Users) Create(ctx context.Context, in NewUser) (*User, error) {
	var u *User
	err := s.db.Tx(ctx, func(tx *sql.Tx) (err error) {
		u, err = s.create(ctx, tx, in)
		return err
	})
	return u, err
}

// create adds a user in tx (an invite spends its link in the same one).
func (s *Users) create(ctx context.Context, tx *sql.Tx, in NewUser) (*User, error) {
	var v ValidationError
	in.Email = validateEmail(&v, in.Email)
	if !in.Role.Valid() {
		v.Add("/role", `must be one of "admin", "editor", "author"`)
	}
	validatePassword(&v, in.Password)
	if utf8.RuneCountInString(in.Name) > 200 {
		v.Add("/name", "must be at most 200 characters")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	hash, err := argon2id.CreateHash(in.Password, s.params)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	u := &User{ID: uuid.Must(uuid.NewV7()).String(), Email: in.Email, Name: in.Name, Role: in.Role, CreatedAt: now, UpdatedAt: now}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.Name, string(u.Role), hash, now.UnixMilli(), now.UnixMilli())
	if storage.IsUniqueViolation(err) {
		return nil, &ValidationError{Errors: []FieldError{{"/email", "is already used by another account"}}}
	}
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// CreateFirstAdmin creates in as the site's first user, with the admin role,
// only if the site has no user yet; created is false when one exists. The
// check and the insert are one statement in one write transaction, so of
// several processes starting on one database at once, one creates the admin
// and the others find it: SQLite's one writer runs them in turn, and
// PostgreSQL's serializable transactions (storage) roll back and run again
// the one that would have missed the other's admin.
func (s *Users) CreateFirstAdmin(ctx context.Context, in NewUser) (u *User, created bool, err error) {
	in.Role = RoleAdmin
	var v ValidationError
	in.Email = validateEmail(&v, in.Email)
	validatePassword(&v, in.Password)
	if err := v.Err(); err != nil {
		return nil, false, err
	}
	hash, err := argon2id.CreateHash(in.Password, s.params)
	if err != nil {
		return nil, false, fmt.Errorf("hash password: %w", err)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	u = &User{ID: uuid.Must(uuid.NewV7()).String(), Email: in.Email, Name: in.Name, Role: RoleAdmin, CreatedAt: now, UpdatedAt: now}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at)
			SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM users)`,
			u.ID, u.Email, u.Name, string(u.Role), hash, now.UnixMilli(), now.UnixMilli())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		created = n == 1
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("create first admin: %w", err)
	}
	if !created {
		return nil, false, nil
	}
	return u, true, nil
}

const userColumns = `id, email, name, role, disabled_at, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var us userScan
	if err := row.Scan(us.dest()...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	return us.user(), nil
}

// userScan receives userColumns, for statements that read a user's row
// with others' columns (a token and its owner).
type userScan struct {
	u                User
	role             string
	created, updated int64
	disabled         sql.NullInt64
}

func (s *userScan) dest() []any {
	return []any{&s.u.ID, &s.u.Email, &s.u.Name, &s.role, &s.disabled, &s.created, &s.updated}
}

func (s *userScan) user() *User {
	u := s.u
	u.Role = Role(s.role)
	u.Disabled = s.disabled.Valid
	u.CreatedAt = time.UnixMilli(s.created).UTC()
	u.UpdatedAt = time.UnixMilli(s.updated).UTC()
	return &u
}

// Get returns the user with the given id.
func (s *Users) Get(ctx context.Context, id string) (*User, error) {
	u, err := scanUser(s.stmts.queryRow(ctx, s.db.Read(), `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("get user: %w", err)
	}
	return u, err
}

// List returns every user, oldest first. Sites have tens of users, not millions.
func (s *Users) List(ctx context.Context) ([]*User, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	users := []*User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// Count returns how many users exist.
func (s *Users) Count(ctx context.Context) (int, error) {
	var n int
	err := s.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// Authenticate checks an email and password pair.
func (s *Users) Authenticate(ctx context.Context, email, password string) (*User, error) {
	var id, hash string
	var disabled sql.NullInt64
	err := s.db.Read().QueryRowContext(ctx, `SELECT id, password_hash, disabled_at FROM users WHERE email = ?`, strings.TrimSpace(email)).Scan(&id, &hash, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		_, _ = argon2id.ComparePasswordAndHash(password, s.dummyHash)
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if !ok {
		return nil, ErrInvalidCredentials
	}
	// Said only to someone who knows the password.
	if disabled.Valid {
		return nil, ErrAccountDisabled
	}
	return s.Get(ctx, id)
}

// Update changes a user. Demoting or deleting the last admin is refused, so a
// site can never lock itself out.
func (s *Users) Update(ctx context.Context, id string, in UserUpdate) (*User, error) {
	var v ValidationError
	if in.Role != nil && !in.Role.Valid() {
		v.Add("/role", `must be one of "admin", "editor", "author"`)
	}
	if in.Password != nil {
		validatePassword(&v, *in.Password)
	}
	if in.Name != nil && utf8.RuneCountInString(*in.Name) > 200 {
		v.Add("/name", "must be at most 200 characters")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var hash string
	if in.Password != nil {
		h, err := argon2id.CreateHash(*in.Password, s.params)
		if err != nil {
			return nil, fmt.Errorf("hash password: %w", err)
		}
		hash = h
	}
	now := s.now().UTC().UnixMilli()
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var role string
		if err := tx.QueryRowContext(ctx, `SELECT role FROM users WHERE id = ?`, id).Scan(&role); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if in.Role != nil && Role(role) == RoleAdmin && *in.Role != RoleAdmin {
			if err := ensureAnotherAdmin(ctx, tx, id, "demoted"); err != nil {
				return err
			}
		}
		if in.Disabled != nil && *in.Disabled && Role(role) == RoleAdmin {
			if err := ensureAnotherAdmin(ctx, tx, id, "disabled"); err != nil {
				return err
			}
		}
		if in.Disabled != nil {
			if err := setDisabled(ctx, tx, id, *in.Disabled, now); err != nil {
				return err
			}
		}
		if in.Name != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET name = ?, updated_at = ? WHERE id = ?`, *in.Name, now, id); err != nil {
				return err
			}
		}
		if in.Role != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, updated_at = ? WHERE id = ?`, string(*in.Role), now, id); err != nil {
				return err
			}
		}
		if in.Password != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, now, id); err != nil {
				return err
			}
			// A new password signs the user out everywhere else.
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
			return nil, err
		}
		return nil, fmt.Errorf("update user: %w", err)
	}
	return s.Get(ctx, id)
}

// Delete removes a user with their sessions, tokens and pending links.
// Their entries and media stay: with reassignTo "" they are left without an
// author (shown as a deleted user), else they pass to the user reassignTo.
// Revisions keep the deleted id, as history.
func (s *Users) Delete(ctx context.Context, id, reassignTo string) error {
	if reassignTo == id && id != "" {
		return &ValidationError{Errors: []FieldError{{"/reassignTo", "cannot be the user being deleted"}}}
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var role string
		if err := tx.QueryRowContext(ctx, `SELECT role FROM users WHERE id = ?`, id).Scan(&role); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if Role(role) == RoleAdmin {
			if err := ensureAnotherAdmin(ctx, tx, id, "deleted"); err != nil {
				return err
			}
		}
		if reassignTo != "" {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE id = ?`, reassignTo).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return &ValidationError{Errors: []FieldError{{"/reassignTo", "names no user"}}}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE entries SET author_id = ? WHERE author_id = ?`, reassignTo, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE media SET owner_id = ? WHERE owner_id = ?`, reassignTo, id); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
		return err
	})
	var ve *ValidationError
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) && !errors.As(err, &ve) {
		return fmt.Errorf("delete user: %w", err)
	}
	return err
}

// ensureAnotherAdmin refuses to take id's admin power (what names how) when
// no other enabled admin would remain.
func ensureAnotherAdmin(ctx context.Context, tx *sql.Tx, id, what string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL AND id <> ?`, id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return conflictf("the last enabled admin cannot be %s: the site must keep at least one admin", what)
	}
	return nil
}

// setDisabled disables (ending sessions, revoking tokens, dropping pending
// reset links) or enables an account. Revoked tokens stay revoked when the
// account is enabled again: whoever held them was locked out on purpose.
func setDisabled(ctx context.Context, tx *sql.Tx, id string, disabled bool, now int64) error {
	if !disabled {
		_, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = NULL, updated_at = ? WHERE id = ? AND disabled_at IS NOT NULL`, now, id)
		return err
	}
	// Each statement gets only the parameters it names: PostgreSQL cannot
	// type a parameter a statement never uses.
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`UPDATE users SET disabled_at = ?1, updated_at = ?1 WHERE id = ?2 AND disabled_at IS NULL`, []any{now, id}},
		{`DELETE FROM sessions WHERE user_id = ?`, []any{id}},
		{`UPDATE api_tokens SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL`, []any{now, id}},
		{`DELETE FROM account_links WHERE user_id = ?`, []any{id}},
	} {
		if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
			return err
		}
	}
	return nil
}

// ChangePassword sets a user's own password after checking the current one,
// and ends every other session of theirs: keepSession (a session id) stays.
func (s *Users) ChangePassword(ctx context.Context, id, current, next, keepSession string) error {
	var v ValidationError
	if current == "" {
		v.Add("/current", "is required")
	}
	if utf8.RuneCountInString(next) < MinPasswordLength {
		v.Add("/new", fmt.Sprintf("must be at least %d characters", MinPasswordLength))
	} else if len(next) > 1024 {
		v.Add("/new", "must be at most 1024 bytes")
	}
	if err := v.Err(); err != nil {
		return err
	}
	var hash string
	if err := s.db.Read().QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = ?`, id).Scan(&hash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return fmt.Errorf("change password: %w", err)
	}
	ok, err := argon2id.ComparePasswordAndHash(current, hash)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if !ok {
		return &ValidationError{Errors: []FieldError{{"/current", "is not your current password"}}}
	}
	newHash, err := argon2id.CreateHash(next, s.params)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, newHash, s.now().UTC().UnixMilli(), id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND id IS DISTINCT FROM ?`, id, keepSession)
		return err
	})
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return nil
}

func hashPassword(s *Users, pw string) (string, error) {
	h, err := argon2id.CreateHash(pw, s.params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}
