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
	"spectra/internal/gateway"
	"spectra/internal/gateway/gatewayhttp"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// newAuditEnv serves the API with the audit log and, mounted beside it as cmd/spectra
// does, the gateway's operator routes (upstreams, key limits) guarded by the API's
// RequireOperator.
func newAuditEnv(t *testing.T, db *store.DB, clk *storetest.Clock) *env {
	t.Helper()
	e := &env{t: t, clock: clk, db: db, reg: prometheus.NewRegistry(), logs: &storetest.Buffer{}}
	se := storetest.NewEnv(db, clk)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := api.New(api.Deps{Team: se.Team, Ledger: se.Ledger, Metering: se.Meter, Prices: db, DB: db,
		AdminTokenHash: team.HashSecret(operatorToken), Currency: "USD", Now: clk.Now,
		Log: slog.New(slog.NewTextHandler(e.logs, nil)), Registry: e.reg, Audit: audit.New(db, clk.Now)})
	gw, err := gateway.New(gateway.Config{Team: se.Team, Ledger: se.Ledger, Metering: se.Meter, Store: db, Now: clk.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Flush(context.Background()) })
	mux := http.NewServeMux()
	s.Register(mux)
	gatewayhttp.Register(mux, gw, s)
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
		if en.WorkspaceID != ws.ID || en.IdempotencyKey != ws.ID+":g1" {
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
