package team_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"spectra/internal/mail"
	"spectra/internal/mail/smtptest"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// invitations returns the invitation service of f, mailing through a real SMTP server.
func (f fixture) invitations(t *testing.T, ttl time.Duration) (*team.Invitations, *smtptest.Server) {
	t.Helper()
	srv := smtptest.New(t)
	sender, err := mail.New(srv.URL() + "?from=Spectra%20%3Cteam@example.com%3E")
	if err != nil {
		t.Fatal(err)
	}
	return team.NewInvitations(f.db, f.accounts, f.team, team.InvitationsConfig{BaseURL: "https://spectra.example.com/",
		TTL: ttl, Mail: sender, Now: f.clock.Now}), srv
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	token, ok := strings.CutPrefix(link, "https://spectra.example.com/invite/")
	if !ok || token == "" {
		t.Fatalf("link = %q", link)
	}
	return token
}

func TestInviteEmailsALinkThatCreatesTheAccount(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		inv, srv := f.invitations(t, 0)
		acme := f.workspace(t, "Acme")
		alice := f.user(t, "alice@example.com")
		owner := must[team.Member](t)(f.accounts.AddMember(ctx, acme.ID, alice.ID, team.RoleOwner))

		sent := must[team.Sent](t)(inv.Invite(ctx, acme.ID, " Bob@Example.com ", team.RoleAdmin, &owner))
		if sent.Email != "bob@example.com" || sent.Role != team.RoleAdmin || sent.InvitedBy != alice.ID || !sent.EmailSent ||
			!sent.ExpiresAt.Equal(f.clock.Now().Add(team.DefaultInvitationTTL)) || sent.WorkspaceName != "Acme" {
			t.Fatalf("sent = %+v", sent)
		}
		token := tokenOf(t, sent.Link)
		m := srv.WaitTo(t, "bob@example.com", 5*time.Second)
		if !strings.Contains(m.Body, sent.Link) || !strings.Contains(m.Subject, "Acme") || !strings.Contains(m.Body, "as admin") {
			t.Fatalf("email = %q / %q", m.Subject, m.Body)
		}
		pending := must[[]team.Invitation](t)(inv.Pending(ctx, acme.ID))
		if len(pending) != 1 || pending[0].ID != sent.ID {
			t.Fatalf("pending = %+v", pending)
		}

		open := must[team.Open](t)(inv.Lookup(ctx, token))
		if open.ID != sent.ID || open.HasAccount || open.WorkspaceName != "Acme" {
			t.Fatalf("lookup = %+v", open)
		}
		_, _, err := inv.AcceptNew(ctx, token, "Bob", "short")
		storetest.WantCode(t, err, "weak_password")
		u, mem, err := inv.AcceptNew(ctx, token, "Bob Builder", pw)
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "bob@example.com" || u.Name != "Bob Builder" || mem.Role != team.RoleAdmin || mem.WorkspaceID != acme.ID {
			t.Fatalf("accepted: %+v %+v", u, mem)
		}
		if _, _, _, err := f.accounts.Login(ctx, "bob@example.com", pw); err != nil {
			t.Fatalf("the new account cannot sign in: %v", err)
		}
		// Single use: every later answer is refused and changes nothing.
		_, _, err = inv.AcceptNew(ctx, token, "Bob again", pw)
		storetest.WantCode(t, err, "invitation_used")
		_, err = inv.AcceptAs(ctx, token, u)
		storetest.WantCode(t, err, "invitation_used")
		_, err = inv.Lookup(ctx, token)
		storetest.WantCode(t, err, "invitation_used")
		if got := must[[]team.Invitation](t)(inv.Pending(ctx, acme.ID)); len(got) != 0 {
			t.Fatalf("pending after accept = %+v", got)
		}
		// Inviting a member again is refused.
		_, err = inv.Invite(ctx, acme.ID, "bob@example.com", team.RoleViewer, &owner)
		storetest.WantCode(t, err, "already_member")
	})
}

