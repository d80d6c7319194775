package gateway

import (
	"context"
	"testing"

	"spectra/internal/money"
	"spectra/internal/store"
	"spectra/internal/team"
)

// TestDemotedMemberKeysFollowTheNewRole (issue 11, item 10): a key never does more on
// the gateway than its member's current role allows. An admin's inference key works;
// once the admin is demoted to viewer through this node, the very next request is
// refused (403 key_role_forbidden) with no wait for the key cache; another node, not
// told, refuses it once its cached entry expires (keyCacheTTL, one second). A
// promotion makes the key work again, and a demotion to member (who may use keys)
// changes nothing.
func TestDemotedMemberKeysFollowTheNewRole(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: money.Scale})
		ctx := context.Background()
		accounts := team.NewAccounts(db, clk.Now)
		accounts.OnRoleChanged(e.gw.ForgetMemberKeys)
		ann, secret, other := e.memberKey(accounts, "Ann", team.RoleAdmin)
		ok := func(why string) {
			t.Helper()
			resp, b := e.postTo(e.srv.URL, "/v1/chat/completions", fixedBody, secret)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", why, resp.StatusCode, b)
			}
		}
		ok("an admin's key")

		_, err := accounts.SetRole(ctx, e.ws.ID, ann.ID, team.RoleMember)
		must(t, err)
		ok("demoted to member (who may use keys)")

		_, err = accounts.SetRole(ctx, e.ws.ID, ann.ID, team.RoleViewer)
		must(t, err)
		resp, b := e.postTo(e.srv.URL, "/v1/chat/completions", fixedBody, secret)
		wantError(t, resp, b, 403, team.ErrKeyRole)
		resp, b = e.postTo(e.srv.URL, "/v1/embeddings", `{"model":"text-embedding-3-small","input":"hi"}`, secret)
		wantError(t, resp, b, 403, team.ErrKeyRole)

		// The node that was not told still has the admin's entry, for at most keyCacheTTL.
		if _, err := other.keys.authenticate(ctx, secret); err != nil {
			t.Fatalf("the unsubscribed node's cache was not warm: %v", err)
		}
		clk.Advance(keyCacheTTL)
		if _, err := other.keys.authenticate(ctx, secret); err == nil {
			t.Fatal("the unsubscribed node still accepts the demoted member's key after the cache TTL")
		}

		_, err = accounts.SetRole(ctx, e.ws.ID, ann.ID, team.RoleBilling)
		must(t, err)
		resp, b = e.postTo(e.srv.URL, "/v1/chat/completions", fixedBody, secret)
		wantError(t, resp, b, 403, team.ErrKeyRole)

		_, err = accounts.SetRole(ctx, e.ws.ID, ann.ID, team.RoleAdmin)
		must(t, err)
		ok("promoted again")
		e.verify()
	})
}
