package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"spectra/internal/api"
	"spectra/internal/audit"
	"spectra/internal/billing/billinghttp"
	"spectra/internal/billing/billingtest"
	"spectra/internal/gateway"
	"spectra/internal/gateway/gatewayhttp"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// newAuditEnv serves the API with the audit log and, mounted beside it as cmd/spectra
// does, the gateway's operator routes (upstreams, key limits) and billing's (payments)
// guarded by the API's RequireOperator, with snapshots of the upstreams
// (Deps.AuditSnapshots).
func newAuditEnv(t *testing.T, db *store.DB, clk *storetest.Clock) *env {
	t.Helper()
	e := &env{t: t, clock: clk, db: db, reg: prometheus.NewRegistry(), logs: &storetest.Buffer{}}
	se := storetest.NewEnv(db, clk)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw, err := gateway.New(gateway.Config{Team: se.Team, Ledger: se.Ledger, Metering: se.Meter, Store: db, Now: clk.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Flush(context.Background()) })
	upstream := func(name string) func(r *http.Request) (map[string]string, error) {
		return func(r *http.Request) (map[string]string, error) {
			us, err := gw.Upstreams(r.Context())
			if err != nil {
				return nil, err
			}
			for _, u := range us {
				if u.Name == name {
					return api.AuditFields(u), nil
				}
			}
			return map[string]string{"upstream": "none"}, nil
		}
	}
	accts := team.NewAccounts(db, clk.Now)
	invites := team.NewInvitations(db, accts, se.Team, team.InvitationsConfig{BaseURL: "https://spectra.example.com", Now: clk.Now, Log: quiet})
	s := api.New(api.Deps{Team: se.Team, Accounts: accts, Invitations: invites, Ledger: se.Ledger, Metering: se.Meter, Prices: db, DB: db,
		AdminTokenHash: team.HashSecret(operatorToken), Currency: "USD", Now: clk.Now,
		Log: slog.New(slog.NewTextHandler(e.logs, nil)), Registry: e.reg, Audit: audit.New(db, clk.Now),
		AuditSnapshots: map[string]api.AuditSnapshot{
			"POST /api/v1/upstreams": func(r *http.Request, asked map[string]string) (map[string]string, error) {
				return upstream(asked["name"])(r)
			},
			"DELETE /api/v1/upstreams/{name}": func(r *http.Request, _ map[string]string) (map[string]string, error) {
				return upstream(r.PathValue("name"))(r)
			},
		}})
	mux := http.NewServeMux()
	s.Register(mux)
	gatewayhttp.Register(mux, gw, s)
	billinghttp.Register(mux, billingtest.New(t, db, clk, billingtest.Options{NoStripe: true}).Service, s)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// auditEntries is the whole log, newest first, for action (every action when "").
func (e *env) auditEntries(action string) []audit.Entry {
	e.t.Helper()
	path := "/api/v1/audit?limit=200"
	if action != "" {
		path += "&action=" + strings.NewReplacer(" ", "+", "{", "%7B", "}", "%7D").Replace(action)
	}
	var p auditPage
	r := e.call("GET", path, operatorToken, nil, http.StatusOK, nil)
	if err := json.Unmarshal(r.body, &p); err != nil {
		e.t.Fatalf("audit: %s: %v", r.body, err)
	}
	return p.Entries
}

// A grant through the API is recorded with what was asked (amount, note, key), what it
// made (the transfer's id and amount) and the balance before → after; a replay with the
// same idempotency key adds no second entry, while the same key in another workspace is
// another grant and another entry.
func TestAuditAPIGrantFields(t *testing.T) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, clk *storetest.Clock) {
		e := newAuditEnv(t, db, clk)
		ws := e.workspace(map[string]any{"name": "Acme"})
		other := e.workspace(map[string]any{"name": "Other"})
		e.grant(ws.ID, "3", "first")
		body := map[string]any{"amount": "10", "idempotency_key": "g1", "note": "welcome credit"}
		var g struct {
			ID json.Number `json:"id"`
		}
		e.call("POST", "/api/v1/workspaces/"+ws.ID+"/grants", operatorToken, body, http.StatusCreated, &g)
		e.call("POST", "/api/v1/workspaces/"+ws.ID+"/grants", operatorToken, body, http.StatusOK, nil) // a replay
		e.call("POST", "/api/v1/workspaces/"+other.ID+"/grants", operatorToken, body, http.StatusCreated, nil)

		es := e.auditEntries("POST /api/v1/workspaces/{id}/grants")
		if len(es) != 3 {
			t.Fatalf("%d grant entries, want 3 (no entry for the replay): %+v", len(es), es)
		}
		en := es[1] // newest first: other's, then the g1 grant, then "first"
		if en.WorkspaceID != ws.ID || en.IdempotencyKey != "/api/v1/workspaces/"+ws.ID+"/grants#g1" {
			t.Fatalf("entry: %+v", en)
		}
		want := map[string]string{"request.amount": "10", "request.note": "welcome credit", "request.idempotency_key": "g1",
			"id": g.ID.String(), "amount": "10.000000", "note": "welcome credit", "balance": "13.000000", "available": "13.000000", "status": "201"}
		for k, v := range want {
			if en.After[k] != v {
				t.Errorf("after[%s] = %q, want %q (%v)", k, en.After[k], v, en.After)
			}
		}
		if en.Before["balance"] != "3.000000" || en.Before["available"] != "3.000000" {
			t.Errorf("before: %v", en.Before)
		}
		if _, ok := en.Before["overdraft_limit"]; ok {
			t.Errorf("an unchanged field is kept: %v", en.Before)
		}
		if es[0].WorkspaceID != other.ID || es[0].Before["balance"] != "0.000000" || es[0].After["balance"] != "10.000000" {
			t.Errorf("other's grant: %+v", es[0])
		}
	})
}