func TestInvitationExpiresAndBadTokensAreRefused(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		inv, _ := f.invitations(t, time.Hour)
		acme := f.workspace(t, "Acme")
		sent := must[team.Sent](t)(inv.Invite(ctx, acme.ID, "carol@example.com", team.RoleMember, nil))
		if sent.InvitedBy != "" || !sent.ExpiresAt.Equal(f.clock.Now().Add(time.Hour)) {
			t.Fatalf("operator's invitation = %+v", sent)
		}
		token := tokenOf(t, sent.Link)
		id, exp, sig := splitToken(t, token)

		for _, bad := range []string{"", "x", "a.b", id + "." + exp, id + "." + exp + ".AAAA", id + ".9999999999." + sig,
			"inv_other." + exp + "." + sig, token + "x", strings.Repeat("a", 300)} {
			_, err := inv.Lookup(ctx, bad)
			storetest.WantCode(t, err, "invitation_invalid")
			_, _, err = inv.AcceptNew(ctx, bad, "C", pw)
			storetest.WantCode(t, err, "invitation_invalid")
		}
		// A token signed with another deployment's key is refused too.
		other := team.NewInvitations(otherKeyStore{f.db}, f.accounts, f.team, team.InvitationsConfig{BaseURL: "https://spectra.example.com", Now: f.clock.Now})
		_, err := other.Lookup(ctx, token)
		storetest.WantCode(t, err, "invitation_invalid")

		f.clock.Advance(time.Hour)
		_, err = inv.Lookup(ctx, token)
		storetest.WantCode(t, err, "invitation_expired")
		_, _, err = inv.AcceptNew(ctx, token, "Carol", pw)
		storetest.WantCode(t, err, "invitation_expired")
		if _, err := f.accounts.UserByEmail(ctx, "carol@example.com"); err == nil {
			t.Fatal("an expired invitation created an account")
		}
		if got := must[[]team.Invitation](t)(inv.Pending(ctx, acme.ID)); len(got) != 0 {
			t.Fatalf("an expired invitation is pending: %+v", got)
		}
	})
}

// otherKeyStore is a store whose invitation key is another one.
type otherKeyStore struct{ team.InvitationStore }

func (otherKeyStore) SetSettingIfAbsent(context.Context, string, string) (string, bool, error) {
	return "another-deployment-key", false, nil
}

func splitToken(t *testing.T, token string) (string, string, string) {
	t.Helper()
	p := strings.Split(token, ".")
	if len(p) != 3 {
		t.Fatalf("token %q has %d parts", token, len(p))
	}
	return p[0], p[1], p[2]
}

func TestReinviteReplacesAndRevokeWithdraws(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		inv, srv := f.invitations(t, 0)
		acme := f.workspace(t, "Acme")
		first := must[team.Sent](t)(inv.Invite(ctx, acme.ID, "dan@example.com", team.RoleViewer, nil))
		f.clock.Advance(time.Minute)
		second := must[team.Sent](t)(inv.Invite(ctx, acme.ID, "dan@example.com", team.RoleBilling, nil))
		if second.ID == first.ID || !second.ExpiresAt.After(first.ExpiresAt) {
			t.Fatalf("re-invite did not refresh: %+v then %+v", first, second)
		}
		pending := must[[]team.Invitation](t)(inv.Pending(ctx, acme.ID))
		if len(pending) != 1 || pending[0].ID != second.ID || pending[0].Role != team.RoleBilling {
			t.Fatalf("pending = %+v", pending)
		}
		_, err := inv.Lookup(ctx, tokenOf(t, first.Link))
		storetest.WantCode(t, err, "invitation_revoked")
		if n := len(srv.Messages()); n != 2 {
			t.Fatalf("%d emails, want 2", n)
		}

		revoked := must[team.Invitation](t)(inv.Revoke(ctx, acme.ID, second.ID, nil))
		if revoked.RevokedAt == nil {
			t.Fatalf("revoked = %+v", revoked)
		}
		_, err = inv.Revoke(ctx, acme.ID, second.ID, nil)
		storetest.WantCode(t, err, "invitation_revoked")
		_, _, err = inv.AcceptNew(ctx, tokenOf(t, second.Link), "Dan", pw)
		storetest.WantCode(t, err, "invitation_revoked")
		_, err = inv.Revoke(ctx, acme.ID, "inv_nope", nil)
		storetest.WantCode(t, err, "invitation_not_found")
		globex := f.workspace(t, "Globex")
		_, err = inv.Revoke(ctx, globex.ID, second.ID, nil)
		storetest.WantCode(t, err, "invitation_not_found")
	})
}

