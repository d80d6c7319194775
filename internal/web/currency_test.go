package web

import (
	"context"
	"regexp"
	"testing"

	"spectra/internal/money"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// A JPY deployment shows whole yen on the dashboard, as its invoices do ("¥1,598", never
// "¥1,598.00"): both take the currency's minor digits from money.MinorDigits.
func TestZeroDecimalCurrencyOnDashboard(t *testing.T) {
	e := newEnvWith(t, storetest.SQLite, func(_ *env, d *Deps) { d.Currency = "JPY" })
	f := e.seedFixture()
	ctx := context.Background()
	if _, _, err := e.ledger.Grant(ctx, f.ws, 1_500*money.Scale, "jpy", "Yen credit"); err != nil {
		t.Fatal(err)
	}
	b, err := e.ledger.Balance(ctx, f.ws)
	if err != nil {
		t.Fatal(err)
	}
	want := money.Format(b.Available, "JPY")
	if !regexp.MustCompile(`^¥1,[0-9]{3}$`).MatchString(want) {
		t.Fatalf("available %s formats as %q, want whole yen", b.Available, want)
	}
	_, body := e.signedIn(f.users[team.RoleViewer].Email).get("/w/" + f.ws + "/")
	m := regexp.MustCompile(`<strong class="avail[^"]*"><span class="money"[^>]*>([^<]*)</span></strong>`).FindStringSubmatch(body)
	if m == nil || m[1] != want {
		t.Fatalf("the top bar shows %q, want %q", m, want)
	}
}
