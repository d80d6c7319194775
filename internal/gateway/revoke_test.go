package gateway

import (
	"context"
	"testing"

	"spectra/internal/money"
	"spectra/internal/store"
	"spectra/internal/team"
)

// TestRemovedMemberKeysStopAtOnce: a member's key works through the gateway; once the
// member is removed through this node, the very next request with it is refused, with
// no wait for the key cache. A second gateway that is not subscribed (another node)
// still serves it from its cache until the entry expires, which shows the cache was
// warm and that the subscription is what dropped it.
func TestRemovedMemberKeysStopAtOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: money.Scale})
		ctx := context.Background()
		accounts := team.NewAccounts(db, clk.Now)
		accounts.OnKeysRevoked(e.gw.ForgetKeys)
		e.team.OnKeysRevoked(e.gw.ForgetKeys)
		mem, secret, other := e.memberKey(accounts, "Dev", team.RoleMember)
		resp, b := e.postTo(e.srv.URL, "/v1/chat/completions", fixedBody, secret)
		if resp.StatusCode != 200 {
			t.Fatalf("member's key before removal: %d %s", resp.StatusCode, b)
		}

		must(t, accounts.RemoveMember(ctx, e.ws.ID, mem.ID))
		resp, b = e.postTo(e.srv.URL, "/v1/chat/completions", fixedBody, secret)
		wantError(t, resp, b, 401, "invalid_api_key")
		if _, err := other.keys.authenticate(ctx, secret); err != nil {
			t.Fatalf("the unsubscribed node's cache was not warm: %v", err)
		}
		clk.Advance(keyCacheTTL)
		if _, err := other.keys.authenticate(ctx, secret); err == nil {
			t.Fatal("the unsubscribed node still accepts the key after the cache TTL")
		}

		// The same for a key revoked by itself through this node.
		resp, _ = e.post("/v1/chat/completions", fixedBody)
		if resp.StatusCode != 200 {
			t.Fatalf("shared key: %d", resp.StatusCode)
		}
		_, err := e.team.RevokeKey(ctx, e.ws.ID, e.key.ID)
		must(t, err)
		resp, b = e.post("/v1/chat/completions", fixedBody)
		wantError(t, resp, b, 401, "invalid_api_key")
		e.verify()
	})
}
