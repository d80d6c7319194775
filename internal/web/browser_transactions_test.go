package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"spectra/internal/money"
	"spectra/internal/store/storetest"
)

// TestBrowserTransactions filters the Billing page's transactions by kind in Chromium
// and downloads the same list as CSV: the filter travels in the URL and in the CSV link,
// every row says what it is, and the CSV holds the rows the page shows.
func TestBrowserTransactions(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	ctx0 := context.Background()
	for _, c := range []struct{ key, note string }{{"bank-1", "Bank transfer REF-1"}, {"code-1", "Redemption code …ABCD"}, {"code-2", "Redemption code …EFGH"}} {
		if _, _, err := e.ledger.Credit(ctx0, f.ws, 5*money.Scale, c.key, c.note); err != nil {
			t.Fatal(err)
		}
	}
	base := e.ts.URL
	ctx, ws := ownerSignedIn(t, base, f)

	do(t, ctx, "open billing", chromedp.Navigate(base+ws+"billing"), chromedp.WaitVisible(chromedp.ID("tx-table")))
	whats := eval[[]string](t, ctx, `[...document.querySelectorAll("#tx-table tbody tr td[data-label=What]")].map(td => td.innerText)`)
	joined := strings.Join(whats, " | ")
	for _, want := range []string{"Usage: ", "Top-up by bank transfer", "Redemption code", "Credit granted"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no row says %q: %s", want, joined)
		}
	}

	do(t, ctx, "filter codes", chromedp.SetValue(chromedp.ID("tx-kind"), "code"),
		chromedp.Click(chromedp.CSS(`#tx-filter button[type=submit]`)))
	waitFor(t, ctx, `location.search.includes("kind=code") && document.querySelectorAll("#tx-table tbody tr").length === 2`)
	kinds := eval[[]string](t, ctx, `[...document.querySelectorAll("#tx-table tbody tr")].map(tr => tr.dataset.kind)`)
	if strings.Join(kinds, ",") != "code,code" {
		t.Errorf("rows after filtering codes: %v", kinds)
	}
	if sel := eval[string](t, ctx, `document.querySelector("#tx-kind").value`); sel != "code" {
		t.Errorf("the select shows %q after filtering", sel)
	}
	href := eval[string](t, ctx, `document.querySelector("#tx-csv").href`)
	if !strings.HasSuffix(href, "/billing/transactions.csv?kind=code") {
		t.Fatalf("CSV link %q does not carry the filter", href)
	}
	rows := readCSV(t, eval[string](t, ctx, `fetch(`+jsString(href)+`).then(r => r.text())`))
	if len(rows) != 3 || rows[0][2] != "kind" || rows[1][2] != "code" || rows[2][2] != "code" ||
		!strings.Contains(rows[1][4]+rows[2][4], "…ABCD") || rows[1][5] != "5.000000" {
		t.Errorf("CSV of codes: %v", rows)
	}

	// Back to everything: the browser's back button returns to the unfiltered list.
	do(t, ctx, "back", chromedp.NavigateBack())
	waitFor(t, ctx, `!location.search.includes("kind=") && document.querySelectorAll("#tx-table tbody tr[data-kind=usage]").length > 0`)
}