// An upstream put through the API records its name, URL and models, and of its API key
// only that one was set: the secret is in no entry.
func TestAuditAPIUpstreamSecret(t *testing.T) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, clk *storetest.Clock) {
		e := newAuditEnv(t, db, clk)
		up := map[string]any{"name": "second", "base_url": "http://127.0.0.1:2/v1", "api_key": "sk-very-secret",
			"models": []string{"m1"}}
		e.call("POST", "/api/v1/upstreams", operatorToken, up, http.StatusCreated, nil)
		e.call("POST", "/api/v1/upstreams", operatorToken, map[string]any{"name": "keyless", "base_url": "http://127.0.0.1:3/v1",
			"models": []string{"m2"}}, http.StatusCreated, nil)
		r := e.call("GET", "/api/v1/audit", operatorToken, nil, http.StatusOK, nil)
		if strings.Contains(string(r.body), "sk-very-secret") {
			t.Fatalf("a secret is in the log: %s", r.body)
		}
		es := e.auditEntries("POST /api/v1/upstreams")
		if len(es) != 2 {
			t.Fatalf("%d entries: %+v", len(es), es)
		}
		if a := es[1].After; a["request.api_key"] != "set" || a["request.name"] != "second" || a["request.base_url"] != "http://127.0.0.1:2/v1" ||
			a["request.models"] != `["m1"]` || a["name"] != "second" || a["has_api_key"] != "true" || a["status"] != "201" {
			t.Errorf("upstream entry: %v", a)
		}
		if a := es[0].After; a["has_api_key"] != "false" || a["request.name"] != "keyless" {
			t.Errorf("keyless entry: %v", a)
		}
		// A created workspace key's secret is the answer's "key": only "set".
		ws := e.workspace(map[string]any{"name": "Acme"})
		k := e.key(ws.ID, map[string]any{"name": "ci"})
		ks := e.auditEntries("POST /api/v1/workspaces/{id}/keys")
		if len(ks) != 1 || ks[0].After["key"] != "set" || ks[0].After["id"] != k.ID || ks[0].After["request.name"] != "ci" {
			t.Errorf("key entry: %+v", ks)
		}
		r = e.call("GET", "/api/v1/audit", operatorToken, nil, http.StatusOK, nil)
		if strings.Contains(string(r.body), k.Key) {
			t.Fatalf("a key's secret is in the log")
		}
	})
}

