package team_test

import (
	"context"
	"testing"

	"spectra/internal/errs"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// Issue 11, item 10: a key never does more than its member's current role allows.
// Authenticate reads the role at each use, so a demotion bounds the member's keys at
// once (and a promotion lifts the bound again); a user who is no longer a member holds
// no working key; a key with no member, or whose member_id is a mere label, is bounded
// by its kind alone.
func TestKeysFollowTheirMembersCurrentRole(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		acme, globex := f.workspace(t, "Acme"), f.workspace(t, "Globex")
		owner, ann := f.user(t, "owner@example.com"), f.user(t, "ann@example.com")
		must[team.Member](t)(f.accounts.AddMember(ctx, acme.ID, owner.ID, team.RoleOwner))
		must[team.Member](t)(f.accounts.AddMember(ctx, acme.ID, ann.ID, team.RoleAdmin))
		must[team.Member](t)(f.accounts.AddMember(ctx, globex.ID, ann.ID, team.RoleMember))

		var changed []string
		f.accounts.OnRoleChanged(func(ws, user string) { changed = append(changed, ws+"/"+user) })

		_, adminSecret, err := f.team.CreateKey(ctx, team.APIKey{WorkspaceID: acme.ID, Name: "ann admin", Kind: team.KindAdmin, MemberID: ann.ID})
		if err != nil {
			t.Fatal(err)
		}
		_, inferSecret, err := f.team.CreateKey(ctx, team.APIKey{WorkspaceID: acme.ID, Name: "ann laptop", MemberID: ann.ID})
		if err != nil {
			t.Fatal(err)
		}
		_, labelSecret, err := f.team.CreateKey(ctx, team.APIKey{WorkspaceID: acme.ID, Name: "ci", MemberID: "ci-bot"})
		if err != nil {
			t.Fatal(err)
		}
		_, plainSecret, err := f.team.CreateKey(ctx, team.APIKey{WorkspaceID: acme.ID, Name: "service", Kind: team.KindAdmin})
		if err != nil {
			t.Fatal(err)
		}
		use := func(secret string, a team.Action) error {
			t.Helper()
			k, err := f.team.Authenticate(ctx, secret)
			if err != nil {
				t.Fatalf("authenticate: %v", err)
			}
			return k.RoleAllows(a)
		}
		wantAllowed := func(secret string, a team.Action, allowed bool) {
			t.Helper()
			err := use(secret, a)
			if allowed && err != nil {
				t.Errorf("%s: refused: %v", a, err)
			}
			if !allowed {
				storetest.WantCode(t, err, team.ErrKeyRole)
				if errs.KindOf(err) != errs.Forbidden {
					t.Errorf("%s: kind %v, want forbidden", a, errs.KindOf(err))
				}
			}
		}

		// An admin: the admin key pays and reads, the inference key is used.
		wantAllowed(adminSecret, team.ActManageBilling, true)
		wantAllowed(adminSecret, team.ActViewUsage, true)
		wantAllowed(inferSecret, team.ActUseKeys, true)

		// Demoted to member: the admin key still reads (a member reads usage and
		// billing) but no longer pays; the inference key still works.
		must[team.Member](t)(f.accounts.SetRole(ctx, acme.ID, ann.ID, team.RoleMember))
		wantAllowed(adminSecret, team.ActManageBilling, false)
		wantAllowed(adminSecret, team.ActManageKeys, false)
		wantAllowed(adminSecret, team.ActViewUsage, true)
		wantAllowed(inferSecret, team.ActUseKeys, true)

		// Demoted to viewer: the inference key stops too.
		must[team.Member](t)(f.accounts.SetRole(ctx, acme.ID, ann.ID, team.RoleViewer))
		wantAllowed(inferSecret, team.ActUseKeys, false)
		wantAllowed(adminSecret, team.ActViewBilling, true)

		// Billing: pays, but holds no inference key.
		must[team.Member](t)(f.accounts.SetRole(ctx, acme.ID, ann.ID, team.RoleBilling))
		wantAllowed(adminSecret, team.ActManageBilling, true)
		wantAllowed(inferSecret, team.ActUseKeys, false)

		// Promoted again: everything back.
		must[team.Member](t)(f.accounts.SetRole(ctx, acme.ID, ann.ID, team.RoleAdmin))
		wantAllowed(adminSecret, team.ActManageBilling, true)
		wantAllowed(inferSecret, team.ActUseKeys, true)
		if len(changed) != 4 || changed[0] != acme.ID+"/"+ann.ID {
			t.Fatalf("role-change notifications = %v", changed)
		}

		// Keys with no member, or a label that names no user: their kind alone.
		wantAllowed(labelSecret, team.ActUseKeys, true)
		wantAllowed(plainSecret, team.ActManageBilling, true)
		if k, _ := f.team.Authenticate(ctx, labelSecret); k.MemberRole != "" {
			t.Fatalf("a label's key has role %q", k.MemberRole)
		}

		// A user who is not a member of the key's workspace holds no working key (one
		// made through the store directly, as if its revocation had been missed).
		secret, hash := team.NewSecret()
		if err := f.db.CreateKey(ctx, team.APIKey{ID: "key_stray", WorkspaceID: acme.ID, Name: "stray", Kind: team.KindInference,
			Prefix: secret[:10], MemberID: owner.ID + "x", CreatedAt: f.clock.Now()}, hash); err != nil {
			t.Fatal(err)
		}
		stranger := f.user(t, "stranger@example.com")
		secret2, hash2 := team.NewSecret()
		if err := f.db.CreateKey(ctx, team.APIKey{ID: "key_stranger", WorkspaceID: acme.ID, Name: "stranger", Kind: team.KindInference,
			Prefix: secret2[:10], MemberID: stranger.ID, CreatedAt: f.clock.Now()}, hash2); err != nil {
			t.Fatal(err)
		}
		if _, err := f.team.Authenticate(ctx, secret); err != nil {
			t.Fatalf("a label key: %v", err)
		}
		_, err = f.team.Authenticate(ctx, secret2)
		storetest.WantCode(t, err, "invalid_api_key")

		// Creating: an inference key for a member whose role holds none, or for a user
		// who is not a member, is refused.
		viewer := f.user(t, "viewer@example.com")
		must[team.Member](t)(f.accounts.AddMember(ctx, acme.ID, viewer.ID, team.RoleViewer))
		_, _, err = f.team.CreateKey(ctx, team.APIKey{WorkspaceID: acme.ID, Name: "v", MemberID: viewer.ID})
		storetest.WantCode(t, err, "key_exceeds_role")
		_, _, err = f.team.CreateKey(ctx, team.APIKey{WorkspaceID: acme.ID, Name: "s", MemberID: stranger.ID})
		storetest.WantCode(t, err, "invalid_member")
		if _, _, err := f.team.CreateKey(ctx, team.APIKey{WorkspaceID: acme.ID, Name: "v admin", Kind: team.KindAdmin, MemberID: viewer.ID}); err != nil {
			t.Fatalf("a read-only admin key for a viewer: %v", err)
		}
	})
}

func TestRoleAllowsUseKeys(t *testing.T) {
	for _, c := range []struct {
		role team.Role
		want bool
	}{{team.RoleOwner, true}, {team.RoleAdmin, true}, {team.RoleMember, true}, {team.RoleBilling, false}, {team.RoleViewer, false}} {
		if got := c.role.Can(team.ActUseKeys); got != c.want {
			t.Errorf("%s use_keys = %v, want %v", c.role, got, c.want)
		}
	}
	if err := (team.APIKey{MemberID: "label"}).RoleAllows(team.ActManageOwners); err != nil {
		t.Errorf("a key with no role read: %v", err)
	}
}
