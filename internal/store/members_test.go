package store_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

var acctT0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func acctCheck(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func acctWantCode(t *testing.T, err error, code string) {
	t.Helper()
	if !errs.Is(err, code) {
		t.Fatalf("got %v, want code %q", err, code)
	}
}

func TestUsersStore(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u := team.User{ID: "usr_1", Email: "a@example.com", Name: "A", Operator: true, CreatedAt: acctT0}
		acctCheck(t, db.CreateUser(ctx, u, "$argon2id$hash"))
		acctWantCode(t, db.CreateUser(ctx, team.User{ID: "usr_2", Email: "a@example.com", CreatedAt: acctT0}, "x"), "email_taken")
		got, hash, err := db.UserByEmail(ctx, "a@example.com")
		acctCheck(t, err)
		if got != u || hash != "$argon2id$hash" {
			t.Fatalf("UserByEmail = %+v, %q", got, hash)
		}
		got, err = db.User(ctx, "usr_1")
		if err != nil || got != u {
			t.Fatalf("User = %+v, %v", got, err)
		}
		_, _, err = db.UserByEmail(ctx, "b@example.com")
		acctWantCode(t, err, "user_not_found")
		acctCheck(t, db.SetPasswordHash(ctx, "usr_1", "new"))
		if _, hash, _ = db.UserByEmail(ctx, "a@example.com"); hash != "new" {
			t.Fatalf("hash after SetPasswordHash = %q", hash)
		}
		acctWantCode(t, db.SetPasswordHash(ctx, "usr_nope", "new"), "user_not_found")
	})
}

func TestSessionsStore(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		acctCheck(t, db.CreateUser(ctx, team.User{ID: "usr_1", Email: "a@example.com", CreatedAt: acctT0}, ""))
		acctCheck(t, db.CreateUser(ctx, team.User{ID: "usr_2", Email: "b@example.com", CreatedAt: acctT0}, ""))
		s := team.Session{UserID: "usr_1", CSRFToken: "csrf", CreatedAt: acctT0, ExpiresAt: acctT0.Add(time.Hour)}
		acctCheck(t, db.CreateSession(ctx, "h1", s))
		acctCheck(t, db.CreateSession(ctx, "h2", team.Session{UserID: "usr_1", CSRFToken: "c2", CreatedAt: acctT0, ExpiresAt: acctT0.Add(2 * time.Hour)}))
		acctCheck(t, db.CreateSession(ctx, "h3", team.Session{UserID: "usr_2", CSRFToken: "c3", CreatedAt: acctT0, ExpiresAt: acctT0.Add(3 * time.Hour)}))
		got, err := db.Session(ctx, "h1")
		if err != nil || got != s {
			t.Fatalf("Session = %+v, %v", got, err)
		}
		_, err = db.Session(ctx, "nope")
		acctWantCode(t, err, "invalid_session")

		acctCheck(t, db.ExtendSession(ctx, "h1", acctT0.Add(5*time.Hour)))
		acctCheck(t, db.ExtendSession(ctx, "h1", acctT0.Add(4*time.Hour))) // never backwards
		if got, _ := db.Session(ctx, "h1"); !got.ExpiresAt.Equal(acctT0.Add(5 * time.Hour)) {
			t.Fatalf("expiry %v", got.ExpiresAt)
		}

		n, err := db.DeleteExpiredSessions(ctx, acctT0.Add(2*time.Hour)) // h2 expires exactly now
		if err != nil || n != 1 {
			t.Fatalf("DeleteExpiredSessions = %d, %v", n, err)
		}
		_, err = db.Session(ctx, "h2")
		acctWantCode(t, err, "invalid_session")

		acctCheck(t, db.DeleteUserSessions(ctx, "usr_1"))
		_, err = db.Session(ctx, "h1")
		acctWantCode(t, err, "invalid_session")
		acctCheck(t, db.DeleteSession(ctx, "h3"))
		acctCheck(t, db.DeleteSession(ctx, "h3"))
		_, err = db.Session(ctx, "h3")
		acctWantCode(t, err, "invalid_session")

		// A new password ends the user's sessions.
		acctCheck(t, db.CreateSession(ctx, "h4", team.Session{UserID: "usr_2", CSRFToken: "c4", CreatedAt: acctT0, ExpiresAt: acctT0.Add(time.Hour)}))
		acctCheck(t, db.SetPasswordHash(ctx, "usr_2", "x"))
		_, err = db.Session(ctx, "h4")
		acctWantCode(t, err, "invalid_session")
	})
}

