package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"spectra/internal/browsertest"
	"spectra/internal/budget"
	"spectra/internal/money"
)

// TestBrowserBalanceAndBudgetBanners opens pages in Chromium: with the balance below
// the workspace's low-balance line, the Available figure is drawn in the warning colour
// (not the healthy one) under a banner that links to Recharge; with a workspace hard
// budget reached, every page carries a banner saying requests are refused and linking
// to the budget, and the runway says so too.
func TestBrowserBalanceAndBudgetBanners(t *testing.T) {
	e, f, ctx, ws := ownerBrowser(t)
	base, bg := e.ts.URL, context.Background()
	healthy := eval[string](t, ctx, `getComputedStyle(document.querySelector(".balance .avail")).color`)
	if n := eval[int](t, ctx, `document.querySelectorAll(".banner").length`); n != 0 {
		t.Fatalf("%d banners on a healthy workspace", n)
	}

	b, err := e.ledger.Balance(bg, f.ws)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.budget.SetLowBalanceLine(bg, f.ws, b.Available+50*money.Scale); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "usage", "keys", "settings"} {
		do(t, ctx, "open "+p, chromedp.Navigate(base+ws+p), chromedp.WaitVisible(chromedp.CSS(`.banner[data-banner=balance]`)))
		text := eval[string](t, ctx, `document.querySelector(".banner[data-banner=balance]").innerText`)
		if !strings.Contains(text, "Below your low-balance line.") || !strings.Contains(text, "Add credit") {
			t.Fatalf("%s: balance banner %q", p, text)
		}
		if got := eval[string](t, ctx, `getComputedStyle(document.querySelector(".balance .avail")).color`); got == healthy {
			t.Fatalf("%s: the balance below the line keeps its healthy colour %s", p, got)
		}
	}
	browsertest.Screenshot(ctx, t, "banner-low-line-desktop.png", browsertest.DesktopWidth)
	// The banner's link is the way to act: it opens the recharge form.
	do(t, ctx, "follow Add credit", chromedp.Click(chromedp.CSS(`.banner[data-banner=balance] a`)))
	waitFor(t, ctx, `location.pathname === "`+ws+`billing" && location.hash === "#recharge"`)

	hard, err := e.budget.Create(bg, budget.Budget{WorkspaceID: f.ws, Name: "Team daily", Scope: budget.ScopeWorkspace, Amount: 10_000,
		Period: budget.PeriodDay, HardLimit: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "requests", "members", "billing"} {
		do(t, ctx, "open "+p, chromedp.Navigate(base+ws+p), chromedp.WaitVisible(chromedp.CSS(`.banner[data-banner=budget]`)))
		text := eval[string](t, ctx, `document.querySelector(".banner[data-banner=budget]").innerText`)
		if !strings.Contains(text, "Budget reached: requests are refused.") || !strings.Contains(text, "Team daily") ||
			!strings.Contains(text, "Raise or review the budget") {
			t.Fatalf("%s: budget banner %q", p, text)
		}
		runway := eval[string](t, ctx, `document.querySelector(".balance .runway").innerText`)
		if strings.Contains(runway, "days") || !strings.Contains(runway, "requests refused") {
			t.Fatalf("%s: runway %q", p, runway)
		}
	}
	browsertest.Screenshot(ctx, t, "banner-budget-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "banner-budget-phone.png", browsertest.PhoneWidth)
	do(t, ctx, "follow the budget link", chromedp.Click(chromedp.CSS(`.banner[data-banner=budget] a`)))
	waitFor(t, ctx, `location.pathname === "`+ws+`budgets" && location.hash === "#budget-`+hard.ID+`" && document.getElementById("budget-`+hard.ID+`")`)
}
