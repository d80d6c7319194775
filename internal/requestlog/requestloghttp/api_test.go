package requestloghttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/httpjson/httpjsontest"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/openapitest"
	"spectra/internal/pricing"
	"spectra/internal/requestlog"
	"spectra/internal/requestlog/requestloghttp"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// auth lets "operator" and "<anything>:<workspace id>" read; another workspace's token
// is forbidden_workspace.
var auth = httpjsontest.Auth{Strong: team.ActOperate,
	OtherWorkspace: errs.E(errs.Forbidden, "forbidden_workspace", "this key belongs to another workspace")}

var t0 = time.Date(2026, 3, 11, 15, 0, 0, 0, time.UTC)

type env struct {
	t        *testing.T
	srv      *httptest.Server
	ws, ws2  string
	db       *store.DB
	meter    *metering.Service
	requests []string // every request id of ws, newest first
}

// each runs fn on both databases with workspace ws holding 6 answered requests (two
// models, two keys, two members, two projects, costs and latencies that differ) and 4
// refused or failed ones, and workspace ws2 holding one answered request.
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, c *storetest.Clock) {
		ctx := context.Background()
		now := c.Now
		tm := team.NewService(db, now)
		e := &env{t: t, db: db, meter: metering.NewService(db, db, now)}
		for _, p := range []pricing.Price{
			{Model: "m-big", Input: 3 * money.Scale, Output: 15 * money.Scale, Request: 100, EffectiveFrom: t0.AddDate(-1, 0, 0)},
			{Model: "m-small", Input: money.Scale / 2, CachedInput: money.Scale / 20, Output: 2 * money.Scale, EffectiveFrom: t0.AddDate(-1, 0, 0)},
		} {
			if err := db.AddPrice(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		for _, w := range []*string{&e.ws, &e.ws2} {
			ws, err := tm.CreateWorkspace(ctx, team.Workspace{Name: "Acme", Timezone: "Europe/Paris"})
			if err != nil {
				t.Fatal(err)
			}
			*w = ws.ID
			if _, _, err := ledger.NewService(db, now).Grant(ctx, ws.ID, 100*money.Scale, "g", ""); err != nil {
				t.Fatal(err)
			}
		}
		type ev struct {
			model, key, member, project string
			in, cached, out, latency    int64
		}
		var events []metering.Event
		for i, x := range []ev{
			{"m-big", "key_1", "usr_a", "web", 1000, 0, 500, 900},
			{"m-small", "key_1", "usr_a", "web", 4000, 1000, 100, 120},
			{"m-big", "key_2", "usr_b", "batch", 10, 0, 10, 3000},
			{"m-small", "key_2", "usr_b", "batch", 0, 0, 0, 40},
			{"m-small", "key_1", "usr_b", "web", 20000, 0, 2000, 700},
			{"m-big", "key_2", "usr_a", "batch", 200, 0, 40, 250},
		} {
			events = append(events, metering.Event{ID: fmt.Sprintf("req_e%d", i), WorkspaceID: e.ws, KeyID: x.key, Member: x.member, Project: x.project,
				Model: x.model, Timestamp: t0.Add(-time.Duration(60-i*10) * time.Minute), Usage: pricing.Usage{Input: x.in, CachedInput: x.cached, Output: x.out},
				Source: "gateway", Endpoint: "/v1/chat/completions", Status: 200, LatencyMS: x.latency, Held: 50_000})
		}
		events = append(events, metering.Event{ID: "req_other", WorkspaceID: e.ws2, Model: "m-big", Timestamp: t0.Add(-time.Minute), Usage: pricing.Usage{Input: 5, Output: 5}})
		res, err := e.meter.Ingest(ctx, events)
		if err != nil || res.Accepted != len(events) {
			t.Fatalf("ingest: %+v %v", res, err)
		}
		refusals := []requestlog.Refusal{
			{ID: "req_r0", Timestamp: t0.Add(-55 * time.Minute), KeyID: "key_1", Member: "usr_a", Project: "web", Model: "m-big", HTTPStatus: 402,
				Kind: requestlog.StatusRefused, Code: "insufficient_balance", Message: "recharge", LatencyMS: 1},
			{ID: "req_r1", Timestamp: t0.Add(-35 * time.Minute), KeyID: "key_2", Member: "usr_b", Project: "batch", Model: "m-small", HTTPStatus: 429,
				Kind: requestlog.StatusRefused, Code: "rate_limit_exceeded", LatencyMS: 0},
			{ID: "req_r2", Timestamp: t0.Add(-15 * time.Minute), KeyID: "key_1", Member: "usr_b", Project: "web", Model: "m-small", HTTPStatus: 500,
				Kind: requestlog.StatusUpstreamError, Code: "upstream_error", Upstream: "up1", LatencyMS: 5000},
			{ID: "req_r3", Timestamp: t0.Add(-5 * time.Minute), KeyID: "key_2", Member: "usr_a", Project: "batch", Model: "m-big", HTTPStatus: 402,
				Kind: requestlog.StatusRefused, Code: "budget_exceeded", BudgetID: "bud_1", LatencyMS: 2},
		}
		for i := range refusals {
			refusals[i].WorkspaceID = e.ws
		}
		if err := db.InsertRefusals(ctx, refusals); err != nil {
			t.Fatal(err)
		}
		e.requests = []string{"req_r3", "req_e5", "req_r2", "req_e4", "req_e3", "req_r1", "req_e2", "req_e1", "req_r0", "req_e0"}
		mux := http.NewServeMux()
		requestloghttp.Register(mux, requestlog.NewService(e.meter, db, nil), tm, auth, "USD", slog.New(slog.NewTextHandler(io.Discard, nil)))
		e.srv = httptest.NewServer(mux)
		t.Cleanup(e.srv.Close)
		fn(t, e)
	})
}