func TestMembersStore(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		acctCheck(t, db.CreateWorkspace(ctx, team.Workspace{ID: "ws_a", Name: "A", Timezone: "UTC", CreatedAt: acctT0}))
		acctCheck(t, db.CreateWorkspace(ctx, team.Workspace{ID: "ws_b", Name: "B", Timezone: "UTC", CreatedAt: acctT0}))
		for i, id := range []string{"usr_1", "usr_2", "usr_3"} {
			acctCheck(t, db.CreateUser(ctx, team.User{ID: id, Email: id + "@example.com", Name: id, CreatedAt: acctT0.Add(time.Duration(i) * time.Second)}, ""))
		}
		add := func(ws, user string, role team.Role, at time.Duration) team.Member {
			t.Helper()
			m, err := db.AddMember(ctx, team.Member{WorkspaceID: ws, UserID: user, Role: role, CreatedAt: acctT0.Add(at)})
			acctCheck(t, err)
			return m
		}
		m := add("ws_a", "usr_1", team.RoleOwner, 0)
		if m.Email != "usr_1@example.com" || m.Name != "usr_1" || m.WorkspaceName != "A" || m.Role != team.RoleOwner {
			t.Fatalf("AddMember = %+v", m)
		}
		add("ws_a", "usr_3", team.RoleMember, 2*time.Second)
		add("ws_a", "usr_2", team.RoleViewer, time.Second)
		add("ws_b", "usr_3", team.RoleOwner, 0)
		_, err := db.AddMember(ctx, team.Member{WorkspaceID: "ws_a", UserID: "usr_2", Role: team.RoleAdmin, CreatedAt: acctT0})
		acctWantCode(t, err, "already_member")

		ms, err := db.Members(ctx, "ws_a")
		acctCheck(t, err)
		if len(ms) != 3 || ms[0].UserID != "usr_1" || ms[1].UserID != "usr_2" || ms[2].UserID != "usr_3" {
			t.Fatalf("Members not oldest first: %+v", ms)
		}
		ms, err = db.Memberships(ctx, "usr_3")
		acctCheck(t, err)
		if len(ms) != 2 || ms[0].WorkspaceID != "ws_b" || ms[1].WorkspaceID != "ws_a" {
			t.Fatalf("Memberships = %+v", ms)
		}
		_, err = db.Member(ctx, "ws_b", "usr_1")
		acctWantCode(t, err, "member_not_found")

		_, err = db.SetRole(ctx, "ws_a", "usr_1", team.RoleAdmin)
		acctWantCode(t, err, "last_owner")
		_, err = db.SetRole(ctx, "ws_nope", "usr_1", team.RoleAdmin)
		acctWantCode(t, err, "member_not_found")
		m, err = db.SetRole(ctx, "ws_a", "usr_2", team.RoleBilling)
		if err != nil || m.Role != team.RoleBilling {
			t.Fatalf("SetRole = %+v, %v", m, err)
		}

		// RemoveMember revokes exactly the member's active keys of that workspace.
		revokedEarlier := acctT0.Add(-time.Hour)
		for _, k := range []struct{ id, ws, member string }{{"k1", "ws_a", "usr_3"}, {"k2", "ws_a", "usr_3"}, {"k3", "ws_a", "usr_3"}, {"k4", "ws_a", ""}, {"k5", "ws_b", "usr_3"}, {"k6", "ws_a", "usr_2"}} {
			acctCheck(t, db.CreateKey(ctx, team.APIKey{ID: k.id, WorkspaceID: k.ws, Name: k.id, Kind: team.KindInference, Prefix: "sk-", MemberID: k.member, CreatedAt: acctT0}, "hash-"+k.id))
		}
		_, err = db.RevokeKey(ctx, "ws_a", "k3", revokedEarlier)
		acctCheck(t, err)
		at := acctT0.Add(time.Hour)
		revoked, err := db.RemoveMember(ctx, "ws_a", "usr_3", at)
		if err != nil || len(revoked) != 2 || revoked[0] != "k1" || revoked[1] != "k2" {
			t.Fatalf("RemoveMember = %v, %v; want keys k1 and k2 revoked", revoked, err)
		}
		want := map[string]*time.Time{"k1": &at, "k2": &at, "k3": &revokedEarlier, "k4": nil, "k5": nil, "k6": nil}
		for id, w := range want {
			k, err := db.KeyByHash(ctx, "hash-"+id)
			acctCheck(t, err)
			if (w == nil) != (k.RevokedAt == nil) || w != nil && !k.RevokedAt.Equal(*w) {
				t.Errorf("key %s revoked at %v, want %v", id, k.RevokedAt, w)
			}
		}
		_, err = db.RemoveMember(ctx, "ws_a", "usr_3", at)
		acctWantCode(t, err, "member_not_found")
		_, err = db.RemoveMember(ctx, "ws_b", "usr_3", at)
		acctWantCode(t, err, "last_owner")
	})
}

func TestCompleteSetupStore(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u := team.User{ID: "usr_1", Email: "o@example.com", Name: "O", Operator: true, CreatedAt: acctT0}
		w := team.Workspace{ID: "ws_1", Name: "Acme", Timezone: "UTC", CreatedAt: acctT0}
		acctWantCode(t, db.CompleteSetup(ctx, "h", u, "x", w), "invalid_setup_token") // no token stored
		acctCheck(t, db.SetSetting(ctx, team.SetupTokenSetting, "h"))
		acctWantCode(t, db.CompleteSetup(ctx, "other", u, "x", w), "invalid_setup_token")
		if has, _ := db.HasUsers(ctx); has {
			t.Fatal("a refused setup stored a user")
		}
		acctCheck(t, db.CompleteSetup(ctx, "h", u, "x", w))
		m, err := db.Member(ctx, "ws_1", "usr_1")
		if err != nil || m.Role != team.RoleOwner {
			t.Fatalf("owner = %+v, %v", m, err)
		}
		if _, err := db.Balance(ctx, "ws_1"); err != nil {
			t.Fatalf("no wallet: %v", err)
		}
		acctCheck(t, db.SetSetting(ctx, team.SetupTokenSetting, "h2"))
		u2, w2 := u, w
		u2.ID, u2.Email, w2.ID = "usr_2", "p@example.com", "ws_2"
		acctWantCode(t, db.CompleteSetup(ctx, "h2", u2, "x", w2), "setup_done")
	})
}
