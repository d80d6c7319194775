package budgethttp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"spectra/internal/budget"
	"spectra/internal/budget/budgethttp"
	"spectra/internal/errs"
	"spectra/internal/httpjson/httpjsontest"
	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/openapitest"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// auth accepts "Bearer operator", and "Bearer <need>:<workspace id>".
var auth = httpjsontest.Auth{Strong: team.ActManageBudgets, As: "billing",
	OtherWorkspace: errs.E(errs.NotFound, "workspace_not_found", "no such workspace"),
	Weak:           errs.E(errs.Forbidden, "billing_role_required", "needs the owner, admin or billing role")}

var t0 = time.Date(2026, 3, 11, 15, 0, 0, 0, time.UTC)

type env struct {
	t      *testing.T
	srv    *httptest.Server
	ws     string
	meter  *metering.Service
	ledger *ledger.Service
	svc    *budget.Service
}

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, c *storetest.Clock) {
		se := storetest.NewEnv(db, c) // the clock stays at t0
		ctx := context.Background()
		tm := se.Team
		e := &env{t: t, meter: se.Meter, ledger: se.Ledger}
		var err error
		e.svc, err = budget.New(budget.Config{Store: db, Metering: e.meter, Ledger: e.ledger, Team: tm, Now: c.Now,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.AddPrice(ctx, pricing.Price{Model: "m1", Output: money.Scale, EffectiveFrom: t0.AddDate(-1, 0, 0)}); err != nil {
			t.Fatal(err)
		}
		ws, err := tm.CreateWorkspace(ctx, team.Workspace{Name: "Acme", Timezone: "Europe/Paris"})
		if err != nil {
			t.Fatal(err)
		}
		e.ws = ws.ID
		mux := http.NewServeMux()
		budgethttp.Register(mux, e.svc, auth)
		e.srv = httptest.NewServer(mux)
		t.Cleanup(e.srv.Close)
		fn(t, e)
	})
}

type response = httpjsontest.Response

func (e *env) do(method, path, token, body string) response {
	e.t.Helper()
	return httpjsontest.Do(e.t, e.srv.URL, method, path, token, body)
}

var want = httpjsontest.Want

func (e *env) manager() string { return "billing:" + e.ws }
func (e *env) reader() string  { return "read:" + e.ws }

func TestBudgetLifecycle(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		base := "/api/v1/workspaces/" + e.ws + "/budgets"
		r := e.do("POST", base, e.manager(), `{"name":"Prod","scope":"project","scope_id":"prod","amount":"10.5","period":"week","thresholds":[100,50],"hard_limit":true}`)
		want(t, r, http.StatusCreated, "")
		b := r.JSON(t)
		id := b["id"].(string)
		if !strings.HasPrefix(id, "bud_") || b["amount"] != "10.500000" || b["currency"] != "USD" || b["spent"] != "0.000000" ||
			b["remaining"] != "10.500000" || b["hard_limit"] != true || b["period"] != "week" || b["scope_id"] != "prod" {
			t.Fatalf("created %s", r.Body)
		}
		if th := b["thresholds"].([]any); len(th) != 2 || th[0] != 50.0 {
			t.Fatalf("thresholds %v", th)
		}
		// Monday 9 March 2026, midnight in Paris.
		if b["period_start"] != "2026-03-08T23:00:00Z" || b["period_end"] != "2026-03-15T23:00:00Z" {
			t.Fatalf("period %v – %v", b["period_start"], b["period_end"])
		}
		res, err := e.meter.Ingest(context.Background(), []metering.Event{{ID: ids.New("ev"), WorkspaceID: e.ws, KeyID: "k", Project: "prod",
			Model: "m1", Timestamp: t0, Usage: pricing.Usage{Output: 2_500_000}}})
		if err != nil || res.Accepted != 1 {
			t.Fatalf("ingest %+v %v", res, err)
		}
		r = e.do("GET", base+"/"+id, e.reader(), "")
		want(t, r, http.StatusOK, "")
		if g := r.JSON(t); g["spent"] != "2.500000" || g["remaining"] != "8.000000" || g["percent"] != 23.0 || g["projected"] == nil {
			t.Fatalf("status %s", r.Body)
		}
		r = e.do("GET", base, e.reader(), "")
		want(t, r, http.StatusOK, "")
		if l := r.JSON(t)["data"].([]any); len(l) != 1 || l[0].(map[string]any)["id"] != id {
			t.Fatalf("list %s", r.Body)
		}
		r = e.do("PATCH", base+"/"+id, e.manager(), `{"name":"Prod 2","amount":"2.000000","period":"all_time","thresholds":[],"hard_limit":false}`)
		want(t, r, http.StatusOK, "")
		if g := r.JSON(t); g["name"] != "Prod 2" || g["amount"] != "2.000000" || g["period_end"] != nil || g["exceeded"] != true || g["remaining"] != "0.000000" || g["hard_limit"] != false {
			t.Fatalf("patched %s", r.Body)
		}
		want(t, e.do("DELETE", base+"/"+id, e.manager(), ""), http.StatusNoContent, "")
		want(t, e.do("GET", base+"/"+id, e.reader(), ""), http.StatusNotFound, "budget_not_found")
	})
}

