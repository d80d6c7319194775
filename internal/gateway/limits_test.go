package gateway

import (
	"context"
	"net/http"
	"testing"
	"time"

	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/team"
)

func ptr[T any](v T) *T { return &v }

// Keys: missing, unknown, revoked and admin keys are refused with their own codes.
func TestAuthentication(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: money.Scale})
		ctx := context.Background()
		resp, b := e.postTo(e.srv.URL, "/v1/chat/completions", fixedBody, "")
		wantError(t, resp, b, 401, "invalid_api_key")
		resp, b = e.postTo(e.srv.URL, "/v1/chat/completions", fixedBody, "sk-not-a-key")
		wantError(t, resp, b, 401, "invalid_api_key")
		admin, secret, err := e.team.CreateKey(ctx, team.APIKey{WorkspaceID: e.ws.ID, Name: "admin", Kind: team.KindAdmin})
		must(t, err)
		resp, b = e.postTo(e.srv.URL, "/v1/chat/completions", fixedBody, secret)
		wantError(t, resp, b, 403, "wrong_key_kind")
		_ = admin
		_, err = e.team.RevokeKey(ctx, e.ws.ID, e.key.ID)
		must(t, err)
		clk.Advance(keyCacheTTL) // the gateway caches a valid key this long
		resp, b = e.post("/v1/chat/completions", fixedBody)
		wantError(t, resp, b, 401, "invalid_api_key")
		if e.up.Requests() != 0 {
			t.Fatal("a refused request reached the upstream")
		}
		e.verify()
	})
}

// Bad bodies and unusable models are refused before the upstream, each with its code.
func TestRequestRejections(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: money.Scale})
		must(t, db.AddPrice(context.Background(), pricing.Price{Model: "unrouted", Input: 1, EffectiveFrom: clk.Now().Add(-time.Hour)}))
		for _, c := range []struct {
			path, body, code string
			status           int
		}{
			{"/v1/chat/completions", `not json`, "invalid_json", 400},
			{"/v1/chat/completions", `[1,2]`, "invalid_json", 400},
			{"/v1/chat/completions", `{"messages":[]}`, "missing_model", 400},
			{"/v1/chat/completions", `{"model":"no-such-model","messages":[]}`, "model_not_priced", 404},
			{"/v1/chat/completions", `{"model":"unrouted","messages":[]}`, "model_not_found", 404},
			{"/v1/embeddings", `{"model":"text-embedding-3-small","input":"x","stream":true}`, "stream_not_supported", 400},
		} {
			resp, b := e.post(c.path, c.body)
			wantError(t, resp, b, c.status, c.code)
		}
		if e.up.Requests() != 0 {
			t.Fatal("a refused request reached the upstream")
		}
		e.verify()
	})
}

// Per-key settings: allowed models (403), requests per minute and tokens per minute (429).
func TestPerKeyLimits(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: 10 * money.Scale})
		ctx := context.Background()
		_, err := db.SetKeyLimits(ctx, e.ws.ID, e.key.ID, team.KeyLimits{AllowedModels: &[]string{"text-embedding-3-small"}})
		must(t, err)
		clk.Advance(keyCacheTTL)
		resp, b := e.post("/v1/chat/completions", fixedBody)
		wantError(t, resp, b, 403, "model_not_allowed")
		resp, b = e.post("/v1/embeddings", `{"model":"text-embedding-3-small","input":"fine"}`)
		if resp.StatusCode != 200 {
			t.Fatalf("allowed model refused: %s", b)
		}

		// 2 requests per minute: the third is refused until the bucket refills.
		_, err = db.SetKeyLimits(ctx, e.ws.ID, e.key.ID, team.KeyLimits{AllowedModels: &[]string{}, RPM: ptr(2)})
		must(t, err)
		clk.Advance(keyCacheTTL)
		for i := range 2 {
			if resp, b := e.post("/v1/chat/completions", fixedBody); resp.StatusCode != 200 {
				t.Fatalf("request %d: %s", i, b)
			}
		}
		resp, b = e.post("/v1/chat/completions", fixedBody)
		wantError(t, resp, b, 429, "rate_limit_exceeded")
		if apiErr(t, b).Type != "requests" || resp.Header.Get("Retry-After") != "30" {
			t.Fatalf("429 %s, Retry-After %q", b, resp.Header.Get("Retry-After"))
		}
		clk.Advance(30 * time.Second)
		if resp, b := e.post("/v1/chat/completions", fixedBody); resp.StatusCode != 200 {
			t.Fatalf("after refill: %s", b)
		}

		// Tokens per minute: fixedBody takes its prompt estimate plus max_tokens at
		// admission, and what it really used at the end.
		admission := estimatePrompt([]byte(fixedBody)) + 100
		used := int64(fixedPrompt + 20)
		_, err = db.SetKeyLimits(ctx, e.ws.ID, e.key.ID, team.KeyLimits{RPM: ptr(0), TPM: ptr(int(admission + used))})
		must(t, err)
		clk.Advance(keyCacheTTL)
		if resp, b := e.post("/v1/chat/completions", fixedBody); resp.StatusCode != 200 {
			t.Fatalf("first tpm request: %s", b)
		}
		e.flush() // the bucket now holds admission+used − used = admission
		if resp, b := e.post("/v1/chat/completions", fixedBody); resp.StatusCode != 200 {
			t.Fatalf("second tpm request: %s", b)
		}
		e.flush() // admission − used left: not enough for a third
		resp, b = e.post("/v1/chat/completions", fixedBody)
		wantError(t, resp, b, 429, "rate_limit_exceeded")
		if apiErr(t, b).Type != "tokens" {
			t.Fatalf("tpm 429 of type %q", apiErr(t, b).Type)
		}
		if e.up.Requests() != 6 { // one embedding, five chats
			t.Fatalf("%d upstream requests, want 6", e.up.Requests())
		}
		e.verify()
	})
}

// GET /v1/models lists what the key may use: priced, routed and allowed.
func TestModelsList(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{})
		ctx := context.Background()
		must(t, db.AddPrice(ctx, pricing.Price{Model: "unrouted", Input: 1, EffectiveFrom: clk.Now().Add(-time.Hour)}))
		must(t, db.AddPrice(ctx, pricing.Price{Model: "future", Input: 1, EffectiveFrom: clk.Now().Add(time.Hour)}))
		list := func() []string {
			t.Helper()
			var ids []string
			p := e.cl().Models.ListAutoPaging(ctx)
			for p.Next() {
				ids = append(ids, p.Current().ID)
			}
			must(t, p.Err())
			return ids
		}
		if got := list(); len(got) != 2 || got[0] != testModel || got[1] != "text-embedding-3-small" {
			t.Fatalf("models %v", got)
		}
		_, err := db.SetKeyLimits(ctx, e.ws.ID, e.key.ID, team.KeyLimits{AllowedModels: &[]string{"text-embedding-3-small"}})
		must(t, err)
		clk.Advance(keyCacheTTL)
		if got := list(); len(got) != 1 || got[0] != "text-embedding-3-small" {
			t.Fatalf("models for a restricted key %v", got)
		}
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/models", nil)
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("models without a key: %d", resp.StatusCode)
		}
	})
}
