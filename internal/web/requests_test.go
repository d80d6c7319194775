package web

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"spectra/internal/budget"
	"spectra/internal/money"
	"spectra/internal/requestlog"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// eachLog is each with the request log over the store (refusals included).
func eachLog(t *testing.T, fn func(t *testing.T, e *env)) {
	hook := func(e *env, d *Deps) { d.Requests = requestlog.NewService(e.metering, e.db, e.budget) }
	t.Run("sqlite", func(t *testing.T) { fn(t, newEnvWith(t, storetest.SQLite, hook)) })
	t.Run("postgres", func(t *testing.T) { fn(t, newEnvWith(t, storetest.Postgres, hook)) })
}

var rowIDRE = regexp.MustCompile(`data-request-id="([^"]+)"`)

func rowIDs(body string) []string {
	var out []string
	for _, m := range rowIDRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// seedRefusals stores a 402 (balance), a 402 of a hard budget, a 429 and an upstream
// 500 in the fixture's workspace, and one 429 in the other workspace.
func (e *env) seedRefusals(f fixture) budget.Budget {
	e.t.Helper()
	ctx := context.Background()
	b, err := e.budget.Create(ctx, budget.Budget{WorkspaceID: f.ws, Name: "Team cap", Scope: budget.ScopeWorkspace, Amount: 5 * money.Scale,
		Period: budget.PeriodMonth, HardLimit: true})
	if err != nil {
		e.t.Fatal(err)
	}
	k := f.keys["member-key"]
	r := func(id string, ago time.Duration, status int, kind, code string) requestlog.Refusal {
		return requestlog.Refusal{ID: id, WorkspaceID: f.ws, Timestamp: testNow.Add(-ago), KeyID: k.ID, Member: k.MemberID, Project: k.Project,
			Model: "gpt-test", Endpoint: "/v1/chat/completions", HTTPStatus: status, Kind: kind, Code: code, Message: "refused: " + code, LatencyMS: 3}
	}
	rs := []requestlog.Refusal{
		r("req_402", 10*time.Minute, 402, requestlog.StatusRefused, "insufficient_balance"),
		r("req_budget", 20*time.Minute, 402, requestlog.StatusRefused, "budget_exceeded"),
		r("req_429", 30*time.Minute, 429, requestlog.StatusRefused, "rate_limit_exceeded"),
		r("req_500", 40*time.Minute, 500, requestlog.StatusUpstreamError, "upstream_error"),
	}
	rs[1].BudgetID = b.ID
	other := r("req_globex", 5*time.Minute, 429, requestlog.StatusRefused, "rate_limit_exceeded")
	other.WorkspaceID, other.KeyID = f.other, f.keys["globex-key"].ID
	if err := e.db.InsertRefusals(ctx, append(rs, other)); err != nil {
		e.t.Fatal(err)
	}
	return b
}

// TestRequestLogRefusals: refused and failed requests are in the log at no cost, with
// their status and code, filtered by status; each id opens its detail (a refusal's
// budget by name); another workspace's are neither listed nor found.
func TestRequestLogRefusals(t *testing.T) {
	eachLog(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		e.seedRefusals(f)
		c := e.signedIn(f.users[team.RoleViewer].Email)
		ws := "/w/" + f.ws + "/"
		st, body := c.get(ws + "requests")
		if st != 200 {
			t.Fatalf("requests: %d", st)
		}
		ids := rowIDs(body)
		for _, id := range []string{"req_402", "req_budget", "req_429", "req_500"} {
			if !slices.Contains(ids, id) {
				t.Errorf("%s is not in the log: %v", id, ids)
			}
		}
		if slices.Contains(ids, "req_globex") {
			t.Error("another workspace's refusal is listed")
		}
		for _, code := range []string{"insufficient_balance", "budget_exceeded", "rate_limit_exceeded", "upstream_error", "no charge"} {
			if !strings.Contains(body, code) {
				t.Errorf("the log does not show %q", code)
			}
		}
		if !strings.Contains(body, `href="`+ws+`requests/req_402"`) || !strings.Contains(body, `href="`+ws+`requests/ev-0"`) {
			t.Error("ids do not link to their detail")
		}
		for q, want := range map[string][]string{
			"?status=refused":        {"req_402", "req_budget", "req_429"},
			"?status=upstream_error": {"req_500"},
			"?id=req_429":            {"req_429"},
			"?id=ev-3":               {"ev-3"},
			"?id=req_globex":         nil,
		} {
			if _, body := c.get(ws + "requests" + q); !slices.Equal(rowIDs(body), want) {
				t.Errorf("%s: %v, want %v", q, rowIDs(body), want)
			}
		}
		if _, body := c.get(ws + "requests?status=answered"); slices.ContainsFunc(rowIDs(body), func(id string) bool { return strings.HasPrefix(id, "req_") }) {
			t.Error("answered shows refusals")
		}

		st, body = c.get(ws + "requests/req_budget")
		if st != 200 || !strings.Contains(body, "Team cap") || !strings.Contains(body, "budget_exceeded") || !strings.Contains(body, `data-cost="0.000000"`) {
			t.Fatalf("refusal detail %d: %s", st, body)
		}
		if st, _ := c.get(ws + "requests/req_globex"); st != 404 {
			t.Errorf("another workspace's refusal: %d", st)
		}
		if st, _ := c.get(ws + "requests/gx-1"); st != 404 {
			t.Errorf("another workspace's event: %d", st)
		}
		if st, _ := c.get(ws + "requests/nope"); st != 404 {
			t.Errorf("an unknown id: %d", st)
		}
	})
}

