package web

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"spectra/internal/browsertest"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
)

// TestBrowserBillingCredit: the Billing page shows the balance split into paid and
// promotional credit and the part expiring within 30 days, and lists the credit lots
// with their kind, what is left of them and their expiry: open lots first in the order
// requests spend them (promotional first, then earliest expiry), then spent and expired
// ones; an expiry shows among the transactions.
func TestBrowserBillingCredit(t *testing.T) {
	e, f, ctx, ws := ownerBrowser(t)
	bg := context.Background()
	day := 24 * time.Hour
	grant := func(key string, amount money.Amount, kind ledger.CreditKind, exp time.Time) {
		if _, _, err := e.ledger.GrantCredit(bg, f.ws, amount, kind, exp, key, "Credit "+key); err != nil {
			t.Fatal(err)
		}
	}
	grant("promo-10d", 20*money.Scale, ledger.CreditPromotional, testNow.Add(10*day))
	grant("paid-90d", 30*money.Scale, ledger.CreditPaid, testNow.Add(90*day))
	grant("promo-gone", 5*money.Scale, ledger.CreditPromotional, testNow.Add(-time.Hour))
	if _, err := e.ledger.ExpireLots(bg); err != nil { // the promo-gone lot, already due
		t.Fatal(err)
	}
	// 1.5 of usage after the grants: drawn on the 10-day promotional lot first.
	k := f.keys["member-key"]
	if _, err := e.metering.Ingest(bg, []metering.Event{{ID: "credit-1", WorkspaceID: f.ws, KeyID: k.ID, Member: k.MemberID,
		Model: "gpt-test", Timestamp: testNow.Add(-time.Minute), Usage: pricing.Usage{Output: 150_000}}}); err != nil {
		t.Fatal(err)
	}
	b, err := e.ledger.Balance(bg, f.ws)
	if err != nil {
		t.Fatal(err)
	}
	if b.Promotional != 18_500_000 || b.ExpiringWithin30Days != 18_500_000 || b.Paid < 30*money.Scale {
		t.Fatalf("balance %+v: want 18.50 promotional, all of it expiring within 30 days", b)
	}

	do(t, ctx, "open billing", chromedp.Navigate(e.ts.URL+ws+"billing"), chromedp.WaitVisible(chromedp.ID("lots-table")))
	for id, want := range map[string]money.Amount{"credit-paid": b.Paid, "credit-promotional": b.Promotional, "credit-expiring": b.ExpiringWithin30Days} {
		if got := eval[string](t, ctx, `document.getElementById("`+id+`").innerText`); got != money.Format(want, "USD") {
			t.Errorf("#%s = %q, want %q", id, got, money.Format(want, "USD"))
		}
	}
	type lot struct {
		Kind, State, Amount, Remaining, Expired, Expires string
		Soon                                             bool
	}
	rows := eval[[]lot](t, ctx, `[...document.querySelectorAll("#lots-table tbody tr")].map(r => ({
		Kind: r.dataset.kind, State: r.dataset.state, Soon: r.classList.contains("soon"),
		Amount: r.querySelector('[data-label="Amount"]').innerText, Remaining: r.querySelector('[data-label="Remaining"]').innerText,
		Expired: r.querySelector('[data-label="Expired"]').innerText, Expires: r.querySelector('[data-label="Expires"]').innerText}))`)
	// New York time: testNow is 11:30 there.
	want := []lot{
		{"promotional", "open", "$20.00", "$18.50", "$0.00", "25 Jun 2025, 11:30 soon", true},
		{"paid", "open", "$30.00", "$30.00", "$0.00", "13 Sep 2025, 11:30", false},
		{"paid", "open", "$100.00", money.Format(b.Paid-30*money.Scale, "USD"), "$0.00", "Never", false},
		{"promotional", "expired", "$5.00", "$0.00", "$5.00", "15 Jun 2025, 10:30", false},
	}
	if len(rows) != len(want) {
		t.Fatalf("lots = %+v", rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("lot %d = %+v, want %+v", i, rows[i], want[i])
		}
	}
	browsertest.Screenshot(ctx, t, "billing-credit-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "billing-credit-phone.png", browsertest.PhoneWidth)

	// The expiry is a transaction of its own, and the filter finds it.
	do(t, ctx, "filter expiries", chromedp.Navigate(e.ts.URL+ws+"billing?kind=expiry"), chromedp.WaitVisible(chromedp.ID("tx-table")))
	tx := eval[[]string](t, ctx, `[...document.querySelectorAll("#tx-table tbody tr")].map(r => r.dataset.kind + " " + r.querySelector('[data-label="What"]').innerText + " " + r.querySelector('[data-label="Amount"]').innerText)`)
	if len(tx) != 1 || tx[0] != "expiry Credit expired −$5.00" {
		t.Errorf("expiry transactions = %q", tx)
	}
}
