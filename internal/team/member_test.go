package team_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

func (f fixture) workspace(t *testing.T, name string) team.Workspace {
	t.Helper()
	return must[team.Workspace](t)(f.team.CreateWorkspace(context.Background(), team.Workspace{Name: name}))
}

func (f fixture) user(t *testing.T, email string) team.User {
	t.Helper()
	return must[team.User](t)(f.accounts.CreateUser(context.Background(), email, "", pw, false))
}

func TestMembers(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		acme, globex := f.workspace(t, "Acme"), f.workspace(t, "Globex")
		alice, bob := f.user(t, "alice@example.com"), f.user(t, "bob@example.com")

		m := must[team.Member](t)(f.accounts.AddMember(ctx, acme.ID, alice.ID, team.RoleOwner))
		want := team.Member{WorkspaceID: acme.ID, WorkspaceName: "Acme", UserID: alice.ID, Email: alice.Email, Name: alice.Name, Role: team.RoleOwner, CreatedAt: f.clock.Now()}
		if m != want {
			t.Fatalf("AddMember = %+v, want %+v", m, want)
		}
		f.clock.Advance(time.Second)
		must[team.Member](t)(f.accounts.AddMember(ctx, acme.ID, bob.ID, team.RoleViewer))
		f.clock.Advance(time.Second)
		must[team.Member](t)(f.accounts.AddMember(ctx, globex.ID, alice.ID, team.RoleBilling))

		_, err := f.accounts.AddMember(ctx, acme.ID, bob.ID, team.RoleAdmin)
		storetest.WantCode(t, err, "already_member")
		_, err = f.accounts.AddMember(ctx, acme.ID, "usr_nope", team.RoleAdmin)
		storetest.WantCode(t, err, "user_not_found")
		_, err = f.accounts.AddMember(ctx, "ws_nope", bob.ID, team.RoleAdmin)
		storetest.WantCode(t, err, "workspace_not_found")
		_, err = f.accounts.AddMember(ctx, globex.ID, bob.ID, "superuser")
		storetest.WantCode(t, err, "invalid_role")

		ms := must[[]team.Member](t)(f.accounts.Members(ctx, acme.ID))
		if len(ms) != 2 || ms[0].UserID != alice.ID || ms[1].UserID != bob.ID || ms[1].Role != team.RoleViewer || ms[1].Email != "bob@example.com" {
			t.Fatalf("Members = %+v", ms)
		}
		ws := must[[]team.Member](t)(f.accounts.Memberships(ctx, alice.ID))
		if len(ws) != 2 || ws[0].WorkspaceID != acme.ID || ws[1].WorkspaceID != globex.ID || ws[1].Role != team.RoleBilling || ws[1].WorkspaceName != "Globex" {
			t.Fatalf("Memberships = %+v", ws)
		}
		if got := must[[]team.Member](t)(f.accounts.Memberships(ctx, "usr_nope")); len(got) != 0 {
			t.Fatalf("Memberships of nobody = %+v", got)
		}

		got := must[team.Member](t)(f.accounts.Member(ctx, acme.ID, bob.ID))
		if got.Role != team.RoleViewer {
			t.Fatalf("Member = %+v", got)
		}
		// A user outside a workspace is refused, whether or not the workspace exists.
		for _, ws := range []string{globex.ID, "ws_nope"} {
			_, err = f.accounts.Member(ctx, ws, bob.ID)
			storetest.WantCode(t, err, "not_a_member")
			if errs.KindOf(err) != errs.Forbidden {
				t.Fatalf("kind %s", errs.KindOf(err))
			}
		}

		m = must[team.Member](t)(f.accounts.SetRole(ctx, acme.ID, bob.ID, team.RoleAdmin))
		if m.Role != team.RoleAdmin || m.Email != bob.Email {
			t.Fatalf("SetRole = %+v", m)
		}
		_, err = f.accounts.SetRole(ctx, globex.ID, bob.ID, team.RoleAdmin)
		storetest.WantCode(t, err, "member_not_found")
		_, err = f.accounts.SetRole(ctx, acme.ID, bob.ID, "")
		storetest.WantCode(t, err, "invalid_role")
	})
}

