package web

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"spectra/internal/audit"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

// TestAdminGrantCreditKindAndExpiry: the console's grant form takes the kind of credit
// and an expiry in the workspace's time zone, shows both on the confirmation, and the
// grant creates that lot (as POST …/grants with kind and expires_at does); a bad kind
// or an expiry in the past is refused with the API's codes, and nothing is posted.
func TestAdminGrantCreditKindAndExpiry(t *testing.T) {
	eachAdmin(t, func(t *testing.T, e *adminEnv) {
		ctx := context.Background()
		f := e.seedFixture() // Acme is in America/New_York
		op := e.signedIn(opEmail)
		page := "/admin/workspaces/" + f.ws
		_, body := op.get(page)
		for _, want := range []string{`<select id="g-kind" name="kind">`, `name="expires_at" type="datetime-local"`, "America/New_York"} {
			if !strings.Contains(body, want) {
				t.Errorf("the grant form lacks %s", want)
			}
		}
		form := url.Values{"amount": {"20"}, "note": {"Launch promo"}, "idempotency_key": {"promo-1"}, "kind": {"promotional"},
			"expires_at": {"2025-07-01T09:30"}}
		st, body := op.post(page+"/grant", form)
		if st != 200 || !strings.Contains(body, `<span id="confirm-kind">promotional</span>`) ||
			!strings.Contains(body, "Tue 1 Jul 2025 09:30 EDT") || !strings.Contains(body, `name="expires_at" value="2025-07-01T09:30"`) {
			t.Fatalf("confirmation: %d\n%s", st, body)
		}
		if lots, _ := e.ledger.Lots(ctx, f.ws); len(lots) != 1 {
			t.Fatalf("the confirmation posted: %d lots", len(lots))
		}
		form.Set("confirm", "yes")
		if st, loc := op.post(page+"/grant", form); st != 303 || !strings.Contains(loc, "done=grant&") {
			t.Fatalf("grant: %d %s", st, loc)
		}
		lots, err := e.ledger.Lots(ctx, f.ws)
		if err != nil {
			t.Fatal(err)
		}
		var lot *ledger.Lot
		for i := range lots {
			if lots[i].Amount == 20*money.Scale {
				lot = &lots[i]
			}
		}
		want := time.Date(2025, 7, 1, 13, 30, 0, 0, time.UTC) // 09:30 in New York
		if lot == nil || lot.Kind != ledger.CreditPromotional || lot.Source != ledger.KindGrant || lot.ExpiresAt == nil || !lot.ExpiresAt.Equal(want) {
			t.Fatalf("lots = %+v", lots)
		}
		g := e.entries(t, audit.Filter{Action: "grant"})
		if len(g) != 1 || g[0].After["kind"] != "promotional" || g[0].After["expires_at"] != "2025-07-01T13:30:00Z" {
			t.Errorf("audit entry: %+v", g)
		}
		// A paid grant without expiry, as before.
		if st, _ := op.post(page+"/grant", url.Values{"amount": {"5"}, "idempotency_key": {"paid-1"}, "confirm": {"yes"}}); st != 303 {
			t.Fatalf("paid grant: %d", st)
		}
		if lots, _ := e.ledger.Lots(ctx, f.ws); len(lots) != 3 || lots[0].Kind != ledger.CreditPromotional {
			t.Errorf("lots after a paid grant: %+v", lots)
		}

		for _, c := range []struct {
			kind, expires, code string
		}{
			{"gift", "", "invalid_credit_kind"},
			{"promotional", "2025-06-01T00:00", "invalid_expires_at"}, // before testNow
			{"promotional", "next week", "invalid_expires_at"},
		} {
			st, body := op.post(page+"/grant", url.Values{"amount": {"1"}, "idempotency_key": {"bad"}, "kind": {c.kind}, "expires_at": {c.expires}, "confirm": {"yes"}})
			if st != 400 || !strings.Contains(body, `data-code="`+c.code+`"`) {
				t.Errorf("kind %q, expiry %q: %d, want 400 %s", c.kind, c.expires, st, c.code)
			}
		}
		if lots, _ := e.ledger.Lots(ctx, f.ws); len(lots) != 3 {
			t.Errorf("a refused grant posted: %d lots", len(lots))
		}
	})
}
