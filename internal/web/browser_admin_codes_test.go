package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"spectra/internal/billing"
	"spectra/internal/browsertest"
	"spectra/internal/store/storetest"
)

// TestBrowserAdminCodes drives the console's Redemption codes page in Chromium: a
// refused batch, a batch created (its codes shown once, with their CSV), one redeemed
// by a workspace, the batch's list with states, a code disabled, the CSV export.
func TestBrowserAdminCodes(t *testing.T) {
	screenshotsDir(t)
	e := newCatalogEnv(t, storetest.SQLite)
	ws := e.member(t)
	base := e.ts.URL
	ctx := operatorSignedIn(t, base)
	do(t, ctx, "open codes", chromedp.Navigate(base+"/admin/codes"))
	waitFor(t, ctx, `document.getElementById("create-codes")`)

	browsertest.AllowConsole(ctx, "status of 400 (Bad Request) ("+base+"/admin/codes)") // the negative amount, meant to be refused
	do(t, ctx, "refused batch",
		chromedp.SendKeys(chromedp.ID("c-amount"), "-3"),
		chromedp.Click(chromedp.CSS(`#create-codes button[type=submit]`)))
	waitFor(t, ctx, `document.getElementById("codes-error")`)
	if code := eval[string](t, ctx, `document.getElementById("codes-error").dataset.code`); code != "invalid_amount" {
		t.Fatalf("refusal %q", code)
	}

	do(t, ctx, "create",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("c-amount").value = ""`),
		chromedp.SendKeys(chromedp.ID("c-amount"), "12.50"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("c-count").value = "4"`),
		chromedp.SendKeys(chromedp.ID("c-note"), "Meetup giveaway"),
		chromedp.Click(chromedp.CSS(`#create-codes button[type=submit]`)))
	waitFor(t, ctx, `document.getElementById("created")`)
	texts := strings.Fields(eval[string](t, ctx, `document.getElementById("created-text").value`))
	if len(texts) != 4 {
		t.Fatalf("codes shown: %v", texts)
	}
	// The download is a data: URL made in the page (the codes' text is not stored).
	csvText := eval[string](t, ctx, `(h => decodeURIComponent(h.slice(h.indexOf(",") + 1)))(document.getElementById("created-csv").href)`)
	rows := readCSV(t, csvText)
	if len(rows) != 5 || rows[1][0] != texts[0] || rows[1][1] != "12.500000" {
		t.Fatalf("created CSV:\n%s", csvText)
	}
	browsertest.Screenshot(ctx, t, "admin-codes-created-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "admin-codes-created-phone.png", browsertest.PhoneWidth)

	if _, err := e.bill.Redeem(context.Background(), ws.ID, texts[0], ""); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "open the batch", chromedp.Click(chromedp.CSS(`#batches tbody a`)))
	waitFor(t, ctx, `document.getElementById("codes") && document.querySelectorAll("#codes tbody tr").length === 4`)
	if got := eval[string](t, ctx, `document.querySelector('#codes tr[data-state="redeemed"]').innerText`); !strings.Contains(got, "Mia's team") {
		t.Fatalf("redeemed row: %q", got)
	}
	html := eval[string](t, ctx, `document.documentElement.outerHTML`)
	for _, tx := range texts {
		if strings.Contains(html, tx) {
			t.Fatalf("a code's text is shown again: %s", tx)
		}
	}
	do(t, ctx, "disable", chromedp.Click(chromedp.CSS(`#codes tr[data-state="unused"] button[data-disable]`)))
	waitFor(t, ctx, `document.getElementById("flash") && document.querySelector('#codes tr[data-state="disabled"]')`)
	if n := eval[int](t, ctx, `document.querySelectorAll('#codes tr[data-state="unused"]').length`); n != 2 {
		t.Fatalf("%d unused after disabling one, want 2", n)
	}
	browsertest.Screenshot(ctx, t, "admin-codes-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "admin-codes-phone.png", browsertest.PhoneWidth)

	export := eval[string](t, ctx, `fetch(document.getElementById("export").href).then(r => r.text())`)
	rows = readCSV(t, export)
	states := map[string]int{}
	for _, r := range rows[1:] {
		states[r[4]]++
	}
	if len(rows) != 5 || states[billing.CodeRedeemed] != 1 || states[billing.CodeDisabled] != 1 || states[billing.CodeUnused] != 2 {
		t.Fatalf("export:\n%s", export)
	}
}
