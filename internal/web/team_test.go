package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

var inviteLinkRE = regexp.MustCompile(`id="invite-link" class="mono" readonly value="([^"]+)"`)

// inviteVia submits the invite form as c and returns the link the page shows.
func inviteVia(t *testing.T, c *client, ws, email, role string) string {
	t.Helper()
	c.get("/w/" + ws + "/members")
	st, body := c.post("/w/"+ws+"/members/invite", url.Values{"email": {email}, "role": {role}})
	if st != http.StatusCreated {
		t.Fatalf("invite %s as %s: %d\n%.500s", email, role, st, body)
	}
	m := inviteLinkRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no link on the page:\n%.2000s", body)
	}
	return m[1]
}

// TestMemberManagementRoles: only owners and admins see and use the invite form, the
// role selects and the remove buttons; admins cannot touch owners; every refusal is
// checked on the server, whatever the form showed.
func TestMemberManagementRoles(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		f := e.seedFixture()
		ws := "/w/" + f.ws + "/members"
		for _, role := range []team.Role{team.RoleBilling, team.RoleMember, team.RoleViewer} {
			c := e.signedIn(f.users[role].Email)
			_, body := c.get(ws)
			if strings.Contains(body, `id="invite-form"`) || strings.Contains(body, "/remove") {
				t.Errorf("%s sees the invite form or remove buttons", role)
			}
			if st, _ := c.post(ws+"/invite", url.Values{"email": {"x@acme.test"}, "role": {"viewer"}}); st != http.StatusForbidden {
				t.Errorf("%s invites: %d, want 403", role, st)
			}
			if st, _ := c.post(ws+"/"+f.users[team.RoleViewer].ID+"/remove", url.Values{}); st != http.StatusForbidden {
				t.Errorf("%s removes: %d, want 403", role, st)
			}
		}

		admin := e.signedIn(f.users[team.RoleAdmin].Email)
		_, body := admin.get(ws)
		if !strings.Contains(body, `id="invite-form"`) || strings.Contains(body, `<option value="owner"`) {
			t.Errorf("admin's invite form (no owner role expected):\n%.300s", body)
		}
		if strings.Contains(body, "/"+f.users[team.RoleOwner].ID+"/remove") {
			t.Error("admin sees a remove button for the owner")
		}
		if st, body := admin.post(ws+"/invite", url.Values{"email": {"boss@acme.test"}, "role": {"owner"}}); st != http.StatusForbidden || !strings.Contains(body, "nly an owner may") {
			t.Errorf("admin invites an owner: %d", st)
		}
		if st, _ := admin.post(ws+"/"+f.users[team.RoleOwner].ID+"/remove", url.Values{}); st != http.StatusForbidden {
			t.Errorf("admin removes the owner: %d, want 403", st)
		}
		if st, body := admin.post(ws+"/invite", url.Values{"email": {"nope"}, "role": {"viewer"}}); st != http.StatusBadRequest || !strings.Contains(body, "is not an email address") {
			t.Errorf("bad email: %d", st)
		}
		if st, body := admin.post(ws+"/invite", url.Values{"email": {"viewer@acme.test"}, "role": {"viewer"}}); st != http.StatusConflict || !strings.Contains(body, "already a member") {
			t.Errorf("member again: %d", st)
		}
		if st, _ := admin.post(ws+"/invite", url.Values{"email": {"x@acme.test"}, "role": {"viewer"}, "csrf": {"forged"}}); st != http.StatusForbidden {
			t.Errorf("forged CSRF: %d, want 403", st)
		}
		link := inviteVia(t, admin, f.ws, "newbie@acme.test", "member")
		e.smtp.WaitTo(t, "newbie@acme.test", 5*time.Second)
		_, body = admin.get(ws)
		if !strings.Contains(body, "newbie@acme.test") || !strings.Contains(body, "Pending invitations") {
			t.Errorf("pending list:\n%.300s", body)
		}
		pending, err := e.invites.Pending(ctx, f.ws)
		if err != nil || len(pending) != 1 {
			t.Fatalf("pending = %+v, %v", pending, err)
		}
		// Revoke: the link stops working.
		if st, loc := admin.post(ws+"/invitations/"+pending[0].ID+"/revoke", url.Values{}); st != http.StatusSeeOther || loc != ws {
			t.Errorf("revoke: %d %s", st, loc)
		}
		anon := e.client()
		u, _ := url.Parse(link)
		if st, body := anon.get(u.Path); st != http.StatusConflict || !strings.Contains(body, "withdrawn") {
			t.Errorf("revoked link: %d\n%.300s", st, body)
		}
		if st, _ := admin.post(ws+"/invitations/"+pending[0].ID+"/revoke", url.Values{}); st != http.StatusConflict {
			t.Errorf("revoke twice: %d, want 409", st)
		}

		// Admin changes roles and removes a member; the member's key is revoked.
		member := f.users[team.RoleMember]
		if st, _ := admin.post(ws+"/"+member.ID+"/role", url.Values{"role": {"billing"}}); st != http.StatusSeeOther {
			t.Errorf("role change: %d", st)
		}
		if st, _ := admin.post(ws+"/"+member.ID+"/remove", url.Values{}); st != http.StatusSeeOther {
			t.Errorf("remove: %d", st)
		}
		if _, err := e.accounts.Member(ctx, f.ws, member.ID); err == nil {
			t.Error("the removed member is still a member")
		}
		keys, _ := e.team.Keys(ctx, f.ws)
		for _, k := range keys {
			if k.MemberID == member.ID && k.RevokedAt == nil {
				t.Errorf("the removed member's key %s is active", k.Name)
			}
		}
		if st, _ := admin.post(ws+"/"+member.ID+"/remove", url.Values{}); st != http.StatusNotFound {
			t.Errorf("remove twice: %d, want 404", st)
		}
		// The owner may invite owners; the last owner cannot be removed.
		owner := e.signedIn(f.users[team.RoleOwner].Email)
		inviteVia(t, owner, f.ws, "coowner@acme.test", "owner")
		owner.get(ws)
		if st, _ := owner.post(ws+"/"+f.users[team.RoleOwner].ID+"/remove", url.Values{}); st != http.StatusConflict {
			t.Errorf("remove the last owner: %d, want 409", st)
		}
	})
}

