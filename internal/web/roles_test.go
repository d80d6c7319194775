package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// pages is every GET page of a workspace, as a path under /w/{ws}/.
var pages = []string{"", "?period=today", "usage", "usage?group=member", "usage.csv", "requests", "requests?model=gpt-test",
	"requests?sort=cost&status=answered&start=2025-06-14T00:00", "requests/ev-1",
	"billing", "invoices", "keys", "members", "budgets", "settings"}

// TestEveryPageEveryRole: every role reads every page of its workspace (viewers and
// billing members included: all roles see usage and billing), and nobody sees another
// workspace's pages by any URL, exports and htmx partials included.
func TestEveryPageEveryRole(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		for _, role := range team.Roles {
			c := e.signedIn(f.users[role].Email)
			for _, p := range pages {
				if st, body := c.get("/w/" + f.ws + "/" + p); st != http.StatusOK {
					t.Errorf("%s GET %s: %d\n%.300s", role, p, st, body)
				}
				for _, hx := range [][]string{nil, {"HX-Request", "true", "HX-Target", "content"}} {
					st, body := c.get("/w/"+f.other+"/"+p, hx...)
					if st != http.StatusNotFound {
						t.Errorf("%s GET other workspace %s (htmx %v): %d", role, p, hx != nil, st)
					}
					if strings.Contains(body, "Globex") || strings.Contains(body, "secret-globex-project") {
						t.Errorf("%s GET other workspace %s shows its data", role, p)
					}
				}
			}
			// A workspace that does not exist answers exactly like one that is not yours.
			_, mine := c.get("/w/" + f.other + "/usage")
			_, none := c.get("/w/ws_doesnotexist/usage")
			if strip(mine, f.other) != strip(none, "ws_doesnotexist") {
				t.Errorf("%s: a missing workspace and another's workspace answer differently", role)
			}
		}
	})
}

func strip(s, id string) string { return strings.ReplaceAll(s, id, "") }

// TestPartialIsContentOnly: an htmx request for #content gets the page's content without
// the layout; any other request gets the whole page.
func TestPartialIsContentOnly(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	c := e.signedIn(f.users[team.RoleViewer].Email)
	_, full := c.get("/w/" + f.ws + "/?period=30d")
	_, part := c.get("/w/"+f.ws+"/?period=30d", "HX-Request", "true", "HX-Target", "content")
	if !strings.Contains(full, "<html") || strings.Contains(part, "<html") || !strings.Contains(part, `class="tiles"`) {
		t.Fatalf("full %d bytes, partial %d bytes", len(full), len(part))
	}
}