// TestRequestLogFilters: the range of date-times is read in the workspace's zone, the
// sorts order the page, every filter stays in the page's links, and every bad
// parameter is a 400.
func TestRequestLogFilters(t *testing.T) {
	eachLog(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		c := e.signedIn(f.users[team.RoleMember].Email)
		ws := "/w/" + f.ws + "/"
		ny, _ := time.LoadLocation("America/New_York")
		// 15 June 00:00–06:00 in New York (the fixture's zone).
		_, body := c.get(ws + "requests?start=2025-06-15T00:00&end=2025-06-15T06:00")
		stamps := regexp.MustCompile(`title="([^ "]+) · id`).FindAllStringSubmatch(body, -1)
		if len(stamps) == 0 {
			t.Fatal("no request in the range")
		}
		lo, hi := time.Date(2025, 6, 15, 0, 0, 0, 0, ny), time.Date(2025, 6, 15, 6, 0, 0, 0, ny)
		for _, m := range stamps {
			ts, _ := time.Parse(time.RFC3339, m[1])
			if ts.Before(lo) || !ts.Before(hi) {
				t.Errorf("%s is outside the range", ts.In(ny))
			}
		}
		if !strings.Contains(body, `value="2025-06-15T00:00"`) || !strings.Contains(body, "America/New_York") {
			t.Error("the range and its zone are not shown")
		}
		// The same range in RFC 3339 gives the same rows.
		_, body2 := c.get(ws + "requests?start=2025-06-15T04:00:00Z&end=2025-06-15T10:00:00Z")
		if !slices.Equal(rowIDs(body), rowIDs(body2)) {
			t.Error("RFC 3339 and local times disagree")
		}
		// Sorted by cost: the first row costs the most of the page.
		_, body = c.get(ws + "requests?sort=cost&key=" + f.keys["member-key"].ID)
		costs := regexp.MustCompile(`data-cost="([^"]+)"`).FindAllStringSubmatch(body, -1)
		for i := 1; i < len(costs); i++ {
			a, _ := money.Parse(costs[i-1][1])
			b, _ := money.Parse(costs[i][1])
			if a < b {
				t.Fatalf("row %d costs %s, after %s", i, b, a)
			}
		}
		next := regexp.MustCompile(`<a class="btn" href="([^"]+)" rel="next">`).FindStringSubmatch(body)
		if next == nil || !strings.Contains(html.UnescapeString(next[1]), "sort=cost") || !strings.Contains(html.UnescapeString(next[1]), "key="+f.keys["member-key"].ID) {
			t.Fatalf("the next page loses the filters: %v", next)
		}
		// The key_id spelling is read too.
		_, b1 := c.get(ws + "requests?key_id=" + f.keys["admin-key"].ID)
		_, b2 := c.get(ws + "requests?key=" + f.keys["admin-key"].ID)
		if len(rowIDs(b1)) == 0 || !slices.Equal(rowIDs(b1), rowIDs(b2)) {
			t.Error("key_id does not filter as key does")
		}
		for _, q := range []string{"start=yesterday", "end=2025-06-40T00:00", "start=2025-06-15T06:00&end=2025-06-15T05:00", "status=fine",
			"sort=price", "cursor=nope", "before=garbage", "period=fortnight"} {
			if st, _ := c.get(ws + "requests?" + q); st != 400 {
				t.Errorf("%s: %d, want 400", q, st)
			}
		}
	})
}

