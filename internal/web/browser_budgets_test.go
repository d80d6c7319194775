package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"spectra/internal/browsertest"
	"spectra/internal/metering"
	"spectra/internal/pricing"
)

// TestBrowserBudgets sets a budget on the Budgets page in Chromium, sends usage that
// crosses its thresholds through ingestion, and sees the alerts on the overview and the
// Budgets page.
func TestBrowserBudgets(t *testing.T) {
	e, f, ctx, ws := ownerBrowser(t)
	base := e.ts.URL

	do(t, ctx, "open budgets", chromedp.Navigate(base+ws+"budgets"), chromedp.WaitVisible(chromedp.ID("b-name")))
	if got := eval[string](t, ctx, `document.querySelector("#b-h").parentElement.innerText`); !strings.Contains(got, "No budgets yet") {
		t.Fatalf("budgets before: %q", got)
	}
	// A daily budget of $2 on the whole workspace: today's usage so far is under it.
	do(t, ctx, "add a budget",
		chromedp.SendKeys(chromedp.ID("b-name"), "Team daily"),
		chromedp.SetValue(chromedp.ID("b-scope"), "workspace:"),
		chromedp.SendKeys(chromedp.ID("b-amount"), "2"),
		chromedp.SetValue(chromedp.ID("b-period"), "day"),
		chromedp.Click(chromedp.CSS(`form[aria-labelledby=nb-h] button[type=submit]`)))
	waitFor(t, ctx, `document.querySelector("[role=status]") && document.querySelector("[role=status]").innerText.includes("Budget saved")`)
	row := eval[string](t, ctx, `document.querySelector("li.budget").innerText`)
	if !strings.Contains(row, "Team daily") || !strings.Contains(row, "Whole workspace · Daily") || !strings.Contains(row, "of $2.00") {
		t.Fatalf("budget row: %q", row)
	}
	bs, err := e.budget.Statuses(context.Background(), f.ws)
	if err != nil || len(bs) != 1 || bs[0].Spent >= bs[0].Amount {
		t.Fatalf("statuses: %+v %v", bs, err)
	}

	// Usage through ingestion crosses every threshold; the evaluation after it records
	// the alerts, which the dashboard shows.
	k := f.keys["member-key"]
	if _, err := e.metering.Ingest(context.Background(), []metering.Event{{ID: "big-one", WorkspaceID: f.ws, KeyID: k.ID,
		Member: k.MemberID, Project: k.Project, Model: "gpt-test", Timestamp: testNow.Add(-time.Minute),
		Usage: pricing.Usage{Input: 400_000, Output: 100_000}}}); err != nil {
		t.Fatal(err)
	}
	e.budget.Wait()
	do(t, ctx, "open the overview", chromedp.Navigate(base+ws), chromedp.WaitVisible(chromedp.ID("al-h")))
	alerts := eval[string](t, ctx, `document.querySelector(".alerts-card").innerText`)
	if !strings.Contains(alerts, "Team daily") || !strings.Contains(alerts, "100") {
		t.Errorf("overview alerts: %q", alerts)
	}
	browsertest.Screenshot(ctx, t, "overview-alerts-desktop.png", browsertest.DesktopWidth)
	do(t, ctx, "open budgets again", chromedp.Navigate(base+ws+"budgets"), chromedp.WaitVisible(chromedp.CSS("li.budget.over")))
	if n := eval[int](t, ctx, `document.querySelectorAll("ul.alerts li").length`); n != 3 {
		t.Errorf("budgets page lists %d alerts, want 3 (50, 80 and 100 %%)", n)
	}
	browsertest.Screenshot(ctx, t, "budgets-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "budgets-phone.png", browsertest.PhoneWidth)
}
