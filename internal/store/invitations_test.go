package store_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// TestAcceptInvitationGuard drives the guarded accept directly: every refusal names its
// reason and changes nothing; a failed member insert leaves the invitation open.
func TestAcceptInvitationGuard(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		acctCheck(t, db.CreateWorkspace(ctx, team.Workspace{ID: "ws_a", Name: "A", Timezone: "UTC", CreatedAt: acctT0}))
		acctCheck(t, db.CreateUser(ctx, team.User{ID: "usr_1", Email: "a@example.com", Name: "A", CreatedAt: acctT0}, ""))
		_, err := db.AddMember(ctx, team.Member{WorkspaceID: "ws_a", UserID: "usr_1", Role: team.RoleOwner, CreatedAt: acctT0})
		acctCheck(t, err)
		exp := acctT0.Add(time.Hour)
		mk := func(id, email string) team.Invitation {
			inv, err := db.CreateInvitation(ctx, team.Invitation{ID: id, WorkspaceID: "ws_a", Email: email, Role: team.RoleMember, CreatedAt: acctT0, ExpiresAt: exp}, "h-"+id)
			acctCheck(t, err)
			return inv
		}
		_, err = db.CreateInvitation(ctx, team.Invitation{ID: "inv_x", WorkspaceID: "ws_a", Email: "a@example.com", Role: team.RoleMember, CreatedAt: acctT0, ExpiresAt: exp}, "h")
		acctWantCode(t, err, "already_member")
		_, err = db.CreateInvitation(ctx, team.Invitation{ID: "inv_y", WorkspaceID: "ws_nope", Email: "z@example.com", Role: team.RoleMember, CreatedAt: acctT0, ExpiresAt: exp}, "h")
		acctWantCode(t, err, "workspace_not_found")

		inv := mk("inv_1", "b@example.com")
		if inv.WorkspaceName != "A" || inv.AcceptedAt != nil || inv.RevokedAt != nil || !inv.ExpiresAt.Equal(exp) {
			t.Fatalf("created = %+v", inv)
		}
		newUser := team.User{ID: "usr_2", Email: "b@example.com", Name: "B", CreatedAt: acctT0}
		_, err = db.AcceptInvitation(ctx, "inv_1", "wrong-hash", "usr_2", &newUser, "", acctT0)
		acctWantCode(t, err, "invitation_invalid")
		_, err = db.AcceptInvitation(ctx, "inv_nope", "h-inv_1", "usr_2", &newUser, "", acctT0)
		acctWantCode(t, err, "invitation_invalid")
		_, err = db.AcceptInvitation(ctx, "inv_1", "h-inv_1", "usr_2", &newUser, "", exp)
		acctWantCode(t, err, "invitation_expired")
		// The user exists already: the whole accept rolls back, the invitation stays open.
		taken := team.User{ID: "usr_3", Email: "a@example.com", Name: "dup", CreatedAt: acctT0}
		_, err = db.AcceptInvitation(ctx, "inv_1", "h-inv_1", "usr_3", &taken, "", acctT0)
		acctWantCode(t, err, "email_taken")
		_, err = db.AcceptInvitation(ctx, "inv_1", "h-inv_1", "usr_1", nil, "", acctT0)
		acctWantCode(t, err, "already_member")
		if got, _, _ := db.Invitation(ctx, "inv_1"); got.AcceptedAt != nil {
			t.Fatalf("a refused accept consumed the invitation: %+v", got)
		}
		m, err := db.AcceptInvitation(ctx, "inv_1", "h-inv_1", "usr_2", &newUser, "", acctT0.Add(time.Minute))
		acctCheck(t, err)
		if m.UserID != "usr_2" || m.Role != team.RoleMember || m.Email != "b@example.com" {
			t.Fatalf("member = %+v", m)
		}
		got, _, err := db.Invitation(ctx, "inv_1")
		acctCheck(t, err)
		if got.AcceptedAt == nil || !got.AcceptedAt.Equal(acctT0.Add(time.Minute)) || got.AcceptedBy != "usr_2" {
			t.Fatalf("accepted = %+v", got)
		}
		_, err = db.AcceptInvitation(ctx, "inv_1", "h-inv_1", "usr_2", nil, "", acctT0)
		acctWantCode(t, err, "invitation_used")
		_, err = db.RevokeInvitation(ctx, "ws_a", "inv_1", acctT0)
		acctWantCode(t, err, "invitation_used")

		// Re-inviting replaces; revoking is once.
		mk("inv_2", "c@example.com")
		mk("inv_3", "c@example.com")
		now := acctT0
		open, err := db.Invitations(ctx, "ws_a", &now)
		acctCheck(t, err)
		if len(open) != 1 || open[0].ID != "inv_3" {
			t.Fatalf("open = %+v", open)
		}
		all, err := db.Invitations(ctx, "ws_a", nil)
		acctCheck(t, err)
		if len(all) != 3 {
			t.Fatalf("all = %+v", all)
		}
		_, err = db.AcceptInvitation(ctx, "inv_2", "h-inv_2", "usr_1", nil, "", acctT0)
		acctWantCode(t, err, "invitation_revoked")
		_, err = db.RevokeInvitation(ctx, "ws_b", "inv_3", acctT0)
		acctWantCode(t, err, "invitation_not_found")
		r, err := db.RevokeInvitation(ctx, "ws_a", "inv_3", acctT0)
		if err != nil || r.RevokedAt == nil {
			t.Fatalf("revoke = %+v, %v", r, err)
		}
		_, err = db.RevokeInvitation(ctx, "ws_a", "inv_3", acctT0)
		acctWantCode(t, err, "invitation_revoked")
		_, err = db.RevokeInvitation(ctx, "ws_a", "inv_nope", acctT0)
		acctWantCode(t, err, "invitation_not_found")
	})
}