type page struct {
	Data []struct {
		ID         string `json:"id"`
		Status     string `json:"status"`
		HTTPStatus int    `json:"http_status"`
		Code       string `json:"code"`
		Cost       string `json:"cost"`
		LatencyMS  int64  `json:"latency_ms"`
		Tokens     struct{ Input, Output int64 }
	} `json:"data"`
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
}

func (e *env) list(token, query string) page {
	e.t.Helper()
	r := httpjsontest.Do(e.t, e.srv.URL, "GET", "/api/v1/workspaces/"+e.ws+"/requests"+query, token, "")
	httpjsontest.Want(e.t, r, 200, "")
	var p page
	if err := json.Unmarshal(r.Body, &p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func ids(p page) []string {
	out := []string{}
	for _, d := range p.Data {
		out = append(out, d.ID)
	}
	return out
}

// TestListMergesAnsweredAndRefused: the log is newest first by default, refusals and
// answered requests in one order, each refusal with its status, code and a cost of 0.
func TestListMergesAnsweredAndRefused(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		p := e.list("operator", "")
		if got := ids(p); !slices.Equal(got, e.requests) || p.HasMore || p.NextCursor != nil {
			t.Fatalf("log %v, want %v", got, e.requests)
		}
		for _, d := range p.Data {
			if d.Status != requestlog.StatusAnswered && (d.Cost != "0.000000" || d.Code == "" || d.HTTPStatus < 400) {
				t.Errorf("refusal %+v", d)
			}
		}
		if p := e.list("member:"+e.ws, "?limit=3"); len(p.Data) != 3 || !p.HasMore {
			t.Fatalf("a member's key reads the log too: %v", ids(p))
		}
	})
}

