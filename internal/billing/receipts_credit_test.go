package billing_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/billing/billingtest"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

// A redeemed promotional code's receipt says it is promotional credit, not a payment:
// its line is promotional_credit, without tax even where tax is charged, its total the
// credit's amount (the ledger's); a paid code's receipt stays a taxed top-up and names
// the credit's expiry. Verify agrees with both.
func TestReceiptsShowTheKindOfCredit(t *testing.T) {
	billingtest.Each(t, billingtest.Options{Configure: func(c *billing.Config) { c.TaxRateBasisPoints, c.TaxName = 2000, "VAT" }},
		func(t *testing.T, e *billingtest.Env) {
			ctx := context.Background()
			ws := e.Workspace(t, "Acme", "UTC")
			creditExp := e.Clock.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)
			batch := func(kind ledger.CreditKind) string {
				b, err := e.Service.CreateCodes(ctx, billing.CodeBatchRequest{Amount: 12 * money.Scale, Count: 1, ExpiresAt: e.Clock.Now().Add(time.Hour),
					Kind: kind, CreditExpiresAt: creditExp})
				if err != nil {
					t.Fatal(err)
				}
				return b.Codes[0]
			}
			receipt := func(code string) billing.Invoice {
				p, err := e.Service.Redeem(ctx, ws.ID, code, "")
				if err != nil {
					t.Fatal(err)
				}
				inv, err := e.Service.Invoice(ctx, ws.ID, p.ReceiptID)
				if err != nil {
					t.Fatal(err)
				}
				return inv
			}
			promo := receipt(batch(ledger.CreditPromotional))
			exp := ", expires " + creditExp.Format(time.RFC3339)
			if !promo.Promotional() || len(promo.Lines) != 1 || promo.Lines[0].Kind != billing.LinePromotionalCredit ||
				promo.Lines[0].Description != "Promotional credit (not paid), Redemption code"+exp ||
				promo.Total != 12*money.Scale || promo.Tax != 0 || promo.TaxRateBP != 0 || promo.Subtotal != promo.Total {
				t.Errorf("promotional receipt = %+v", promo)
			}
			paid := receipt(batch(ledger.CreditPaid))
			if paid.Promotional() || paid.Lines[0].Kind != billing.LinePayment || paid.Lines[0].Description != "Prepaid balance top-up, Redemption code"+exp ||
				paid.Total != 12*money.Scale || paid.Tax != 2*money.Scale || paid.TaxRateBP != 2000 {
				t.Errorf("paid receipt = %+v", paid)
			}
			if b := e.Balance(t, ws.ID); b.Paid != 12*money.Scale || b.Promotional != 12*money.Scale {
				t.Errorf("balance = %+v", b)
			}
			e.Verify(t)
		})
}
