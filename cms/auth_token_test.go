package cms

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/pilcrow-cms/pilcrow/storage"
)

var cheapHash = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func newAuthEnv(t testing.TB) (*Auth, *Users) {
	t.Helper()
	_, db := newContentEnv(t)
	users := NewUsers(db, cheapHash)
	return NewAuth(db, users), users
}

// TokenUser reads a token and its owner in one statement: what it returns
// is the owner as stored now, and every token that must not work is
// ErrNotFound.
func TestTokenUser(t *testing.T) {
	ctx := context.Background()
	auth, users := newAuthEnv(t)
	now := time.Now().UTC()
	auth.SetClock(func() time.Time { return now })
	owner, err := users.Create(ctx, NewUser{Email: "owner@example.com", Name: "Owner", Role: RoleEditor, Password: "a long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := users.Create(ctx, NewUser{Email: "other@example.com", Name: "Other", Role: RoleAuthor, Password: "a long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	soon := now.Add(time.Hour)
	_, plain, err := auth.CreateToken(ctx, owner, NewToken{Name: "plain"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, expiring, err := auth.CreateToken(ctx, owner, NewToken{Name: "expiring", ExpiresAt: &soon}, nil)
	if err != nil {
		t.Fatal(err)
	}
	revokedTok, revoked, err := auth.CreateToken(ctx, owner, NewToken{Name: "revoked"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.RevokeToken(ctx, owner.ID, revokedTok.ID); err != nil {
		t.Fatal(err)
	}
	_, ofOther, err := auth.CreateToken(ctx, other, NewToken{Name: "other's"}, nil)
	if err != nil {
		t.Fatal(err)
	}

	cred, err := auth.TokenUser(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	if u := cred.User; u.ID != owner.ID || u.Email != owner.Email || u.Name != "Owner" || u.Role != RoleEditor || u.Disabled ||
		!u.CreatedAt.Equal(owner.CreatedAt) || cred.Token.Name != "plain" || cred.Token.ExpiresAt != nil {
		t.Fatalf("credential = %+v / %+v, want the owner %+v and the token named plain", cred.User, cred.Token, owner)
	}
	if cred, err := auth.TokenUser(ctx, ofOther); err != nil || cred.User.ID != other.ID || cred.User.Role != RoleAuthor {
		t.Fatalf("the other user's token = %+v, %v", cred, err)
	}
	if cred, err := auth.TokenUser(ctx, expiring); err != nil || cred.Token.ExpiresAt == nil || !cred.Token.ExpiresAt.Equal(soon.Truncate(time.Millisecond)) {
		t.Fatalf("an unexpired token = %+v, %v", cred, err)
	}

	// A role change shows on the next request.
	role := RoleAdmin
	if _, err := users.Update(ctx, owner.ID, UserUpdate{Role: &role}); err != nil {
		t.Fatal(err)
	}
	if cred, err := auth.TokenUser(ctx, plain); err != nil || cred.User.Role != RoleAdmin {
		t.Fatalf("after promotion = %+v, %v", cred, err)
	}

	now = soon.Add(time.Millisecond)
	for _, tc := range []struct{ name, secret string }{
		{"expired", expiring},
		{"revoked", revoked},
		{"unknown", APITokenPrefix + "no-such-token"},
		{"no prefix", "not-a-token"},
		{"empty", ""},
	} {
		if _, err := auth.TokenUser(ctx, tc.secret); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s token: %v, want ErrNotFound", tc.name, err)
		}
	}
	disabled := true
	if _, err := users.Update(ctx, other.ID, UserUpdate{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.TokenUser(ctx, ofOther); !errors.Is(err, ErrNotFound) {
		t.Errorf("a disabled user's token: %v, want ErrNotFound", err)
	}
	if _, err := auth.TokenUser(ctx, plain); err != nil {
		t.Errorf("the owner's token after another user was disabled: %v", err)
	}
}

// BenchmarkTokenUser is the lookup every token request makes, on a fresh
// database and in a server started on one that ANALYZE has run on (as
// PRAGMA optimize would): with sqlite_stat4 written, a plain join of the
// token and its owner was prepared again at every execution (29 µs
// against 8.5 µs here).
//
//	go test ./cms -run '^$' -bench TokenUser -benchtime 20000x
var benchTokenUsers = 50

func BenchmarkTokenUser(b *testing.B) {
	for _, analyzed := range []bool{false, true} {
		name := "fresh"
		if analyzed {
			name = "analyzed"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			auth, users := newAuthEnv(b)
			var secret string
			for i := range benchTokenUsers {
				u, err := users.Create(ctx, NewUser{Email: "u" + strconv.Itoa(i) + "@example.com", Name: "U", Role: RoleEditor, Password: "a long enough password"})
				if err != nil {
					b.Fatal(err)
				}
				if _, secret, err = auth.CreateToken(ctx, u, NewToken{Name: "t"}, nil); err != nil {
					b.Fatal(err)
				}
			}
			if analyzed {
				if auth.db.Dialect() == storage.Postgres {
					b.Skip("sqlite_stat4 is SQLite's")
				}
				if _, err := auth.db.Write().ExecContext(ctx, `ANALYZE`); err != nil {
					b.Fatal(err)
				}
				// A server started on the analyzed database.
				db, err := storage.OpenSpec(ctx, "sqlite:"+auth.db.Path(), storage.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
				auth = NewAuth(db, NewUsers(db, cheapHash))
			}
			for b.Loop() {
				if _, err := auth.TokenUser(ctx, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
