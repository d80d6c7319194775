package team_test

import (
	"context"
	"testing"

	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

func TestSetup(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		old := must[string](t)(f.accounts.SetupToken(ctx))
		token := must[string](t)(f.accounts.SetupToken(ctx))
		if old == "" || token == "" || old == token {
			t.Fatalf("setup tokens %q, %q", old, token)
		}
		// Only the hash is stored.
		if v, _, _ := f.db.Setting(ctx, team.SetupTokenSetting); v != team.HashSecret(token) {
			t.Fatalf("stored %q", v)
		}

		// Bad input is refused before the token is looked at, and does not consume it.
		_, _, err := f.accounts.CompleteSetup(ctx, token, "owner@example.com", "Owner", "short", "Acme")
		storetest.WantCode(t, err, "weak_password")
		_, _, err = f.accounts.CompleteSetup(ctx, token, "owner@example.com", "Owner", pw, " ")
		storetest.WantCode(t, err, "invalid_name")
		// A superseded, wrong or empty token is refused.
		for _, bad := range []string{old, "nope", ""} {
			_, _, err = f.accounts.CompleteSetup(ctx, bad, "owner@example.com", "Owner", pw, "Acme")
			storetest.WantCode(t, err, "invalid_setup_token")
		}

		u, w, err := f.accounts.CompleteSetup(ctx, token, "Owner@Example.com", "Olive Owner", pw, "Acme")
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "owner@example.com" || !u.Operator || w.Name != "Acme" || w.Timezone != "UTC" || w.ID == "" {
			t.Fatalf("setup made %+v, %+v", u, w)
		}
		stored := must[team.Workspace](t)(f.team.Workspace(ctx, w.ID))
		if stored != w {
			t.Fatalf("stored workspace %+v, returned %+v", stored, w)
		}
		m := must[team.Member](t)(f.accounts.Member(ctx, w.ID, u.ID))
		if m.Role != team.RoleOwner {
			t.Fatalf("setup member = %+v", m)
		}
		if _, _, _, err := f.accounts.Login(ctx, "owner@example.com", pw); err != nil {
			t.Fatal(err)
		}
		if b, err := f.db.Balance(ctx, w.ID); err != nil || b.Balance != 0 {
			t.Fatalf("wallet %+v, %v", b, err)
		}

		// The token works once; after setup no new token is made.
		_, _, err = f.accounts.CompleteSetup(ctx, token, "second@example.com", "Second", pw, "Other")
		storetest.WantCode(t, err, "setup_done")
		if tok := must[string](t)(f.accounts.SetupToken(ctx)); tok != "" {
			t.Fatalf("SetupToken after setup = %q", tok)
		}
		if _, ok, _ := f.db.Setting(ctx, team.SetupTokenSetting); ok {
			t.Fatal("the setup token is still stored")
		}
	})
}

func TestSetupTokenAfterUsers(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		token := must[string](t)(f.accounts.SetupToken(ctx))
		f.user(t, "someone@example.com")
		if tok := must[string](t)(f.accounts.SetupToken(ctx)); tok != "" {
			t.Fatalf("SetupToken with a user = %q", tok)
		}
		_, _, err := f.accounts.CompleteSetup(ctx, token, "owner@example.com", "Owner", pw, "Acme")
		storetest.WantCode(t, err, "setup_done")
	})
}

// Concurrent setups with the one token: exactly one wins.
func TestConcurrentSetup(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		token := must[string](t)(f.accounts.SetupToken(ctx))
		errc := make(chan error, 4)
		for i := range 4 {
			go func() {
				_, _, err := f.accounts.CompleteSetup(ctx, token, "owner"+string(rune('0'+i))+"@example.com", "Owner", pw, "Acme")
				errc <- err
			}()
		}
		wins := 0
		for range 4 {
			if err := <-errc; err == nil {
				wins++
			} else {
				storetest.WantCode(t, err, "setup_done")
			}
		}
		ws := must[[]team.Workspace](t)(f.team.Workspaces(ctx))
		if wins != 1 || len(ws) != 1 {
			t.Fatalf("%d setups won, %d workspaces", wins, len(ws))
		}
	})
}
