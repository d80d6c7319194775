package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"spectra/internal/budget"
	"spectra/internal/money"
	"spectra/internal/team"
)

// everyPage is every page of a workspace that shows the top bar.
var everyPage = []string{"", "usage", "requests", "keys", "members", "budgets", "billing", "invoices", "settings"}

// TestLowBalanceLineBanner: with the available balance below the workspace's own
// low-balance line (the balance.low alert's condition), every page marks the balance
// low and shows a banner that says so and links to Recharge, even when the runway is
// long. Before, the balance stayed "ok" with no banner.
func TestLowBalanceLineBanner(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		f := e.seedFixture()
		c := e.signedIn(f.users[team.RoleViewer].Email)
		b, err := e.ledger.Balance(ctx, f.ws)
		if err != nil {
			t.Fatal(err)
		}
		// A line below the balance: nothing to say.
		if _, err := e.budget.SetLowBalanceLine(ctx, f.ws, b.Available-money.Scale); err != nil {
			t.Fatal(err)
		}
		if _, body := c.get("/w/" + f.ws + "/"); strings.Contains(body, `class="banner`) || !strings.Contains(body, `class="avail ok"`) {
			t.Fatal("a banner above the line")
		}
		// A line above it: about 81 days of runway, but below the user's own line.
		line := b.Available + 50*money.Scale
		if _, err := e.budget.SetLowBalanceLine(ctx, f.ws, line); err != nil {
			t.Fatal(err)
		}
		for _, p := range everyPage {
			st, body := c.get("/w/" + f.ws + "/" + p)
			if st != http.StatusOK {
				t.Fatalf("%s: %d", p, st)
			}
			if !strings.Contains(body, `class="avail low"`) {
				t.Errorf("%s: the balance is not marked low", p)
			}
			if !strings.Contains(body, `class="banner low" role="alert" data-banner="balance"`) ||
				!strings.Contains(body, "Below your low-balance line.") ||
				!strings.Contains(body, "below the low-balance line of "+money.Format(line, "USD")) ||
				!strings.Contains(body, `href="/w/`+f.ws+`/billing#recharge">Add credit</a>`) {
				t.Errorf("%s: no low-balance-line banner with a way to recharge", p)
			}
		}
	})
}

// TestHardBudgetReachedBanner: when a workspace hard budget is reached (the gateway
// answers every request 402 budget_exceeded), every page says so, with the budget, when
// it resets and a link to raise or review it, and the runway says that requests are
// refused instead of "about N days". Before, there was no banner and the runway read
// days.
func TestHardBudgetReachedBanner(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		f := e.seedFixture()
		owner := e.signedIn(f.users[team.RoleOwner].Email)
		viewer := e.signedIn(f.users[team.RoleViewer].Email)
		create := func(b budget.Budget) budget.Budget {
			t.Helper()
			b.WorkspaceID = f.ws
			b, err := e.budget.Create(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		// Reached but not hard, and hard but on one project only: requests still flow.
		create(budget.Budget{Name: "Soft", Scope: budget.ScopeWorkspace, Amount: 10_000, Period: budget.PeriodDay})
		create(budget.Budget{Name: "One project", Scope: budget.ScopeProject, ScopeID: "proj-member-key", Amount: 10_000,
			Period: budget.PeriodDay, HardLimit: true})
		if _, body := owner.get("/w/" + f.ws + "/"); strings.Contains(body, `data-banner="budget"`) || !strings.Contains(body, "days at the last 7 days&#39; burn") {
			t.Fatal("a budget banner while requests flow")
		}
		// A hard daily cap on the whole workspace, already passed today.
		hard := create(budget.Budget{Name: "Team daily", Scope: budget.ScopeWorkspace, Amount: 10_000, Period: budget.PeriodDay, HardLimit: true})
		st, err := e.budget.Status(ctx, f.ws, hard.ID)
		if err != nil || !st.Exceeded {
			t.Fatalf("the budget is not exceeded: %+v %v", st, err)
		}
		for _, p := range everyPage {
			for who, c := range map[string]*client{"owner": owner, "viewer": viewer} {
				_, body := c.get("/w/" + f.ws + "/" + p)
				if !strings.Contains(body, `class="banner out" role="alert" data-banner="budget"`) ||
					!strings.Contains(body, "Budget reached: requests are refused.") ||
					!strings.Contains(body, "“Team daily”") || !strings.Contains(body, "402 budget_exceeded") ||
					!strings.Contains(body, "until the budget resets on 16 Jun 2025, 00:00") ||
					!strings.Contains(body, `href="/w/`+f.ws+`/budgets#budget-`+hard.ID+`">Raise or review the budget</a>`) {
					t.Errorf("%s, %s: no budget banner with what to do", p, who)
				}
				if strings.Contains(body, "days at the last 7 days") || !strings.Contains(body, "requests refused: the budget “Team daily” is reached") {
					t.Errorf("%s, %s: the runway does not say requests are refused", p, who)
				}
				if banners := bannersOf(body); strings.Count(banners, `data-banner="budget"`) != 1 || strings.Contains(banners, "One project") || strings.Contains(banners, "Soft") {
					t.Errorf("%s, %s: a budget that does not stop the workspace is named", p, who)
				}
				wantDo := "To let requests through now, replace it with a larger budget or delete it."
				if who == "viewer" {
					wantDo = "To let requests through now, ask an owner, admin or billing member to raise or delete it."
				}
				if !strings.Contains(body, wantDo) {
					t.Errorf("%s, %s: the banner does not say %q", p, who, wantDo)
				}
			}
		}
		// The budgets page has the banner's target.
		if _, body := owner.get("/w/" + f.ws + "/budgets"); !strings.Contains(body, `id="budget-`+hard.ID+`"`) {
			t.Error("the banner's link has no target")
		}
		// Removing the cap lifts the banner at once on this node.
		if err := e.budget.Delete(ctx, f.ws, hard.ID); err != nil {
			t.Fatal(err)
		}
		if _, body := viewer.get("/w/" + f.ws + "/keys"); strings.Contains(body, `data-banner="budget"`) {
			t.Error("the banner stays after the budget is removed")
		}
	})
}

// bannersOf returns the banners of a page, one after the other.
func bannersOf(body string) string {
	var out strings.Builder
	for {
		i := strings.Index(body, `<div class="banner`)
		if i < 0 {
			return out.String()
		}
		body = body[i:]
		j := strings.Index(body, "</div>")
		out.WriteString(body[:j+len("</div>")])
		body = body[j:]
	}
}