// TestListFilters: every filter narrows answered and refused requests alike.
func TestListFilters(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for query, want := range map[string][]string{
			"?model=m-big":              {"req_r3", "req_e5", "req_e2", "req_r0", "req_e0"},
			"?key_id=key_1":             {"req_r2", "req_e4", "req_e1", "req_r0", "req_e0"},
			"?member=usr_b&project=web": {"req_r2", "req_e4"},
			"?status=answered":          {"req_e5", "req_e4", "req_e3", "req_e2", "req_e1", "req_e0"},
			"?status=refused":           {"req_r3", "req_r1", "req_r0"},
			"?status=upstream_error":    {"req_r2"},
			"?id=req_r1":                {"req_r1"},
			"?id=req_e3":                {"req_e3"},
			"?id=req_other":             {},
			"?member=usr_nobody":        {},
			"?start=" + url.QueryEscape(t0.Add(-36*time.Minute).Format(time.RFC3339)) + "&end=" + url.QueryEscape(t0.Add(-15*time.Minute).Format(time.RFC3339)): {"req_e4", "req_e3", "req_r1"},
		} {
			if got := ids(e.list("operator", query)); !slices.Equal(got, want) {
				t.Errorf("%s: %v, want %v", query, got, want)
			}
		}
	})
}

// TestListSortsAndCursor: each sort is highest first (refusals count as cost and tokens
// 0, and by their latency), and walking it by cursor, two at a time, gives the same
// order with nothing twice or missed.
func TestListSortsAndCursor(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for _, sort := range []string{"time", "cost", "tokens", "latency"} {
			full := e.list("operator", "?sort="+sort)
			if len(full.Data) != 10 {
				t.Fatalf("%s: %d", sort, len(full.Data))
			}
			var walked []string
			cursor := ""
			for range 10 {
				p := e.list("operator", "?limit=2&sort="+sort+cursor)
				walked = append(walked, ids(p)...)
				if p.NextCursor == nil {
					break
				}
				cursor = "&cursor=" + url.QueryEscape(*p.NextCursor)
			}
			if !slices.Equal(walked, ids(full)) {
				t.Errorf("%s: walked %v, whole %v", sort, walked, ids(full))
			}
			for i := 1; i < len(full.Data); i++ {
				a, b := full.Data[i-1], full.Data[i]
				var ka, kb int64
				switch sort {
				case "cost":
					ca, _ := money.Parse(a.Cost)
					cb, _ := money.Parse(b.Cost)
					ka, kb = int64(ca), int64(cb)
				case "tokens":
					ka, kb = a.Tokens.Input+a.Tokens.Output, b.Tokens.Input+b.Tokens.Output
				case "latency":
					ka, kb = a.LatencyMS, b.LatencyMS
				}
				if ka < kb {
					t.Errorf("%s: %s (%d) before %s (%d)", sort, a.ID, ka, b.ID, kb)
				}
			}
		}
		if got := ids(e.list("operator", "?sort=cost"))[:2]; !slices.Equal(got, []string{"req_e4", "req_e0"}) {
			t.Errorf("most expensive first: %v", got)
		}
		if got := ids(e.list("operator", "?sort=latency"))[0]; got != "req_r2" {
			t.Errorf("slowest first: %v", got)
		}
	})
}