func TestKeyPermissions(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		f := e.seedFixture()
		keyNamed := func(name string) (team.APIKey, bool) {
			ks, err := e.team.Keys(ctx, f.ws)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range ks {
				if k.Name == name {
					return k, true
				}
			}
			return team.APIKey{}, false
		}
		for _, tc := range []struct {
			role   team.Role
			create int
		}{
			{team.RoleOwner, http.StatusCreated}, {team.RoleAdmin, http.StatusCreated}, {team.RoleMember, http.StatusCreated},
			{team.RoleBilling, http.StatusForbidden}, {team.RoleViewer, http.StatusForbidden},
		} {
			c := e.signedIn(f.users[tc.role].Email)
			name := "made-by-" + string(tc.role)
			st, body := c.post("/w/"+f.ws+"/keys", url.Values{"name": {name}, "project": {"p"}})
			if st != tc.create {
				t.Errorf("%s creates a key: %d, want %d", tc.role, st, tc.create)
			}
			k, made := keyNamed(name)
			if made != (tc.create == http.StatusCreated) {
				t.Errorf("%s: key made = %v", tc.role, made)
			}
			if made {
				if k.MemberID != f.users[tc.role].ID {
					t.Errorf("%s's key belongs to %q", tc.role, k.MemberID)
				}
				if !strings.Contains(body, `id="secret"`) || !strings.Contains(body, "shown this once") {
					t.Errorf("%s: the secret is not shown", tc.role)
				}
			}
			// The create form is shown only to those who may use it.
			_, page := c.get("/w/" + f.ws + "/keys")
			if strings.Contains(page, "Create a key") != (tc.create == http.StatusCreated) {
				t.Errorf("%s: create form shown = %v", tc.role, strings.Contains(page, "Create a key"))
			}
		}
		member := e.signedIn(f.users[team.RoleMember].Email)
		// A member may not make a key for someone else, nor an admin key.
		if st, _ := member.post("/w/"+f.ws+"/keys", url.Values{"name": {"for-admin"}, "member": {f.users[team.RoleAdmin].ID}}); st != http.StatusForbidden {
			t.Errorf("member makes a key for the admin: %d", st)
		}
		if st, _ := member.post("/w/"+f.ws+"/keys", url.Values{"name": {"admin-kind"}, "kind": {"admin"}}); st != http.StatusForbidden {
			t.Errorf("member makes an admin key: %d", st)
		}
		// A member revokes their own key, not the admin's; an admin revokes any key.
		adminKey := f.keys["admin-key"]
		if st, _ := member.post("/w/"+f.ws+"/keys/"+adminKey.ID+"/revoke", url.Values{}); st != http.StatusForbidden {
			t.Errorf("member revokes the admin's key: %d", st)
		}
		if st, _ := member.post("/w/"+f.ws+"/keys/"+f.keys["member-key"].ID+"/revoke", url.Values{}); st != http.StatusSeeOther {
			t.Errorf("member revokes their own key: %d", st)
		}
		admin := e.signedIn(f.users[team.RoleAdmin].Email)
		if st, _ := admin.post("/w/"+f.ws+"/keys", url.Values{"name": {"for-member"}, "member": {f.users[team.RoleMember].ID}, "kind": {"admin"}}); st != http.StatusCreated {
			t.Errorf("admin makes an admin key for a member: %d", st)
		}
		if k, ok := keyNamed("made-by-member"); !ok {
			t.Fatal("no member key")
		} else if st, _ := admin.post("/w/"+f.ws+"/keys/"+k.ID+"/revoke", url.Values{}); st != http.StatusSeeOther {
			t.Errorf("admin revokes a member's key: %d", st)
		}
		for name, want := range map[string]bool{"member-key": true, "made-by-member": true, "admin-key": false} {
			k, _ := keyNamed(name)
			if (k.RevokedAt != nil) != want {
				t.Errorf("%s revoked = %v", name, k.RevokedAt != nil)
			}
		}
		// Another workspace's key cannot be revoked through this one, nor through its own URL.
		globex := f.keys["globex-key"]
		if st, _ := admin.post("/w/"+f.ws+"/keys/"+globex.ID+"/revoke", url.Values{}); st != http.StatusNotFound {
			t.Errorf("revoke another workspace's key here: %d", st)
		}
		if st, _ := admin.post("/w/"+f.other+"/keys/"+globex.ID+"/revoke", url.Values{}); st != http.StatusNotFound {
			t.Errorf("revoke another workspace's key there: %d", st)
		}
		if ks, _ := e.team.Keys(ctx, f.other); ks[0].RevokedAt != nil {
			t.Error("the other workspace's key was revoked")
		}
		// A bad name is shown back with the reason.
		if st, body := admin.post("/w/"+f.ws+"/keys", url.Values{"name": {"  "}}); st != http.StatusBadRequest || !strings.Contains(body, "Key name is required") {
			t.Errorf("empty name: %d", st)
		}
	})
}

func TestRoleChanges(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		f := e.seedFixture()
		role := func(u team.User) team.Role {
			m, err := e.accounts.Member(ctx, f.ws, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return m.Role
		}
		viewer, member := f.users[team.RoleViewer], f.users[team.RoleMember]
		for _, r := range []team.Role{team.RoleMember, team.RoleBilling, team.RoleViewer} {
			c := e.signedIn(f.users[r].Email)
			if st, _ := c.post("/w/"+f.ws+"/members/"+viewer.ID+"/role", url.Values{"role": {"admin"}}); st != http.StatusForbidden {
				t.Errorf("%s changes a role: %d", r, st)
			}
			_, page := c.get("/w/" + f.ws + "/members")
			if strings.Contains(page, `name="role"`) {
				t.Errorf("%s sees role controls", r)
			}
		}
		admin := e.signedIn(f.users[team.RoleAdmin].Email)
		if st, _ := admin.post("/w/"+f.ws+"/members/"+viewer.ID+"/role", url.Values{"role": {"member"}}); st != http.StatusSeeOther || role(viewer) != team.RoleMember {
			t.Errorf("admin makes the viewer a member: %d, %s", st, role(viewer))
		}
		if st, _ := admin.post("/w/"+f.ws+"/members/"+member.ID+"/role", url.Values{"role": {"owner"}}); st != http.StatusForbidden || role(member) != team.RoleMember {
			t.Errorf("admin makes an owner: %d", st)
		}
		if st, _ := admin.post("/w/"+f.ws+"/members/"+member.ID+"/role", url.Values{"role": {"emperor"}}); st != http.StatusBadRequest {
			t.Errorf("unknown role: %d", st)
		}
		if st, _ := admin.post("/w/"+f.ws+"/members/"+f.outsider.ID+"/role", url.Values{"role": {"viewer"}}); st != http.StatusNotFound {
			t.Errorf("role of a non-member: %d", st)
		}
		owner := e.signedIn(f.users[team.RoleOwner].Email)
		if st, body := owner.post("/w/"+f.ws+"/members/"+f.users[team.RoleOwner].ID+"/role", url.Values{"role": {"admin"}}); st != http.StatusConflict || !strings.Contains(body, "last_owner") {
			t.Errorf("the last owner steps down: %d", st)
		}
	})
}
