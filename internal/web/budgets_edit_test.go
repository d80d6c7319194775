package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"spectra/internal/budget"
	"spectra/internal/money"
	"spectra/internal/team"
)

// Colours follow the larger of spend and projection: a budget projected at 103 % is
// red even while its spend is at half (it was green), 80 % is amber, 79 % green.
func TestBudgetLevelFollowsTheProjection(t *testing.T) {
	for _, c := range []struct {
		spent, projected int64
		want             string
	}{{50, 103, "over"}, {100, 100, "over"}, {120, 0, "over"}, {10, 80, "warn"}, {85, 85, "warn"}, {79, 99, "warn"}, {79, 79, "ok"}, {0, 0, "ok"}} {
		if got, why := budgetLevel(c.spent, c.projected); got != c.want || why == "" {
			t.Errorf("spent %d %%, projected %d %%: %s (%q), want %s", c.spent, c.projected, got, why, c.want)
		}
	}
	rq := &request{Loc: time.UTC, s: &Server{currency: "USD"}}
	row := rq.budgetRow(budget.Status{Budget: budget.Budget{ID: "bud_1", Amount: 100 * money.Scale, Period: budget.PeriodMonth},
		Spent: 50 * money.Scale, Projected: 103 * money.Scale, Percent: 50}, labeler{})
	if row.Level != "over" || !strings.Contains(row.LevelText, "projected") {
		t.Errorf("a budget projected at 103 %%: level %q (%q)", row.Level, row.LevelText)
	}
}

// A budget row links to the requests it counts: its scope and its current window.
func TestBudgetRequestsLink(t *testing.T) {
	loc, _ := time.LoadLocation("America/New_York")
	rq := &request{Loc: loc, Workspace: team.Workspace{ID: "ws_1"}}
	start, end := time.Date(2025, 6, 1, 0, 0, 0, 0, loc), time.Date(2025, 7, 1, 0, 0, 0, 0, loc)
	for _, c := range []struct {
		b    budget.Budget
		end  *time.Time
		want string
	}{
		{budget.Budget{Scope: budget.ScopeKey, ScopeID: "key_1"}, &end, "/w/ws_1/requests?end=2025-07-01T00%3A00&key=key_1&start=2025-06-01T00%3A00"},
		{budget.Budget{Scope: budget.ScopeMember, ScopeID: "usr_1"}, &end, "member=usr_1"},
		{budget.Budget{Scope: budget.ScopeProject, ScopeID: "web app"}, &end, "project=web+app"},
		{budget.Budget{Scope: budget.ScopeWorkspace}, nil, "/w/ws_1/requests"},
	} {
		got := rq.budgetRequests(budget.Status{Budget: c.b, PeriodStart: start, PeriodEnd: c.end})
		if !strings.Contains(got, c.want) || (c.end == nil && got != c.want) {
			t.Errorf("%s budget links to %q, want %q", c.b.Scope, got, c.want)
		}
	}
	// A window from the second 01:00 of the night the clocks go back is written with
	// its offset (drill.go's requestsLink), not as the first 01:00.
	second := time.Date(2025, 11, 2, 6, 0, 0, 0, time.UTC) // 01:00 EST
	end2 := second.Add(24 * time.Hour)
	got := rq.budgetRequests(budget.Status{Budget: budget.Budget{Scope: budget.ScopeWorkspace}, PeriodStart: second, PeriodEnd: &end2})
	if want := "/w/ws_1/requests?end=2025-11-03T01%3A00&start=2025-11-02T01%3A00%3A00-05%3A00"; got != want {
		t.Errorf("the repeated hour: %q, want %q", got, want)
	}
}