// TestGetDetail: an answered request has its price version, the arithmetic that gives
// its cost, its hold and its ledger transfer; a refusal its status and code at no cost;
// another workspace's request is not found.
func TestGetDetail(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		r := httpjsontest.Do(t, e.srv.URL, "GET", "/api/v1/workspaces/"+e.ws+"/requests/req_e0", "operator", "")
		httpjsontest.Want(t, r, 200, "")
		var d struct {
			ID         string
			Cost, Held string
			Price      struct{ Model, Input, Output, Request string }
			Arithmetic struct {
				Lines []struct {
					Kind     string
					Quantity int64
					Exact    string
				}
				TokensExact string `json:"tokens_exact"`
				Total       string
			}
			Transfer struct {
				ID             int64
				IdempotencyKey string `json:"idempotency_key"`
				Amount         string
			}
		}
		if err := json.Unmarshal(r.Body, &d); err != nil {
			t.Fatal(err)
		}
		// 1000 × 3 + 500 × 15 per million = 0.003 + 0.0075, plus the 100 µ fee.
		if d.Cost != "0.010600" || d.Arithmetic.Total != d.Cost || d.Held != "0.050000" || d.Price.Input != "3.000000" ||
			len(d.Arithmetic.Lines) != 3 || d.Arithmetic.Lines[0].Exact != "0.003000" || d.Arithmetic.TokensExact != "0.010500" {
			t.Fatalf("detail %s", r.Body)
		}
		if d.Transfer.ID == 0 || d.Transfer.IdempotencyKey == "" {
			t.Fatalf("no transfer: %s", r.Body)
		}
		r = httpjsontest.Do(t, e.srv.URL, "GET", "/api/v1/workspaces/"+e.ws+"/requests/req_r3", e.ws+":"+e.ws, "")
		httpjsontest.Want(t, r, 200, "")
		if m := r.JSON(t); m["status"] != "refused" || m["code"] != "budget_exceeded" || m["cost"] != "0.000000" || m["http_status"] != 402.0 || m["budget_id"] != "bud_1" {
			t.Fatalf("refusal %s", r.Body)
		}
		// Across workspaces: ws's request through ws2's URL is not found, for the operator too.
		httpjsontest.Want(t, httpjsontest.Do(t, e.srv.URL, "GET", "/api/v1/workspaces/"+e.ws2+"/requests/req_e0", "operator", ""), 404, "request_not_found")
		httpjsontest.Want(t, httpjsontest.Do(t, e.srv.URL, "GET", "/api/v1/workspaces/"+e.ws2+"/requests/req_r0", "operator", ""), 404, "request_not_found")
		httpjsontest.Want(t, httpjsontest.Do(t, e.srv.URL, "GET", "/api/v1/workspaces/"+e.ws+"/requests/req_nope", "operator", ""), 404, "request_not_found")
		httpjsontest.Want(t, httpjsontest.Do(t, e.srv.URL, "GET", "/api/v1/workspaces/ws_nope/requests/req_e0", "operator", ""), 404, "workspace_not_found")
		httpjsontest.Want(t, httpjsontest.Do(t, e.srv.URL, "GET", "/api/v1/workspaces/ws_nope/requests", "operator", ""), 404, "workspace_not_found")
		// A key of ws2 on ws's URL is refused by the guard.
		httpjsontest.Want(t, httpjsontest.Do(t, e.srv.URL, "GET", "/api/v1/workspaces/"+e.ws+"/requests/req_e0", "x:"+e.ws2, ""), 403, "forbidden_workspace")
		httpjsontest.Want(t, httpjsontest.Do(t, e.srv.URL, "GET", "/api/v1/workspaces/"+e.ws+"/requests", "", ""), 401, "unauthorized")
	})
}

// TestListBadParameters: every bad parameter is refused with its own code.
func TestListBadParameters(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		other := e.list("operator", "?limit=1&sort=cost").NextCursor
		for query, code := range map[string]string{
			"?start=yesterday":                                     "invalid_start",
			"?end=2026-13-01T00:00:00Z":                            "invalid_end",
			"?start=2026-03-02T00:00:00Z&end=2026-03-01T00:00:00Z": "invalid_range",
			"?status=ok":                                           "invalid_status",
			"?sort=price":                                          "invalid_sort",
			"?cursor=garbage":                                      "invalid_cursor",
			"?cursor=" + url.QueryEscape(*other):                   "invalid_cursor", // a cost cursor in time order
			"?limit=0":                                             "invalid_limit",
			"?limit=501":                                           "invalid_limit",
			"?limit=ten":                                           "invalid_limit",
			"?key=key_1":                                           "unknown_parameter",
			"?model=a&model=b":                                     "duplicate_parameter",
			"?member=%01":                                          "invalid_text",
		} {
			r := httpjsontest.Do(t, e.srv.URL, "GET", "/api/v1/workspaces/"+e.ws+"/requests"+query, "operator", "")
			httpjsontest.Want(t, r, 400, code)
		}
	})
}

// TestOpenAPI: the part documents exactly the routes.
func TestOpenAPI(t *testing.T) {
	openapitest.Check(t, requestloghttp.OpenAPI, requestloghttp.Patterns(), "Error", "Amount")
}
