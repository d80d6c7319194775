package team_test

import (
	"context"
	"testing"

	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

type fixture struct {
	db       *store.DB
	clock    *storetest.Clock
	accounts *team.Accounts
	team     *team.Service
}

// each runs fn on SQLite and PostgreSQL with fresh services over one test clock.
func each(t *testing.T, fn func(t *testing.T, f fixture)) {
	storetest.EachAt(t, storetest.Start, func(t *testing.T, db *store.DB, c *storetest.Clock) {
		fn(t, fixture{db: db, clock: c, accounts: team.NewAccounts(db, c.Now), team: team.NewService(db, c.Now)})
	})
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

const pw = "correct horse battery"

func TestCreateUser(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		if has := must[bool](t)(f.accounts.HasUsers(ctx)); has {
			t.Fatal("a fresh database has users")
		}
		u := must[team.User](t)(f.accounts.CreateUser(ctx, "  Alice@Example.COM ", " Alice Liddell ", pw, false))
		if u.Email != "alice@example.com" || u.Name != "Alice Liddell" || u.Operator || u.ID == "" || !u.CreatedAt.Equal(f.clock.Now()) {
			t.Fatalf("user = %+v", u)
		}
		got := must[team.User](t)(f.accounts.UserByEmail(ctx, "ALICE@example.com"))
		if got != u {
			t.Fatalf("UserByEmail = %+v, want %+v", got, u)
		}
		if got := must[team.User](t)(f.accounts.User(ctx, u.ID)); got != u {
			t.Fatalf("User = %+v, want %+v", got, u)
		}
		if has := must[bool](t)(f.accounts.HasUsers(ctx)); !has {
			t.Fatal("HasUsers is false after CreateUser")
		}
		_, err := f.accounts.CreateUser(ctx, "alice@EXAMPLE.com", "Another Alice", pw, false)
		storetest.WantCode(t, err, "email_taken")
		op := must[team.User](t)(f.accounts.CreateUser(ctx, "root@localhost", "", pw, true))
		if !op.Operator || op.Name != "root" {
			t.Fatalf("operator = %+v (name defaults to the email's local part)", op)
		}
		_, err = f.accounts.UserByEmail(ctx, "nobody@example.com")
		storetest.WantCode(t, err, "user_not_found")
		_, err = f.accounts.User(ctx, "usr_nope")
		storetest.WantCode(t, err, "user_not_found")
	})
}

func TestCreateUserRejects(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		long := make([]byte, 201)
		for i := range long {
			long[i] = 'n'
		}
		tests := []struct {
			email, name, password, code string
		}{
			{"", "A", pw, "invalid_email"},
			{"not an email", "A", pw, "invalid_email"},
			{"Alice <alice@example.com>", "A", pw, "invalid_email"},
			{"alice@", "A", pw, "invalid_email"},
			{"a@example.com", string(long), pw, "invalid_name"},
			{"a@example.com", "A", "short", "weak_password"},
			{"a@example.com", "A", string(make([]byte, 2000)), "password_too_long"},
		}
		for _, tt := range tests {
			_, err := f.accounts.CreateUser(ctx, tt.email, tt.name, tt.password, false)
			storetest.WantCode(t, err, tt.code)
		}
		if has := must[bool](t)(f.accounts.HasUsers(ctx)); has {
			t.Fatal("a rejected user was stored")
		}
	})
}