// Budgets are edited in place through the service's validation; the add form's hard
// limit is not ticked; the low-balance line reads like every other amount.
func TestBudgetEdit(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		ctx := context.Background()
		page := "/w/" + f.ws + "/budgets"
		owner := e.signedIn(f.users[team.RoleOwner].Email)
		_, body := owner.get(page)
		if regexp.MustCompile(`name="hard_limit" value="1" checked`).MatchString(body) {
			t.Error("the add form ticks Hard limit by default")
		}
		b, err := e.budget.Create(ctx, budget.Budget{WorkspaceID: f.ws, Name: "Team", Scope: budget.ScopeWorkspace, Amount: 250 * money.Scale,
			Period: budget.PeriodMonth, HardLimit: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.budget.SetLowBalanceLine(ctx, f.ws, 5*money.Scale); err != nil {
			t.Fatal(err)
		}
		_, body = owner.get(page)
		for _, want := range []string{`action="` + page + `/` + b.ID + `/edit"`, `value="250.00"`, `id="lb-line" name="line" inputmode="decimal" value="5.00"`,
			`href="/w/` + f.ws + `/requests?end=`, "green under 80 %"} {
			if !strings.Contains(body, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		if strings.Contains(body, `value="5.000000"`) {
			t.Error("the low-balance line shows as 5.000000")
		}

		edit := page + "/" + b.ID + "/edit"
		st, loc := owner.post(edit, url.Values{"name": {"Team (edited)"}, "amount": {"300.50"}, "period": {"week"}, "thresholds": {"90, 70"}})
		if st != http.StatusSeeOther || !strings.HasPrefix(loc, page+"?saved=updated") {
			t.Fatalf("edit: %d %s", st, loc)
		}
		got, err := e.budget.Get(ctx, f.ws, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Team (edited)" || got.Amount != 300_500_000 || got.Period != budget.PeriodWeek || got.HardLimit ||
			len(got.Thresholds) != 2 || got.Thresholds[0] != 70 || got.Scope != budget.ScopeWorkspace {
			t.Fatalf("edited budget: %+v", got)
		}

		// The same validation as a new budget; the budget is left as it was.
		for _, c := range []struct {
			form url.Values
			msg  string
		}{
			{url.Values{"name": {"X"}, "amount": {"-3"}, "period": {"month"}}, "positive amount"},
			{url.Values{"name": {""}, "amount": {"10"}, "period": {"month"}}, "needs a name"},
			{url.Values{"name": {"X"}, "amount": {"10"}, "period": {"fortnight"}}, "period must be"},
			{url.Values{"name": {"X"}, "amount": {"10"}, "period": {"month"}, "thresholds": {"5000"}}, "thresholds are"},
		} {
			st, body := owner.post(edit, c.form)
			if st != http.StatusBadRequest || !strings.Contains(strings.ToLower(body), c.msg) || !strings.Contains(body, `<details class="budget-edit" open>`) {
				t.Errorf("edit %v: %d, want 400 saying %q with the form open", c.form, st, c.msg)
			}
		}
		if again, _ := e.budget.Get(ctx, f.ws, b.ID); again.Name != got.Name || again.Amount != got.Amount {
			t.Errorf("a refused edit changed the budget: %+v", again)
		}
		// The row's link opens the request log on what the budget counts.
		kb, err := e.budget.Create(ctx, budget.Budget{WorkspaceID: f.ws, Name: "Key", Scope: budget.ScopeKey, ScopeID: f.keys["admin-key"].ID,
			Amount: money.Scale, Period: budget.PeriodWeek})
		if err != nil {
			t.Fatal(err)
		}
		_, body = owner.get(page)
		m := regexp.MustCompile(`id="budget-` + kb.ID + `"[\s\S]*?href="([^"]+)" class="budget-requests"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no requests link on the key budget's row")
		}
		link := strings.ReplaceAll(m[1], "&amp;", "&")
		st, body = owner.get(link)
		models := regexp.MustCompile(`<td data-label="Model">([^<]*)</td>`).FindAllStringSubmatch(body, -1)
		if st != http.StatusOK || len(models) == 0 {
			t.Fatalf("%s: %d, %d rows", link, st, len(models))
		}
		for _, m := range models {
			if m[1] != "mini-test" { // the fixture's admin key sends mini-test only
				t.Errorf("%s lists a %s request: not the admin key's", link, m[1])
			}
		}
		// Who may not.
		viewer := e.signedIn(f.users[team.RoleViewer].Email)
		viewer.get(page)
		if st, _ := viewer.post(edit, url.Values{"name": {"V"}, "amount": {"1"}, "period": {"month"}}); st != http.StatusForbidden {
			t.Errorf("a viewer edits a budget: %d", st)
		}
		if st, _ := owner.post(page+"/bud_nope/edit", url.Values{"name": {"V"}, "amount": {"1"}, "period": {"month"}}); st != http.StatusNotFound {
			t.Errorf("editing an unknown budget: %d", st)
		}
	})
}