func TestBudgetRejections(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		base := "/api/v1/workspaces/" + e.ws + "/budgets"
		ok := `{"name":"x","scope":"workspace","amount":"1","period":"day"}`
		cases := []struct {
			method, path, token, body string
			status                    int
			code                      string
		}{
			{"POST", base, "", ok, 401, "unauthorized"},
			{"POST", base, "billing:ws_other", ok, 404, "workspace_not_found"},
			{"POST", base, e.reader(), ok, 403, "billing_role_required"},
			{"POST", "/api/v1/workspaces/ws_none/budgets", "operator", ok, 404, "workspace_not_found"},
			{"POST", base, e.manager(), ``, 400, "invalid_json"},
			{"POST", base, e.manager(), `{"name":`, 400, "invalid_json"},
			{"POST", base, e.manager(), `[1]`, 400, "invalid_json"},
			{"POST", base, e.manager(), ok + ok, 400, "invalid_json"},
			{"POST", base, e.manager(), `{"name":"x","colour":"red"}`, 400, "unknown_field"},
			{"POST", base, e.manager(), `{"name":"x","scope":"workspace","amount":1,"period":"day"}`, 400, "invalid_field_type"},
			{"POST", base, e.manager(), `{"name":"x","scope":"workspace","period":"day"}`, 400, "invalid_amount"},
			{"POST", base, e.manager(), `{"name":"x","scope":"workspace","amount":"0","period":"day"}`, 400, "invalid_amount"},
			{"POST", base, e.manager(), `{"name":"x","scope":"workspace","amount":"1.0000001","period":"day"}`, 400, "invalid_amount"},
			{"POST", base, e.manager(), `{"name":" ","scope":"workspace","amount":"1","period":"day"}`, 400, "invalid_budget_name"},
			{"POST", base, e.manager(), `{"name":"x","scope":"team","amount":"1","period":"day"}`, 400, "invalid_scope"},
			{"POST", base, e.manager(), `{"name":"x","scope":"key","amount":"1","period":"day"}`, 400, "invalid_scope_id"},
			{"POST", base, e.manager(), `{"name":"x","scope":"key","scope_id":"key_none","amount":"1","period":"day"}`, 400, "unknown_scope_key"},
			{"POST", base, e.manager(), `{"name":"x","scope":"workspace","amount":"1","period":"year"}`, 400, "invalid_period"},
			{"POST", base, e.manager(), `{"name":"x","scope":"workspace","amount":"1","period":"day","thresholds":[0]}`, 400, "invalid_thresholds"},
			{"POST", base, e.manager(), `{"name":"x","scope":"workspace","amount":"1","period":"day","thresholds":[1001]}`, 400, "invalid_thresholds"},
			{"GET", base, "", "", 401, "unauthorized"},
			{"GET", base, "read:ws_other", "", 404, "workspace_not_found"},
			{"GET", base + "/bud_none", e.reader(), "", 404, "budget_not_found"},
			{"PATCH", base + "/bud_none", e.manager(), `{"name":"y"}`, 404, "budget_not_found"},
			{"PATCH", base + "/bud_none", e.reader(), `{"name":"y"}`, 403, "billing_role_required"},
			{"DELETE", base + "/bud_none", e.manager(), "", 404, "budget_not_found"},
			{"DELETE", base + "/bud_none", e.reader(), "", 403, "billing_role_required"},
		}
		for _, c := range cases {
			r := e.do(c.method, c.path, c.token, c.body)
			if r.Status != c.status || r.Code() != c.code {
				t.Errorf("%s %s %s: got %d %s, want %d %s", c.method, c.path, c.body, r.Status, r.Body, c.status, c.code)
			}
		}
		r := e.do("POST", base, e.manager(), ok)
		want(t, r, http.StatusCreated, "")
		id := r.JSON(t)["id"].(string)
		for body, code := range map[string]string{
			`{"scope":"key"}`:       "scope_immutable",
			`{"scope_id":"k"}`:      "scope_immutable",
			`{"amount":"-1"}`:       "invalid_amount",
			`{"period":"hour"}`:     "invalid_period",
			`{"name":""}`:           "invalid_budget_name",
			`{"thresholds":[2000]}`: "invalid_thresholds",
			`{"hard_limit":"yes"}`:  "invalid_field_type",
			`{"unknown":1}`:         "unknown_field",
		} {
			want(t, e.do("PATCH", base+"/"+id, e.manager(), body), http.StatusBadRequest, code)
		}
	})
}