// TestInvitePage: the accept page for a new account, an existing account (password),
// a signed-in user of the right and of the wrong email, and dead links.
func TestInvitePage(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		f := e.seedFixture()
		invite := func(email string, role team.Role) string {
			t.Helper()
			s, err := e.invites.Invite(ctx, f.ws, email, role, nil)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(s.Link)
			return u.Path
		}

		// New account.
		p := invite("fresh@acme.test", team.RoleViewer)
		c := e.client()
		st, body := c.get(p)
		if st != http.StatusOK || !strings.Contains(body, "Create account and join") || !strings.Contains(body, "fresh@acme.test") {
			t.Fatalf("new-account page: %d\n%.500s", st, body)
		}
		if st, body := c.post(p, url.Values{"name": {"Fresh"}, "password": {testPassword}, "password2": {"different one!"}}); st != http.StatusBadRequest || !strings.Contains(body, "not the same") {
			t.Errorf("mismatched passwords: %d", st)
		}
		if st, body := c.post(p, url.Values{"name": {"Fresh"}, "password": {"short"}, "password2": {"short"}}); st != http.StatusBadRequest || !strings.Contains(body, "at least") {
			t.Errorf("weak password: %d\n%.300s", st, body)
		}
		if st, _ := c.post(p, url.Values{"name": {"Fresh"}, "password": {testPassword}, "password2": {testPassword}, "csrf": {"forged-forged-forged-x"}}); st != http.StatusForbidden {
			t.Errorf("forged CSRF: %d", st)
		}
		st, loc := c.post(p, url.Values{"name": {"Fresh"}, "password": {testPassword}, "password2": {testPassword}})
		if st != http.StatusSeeOther || loc != "/w/"+f.ws+"/" {
			t.Fatalf("accept: %d %s", st, loc)
		}
		if st, _ := c.get(loc); st != http.StatusOK {
			t.Errorf("the new member's dashboard: %d", st)
		}
		if st, body := e.client().get(p); st != http.StatusConflict || !strings.Contains(body, "already been accepted") {
			t.Errorf("used link: %d", st)
		}

		// Existing account: password.
		p = invite("owner@globex.test", team.RoleMember)
		c = e.client()
		if _, body := c.get(p); !strings.Contains(body, "Sign in and join") {
			t.Errorf("existing-account page:\n%.500s", body)
		}
		if st, _ := c.post(p, url.Values{"password": {"wrong password!"}}); st != http.StatusUnauthorized {
			t.Errorf("wrong password: %d", st)
		}
		if st, loc := c.post(p, url.Values{"password": {testPassword}}); st != http.StatusSeeOther || loc != "/w/"+f.ws+"/" {
			t.Errorf("accept with password: %d %s", st, loc)
		}
		if m, err := e.accounts.Member(ctx, f.ws, f.outsider.ID); err != nil || m.Role != team.RoleMember {
			t.Errorf("outsider's membership = %+v, %v", m, err)
		}

		// Signed in: the right email joins with one click, another is told to sign out.
		ctx2 := context.Background()
		other, _ := e.accounts.CreateUser(ctx2, "later@acme.test", "Later", testPassword, false)
		p = invite("later@acme.test", team.RoleBilling)
		wrong := e.signedIn(f.users[team.RoleViewer].Email)
		if _, body := wrong.get(p); !strings.Contains(body, "Sign out, then open the link again") {
			t.Errorf("wrong user page:\n%.500s", body)
		}
		if st, _ := wrong.post(p, url.Values{}); st != http.StatusForbidden {
			t.Errorf("wrong user accepts: %d", st)
		}
		right := e.client()
		right.login("later@acme.test", testPassword)
		if _, body := right.get(p); !strings.Contains(body, "Join Acme") {
			t.Errorf("right user page:\n%.500s", body)
		}
		if st, loc := right.post(p, url.Values{}); st != http.StatusSeeOther || loc != "/w/"+f.ws+"/" {
			t.Errorf("join: %d %s", st, loc)
		}
		if m, err := e.accounts.Member(ctx, f.ws, other.ID); err != nil || m.Role != team.RoleBilling {
			t.Errorf("later's membership = %+v, %v", m, err)
		}

		// Dead links: bad signature and expired.
		if st, body := e.client().get("/invite/inv_x.123.abc"); st != http.StatusNotFound || !strings.Contains(body, "not valid") {
			t.Errorf("bad link: %d", st)
		}
		p = invite("slow@acme.test", team.RoleViewer)
		e.clock.Set(testNow.Add(team.DefaultInvitationTTL + time.Second))
		c = e.client()
		if st, body := c.get(p); st != http.StatusConflict || !strings.Contains(body, "expired") {
			t.Errorf("expired link: %d", st)
		}
		if st, _ := c.post(p, url.Values{"name": {"Slow"}, "password": {testPassword}, "password2": {testPassword}}); st != http.StatusConflict {
			t.Errorf("accept an expired link: %d", st)
		}
		if _, err := e.accounts.UserByEmail(ctx, "slow@acme.test"); err == nil {
			t.Error("an expired link made an account")
		}
	})
}

// TestKeysProjectFilter: keys are grouped by project; the Keys page filters by one.
func TestKeysProjectFilter(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	c := e.signedIn(f.users[team.RoleOwner].Email)
	_, body := c.get("/w/" + f.ws + "/keys")
	if !strings.Contains(body, `id="k-filter"`) || !strings.Contains(body, `<option value="proj-member-key"`) {
		t.Fatalf("no project filter:\n%.500s", body)
	}
	st, body := c.get("/w/" + f.ws + "/keys?project=proj-admin-key")
	if st != http.StatusOK || !strings.Contains(body, "admin-key") || strings.Contains(body, ">member-key<") || !strings.Contains(body, "in project proj-admin-key") {
		t.Fatalf("filtered keys page: %d\n%.3000s", st, body)
	}
}
