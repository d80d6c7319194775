package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"spectra/internal/api"
	"spectra/internal/audit"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

type priceListOut struct {
	Name           string           `json:"name"`
	AdjustPercent  json.Number      `json:"adjust_percent"`
	Prices         []map[string]any `json:"prices"`
	Workspaces     []string         `json:"workspaces"`
	WorkspaceCount int              `json:"workspace_count"`
	CreatedAt      time.Time        `json:"created_at"`
}

// TestPriceListsAPI: POST /api/v1/price-lists makes a list (an adjustment, overriding
// versions, or both), a repeat of its body is 200 with no change, another body under the
// name 409 price_list_exists; GET lists and reads them; POST …/prices adds a version,
// immutable; every refusal has its code and changes nothing; only the operator may call.
func TestPriceListsAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.price("gpt-x", "2.00", "0.50", "8.00")
		var l priceListOut
		e.call("POST", "/api/v1/price-lists", operatorToken, `{"name":"enterprise-2026","adjust_percent":-15}`, http.StatusCreated, &l)
		if l.Name != "enterprise-2026" || l.AdjustPercent != "-15" || len(l.Prices) != 0 || len(l.Workspaces) != 0 || l.WorkspaceCount != 0 || !l.CreatedAt.Equal(t0) {
			t.Fatalf("created %+v", l)
		}
		e.call("POST", "/api/v1/price-lists", operatorToken, `{"name":"enterprise-2026","adjust_percent":-15}`, http.StatusOK, &l)
		e.call("POST", "/api/v1/price-lists", operatorToken, `{"name":"enterprise-2026","adjust_percent":"-15.00"}`, http.StatusOK, &l)
		e.wantError("POST", "/api/v1/price-lists", operatorToken, `{"name":"enterprise-2026","adjust_percent":-10}`, http.StatusConflict, "price_list_exists")
		e.wantError("POST", "/api/v1/price-lists", operatorToken, `{"name":"enterprise-2026"}`, http.StatusConflict, "price_list_exists")

		// Overrides and an adjustment; a version without effective_from is from now, and
		// the same body later is still a repeat.
		body := map[string]any{"name": "acme", "adjust_percent": 12.5, "prices": []map[string]any{
			{"model": "gpt-x", "input": "1.00", "output": "4.00", "effective_from": "2025-01-01T00:00:00Z"},
			{"model": "own-model", "input": "3.00", "output": "9.00", "units": map[string]string{"web_search_call": "0.01"}},
		}}
		e.call("POST", "/api/v1/price-lists", operatorToken, body, http.StatusCreated, &l)
		if l.AdjustPercent != "12.5" || len(l.Prices) != 2 || l.Prices[0]["model"] != "gpt-x" || l.Prices[0]["output"] != "4.000000" ||
			l.Prices[1]["effective_from"] != t0.Format(time.RFC3339) {
			t.Fatalf("created %+v", l)
		}
		e.clock.Advance(time.Hour)
		e.call("POST", "/api/v1/price-lists", operatorToken, body, http.StatusOK, &l)
		if len(l.Prices) != 2 {
			t.Fatalf("a repeat changed the list: %+v", l)
		}
		fewer := map[string]any{"name": "acme", "adjust_percent": 12.5, "prices": body["prices"].([]map[string]any)[:1]}
		e.wantError("POST", "/api/v1/price-lists", operatorToken, fewer, http.StatusConflict, "price_list_exists")

		// A version added later, immutable.
		path := "/api/v1/price-lists/acme/prices"
		v := map[string]any{"model": "gpt-x", "input": "0.90", "output": "3.60", "effective_from": "2025-06-01T00:00:00Z"}
		var p map[string]any
		e.call("POST", path, operatorToken, v, http.StatusCreated, &p)
		if p["model"] != "gpt-x" || p["output"] != "3.600000" {
			t.Fatalf("version %v", p)
		}
		e.call("POST", path, operatorToken, v, http.StatusOK, &p)
		v["output"] = "3.70"
		e.wantError("POST", path, operatorToken, v, http.StatusConflict, "price_version_exists")
		e.wantError("POST", "/api/v1/price-lists/nobody/prices", operatorToken, map[string]any{"model": "gpt-x", "input": "1", "output": "1"}, http.StatusNotFound, "price_list_not_found")
		// The create body is still a repeat: the versions it made are unchanged.
		e.call("POST", "/api/v1/price-lists", operatorToken, body, http.StatusOK, &l)
		if len(l.Prices) != 3 {
			t.Fatalf("acme has %d versions", len(l.Prices))
		}

		for _, tc := range []struct {
			path, body string
			status     int
			code       string
		}{
			{"/api/v1/price-lists", `{"name":"Bad Name"}`, 400, "invalid_price_list"},
			{"/api/v1/price-lists", `{"name":""}`, 400, "invalid_price_list"},
			{"/api/v1/price-lists", `{"adjust_percent":5}`, 400, "invalid_price_list"},
			{"/api/v1/price-lists", `{"name":"x","adjust_percent":-100}`, 400, "invalid_adjust_percent"},
			{"/api/v1/price-lists", `{"name":"x","adjust_percent":1000.01}`, 400, "invalid_adjust_percent"},
			{"/api/v1/price-lists", `{"name":"x","adjust_percent":1.234}`, 400, "invalid_adjust_percent"},
			{"/api/v1/price-lists", `{"name":"x","adjust_percent":1e2}`, 400, "invalid_adjust_percent"},
			{"/api/v1/price-lists", `{"name":"x","adjust_percent":"ten"}`, 400, "invalid_adjust_percent"},
			{"/api/v1/price-lists", `{"name":"x","adjust_percent":true}`, 400, "invalid_adjust_percent"},
			{"/api/v1/price-lists", `{"name":"x","prices":[{"model":"","input":"1","output":"1"}]}`, 400, "invalid_model"},
			{"/api/v1/price-lists", `{"name":"x","prices":[{"model":"m","output":"1"}]}`, 400, "missing_price"},
			{"/api/v1/price-lists", `{"name":"x","prices":[{"model":"m","input":"-1","output":"1"}]}`, 400, "invalid_price"},
			{"/api/v1/price-lists", `{"name":"x","prices":[{"model":"m","input":"1","output":"1","effective_from":"soon"}]}`, 400, "invalid_effective_from"},
			{"/api/v1/price-lists", `{"name":"x","prices":[{"model":"m","input":"1","output":"1","effective_from":"2025-01-01T00:00:00Z"},{"model":"m","input":"2","output":"2","effective_from":"2025-01-01T00:00:00Z"}]}`, 400, "duplicate_price"},
			{"/api/v1/price-lists", `{"name":"x","extra":1}`, 400, "unknown_field"},
			{path, `{"model":"gpt-x","input":"1"}`, 400, "missing_price"},
			{path, `{"model":"bad model","input":"1","output":"1"}`, 400, "invalid_model"},
			{path, `{"model":"gpt-x","input":"1","output":"x"}`, 400, "invalid_price"},
		} {
			e.wantError("POST", tc.path, operatorToken, tc.body, tc.status, tc.code)
		}

		var all struct {
			Currency   string         `json:"currency"`
			PriceLists []priceListOut `json:"price_lists"`
		}
		e.call("GET", "/api/v1/price-lists", operatorToken, nil, http.StatusOK, &all)
		if len(all.PriceLists) != 2 || all.PriceLists[0].Name != "acme" || all.PriceLists[1].Name != "enterprise-2026" || all.Currency != "USD" {
			t.Fatalf("lists %+v", all)
		}
		e.call("GET", "/api/v1/price-lists/acme", operatorToken, nil, http.StatusOK, &l)
		if len(l.Prices) != 3 || l.AdjustPercent != "12.5" {
			t.Fatalf("acme %+v", l)
		}
		e.wantError("GET", "/api/v1/price-lists/nobody", operatorToken, nil, http.StatusNotFound, "price_list_not_found")
		e.wantError("GET", "/api/v1/price-lists/Not%20A%20Name", operatorToken, nil, http.StatusNotFound, "price_list_not_found")

		// The operator's alone.
		ws := e.workspace(map[string]any{"name": "Acme"})
		owner := e.key(ws.ID, map[string]any{"name": "admin", "kind": "admin"}).Key
		e.wantError("GET", "/api/v1/price-lists", owner, nil, http.StatusForbidden, "operator_required")
		e.wantError("POST", "/api/v1/price-lists", owner, `{"name":"mine","adjust_percent":-99}`, http.StatusForbidden, "operator_required")
		e.wantError("POST", path, owner, map[string]any{"model": "gpt-x", "input": "0", "output": "0"}, http.StatusForbidden, "operator_required")
		e.wantError("GET", "/api/v1/price-lists", "", nil, http.StatusUnauthorized, "unauthorized")
	})
}

