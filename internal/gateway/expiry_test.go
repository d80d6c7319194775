package gateway

import (
	"context"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/store"
	"spectra/internal/team"
)

// TestExpiredKeyRefused: a key with an expiry works until it, then is refused with 401
// key_expired — also while the key cache still holds it from a request just before
// (the cache entry outlives the key by most of keyCacheTTL here), and on the first
// read of a cold cache. Clearing the expiry through SetKeyLimits makes it work again;
// an expiry not in the future is refused (invalid_expires_at).
func TestExpiredKeyRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: money.Scale})
		ctx := context.Background()
		at := clk.Now().Add(keyCacheTTL / 4)
		k, secret, err := e.team.CreateKey(ctx, team.APIKey{WorkspaceID: e.ws.ID, Name: "short", ExpiresAt: &at})
		must(t, err)
		if k.ExpiresAt == nil || !k.ExpiresAt.Equal(at) {
			t.Fatalf("created key's expiry = %v, want %v", k.ExpiresAt, at)
		}
		resp, b := e.postTo(e.srv.URL, "/v1/chat/completions", fixedBody, secret)
		if resp.StatusCode != 200 {
			t.Fatalf("before its expiry: %d %s", resp.StatusCode, b)
		}
		clk.Advance(keyCacheTTL / 2) // past the expiry, inside the cache entry's life
		resp, b = e.postTo(e.srv.URL, "/v1/chat/completions", fixedBody, secret)
		wantError(t, resp, b, 401, "key_expired")

		// A second node whose cache is cold reads it from the database: also refused.
		other := e.newGateway(envOpts{})
		if _, err := other.keys.authenticate(ctx, secret); !errs.Is(err, team.ErrKeyExpired.Code) {
			t.Fatalf("cold cache: err = %v, want key_expired", err)
		}

		// Removing the expiry (JSON null) makes the key work again.
		if _, err := e.gw.SetKeyLimits(ctx, e.ws.ID, k.ID, team.KeyLimits{ExpiresAt: team.OptionalTime{Set: true}}); err != nil {
			t.Fatal(err)
		}
		resp, b = e.postTo(e.srv.URL, "/v1/chat/completions", fixedBody, secret)
		if resp.StatusCode != 200 {
			t.Fatalf("after removing the expiry: %d %s", resp.StatusCode, b)
		}

		past := clk.Now().Add(-time.Minute)
		_, err = e.gw.SetKeyLimits(ctx, e.ws.ID, k.ID, team.KeyLimits{ExpiresAt: team.OptionalTime{Set: true, Time: &past}})
		if !errs.Is(err, "invalid_expires_at") {
			t.Fatalf("an expiry in the past: err = %v, want invalid_expires_at", err)
		}
		if _, _, err := e.team.CreateKey(ctx, team.APIKey{WorkspaceID: e.ws.ID, Name: "born-expired", ExpiresAt: &past}); !errs.Is(err, "invalid_expires_at") {
			t.Fatalf("a key created expired: err = %v, want invalid_expires_at", err)
		}
		// Setting a new expiry through SetKeyLimits applies at once on this node.
		soon := clk.Now().Add(time.Minute)
		_, err = e.gw.SetKeyLimits(ctx, e.ws.ID, k.ID, team.KeyLimits{ExpiresAt: team.OptionalTime{Set: true, Time: &soon}})
		must(t, err)
		clk.Advance(time.Minute)
		resp, b = e.postTo(e.srv.URL, "/v1/chat/completions", fixedBody, secret)
		wantError(t, resp, b, 401, "key_expired")
		e.verify()
	})
}
