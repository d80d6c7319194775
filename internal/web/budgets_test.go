package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"spectra/internal/budget"
	"spectra/internal/money"
	"spectra/internal/team"
)

// TestBudgetsPage adds, shows and deletes budgets through the page's forms, sets the
// low-balance line, and lists the alerts that the evaluation records.
func TestBudgetsPage(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		ctx := context.Background()
		page := "/w/" + f.ws + "/budgets"
		owner := e.signedIn(f.users[team.RoleOwner].Email)

		st, body := owner.get(page)
		if st != http.StatusOK || !strings.Contains(body, "No budgets yet") || !strings.Contains(body, "Add a budget") {
			t.Fatalf("empty budgets page: %d\n%s", st, body)
		}
		fc, err := e.budget.Forecast(ctx, f.ws)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body, money.Format(fc.MonthProjected, "USD")) || !strings.Contains(body, money.Format(fc.MonthToDate, "USD")) {
			t.Errorf("the forecast (%s so far, %s projected) is not on the page", fc.MonthToDate, fc.MonthProjected)
		}
		// The top bar's runway is the forecast API's, to the day.
		if fc.RunwayDays == nil || *fc.RunwayDays < 2 || *fc.RunwayDays > 730 {
			t.Fatalf("the fixture's runway: %v", fc.RunwayDays)
		}
		if want := "about " + formatInt(*fc.RunwayDays) + " days at the last 7 days&#39; burn"; !strings.Contains(body, want) {
			t.Errorf("the top bar does not say %q", want)
		}

		// A monthly hard budget on the member's key, small enough that June's usage passed it.
		key := f.keys["member-key"]
		st, loc := owner.post(page, url.Values{"name": {"Member key monthly"}, "scope": {"key:" + key.ID}, "amount": {"0.50"},
			"period": {"month"}, "thresholds": {"50, 80,100"}, "hard_limit": {"1"}})
		if st != http.StatusSeeOther || loc != page+"?saved=budget" {
			t.Fatalf("create: %d %s", st, loc)
		}
		bs, err := e.budget.Statuses(ctx, f.ws)
		if err != nil || len(bs) != 1 {
			t.Fatalf("statuses: %v %v", bs, err)
		}
		b := bs[0]
		if b.Scope != budget.ScopeKey || b.ScopeID != key.ID || b.Amount != 500_000 || !b.HardLimit || b.Period != budget.PeriodMonth ||
			len(b.Thresholds) != 3 || b.Thresholds[1] != 80 {
			t.Fatalf("stored budget: %+v", b.Budget)
		}
		if b.Spent <= b.Amount {
			t.Fatalf("the fixture's usage should exceed the budget: spent %s", b.Spent)
		}
		_, body = owner.get(loc)
		for _, want := range []string{"Budget saved.", "Member key monthly", "Key member-key · Monthly", "hard limit", "exceeded",
			money.Format(b.Spent, "USD"), `class="budget over"`, `class="limit"`, `class="projected"`, "Alerts at 50 %, 80 %, 100 %"} {
			if !strings.Contains(body, want) {
				t.Errorf("budgets page lacks %q", want)
			}
		}

		// Bad input is refused with its reason, and adds nothing.
		for _, c := range []struct{ amount, scope, thresholds, want string }{
			{"-3", "workspace:", "50", "positive amount"},
			{"1.0000001", "workspace:", "50", "positive amount"},
			{"5", "galaxy:far", "50", "Scope must be"},
			{"5", "workspace:", "fifty", "whole percents"},
			{"5", "workspace:", "0", "Thresholds are 1 to"},
		} {
			st, body := owner.post(page, url.Values{"name": {"Bad"}, "scope": {c.scope}, "amount": {c.amount}, "period": {"week"}, "thresholds": {c.thresholds}})
			if st != http.StatusBadRequest || !strings.Contains(body, c.want) || !strings.Contains(body, `value="Bad"`) {
				t.Errorf("%+v: %d, page without %q or the form's input", c, st, c.want)
			}
		}
		if bs, _ := e.budget.List(ctx, f.ws); len(bs) != 1 {
			t.Errorf("refused forms stored budgets: %d", len(bs))
		}

		// The evaluation records the crossings; the page and the overview list them.
		if err := e.budget.Evaluate(ctx, f.ws); err != nil {
			t.Fatal(err)
		}
		alerts, err := e.budget.Alerts(ctx, f.ws, 10)
		if err != nil || len(alerts) != 3 {
			t.Fatalf("alerts: %d %v", len(alerts), err)
		}
		_, body = owner.get(page)
		for _, a := range alerts {
			if !strings.Contains(body, html.EscapeString(a.Subject)) {
				t.Errorf("budgets page lacks alert %q", a.Subject)
			}
		}
		_, body = owner.get("/w/" + f.ws + "/")
		if !strings.Contains(body, "Alerts this week") || !strings.Contains(body, html.EscapeString(alerts[0].Subject)) || !strings.Contains(body, "projected at") {
			t.Errorf("overview lacks the alerts or the forecast")
		}

		// The low-balance line: above the balance, so it alerts once evaluated.
		st, loc = owner.post(page+"/low-balance", url.Values{"line": {"1000"}})
		if st != http.StatusSeeOther || loc != page+"?saved=line" {
			t.Fatalf("set line: %d %s", st, loc)
		}
		if st, body := owner.post(page+"/low-balance", url.Values{"line": {"-1"}}); st != http.StatusBadRequest || !strings.Contains(body, "must not be negative") {
			t.Errorf("negative line: %d", st)
		}
		if lb, _ := e.budget.LowBalance(ctx, f.ws); lb.Line != 1000*money.Scale {
			t.Errorf("line = %s", lb.Line)
		}
		if err := e.budget.Evaluate(ctx, f.ws); err != nil {
			t.Fatal(err)
		}
		_, body = owner.get(page)
		if !strings.Contains(body, "below the line now") || !strings.Contains(body, "$1,000.00") {
			t.Errorf("budgets page does not show the crossed line")
		}

		// Viewers read but do not manage; outsiders see nothing.
		viewer := e.signedIn(f.users[team.RoleViewer].Email)
		st, body = viewer.get(page)
		if st != http.StatusOK || strings.Contains(body, "Add a budget") || strings.Contains(body, "/delete") || !strings.Contains(body, "Member key monthly") {
			t.Errorf("viewer's budgets page: %d", st)
		}
		if st, _ := viewer.post(page, url.Values{"name": {"V"}, "scope": {"workspace:"}, "amount": {"5"}, "period": {"day"}}); st != http.StatusForbidden {
			t.Errorf("viewer created a budget: %d", st)
		}
		if st, _ := viewer.post(page+"/"+b.ID+"/delete", url.Values{}); st != http.StatusForbidden {
			t.Errorf("viewer deleted a budget: %d", st)
		}
		billing := e.signedIn(f.users[team.RoleBilling].Email)
		if _, body := billing.get(page); !strings.Contains(body, "Add a budget") {
			t.Errorf("billing members manage budgets")
		}
		outsider := e.signedIn(f.outsider.Email)
		if st, body := outsider.get(page); st != http.StatusNotFound || strings.Contains(body, "Member key monthly") {
			t.Errorf("outsider's view of another workspace's budgets: %d", st)
		}
		if st, _ := outsider.post(page+"/"+b.ID+"/delete", url.Values{}); st != http.StatusNotFound {
			t.Errorf("outsider deleted a budget: %d", st)
		}

		// Delete; a second delete is a clean 404.
		owner.get(page)
		if st, loc := owner.post(page+"/"+b.ID+"/delete", url.Values{}); st != http.StatusSeeOther || loc != page+"?saved=deleted" {
			t.Fatalf("delete: %d %s", st, loc)
		}
		if bs, _ := e.budget.List(ctx, f.ws); len(bs) != 0 {
			t.Errorf("budget still there after delete")
		}
		if st, _ := owner.post(page+"/"+b.ID+"/delete", url.Values{}); st != http.StatusNotFound {
			t.Errorf("second delete: %d", st)
		}
	})
}