// TestPriceListAssignmentAPI: PATCH /api/v1/workspaces/{id} {"price_list": …} assigns a
// list (GET shows it, the list shows the workspace), null or "" returns the workspace to
// the catalog; an unknown list is 404 price_list_not_found, a malformed name
// invalid_price_list, a wrong type invalid_field_type, an owner's key 403
// operator_required, each changing nothing. An event sent after the assignment costs the
// list's price; one sent before keeps its cost.
func TestPriceListAssignmentAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.price("gpt-x", "2.00", "0.50", "8.00")
		ws := e.workspace(map[string]any{"name": "Acme"})
		e.grant(ws.ID, "100", "g1")
		inf := e.key(ws.ID, map[string]any{"name": "app", "kind": "inference"}).Key
		owner := e.key(ws.ID, map[string]any{"name": "admin", "kind": "admin"}).Key
		e.call("POST", "/api/v1/price-lists", operatorToken, `{"name":"enterprise-2026","adjust_percent":-15}`, http.StatusCreated, nil)
		path := "/api/v1/workspaces/" + ws.ID

		if out := e.send(inf, ev("before", "gpt-x", t0, 0, 0, 1_000_000)); out.Accepted != 1 {
			t.Fatalf("send: %+v", out)
		}
		var got map[string]any
		e.call("GET", path, operatorToken, nil, http.StatusOK, &got)
		if got["price_list"] != "" {
			t.Fatalf("a new workspace's price_list: %v", got["price_list"])
		}
		for _, tc := range []struct {
			token, body string
			status      int
			code        string
		}{
			{operatorToken, `{"price_list":"silver"}`, 404, "price_list_not_found"},
			{operatorToken, `{"price_list":"Not A List"}`, 400, "invalid_price_list"},
			{operatorToken, `{"price_list":5}`, 400, "invalid_field_type"},
			{operatorToken, `{"price_list":["enterprise-2026"]}`, 400, "invalid_field_type"},
			{owner, `{"price_list":"enterprise-2026"}`, 403, "operator_required"},
			{owner, `{"price_list":null}`, 403, "operator_required"},
		} {
			e.wantError("PATCH", path, tc.token, tc.body, tc.status, tc.code)
		}
		e.wantError("PATCH", "/api/v1/workspaces/ws_nobody", operatorToken, `{"price_list":"enterprise-2026"}`, 404, "workspace_not_found")
		e.call("GET", path, operatorToken, nil, http.StatusOK, &got)
		if got["price_list"] != "" {
			t.Fatalf("a refused PATCH assigned %v", got["price_list"])
		}

		e.call("PATCH", path, operatorToken, `{"price_list":"enterprise-2026"}`, http.StatusOK, &got)
		if got["price_list"] != "enterprise-2026" {
			t.Fatalf("PATCH answered %v", got)
		}
		e.call("GET", path, owner, nil, http.StatusOK, &got)
		if got["price_list"] != "enterprise-2026" {
			t.Fatalf("GET after PATCH: %v", got)
		}
		var l priceListOut
		e.call("GET", "/api/v1/price-lists/enterprise-2026", operatorToken, nil, http.StatusOK, &l)
		if len(l.Workspaces) != 1 || l.Workspaces[0] != ws.ID || l.WorkspaceCount != 1 {
			t.Fatalf("the list's workspaces: %+v", l)
		}
		e.clock.Advance(time.Minute)
		if out := e.send(inf, ev("after", "gpt-x", e.clock.Now(), 0, 0, 1_000_000)); out.Accepted != 1 {
			t.Fatalf("send: %+v", out)
		}
		// 8.00 then 8.00 × 0.85 = 6.80.
		if b := e.balance(ws.ID); b.Balance != "85.200000" {
			t.Fatalf("balance %s, want 100 - 8 - 6.80", b.Balance)
		}

		for _, clear := range []string{`{"price_list":null}`, `{"price_list":""}`} {
			e.call("PATCH", path, operatorToken, `{"price_list":"enterprise-2026"}`, http.StatusOK, nil)
			e.call("PATCH", path, operatorToken, clear, http.StatusOK, &got)
			if got["price_list"] != "" {
				t.Fatalf("%s left %v", clear, got["price_list"])
			}
		}
		// An owner may still change the time zone alone.
		e.call("PATCH", path, owner, `{"timezone":"Europe/Berlin"}`, http.StatusOK, nil)
	})
}

