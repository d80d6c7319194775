package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"spectra/internal/browsertest"
	"spectra/internal/budget"
	"spectra/internal/money"
	"spectra/internal/store/storetest"
)

// TestBrowserBudgetEdit edits a budget in place in Chromium: the row's Edit opens its
// form, a refused change says why and keeps the form open, a good one is saved, and the
// row's colour follows the projection (a budget projected past its amount is red).
func TestBrowserBudgetEdit(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	ctx0 := context.Background()
	key := f.keys["member-key"]
	b, err := e.budget.Create(ctx0, budget.Budget{WorkspaceID: f.ws, Name: "Member key", Scope: budget.ScopeKey, ScopeID: key.ID,
		Amount: 1000 * money.Scale, Period: budget.PeriodMonth, HardLimit: true})
	if err != nil {
		t.Fatal(err)
	}
	base := e.ts.URL
	ctx, ws := ownerSignedIn(t, base, f)
	row := "#budget-" + b.ID
	do(t, ctx, "open budgets", chromedp.Navigate(base+ws+"budgets"), chromedp.WaitVisible(chromedp.CSS(row)))
	if lvl := eval[string](t, ctx, `document.querySelector("`+row+`").dataset.level`); lvl != "ok" {
		t.Errorf("a budget far from its amount is %q", lvl)
	}
	if checked := eval[bool](t, ctx, `document.querySelector("form[aria-labelledby=nb-h] input[name=hard_limit]").checked`); checked {
		t.Error("the add form ticks Hard limit")
	}
	link := eval[string](t, ctx, `document.querySelector("`+row+` a.budget-requests").getAttribute("href")`)
	if !strings.Contains(link, "/requests?") || !strings.Contains(link, "key="+key.ID) || !strings.Contains(link, "start=") || !strings.Contains(link, "end=") {
		t.Errorf("the budget's requests link: %q", link)
	}

	amount := "#e-amount-" + b.ID
	// The refused edit below answers 400, which the browser logs.
	browsertest.AllowConsole(ctx, "status of 400 (Bad Request) ("+base+ws+"budgets/"+b.ID+"/edit)")
	do(t, ctx, "open the edit form", chromedp.Click(chromedp.CSS(row+" details.budget-edit summary")), chromedp.WaitVisible(chromedp.CSS(amount)))
	do(t, ctx, "a bad amount", chromedp.SetValue(chromedp.CSS(amount), "-5"), chromedp.Click(chromedp.CSS(row+" details.budget-edit button[type=submit]")))
	waitFor(t, ctx, `document.querySelector("`+row+` details.budget-edit[open] .error")`)
	if got, _ := e.budget.Get(ctx0, f.ws, b.ID); got.Amount != 1000*money.Scale {
		t.Fatalf("a refused edit changed the amount to %s", got.Amount)
	}
	// A tiny amount: the month's usage of the key is far past it, and the row turns red.
	do(t, ctx, "a good edit",
		chromedp.SetValue(chromedp.CSS(amount), "0.01"),
		chromedp.SetValue(chromedp.CSS("#e-name-"+b.ID), "Member key (tight)"),
		chromedp.Click(chromedp.CSS("#e-hard-"+b.ID)),
		chromedp.Click(chromedp.CSS(row+" details.budget-edit button[type=submit]")))
	waitFor(t, ctx, `document.querySelector("[role=status]") && document.querySelector("[role=status]").innerText.includes("Budget updated")`)
	got, err := e.budget.Get(ctx0, f.ws, b.ID)
	if err != nil || got.Amount != 10_000 || got.Name != "Member key (tight)" || got.HardLimit || got.Scope != budget.ScopeKey {
		t.Fatalf("edited budget: %+v %v", got, err)
	}
	if lvl := eval[string](t, ctx, `document.querySelector("`+row+`").dataset.level`); lvl != "over" {
		t.Errorf("a budget spent past its amount is %q", lvl)
	}
	text := eval[string](t, ctx, `document.querySelector("`+row+`").innerText`)
	if !strings.Contains(text, "of $0.01") || !strings.Contains(text, "alerts only") {
		t.Errorf("row after the edit: %q", text)
	}
}