// The routes that change a state record it before → after: the overdraft limit and the
// time zone (only the fields that changed or were asked for), and a price put the
// version in effect before and the version it made.
func TestAuditAPIBeforeAfter(t *testing.T) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, clk *storetest.Clock) {
		e := newAuditEnv(t, db, clk)
		ws := e.workspace(map[string]any{"name": "Acme", "overdraft_limit": "5"})
		e.call("PUT", "/api/v1/workspaces/"+ws.ID+"/overdraft-limit", operatorToken, map[string]any{"overdraft_limit": "25"}, http.StatusOK, nil)
		e.call("PATCH", "/api/v1/workspaces/"+ws.ID, operatorToken, map[string]any{"timezone": "Asia/Tokyo"}, http.StatusOK, nil)
		e.call("PATCH", "/api/v1/workspaces/"+ws.ID, operatorToken, map[string]any{"timezone": "Asia/Tokyo"}, http.StatusOK, nil) // no change
		e.price("gpt-x", "2", "1", "8")
		e.call("PUT", "/api/v1/prices/gpt-x", operatorToken, map[string]any{"input": "3", "output": "9"}, http.StatusCreated, nil)

		od := e.auditEntries("PUT /api/v1/workspaces/{id}/overdraft-limit")
		if len(od) != 1 || len(od[0].Before) != 1 || od[0].Before["overdraft_limit"] != "5.000000" ||
			od[0].After["overdraft_limit"] != "25.000000" || od[0].After["request.overdraft_limit"] != "25" {
			t.Errorf("overdraft: %+v", od)
		}
		tz := e.auditEntries("PATCH /api/v1/workspaces/{id}")
		if len(tz) != 2 {
			t.Fatalf("time zone: %+v", tz)
		}
		if b, a := tz[1].Before, tz[1].After; len(b) != 1 || b["timezone"] != "UTC" || a["timezone"] != "Asia/Tokyo" || a["request.timezone"] != "Asia/Tokyo" || a["name"] != "" {
			t.Errorf("time zone: %v → %v", b, a)
		}
		if b, a := tz[0].Before, tz[0].After; b["timezone"] != "Asia/Tokyo" || a["timezone"] != "Asia/Tokyo" {
			t.Errorf("unchanged time zone, asked for: %v → %v", b, a)
		}
		ps := e.auditEntries("PUT /api/v1/prices/{model...}")
		if len(ps) != 2 {
			t.Fatalf("prices: %+v", ps)
		}
		if b := ps[1].Before; len(b) != 1 || b["price"] != "none" {
			t.Errorf("first price's before: %v", b)
		}
		if b, a := ps[0].Before, ps[0].After; b["input"] != "2.000000" || b["output"] != "8.000000" || b["cached_input"] != "1.000000" ||
			a["input"] != "3.000000" || a["output"] != "9.000000" || a["cached_input"] != "0.000000" || a["model"] != "gpt-x" || a["status"] != "201" {
			t.Errorf("price: %v → %v", b, a)
		}
	})
}