func TestInviteRoleRules(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		inv, _ := f.invitations(t, 0)
		acme := f.workspace(t, "Acme")
		add := func(email string, role team.Role) *team.Member {
			m := must[team.Member](t)(f.accounts.AddMember(ctx, acme.ID, f.user(t, email).ID, role))
			return &m
		}
		owner, admin, billing, viewer := add("o@example.com", team.RoleOwner), add("a@example.com", team.RoleAdmin),
			add("b@example.com", team.RoleBilling), add("v@example.com", team.RoleViewer)

		_, err := inv.Invite(ctx, acme.ID, "x@example.com", team.RoleOwner, admin)
		storetest.WantCode(t, err, "role_forbidden")
		_, err = inv.Invite(ctx, acme.ID, "x@example.com", team.RoleMember, billing)
		storetest.WantCode(t, err, "members_forbidden")
		_, err = inv.Invite(ctx, acme.ID, "x@example.com", team.RoleMember, viewer)
		storetest.WantCode(t, err, "members_forbidden")
		_, err = inv.Invite(ctx, acme.ID, "x@example.com", "root", owner)
		storetest.WantCode(t, err, "invalid_role")
		_, err = inv.Invite(ctx, acme.ID, "not an email", team.RoleMember, owner)
		storetest.WantCode(t, err, "invalid_email")
		_, err = inv.Invite(ctx, "ws_nope", "x@example.com", team.RoleMember, nil)
		storetest.WantCode(t, err, "workspace_not_found")
		otherWS := *owner
		otherWS.WorkspaceID = "ws_other"
		_, err = inv.Invite(ctx, acme.ID, "x@example.com", team.RoleMember, &otherWS)
		storetest.WantCode(t, err, "members_forbidden")

		must[team.Sent](t)(inv.Invite(ctx, acme.ID, "x@example.com", team.RoleAdmin, admin))
		ownerInv := must[team.Sent](t)(inv.Invite(ctx, acme.ID, "y@example.com", team.RoleOwner, owner))
		_, err = inv.Revoke(ctx, acme.ID, ownerInv.ID, admin)
		storetest.WantCode(t, err, "role_forbidden")
		must[team.Invitation](t)(inv.Revoke(ctx, acme.ID, ownerInv.ID, owner))
	})
}

func TestAcceptAsExistingAccount(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		inv, _ := f.invitations(t, 0)
		acme := f.workspace(t, "Acme")
		erin, frank := f.user(t, "erin@example.com"), f.user(t, "frank@example.com")
		sent := must[team.Sent](t)(inv.Invite(ctx, acme.ID, "erin@example.com", team.RoleMember, nil))
		token := tokenOf(t, sent.Link)
		if open := must[team.Open](t)(inv.Lookup(ctx, token)); !open.HasAccount {
			t.Fatal("lookup does not see erin's account")
		}
		// Creating the account again is refused; nothing is consumed.
		_, _, err := inv.AcceptNew(ctx, token, "Erin", pw)
		storetest.WantCode(t, err, "email_taken")
		_, err = inv.AcceptAs(ctx, token, frank)
		storetest.WantCode(t, err, "invitation_email_mismatch")
		m := must[team.Member](t)(inv.AcceptAs(ctx, token, erin))
		if m.UserID != erin.ID || m.Role != team.RoleMember {
			t.Fatalf("member = %+v", m)
		}
	})
}