func TestLastOwner(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		w := f.workspace(t, "Acme")
		alice, bob := f.user(t, "alice@example.com"), f.user(t, "bob@example.com")
		must[team.Member](t)(f.accounts.AddMember(ctx, w.ID, alice.ID, team.RoleOwner))
		must[team.Member](t)(f.accounts.AddMember(ctx, w.ID, bob.ID, team.RoleAdmin))

		_, err := f.accounts.SetRole(ctx, w.ID, alice.ID, team.RoleAdmin)
		storetest.WantCode(t, err, "last_owner")
		storetest.WantCode(t, f.accounts.RemoveMember(ctx, w.ID, alice.ID), "last_owner")
		// Owner to owner is no change and allowed.
		must[team.Member](t)(f.accounts.SetRole(ctx, w.ID, alice.ID, team.RoleOwner))

		// With a second owner, the first may step down, and then the second is the last.
		must[team.Member](t)(f.accounts.SetRole(ctx, w.ID, bob.ID, team.RoleOwner))
		must[team.Member](t)(f.accounts.SetRole(ctx, w.ID, alice.ID, team.RoleViewer))
		storetest.WantCode(t, f.accounts.RemoveMember(ctx, w.ID, bob.ID), "last_owner")
		if err := f.accounts.RemoveMember(ctx, w.ID, alice.ID); err != nil {
			t.Fatal(err)
		}
		storetest.WantCode(t, f.accounts.RemoveMember(ctx, w.ID, alice.ID), "member_not_found")
		ms := must[[]team.Member](t)(f.accounts.Members(ctx, w.ID))
		if len(ms) != 1 || ms[0].UserID != bob.ID || ms[0].Role != team.RoleOwner {
			t.Fatalf("Members = %+v", ms)
		}
	})
}

func TestRemoveMemberRevokesTheirKeys(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		acme, globex := f.workspace(t, "Acme"), f.workspace(t, "Globex")
		owner, carol := f.user(t, "owner@example.com"), f.user(t, "carol@example.com")
		must[team.Member](t)(f.accounts.AddMember(ctx, acme.ID, owner.ID, team.RoleOwner))
		must[team.Member](t)(f.accounts.AddMember(ctx, acme.ID, carol.ID, team.RoleMember))
		must[team.Member](t)(f.accounts.AddMember(ctx, globex.ID, carol.ID, team.RoleMember))

		key := func(ws, member, name string) string {
			t.Helper()
			_, secret, err := f.team.CreateKey(ctx, team.APIKey{WorkspaceID: ws, Name: name, MemberID: member, Project: "prod"})
			if err != nil {
				t.Fatal(err)
			}
			return secret
		}
		carols1, carols2 := key(acme.ID, carol.ID, "carol laptop"), key(acme.ID, carol.ID, "carol ci")
		ownersKey := key(acme.ID, owner.ID, "owner")
		projectKey := key(acme.ID, "", "prod service")
		carolsElsewhere := key(globex.ID, carol.ID, "carol at globex")

		f.clock.Advance(time.Hour)
		if err := f.accounts.RemoveMember(ctx, acme.ID, carol.ID); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{carols1, carols2} {
			k, err := f.db.KeyByHash(ctx, team.HashSecret(s))
			if err != nil {
				t.Fatal(err)
			}
			if k.Active() || !k.RevokedAt.Equal(f.clock.Now()) {
				t.Fatalf("key %s of the removed member: revoked at %v", k.Name, k.RevokedAt)
			}
			_, err = f.team.Authenticate(ctx, s)
			storetest.WantCode(t, err, "invalid_api_key")
		}
		for _, s := range []string{ownersKey, projectKey, carolsElsewhere} {
			k, err := f.db.KeyByHash(ctx, team.HashSecret(s))
			if err != nil || !k.Active() {
				t.Fatalf("key %s was revoked with another member (%v)", k.Name, err)
			}
		}
		_, err := f.accounts.Member(ctx, acme.ID, carol.ID)
		storetest.WantCode(t, err, "not_a_member")
		if ms := must[[]team.Member](t)(f.accounts.Memberships(ctx, carol.ID)); len(ms) != 1 || ms[0].WorkspaceID != globex.ID {
			t.Fatalf("Memberships after removal = %+v", ms)
		}
	})
}

// Two owners demoting each other at the same moment must not leave the workspace without one.
func TestConcurrentDemotionsKeepAnOwner(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		for round := range 5 {
			w := f.workspace(t, "Acme")
			a := f.user(t, "a"+string(rune('0'+round))+"@example.com")
			b := f.user(t, "b"+string(rune('0'+round))+"@example.com")
			must[team.Member](t)(f.accounts.AddMember(ctx, w.ID, a.ID, team.RoleOwner))
			must[team.Member](t)(f.accounts.AddMember(ctx, w.ID, b.ID, team.RoleOwner))
			errc := make(chan error, 2)
			go func() { _, err := f.accounts.SetRole(ctx, w.ID, a.ID, team.RoleAdmin); errc <- err }()
			go func() { errc <- f.accounts.RemoveMember(ctx, w.ID, b.ID) }()
			e1, e2 := <-errc, <-errc
			if (e1 == nil) == (e2 == nil) {
				t.Fatalf("round %d: want exactly one success, got %v and %v", round, e1, e2)
			}
			if e1 != nil && !errs.Is(e1, "last_owner") || e2 != nil && !errs.Is(e2, "last_owner") {
				t.Fatalf("round %d: %v, %v", round, e1, e2)
			}
			owners := 0
			for _, m := range must[[]team.Member](t)(f.accounts.Members(ctx, w.ID)) {
				if m.Role == team.RoleOwner {
					owners++
				}
			}
			if owners != 1 {
				t.Fatalf("round %d: %d owners", round, owners)
			}
		}
	})
}