// TestPriceListAudit: the operator's list writes and assignments are in the audit log.
func TestPriceListAudit(t *testing.T) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, clk *storetest.Clock) {
		log := audit.New(db, clk.Now)
		e := newEnv(t, db, clk, func(d *api.Deps) { d.Audit = log })
		ws := e.workspace(map[string]any{"name": "Acme"})
		e.call("POST", "/api/v1/price-lists", operatorToken, `{"name":"gold","adjust_percent":-15}`, http.StatusCreated, nil)
		e.call("POST", "/api/v1/price-lists/gold/prices", operatorToken, `{"model":"m","input":"1","output":"2","effective_from":"2025-01-01T00:00:00Z"}`, http.StatusCreated, nil)
		e.call("PATCH", "/api/v1/workspaces/"+ws.ID, operatorToken, `{"price_list":"gold"}`, http.StatusOK, nil)
		p, err := log.List(context.Background(), audit.Filter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		byAction := map[string]audit.Entry{}
		for _, en := range p.Entries {
			byAction[en.Action] = en
		}
		if en := byAction["POST /api/v1/price-lists"]; en.After["name"] != "gold" || en.After["request.adjust_percent"] != "-15" || en.After["status"] != "201" {
			t.Errorf("create entry %+v", en)
		}
		if en := byAction["POST /api/v1/price-lists/{name}/prices"]; en.Target != "/api/v1/price-lists/gold/prices" || en.After["request.model"] != "m" {
			t.Errorf("version entry %+v", en)
		}
		if en := byAction["PATCH /api/v1/workspaces/{id}"]; en.WorkspaceID != ws.ID || en.Before["price_list"] != "" || en.After["price_list"] != "gold" {
			t.Errorf("assignment entry %+v", en)
		}
	})
}
