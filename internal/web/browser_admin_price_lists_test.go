package web

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"spectra/internal/audit"
	"spectra/internal/browsertest"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store/storetest"
)

// TestBrowserAdminPriceLists drives the console's Price lists in Chromium: reached from
// the console's nav and the Prices page, a list refused for a bad name (its code shown,
// nothing made), a list made with an adjustment and its own version of one model, a
// later version added, the list assigned on a workspace's page (an event sent after it
// costs the list's price, one sent before keeps the catalog's), the list's page showing
// the workspace, and the workspace returned to the catalog; every action is in the
// audit log.
func TestBrowserAdminPriceLists(t *testing.T) {
	screenshotsDir(t)
	e := newAdminEnv(t, storetest.SQLite)
	f := e.seedFixture()
	ctx0 := context.Background()
	for _, p := range []pricing.Price{
		{Model: "gpt-4o", Input: 2_500_000, Output: 10_000_000, EffectiveFrom: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Model: "gpt-4o-mini", Input: 150_000, Output: 600_000, EffectiveFrom: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if _, _, err := e.metering.PutPrice(ctx0, p); err != nil {
			t.Fatal(err)
		}
	}
	send := func(id, model string) money.Amount {
		t.Helper()
		res, err := e.metering.Ingest(ctx0, []metering.Event{{ID: id, WorkspaceID: f.ws, Model: model, Timestamp: e.clock.Now(), Usage: pricing.Usage{Output: 1_000_000}}})
		if err != nil || res.Accepted != 1 {
			t.Fatalf("ingest %s: %+v %v", id, res, err)
		}
		ev, err := e.metering.Event(ctx0, f.ws, id)
		if err != nil {
			t.Fatal(err)
		}
		return ev.Cost
	}
	if c := send("before", "gpt-4o"); c != 10_000_000 {
		t.Fatalf("on the catalog: %s", c)
	}

	base := e.ts.URL
	ctx := consoleSignedIn(t, base)
	do(t, ctx, "open prices", chromedp.Navigate(base+"/admin/prices"))
	do(t, ctx, "to price lists", chromedp.Click(chromedp.ID("price-lists-link")))
	waitFor(t, ctx, `location.pathname === "/admin/price-lists" && document.getElementById("new-list")`)
	if !eval[bool](t, ctx, `!!document.querySelector('nav.console a[href="/admin/price-lists"][aria-current]')`) {
		t.Error("the console's nav does not mark Price lists")
	}

	browsertest.AllowConsole(ctx, "status of 400 (Bad Request) ("+base+"/admin/price-lists)") // the bad name, meant to be refused
	do(t, ctx, "bad name", chromedp.SendKeys(chromedp.ID("l-name"), "Enterprise 2026"), chromedp.Click(chromedp.ID("create-list")))
	waitFor(t, ctx, `document.getElementById("list-error")`)
	if code := eval[string](t, ctx, `document.getElementById("list-error").dataset.code`); code != "invalid_price_list" {
		t.Fatalf("bad name: %q", code)
	}
	if ls, _ := e.metering.PriceLists(ctx0); len(ls) != 0 {
		t.Fatalf("a refused form made %v", ls)
	}

	do(t, ctx, "make the list",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("l-name").value = ""`),
		chromedp.SendKeys(chromedp.ID("l-name"), "enterprise-2026"),
		chromedp.SendKeys(chromedp.ID("l-adjust"), "-15"),
		chromedp.SendKeys(chromedp.ID("lv0-model"), "gpt-4o-mini"),
		chromedp.SendKeys(chromedp.ID("lv0-input"), "0.10"),
		chromedp.SendKeys(chromedp.ID("lv0-output"), "0.40"),
		chromedp.Click(chromedp.ID("create-list")))
	waitFor(t, ctx, `location.pathname === "/admin/price-lists/enterprise-2026" && document.getElementById("flash")`)
	if adj := eval[string](t, ctx, `document.getElementById("list-adjust").dataset.adjust`); adj != "-15" {
		t.Fatalf("adjustment shown: %q", adj)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#list-versions tbody tr").length`); n != 1 {
		t.Fatalf("%d versions, want 1", n)
	}

	// A version of gpt-4o of the list's own, from the list's page.
	e.clock.Set(testNow.Add(time.Minute))
	do(t, ctx, "add a version",
		chromedp.SendKeys(chromedp.ID("lv-model"), "gpt-4o"),
		chromedp.SendKeys(chromedp.ID("lv-input"), "2.00"),
		chromedp.SendKeys(chromedp.ID("lv-output"), "8.00"),
		chromedp.Click(chromedp.ID("add-list-version")))
	waitFor(t, ctx, `document.getElementById("flash") && document.querySelectorAll("#list-versions tbody tr").length === 2`)
	browsertest.Screenshot(ctx, t, "admin-price-list-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "admin-price-list-phone.png", browsertest.PhoneWidth)

	// Assign it on the workspace's page.
	do(t, ctx, "open the workspace", chromedp.Navigate(base+"/admin/workspaces/"+f.ws))
	waitFor(t, ctx, `document.getElementById("price-list-form")`)
	do(t, ctx, "assign", chromedp.SetValue(chromedp.ID("pl-list"), "enterprise-2026"), chromedp.Click(chromedp.ID("save-price-list")))
	waitFor(t, ctx, `document.getElementById("ws-price-list") && document.getElementById("flash")`)
	if ws, _ := e.team.Workspace(ctx0, f.ws); ws.PriceList != "enterprise-2026" {
		t.Fatalf("assigned: %+v", ws)
	}
	e.clock.Set(testNow.Add(2 * time.Minute))
	if c := send("after", "gpt-4o"); c != 8_000_000 {
		t.Fatalf("gpt-4o on the list's own version: %s, want 8", c)
	}
	if c := send("mini", "gpt-4o-mini"); c != 400_000 {
		t.Fatalf("gpt-4o-mini on the list's own version: %s, want 0.40", c)
	}
	if ev, _ := e.metering.Event(ctx0, f.ws, "before"); ev.Cost != 10_000_000 {
		t.Fatalf("the earlier event was repriced: %s", ev.Cost)
	}

	do(t, ctx, "to the list", chromedp.Click(chromedp.ID("ws-price-list")))
	waitFor(t, ctx, `document.querySelector('#list-workspaces a[data-ws="`+f.ws+`"]')`)
	do(t, ctx, "the index", chromedp.Navigate(base+"/admin/price-lists"))
	waitFor(t, ctx, `document.querySelector('#lists tr[data-list="enterprise-2026"] [data-workspaces="1"]')`)

	// Back to the catalog.
	do(t, ctx, "open the workspace again", chromedp.Navigate(base+"/admin/workspaces/"+f.ws))
	waitFor(t, ctx, `document.getElementById("price-list-form")`)
	do(t, ctx, "unassign", chromedp.SetValue(chromedp.ID("pl-list"), ""), chromedp.Click(chromedp.ID("save-price-list")))
	waitFor(t, ctx, `document.getElementById("flash") && !document.getElementById("ws-price-list")`)
	if ws, _ := e.team.Workspace(ctx0, f.ws); ws.PriceList != "" {
		t.Fatalf("unassigned: %+v", ws)
	}

	p, err := e.audit.List(ctx0, audit.Filter{Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, en := range p.Entries {
		if en.Source == audit.SourceConsole && en.Actor == opEmail {
			count[en.Action]++
		}
	}
	if count["price_list.create"] != 1 || count["price_list.version"] != 1 || count["workspace.price_list"] != 2 {
		t.Fatalf("audit entries: %v", count)
	}
}