// A key's limits through gatewayhttp's PATCH are recorded before → after (the API's own
// snapshot of the key), and an upstream's put and delete through the snapshots another
// transport gives (Deps.AuditSnapshots): none → created, the changed URL, and the
// deleted upstream → none; the secret only ever "set".
func TestAuditAPIKeyLimitsAndUpstreams(t *testing.T) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, clk *storetest.Clock) {
		e := newAuditEnv(t, db, clk)
		ws := e.workspace(map[string]any{"name": "Acme"})
		k := e.key(ws.ID, map[string]any{"name": "ci"})
		e.call("PATCH", "/api/v1/workspaces/"+ws.ID+"/keys/"+k.ID, operatorToken, map[string]any{"rpm": 60, "allowed_models": []string{"m1"}}, http.StatusOK, nil)
		ks := e.auditEntries("PATCH /api/v1/workspaces/{id}/keys/{key_id}")
		if len(ks) != 1 {
			t.Fatalf("key limits: %+v", ks)
		}
		if b, a := ks[0].Before, ks[0].After; b["rpm"] != "0" || a["rpm"] != "60" || b["allowed_models"] != "[]" || a["allowed_models"] != `["m1"]` ||
			a["request.rpm"] != "60" || a["request.allowed_models"] != `["m1"]` || b["tpm"] != "" || b["name"] != "" {
			t.Errorf("key limits: %v → %v", b, a)
		}

		up := map[string]any{"name": "second", "base_url": "http://127.0.0.1:2/v1", "api_key": "sk-very-secret", "models": []string{"m1"}}
		e.call("POST", "/api/v1/upstreams", operatorToken, up, http.StatusCreated, nil)
		up["base_url"] = "http://127.0.0.1:4/v1"
		e.call("POST", "/api/v1/upstreams", operatorToken, up, http.StatusOK, nil)
		e.call("DELETE", "/api/v1/upstreams/second", operatorToken, nil, http.StatusNoContent, nil)
		puts := e.auditEntries("POST /api/v1/upstreams")
		if len(puts) != 2 {
			t.Fatalf("puts: %+v", puts)
		}
		if b, a := puts[1].Before, puts[1].After; b["upstream"] != "none" || a["base_url"] != "http://127.0.0.1:2/v1" || a["has_api_key"] != "true" || a["request.api_key"] != "set" {
			t.Errorf("created upstream: %v → %v", b, a)
		}
		if b, a := puts[0].Before, puts[0].After; b["base_url"] != "http://127.0.0.1:2/v1" || a["base_url"] != "http://127.0.0.1:4/v1" ||
			b["models"] != `["m1"]` || b["has_api_key"] != "" { // unchanged: kept when asked for (models), else left out
			t.Errorf("changed upstream: %v → %v", b, a)
		}
		dels := e.auditEntries("DELETE /api/v1/upstreams/{name}")
		if len(dels) != 1 || dels[0].Before["base_url"] != "http://127.0.0.1:4/v1" || dels[0].After["upstream"] != "none" || dels[0].After["status"] != "204" {
			t.Errorf("deleted upstream: %+v", dels)
		}
		r := e.call("GET", "/api/v1/audit", operatorToken, nil, http.StatusOK, nil)
		if strings.Contains(string(r.body), "sk-very-secret") {
			t.Fatalf("a secret is in the log: %s", r.body)
		}
	})
}

// An Idempotency-Key header is honoured by no route, so it is not the entry's key: two
// workspaces created with the same header are two actions and two entries.
func TestAuditAPIIdempotencyHeaderIgnored(t *testing.T) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, clk *storetest.Clock) {
		e := newAuditEnv(t, db, clk)
		for _, name := range []string{"One", "Two"} {
			req, err := http.NewRequest("POST", e.url+"/api/v1/workspaces", strings.NewReader(`{"name":"`+name+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+operatorToken)
			req.Header.Set("Idempotency-Key", "same")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				t.Fatalf("create %s: %d", name, res.StatusCode)
			}
		}
		es := e.auditEntries("POST /api/v1/workspaces")
		if len(es) != 2 || es[0].After["name"] != "Two" || es[1].After["name"] != "One" || es[0].IdempotencyKey != "" {
			t.Errorf("entries: %+v", es)
		}
	})
}

