package web

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"spectra/internal/audit"
	"spectra/internal/billing"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

// TestAdminCodesCreditKindAndExpiry: the console's code-batch form takes the kind of
// credit its codes give and the credit's expiry; the created batch, the batches list and
// the batch page show them, the audit entry records them, and a redeemed code creates a
// lot of that kind and expiry. A bad kind, or a credit expiring before the codes do, is
// refused with the API's codes.
func TestAdminCodesCreditKindAndExpiry(t *testing.T) {
	eachAdmin(t, func(t *testing.T, e *adminEnv) {
		ctx := context.Background()
		f := e.seedFixture()
		op := e.signedIn(opEmail)
		op.get("/admin/codes")
		st, body := op.post("/admin/codes", url.Values{"amount": {"5"}, "count": {"2"}, "expires": {"2025-12-31"}, "note": {"Promo"},
			"kind": {"promotional"}, "credit_expires": {"2026-06-30"}})
		if st != 201 || !strings.Contains(body, `id="created-credit"`) || !strings.Contains(body, "<strong>promotional</strong> credit that expires") {
			t.Fatalf("create: %d\n%s", st, body)
		}
		codes := regexp.MustCompile(`(?s)<textarea id="created-text"[^>]*>(.*?)</textarea>`).FindStringSubmatch(body)
		if codes == nil {
			t.Fatalf("no codes on the page")
		}
		code := strings.Fields(codes[1])[0]
		bs, err := e.bill.CodeBatches(ctx, billing.CodeBatchFilter{})
		if err != nil || len(bs) != 1 {
			t.Fatalf("batches: %+v %v", bs, err)
		}
		wantExp := time.Date(2026, 6, 30, 23, 59, 59, 0, time.UTC)
		b := bs[0]
		if b.Kind != ledger.CreditPromotional || b.CreditExpiresAt == nil || !b.CreditExpiresAt.Equal(wantExp) {
			t.Fatalf("batch = %+v", b)
		}
		if _, body := op.get("/admin/codes"); !strings.Contains(body, `data-kind="promotional"`) {
			t.Error("the batches list does not show the credit's kind")
		}
		if _, body := op.get("/admin/codes?batch=" + b.BatchID); !strings.Contains(body, `id="batch-credit">Credit: promotional, expires`) {
			t.Error("the batch page does not show the credit")
		}
		if g := e.entries(t, audit.Filter{Action: "codes.create"}); len(g) != 1 || g[0].After["kind"] != "promotional" ||
			g[0].After["credit_expires_at"] != "2026-06-30T23:59:59Z" {
			t.Errorf("audit entry: %+v", g)
		}
		if _, err := e.bill.Redeem(ctx, f.ws, code, ""); err != nil {
			t.Fatal(err)
		}
		lots, err := e.ledger.Lots(ctx, f.ws)
		if err != nil {
			t.Fatal(err)
		}
		if len(lots) == 0 || lots[0].Kind != ledger.CreditPromotional || lots[0].Amount != 5*money.Scale || lots[0].ExpiresAt == nil || !lots[0].ExpiresAt.Equal(wantExp) {
			t.Errorf("lots after the redemption: %+v", lots)
		}

		for _, c := range []struct {
			kind, credit, code string
		}{
			{"gift", "", "invalid_credit_kind"},
			{"promotional", "someday", "invalid_expires_at"},
			{"promotional", "2025-11-30", "invalid_expires_at"}, // before the codes expire
		} {
			st, body := op.post("/admin/codes", url.Values{"amount": {"5"}, "count": {"2"}, "expires": {"2025-12-31"}, "kind": {c.kind}, "credit_expires": {c.credit}})
			if st != 400 || !strings.Contains(body, `data-code="`+c.code+`"`) {
				t.Errorf("kind %q, credit expiry %q: %d, want 400 %s", c.kind, c.credit, st, c.code)
			}
		}
		// Without a kind: paid credit, as before.
		if st, body := op.post("/admin/codes", url.Values{"amount": {"1"}, "count": {"1"}, "expires": {"2025-12-31"}}); st != 201 ||
			!strings.Contains(body, "<strong>paid</strong> credit that does not expire") {
			t.Errorf("a paid batch: %d", st)
		}
	})
}