// TestRequestDetailArithmetic: an answered request's page shows the price that applied
// (the catalog, its version, the service and context tiers), the arithmetic that gives
// its exact cost, and what it was charged: the exact cost rounded down or up.
func TestRequestDetailArithmetic(t *testing.T) {
	eachLog(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		c := e.signedIn(f.users[team.RoleMember].Email)
		// ev-1: gpt-test, 1037 input of which 3 cached, 211 output:
		// 1034 × 2.5 + 3 × 1.25 + 211 × 10 per million = 0.002585 + 0.00000375 + 0.00211.
		st, body := c.get("/w/" + f.ws + "/requests/ev-1")
		if st != 200 {
			t.Fatalf("detail: %d", st)
		}
		for _, s := range []string{"gpt-test", "0.002585", "0.00000375", "0.002110", `data-tokens-exact>0.00469875<`, `data-arith-total="0.004698750000"`,
			`data-cost-exact="0.004698750000"`, `data-price-list="catalog"`, `data-service-tier="default"`, `data-context-tier="0"`, "rounded down or up"} {
			if !strings.Contains(body, s) {
				t.Errorf("the detail does not show %q", s)
			}
		}
		if !strings.Contains(body, `data-cost="0.004698"`) && !strings.Contains(body, `data-cost="0.004699"`) {
			t.Error("the charge is not the exact cost rounded down or up")
		}
		if strings.Contains(body, "computed at ingestion from usage this page does not show") {
			t.Error("the arithmetic disagrees with the cost")
		}
		if !strings.Contains(body, "usage:") {
			t.Error("no ledger transfer")
		}
	})
}

// TestOverviewRefusals: the Overview's Requests tile counts the period's refused and
// failed requests, with the main reason, each linking to them in the request log.
func TestOverviewRefusals(t *testing.T) {
	eachLog(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		c := e.signedIn(f.users[team.RoleViewer].Email)
		if _, body := c.get("/w/" + f.ws + "/?period=7d"); strings.Contains(body, "refused</a>") {
			t.Fatal("refusals shown before there are any")
		}
		e.seedRefusals(f)
		_, body := c.get("/w/" + f.ws + "/?period=7d")
		for _, s := range []string{`data-refused="3"`, "3 refused</a>, budget", `data-upstream-errors="1"`, "1 upstream error</a>",
			html.EscapeString("/w/" + f.ws + "/requests?period=7d&status=refused"), html.EscapeString("/w/" + f.ws + "/requests?period=7d&status=upstream_error")} {
			if !strings.Contains(body, s) {
				t.Errorf("the overview does not show %q", s)
			}
		}
		// The link lands on exactly those requests.
		_, body = c.get("/w/" + f.ws + "/requests?period=7d&status=refused")
		if got := rowIDs(body); !slices.Equal(got, []string{"req_402", "req_budget", "req_429"}) {
			t.Errorf("the refused link shows %v", got)
		}
		// Another workspace's refusals are not counted; last month had none.
		if _, body := c.get("/w/" + f.ws + "/?period=custom&from=2025-05-01&to=2025-05-31"); strings.Contains(body, "data-refused") {
			t.Error("refusals outside the period are counted")
		}
	})
}

// TestRequestLogNextPageKeepsRepeatedHour: a range that starts in the repeated hour
// (01:00 EST on 2 Nov 2025, given with its offset as the drill-down links write it)
// keeps that instant on the next page. Before, the next page's link wrote the local
// minute without the offset, which reads as 01:00 EDT, an hour earlier, and the next
// page listed a request from outside the range asked for.
func TestRequestLogNextPageKeepsRepeatedHour(t *testing.T) {
	eachLog(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		c := e.signedIn(f.users[team.RoleMember].Email)
		k := f.keys["member-key"]
		est := time.Date(2025, 11, 2, 6, 0, 0, 0, time.UTC) // 01:00 EST, the second 01:00 in New York
		r := func(id string, ts time.Time) requestlog.Refusal {
			return requestlog.Refusal{ID: id, WorkspaceID: f.ws, Timestamp: ts, KeyID: k.ID, Member: k.MemberID, Project: k.Project,
				Model: "gpt-test", Endpoint: "/v1/chat/completions", HTTPStatus: 429, Kind: requestlog.StatusRefused, Code: "rate_limit_exceeded"}
		}
		rs := []requestlog.Refusal{r("req_edt", est.Add(-30*time.Minute))} // 01:30 EDT: before the range
		for i := range requestlog.DefaultLimit + 1 {
			rs = append(rs, r(fmt.Sprintf("req_est_%02d", i), est.Add(time.Duration(i)*time.Second)))
		}
		if err := e.db.InsertRefusals(context.Background(), rs); err != nil {
			t.Fatal(err)
		}
		ws := "/w/" + f.ws + "/"
		_, body := c.get(ws + "requests?status=refused&start=" + url.QueryEscape("2025-11-02T01:00:00-05:00") + "&end=2025-11-02T02:00")
		if ids := rowIDs(body); len(ids) != requestlog.DefaultLimit || slices.Contains(ids, "req_edt") {
			t.Fatalf("first page: %v", ids)
		}
		next := regexp.MustCompile(`<a class="btn" href="([^"]+)" rel="next">`).FindStringSubmatch(body)
		if next == nil {
			t.Fatal("no next page")
		}
		_, body = c.get(html.UnescapeString(next[1]))
		if ids := rowIDs(body); !slices.Equal(ids, []string{"req_est_00"}) {
			t.Fatalf("next page (%s): %v, want [req_est_00]", html.UnescapeString(next[1]), ids)
		}
	})
}