// TestConcurrentAcceptsOneWins: of many concurrent answers to one link, exactly one
// creates the account and membership.
func TestConcurrentAcceptsOneWins(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		inv, _ := f.invitations(t, 0)
		acme := f.workspace(t, "Acme")
		users := make([]team.User, 6)
		for i := range users {
			users[i] = f.user(t, "g"+string(rune('a'+i))+"@example.com")
		}
		sent := must[team.Sent](t)(inv.Invite(ctx, acme.ID, "new@example.com", team.RoleMember, nil))
		token := tokenOf(t, sent.Link)
		var wg sync.WaitGroup
		errc := make(chan error, 8)
		for range 8 {
			wg.Go(func() { _, _, err := inv.AcceptNew(ctx, token, "New", pw); errc <- err })
		}
		wg.Wait()
		close(errc)
		ok := 0
		for err := range errc {
			if err == nil {
				ok++
			} else if !strings.Contains(err.Error(), "invitation_used") && !strings.Contains(err.Error(), "email_taken") &&
				!strings.Contains(err.Error(), "password_check_busy") { // 8 accepts, 2 hashing slots: a loaded machine may refuse some
				t.Errorf("unexpected error %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d accepts succeeded, want 1", ok)
		}
		ms := must[[]team.Member](t)(f.accounts.Members(ctx, acme.ID))
		if len(ms) != 1 || ms[0].Email != "new@example.com" {
			t.Fatalf("members = %+v", ms)
		}
	})
}

func TestInviteWithoutMailStillGivesTheLink(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		inv := team.NewInvitations(f.db, f.accounts, f.team, team.InvitationsConfig{BaseURL: "https://spectra.example.com", Now: f.clock.Now})
		acme := f.workspace(t, "Acme")
		sent := must[team.Sent](t)(inv.Invite(ctx, acme.ID, "h@example.com", team.RoleViewer, nil))
		if sent.EmailSent || sent.EmailError != "" || inv.MailEnabled() {
			t.Fatalf("sent = %+v", sent)
		}
		must[team.Open](t)(inv.Lookup(ctx, tokenOf(t, sent.Link)))
	})
}

func TestInviteWithFailingMailStillGivesTheLink(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		srv := smtptest.New(t, smtptest.WithAuth("u", "right"))
		sender, _ := mail.New("smtp://u:wrong@" + srv.Addr())
		inv := team.NewInvitations(f.db, f.accounts, f.team, team.InvitationsConfig{BaseURL: "https://spectra.example.com", Mail: sender, Now: f.clock.Now})
		acme := f.workspace(t, "Acme")
		sent := must[team.Sent](t)(inv.Invite(ctx, acme.ID, "i@example.com", team.RoleViewer, nil))
		if sent.EmailSent || sent.EmailError == "" {
			t.Fatalf("sent = %+v", sent)
		}
		must[team.Open](t)(inv.Lookup(ctx, tokenOf(t, sent.Link)))
	})
}

func TestRemoveMemberNotifiesRevokedKeys(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		acme := f.workspace(t, "Acme")
		o, m := f.user(t, "o@example.com"), f.user(t, "m@example.com")
		must[team.Member](t)(f.accounts.AddMember(ctx, acme.ID, o.ID, team.RoleOwner))
		must[team.Member](t)(f.accounts.AddMember(ctx, acme.ID, m.ID, team.RoleMember))
		k, _, err := f.team.CreateKey(ctx, team.APIKey{WorkspaceID: acme.ID, Name: "m's", MemberID: m.ID})
		if err != nil {
			t.Fatal(err)
		}
		k2, _, _ := f.team.CreateKey(ctx, team.APIKey{WorkspaceID: acme.ID, Name: "shared"})
		var got [][]string
		f.accounts.OnKeysRevoked(func(ids []string) { got = append(got, ids) })
		f.team.OnKeysRevoked(func(ids []string) { got = append(got, ids) })
		if err := f.accounts.RemoveMember(ctx, acme.ID, m.ID); err != nil {
			t.Fatal(err)
		}
		must[team.APIKey](t)(f.team.RevokeKey(ctx, acme.ID, k2.ID))
		if len(got) != 2 || len(got[0]) != 1 || got[0][0] != k.ID || got[1][0] != k2.ID {
			t.Fatalf("notified %v, want [[%s] [%s]]", got, k.ID, k2.ID)
		}
	})
}
