package gateway

import (
	"context"
	"slices"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/requestlog"
	"spectra/internal/store"
	"spectra/internal/team"
)

// TestRefusalsAreLogged: a 402 (balance), an upstream 500, an upstream that cannot be
// reached (502) and a 429 each appear in the request log with their status and code at
// no cost, next to the answered requests; the rollups, the balance and verify count only
// what was charged. An unauthenticated 401 has no workspace and is not logged.
func TestRefusalsAreLogged(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: money.Scale})
		rec := requestlog.NewRecorder(db, clk.Now)
		e.gw.refusals = rec
		ctx := context.Background()
		log := requestlog.NewService(e.metering, db, nil)

		if resp, b := e.post("/v1/chat/completions", fixedBody); resp.StatusCode != 200 {
			t.Fatalf("first request: %s", b)
		}
		e.flush()
		rollups := func() metering.Totals {
			rows, err := db.Rollups(ctx, metering.RollupQuery{WorkspaceID: e.ws.ID, Start: clk.Now().Add(-24 * time.Hour), End: clk.Now().Add(24 * time.Hour)})
			must(t, err)
			var tot metering.Totals
			for _, r := range rows {
				tot.Add(r.Totals)
			}
			return tot
		}
		before, balance := rollups(), e.balance().Balance

		// 402: the hold of a million output tokens ($10) does not fit in $1.
		resp, b := e.post("/v1/chat/completions", `{"model":"gpt-4o","max_tokens":1000000,"messages":[{"role":"user","content":"hi"}]}`)
		wantError(t, resp, b, 402, "insufficient_balance")
		refused402 := resp.Header.Get("X-Request-Id")
		// The upstream answers 500.
		e.up.SetFailStatus(500)
		resp, _ = e.post("/v1/chat/completions", fixedBody)
		if resp.StatusCode != 500 {
			t.Fatalf("upstream 500 relayed as %d", resp.StatusCode)
		}
		failed500 := resp.Header.Get("X-Request-Id")
		e.up.SetFailStatus(0)
		e.flush()
		if r := rollups(); r != before || e.balance().Balance != balance {
			t.Fatalf("a refusal changed the rollups (%+v, was %+v) or the balance", r, before)
		}
		// 429: one request per minute.
		_, err := db.SetKeyLimits(ctx, e.ws.ID, e.key.ID, team.KeyLimits{RPM: ptr(1)})
		must(t, err)
		clk.Advance(keyCacheTTL)
		var limited string
		answered := 1
		for range 3 {
			resp, b := e.post("/v1/chat/completions", fixedBody)
			if resp.StatusCode == 200 {
				answered++
			}
			if resp.StatusCode == 429 {
				wantError(t, resp, b, 429, "rate_limit_exceeded")
				limited = resp.Header.Get("X-Request-Id")
				break
			}
		}
		if limited == "" {
			t.Fatal("no 429")
		}
		// 401 without a key: no workspace, not logged.
		if resp, _ := e.postTo(e.srv.URL, "/v1/chat/completions", fixedBody, ""); resp.StatusCode != 401 {
			t.Fatalf("no key: %d", resp.StatusCode)
		}
		e.flush()
		must(t, rec.Flush(ctx))

		page, err := log.List(ctx, requestlog.Query{WorkspaceID: e.ws.ID})
		must(t, err)
		got := map[string]requestlog.Entry{}
		for _, en := range page.Entries {
			got[en.ID] = en
		}
		for id, want := range map[string]struct {
			status, code string
			http         int
		}{
			refused402: {requestlog.StatusRefused, "insufficient_balance", 402},
			failed500:  {requestlog.StatusUpstreamError, "upstream_error", 500},
			limited:    {requestlog.StatusRefused, "rate_limit_exceeded", 429},
		} {
			en, ok := got[id]
			if !ok {
				t.Fatalf("%s (%s) is not in the log: %+v", id, want.code, page.Entries)
			}
			if en.Status != want.status || en.Code != want.code || en.HTTPStatus != want.http || en.Cost != 0 ||
				en.KeyID != e.key.ID || en.Model != testModel || en.Member != "mem" || en.Project != "proj" {
				t.Errorf("%s: %+v", want.code, en)
			}
		}
		if len(page.Entries) != answered+3 {
			t.Fatalf("%d entries, %d answered: the 401 should not be logged", len(page.Entries), answered)
		}
		if en := got[failed500]; en.Upstream != "fake" {
			t.Errorf("the failed upstream is not named: %+v", en)
		}
		// The rollups count the answered requests only; verify agrees.
		if r := rollups(); r.Requests != int64(answered) {
			t.Fatalf("rollups count %d requests, %d were answered", r.Requests, answered)
		}
		e.verify()

		// Each refusal has its detail; a budget_exceeded would carry its budget.
		d, err := log.Get(ctx, e.ws.ID, refused402)
		must(t, err)
		if d.Code != "insufficient_balance" || d.Cost != 0 || d.Price != nil {
			t.Fatalf("detail %+v", d)
		}
		if _, err := log.Get(ctx, "ws_other", refused402); err != requestlog.ErrNotFound {
			t.Fatalf("another workspace: %v", err)
		}
		// The answered request's event carries the hold it took.
		ans := slices.IndexFunc(page.Entries, func(en requestlog.Entry) bool { return en.Status == requestlog.StatusAnswered })
		if page.Entries[ans].Held <= page.Entries[ans].Cost {
			t.Errorf("held %s, charged %s: the hold should cover the estimate", page.Entries[ans].Held, page.Entries[ans].Cost)
		}
	})
}

// TestForbiddenKeysAreLogged: a known key refused with 403 (an admin key, or an
// inference key whose member's role no longer uses keys) is logged in its workspace.
func TestForbiddenKeysAreLogged(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: money.Scale})
		rec := requestlog.NewRecorder(db, clk.Now)
		e.gw.refusals = rec
		ctx := context.Background()
		_, admin, err := e.team.CreateKey(ctx, team.APIKey{WorkspaceID: e.ws.ID, Name: "admin", Kind: team.KindAdmin})
		must(t, err)
		resp, b := e.postTo(e.srv.URL, "/v1/chat/completions", fixedBody, admin)
		wantError(t, resp, b, 403, "wrong_key_kind")
		id := resp.Header.Get("X-Request-Id")
		must(t, rec.Flush(ctx))
		d, err := requestlog.NewService(e.metering, db, nil).Get(ctx, e.ws.ID, id)
		must(t, err)
		if d.Code != "wrong_key_kind" || d.HTTPStatus != 403 || d.Status != requestlog.StatusRefused || d.Cost != 0 {
			t.Fatalf("403 logged as %+v", d)
		}
	})
}