func TestAlertsAndSettings(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ws := "/api/v1/workspaces/" + e.ws
		r := e.do("GET", ws+"/alert-settings", e.reader(), "")
		want(t, r, http.StatusOK, "")
		if s := r.JSON(t); s["low_balance_line"] != "0.000000" || s["armed"] != true || s["currency"] != "USD" {
			t.Fatalf("settings %s", r.Body)
		}
		want(t, e.do("PUT", ws+"/alert-settings", e.reader(), `{"low_balance_line":"5"}`), 403, "billing_role_required")
		want(t, e.do("PUT", ws+"/alert-settings", e.manager(), `{"low_balance_line":"-5"}`), 400, "invalid_low_balance_line")
		want(t, e.do("PUT", ws+"/alert-settings", e.manager(), `{"low_balance_line":"ten"}`), 400, "invalid_low_balance_line")
		want(t, e.do("PUT", ws+"/alert-settings", e.manager(), `{}`), 400, "invalid_low_balance_line")
		want(t, e.do("PUT", ws+"/alert-settings", e.manager(), `{"line":"1"}`), 400, "unknown_field")
		want(t, e.do("GET", ws+"/alert-settings", "", ""), 401, "unauthorized")
		want(t, e.do("GET", "/api/v1/workspaces/ws_none/alert-settings", "operator", ""), 404, "workspace_not_found")
		r = e.do("PUT", ws+"/alert-settings", e.manager(), `{"low_balance_line":"10.00"}`)
		want(t, r, http.StatusOK, "")
		if s := r.JSON(t); s["low_balance_line"] != "10.000000" {
			t.Fatalf("put settings %s", r.Body)
		}
		// A grant of 12 and a spend of 3 falls below the line: one balance.low alert.
		if _, _, err := e.ledger.Grant(ctx, e.ws, 12*money.Scale, "g", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.meter.Ingest(ctx, []metering.Event{{ID: ids.New("ev"), WorkspaceID: e.ws, KeyID: "k", Model: "m1", Timestamp: t0,
			Usage: pricing.Usage{Output: 3 * money.Scale}}}); err != nil {
			t.Fatal(err)
		}
		e.svc.Wait()
		r = e.do("GET", ws+"/alerts?limit=10", e.reader(), "")
		want(t, r, http.StatusOK, "")
		data := r.JSON(t)["data"].([]any)
		if len(data) != 1 {
			t.Fatalf("alerts %s", r.Body)
		}
		a := data[0].(map[string]any)
		p := a["payload"].(map[string]any)
		if a["kind"] != "balance.low" || !strings.HasPrefix(a["id"].(string), "alt_") || p["line"].(map[string]any)["amount"] != "10.000000" ||
			p["available"].(map[string]any)["amount"] != "9.000000" || a["dispatched_at"] != nil {
			t.Fatalf("alert %s", r.Body)
		}
		want(t, e.do("GET", ws+"/alerts?limit=0", e.reader(), ""), 200, "") // 0: the default
		want(t, e.do("GET", ws+"/alerts?limit=x", e.reader(), ""), 400, "invalid_limit")
		want(t, e.do("GET", ws+"/alerts?limit=1001", e.reader(), ""), 400, "invalid_limit")
		want(t, e.do("GET", ws+"/alerts", "", ""), 401, "unauthorized")
		want(t, e.do("GET", ws+"/alerts", "read:ws_other", ""), 404, "workspace_not_found")
	})
}

func TestForecast(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ws := "/api/v1/workspaces/" + e.ws
		if _, _, err := e.ledger.Grant(ctx, e.ws, 100*money.Scale, "g", ""); err != nil {
			t.Fatal(err)
		}
		for d := range 7 {
			if _, err := e.meter.Ingest(ctx, []metering.Event{{ID: ids.New("ev"), WorkspaceID: e.ws, KeyID: "k", Model: "m1",
				Timestamp: t0.AddDate(0, 0, -d), Usage: pricing.Usage{Output: 2 * money.Scale}}}); err != nil {
				t.Fatal(err)
			}
		}
		r := e.do("GET", ws+"/usage/forecast", e.reader(), "")
		want(t, r, http.StatusOK, "")
		f := r.JSON(t)
		// 14 spent over 7 days: 2 a day; 86 available last 43 days.
		if f["burn_per_day"] != "2.000000" || f["runway_days"] != 43.0 || f["month_to_date"] != "14.000000" || f["currency"] != "USD" ||
			f["timezone"] != "Europe/Paris" || f["month_projected"] == nil || f["available"] != "86.000000" {
			t.Fatalf("forecast %s", r.Body)
		}
		want(t, e.do("GET", ws+"/usage/forecast", "", ""), 401, "unauthorized")
		want(t, e.do("GET", "/api/v1/workspaces/ws_none/usage/forecast", "operator", ""), 404, "workspace_not_found")
	})
}

// The OpenAPI fragment documents every route and nothing else; its $refs resolve to its
// own schemas or the core's Error and Amount.
func TestOpenAPIFragmentCoversRoutes(t *testing.T) {
	openapitest.Check(t, budgethttp.OpenAPI, budgethttp.Patterns(), "Error", "Amount")
}