func TestBarOf(t *testing.T) {
	cases := []struct {
		spent, projected, amount money.Amount
		want                     progressBar
	}{
		{25, 50, 100, progressBar{Spent: "25.0%", Projected: "50.0%", Limit: "100.0%", ProjectedPct: 50}},
		{0, 0, 100, progressBar{Spent: "0%", Projected: "0%", Limit: "100.0%"}},
		{150, 300, 100, progressBar{Spent: "50.0%", Projected: "100.0%", Limit: "33.3%", ProjectedPct: 300, OverLimit: true}},
		{1, 2, 3_000_000_000_000_000, progressBar{Spent: "0.0%", Projected: "0.0%", Limit: "100.0%"}},
		{9_000_000_000_000_000_000, 9_000_000_000_000_000_000, 9_000_000_000_000_000_000,
			progressBar{Spent: "100.0%", Projected: "100.0%", Limit: "100.0%", ProjectedPct: 100}},
	}
	for _, c := range cases {
		got := barOf(budget.Status{Budget: budget.Budget{Amount: c.amount}, Spent: c.spent, Projected: c.projected})
		if got != c.want {
			t.Errorf("barOf(%d, %d, %d) = %+v, want %+v", c.spent, c.projected, c.amount, got, c.want)
		}
	}
}