// A manual payment through billinghttp is recorded with the balance before → after, and
// its reference is its key: the same payment again adds no second entry.
func TestAuditAPIPayment(t *testing.T) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, clk *storetest.Clock) {
		e := newAuditEnv(t, db, clk)
		ws := e.workspace(map[string]any{"name": "Acme"})
		e.grant(ws.ID, "5", "g")
		pay := map[string]any{"amount": "100", "reference": "BANK-1", "note": "wire"}
		e.call("POST", "/api/v1/workspaces/"+ws.ID+"/payments", operatorToken, pay, http.StatusCreated, nil)
		e.call("POST", "/api/v1/workspaces/"+ws.ID+"/payments", operatorToken, pay, http.StatusOK, nil) // the same payment again
		es := e.auditEntries("POST /api/v1/workspaces/{id}/payments")
		if len(es) != 1 {
			t.Fatalf("%d payment entries, want 1: %+v", len(es), es)
		}
		en := es[0]
		if en.Before["balance"] != "5.000000" || en.After["balance"] != "105.000000" || en.After["request.amount"] != "100" ||
			en.After["request.reference"] != "BANK-1" || en.After["status"] != "201" || en.IdempotencyKey != "/api/v1/workspaces/"+ws.ID+"/payments#BANK-1" {
			t.Errorf("payment: %+v", en)
		}
	})
}

// Creating redemption codes is recorded without the codes (an answer's lists are not
// copied: the codes are shown once), and disabling one with the code's new state.
func TestAuditAPICodes(t *testing.T) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, clk *storetest.Clock) {
		e := newAuditEnv(t, db, clk)
		var b struct {
			BatchID string   `json:"batch_id"`
			Codes   []string `json:"codes"`
		}
		e.call("POST", "/api/v1/redemption-codes", operatorToken, map[string]any{"amount": "5", "count": 2,
			"expires_at": t0.AddDate(0, 1, 0).Format("2006-01-02T15:04:05Z"), "note": "promo"}, http.StatusCreated, &b)
		if len(b.Codes) != 2 {
			t.Fatalf("codes: %+v", b)
		}
		var page struct {
			Codes []struct {
				ID string `json:"id"`
			} `json:"codes"`
		}
		e.call("GET", "/api/v1/redemption-codes/batches/"+b.BatchID, operatorToken, nil, http.StatusOK, &page)
		if len(page.Codes) == 0 {
			t.Fatalf("no codes listed")
		}
		id := page.Codes[0].ID
		e.call("POST", "/api/v1/redemption-codes/"+id+"/disable", operatorToken, nil, http.StatusOK, nil)
		r := e.call("GET", "/api/v1/audit", operatorToken, nil, http.StatusOK, nil)
		for _, c := range b.Codes {
			if strings.Contains(string(r.body), c) {
				t.Fatalf("a code is in the log: %s", r.body)
			}
		}
		cs := e.auditEntries("POST /api/v1/redemption-codes")
		if len(cs) != 1 || cs[0].After["batch_id"] != b.BatchID || cs[0].After["request.count"] != "2" || cs[0].After["codes"] != "" {
			t.Errorf("create: %+v", cs)
		}
		ds := e.auditEntries("POST /api/v1/redemption-codes/{code_id}/disable")
		if len(ds) != 1 || ds[0].After["id"] != id || ds[0].After["disabled_at"] == "" || ds[0].After["status"] != "200" {
			t.Errorf("disable: %+v", ds)
		}
	})
}

// An invitation's link carries the token that accepts it: the log shows only that it
// was set.
func TestAuditAPIInvitationLink(t *testing.T) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, clk *storetest.Clock) {
		e := newAuditEnv(t, db, clk)
		ws := e.workspace(map[string]any{"name": "Acme"})
		var sent struct {
			ID   string `json:"id"`
			Link string `json:"link"`
		}
		e.call("POST", "/api/v1/workspaces/"+ws.ID+"/invitations", operatorToken, map[string]any{"email": "ann@example.com", "role": "member"}, http.StatusCreated, &sent)
		if sent.Link == "" {
			t.Fatal("no link")
		}
		r := e.call("GET", "/api/v1/audit", operatorToken, nil, http.StatusOK, nil)
		if strings.Contains(string(r.body), sent.Link) {
			t.Fatalf("the invitation's link is in the log: %s", r.body)
		}
		es := e.auditEntries("POST /api/v1/workspaces/{id}/invitations")
		if len(es) != 1 || es[0].After["link"] != "set" || es[0].After["id"] != sent.ID || es[0].After["request.email"] != "ann@example.com" {
			t.Errorf("invitation: %+v", es)
		}
	})
}
