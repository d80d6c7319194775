package billing_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/billing/billingtest"
	"spectra/internal/ledger"
	"spectra/internal/store/storetest"
)

// TestCodeCreditKind: a batch of promotional codes with a credit expiry gives, on
// redemption, a promotional lot expiring then; the batch and its codes show both. A bad
// kind or a credit expiry not after the codes' own is refused.
func TestCodeCreditKind(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		ws := e.Workspace(t, "A", "")
		validUntil := e.Clock.Now().Add(24 * time.Hour)
		creditExp := e.Clock.Now().Add(30 * 24 * time.Hour)
		b, err := e.Service.CreateCodes(ctx, billing.CodeBatchRequest{Amount: billingtest.Amount("5.00"), Count: 2, ExpiresAt: validUntil,
			Kind: ledger.CreditPromotional, CreditExpiresAt: creditExp})
		if err != nil {
			t.Fatal(err)
		}
		if b.Kind != ledger.CreditPromotional || b.CreditExpiresAt == nil || !b.CreditExpiresAt.Equal(creditExp) {
			t.Fatalf("batch %+v", b)
		}
		sums, err := e.Service.CodeBatches(ctx, billing.CodeBatchFilter{BatchID: b.BatchID})
		if err != nil || len(sums) != 1 || sums[0].Kind != ledger.CreditPromotional || sums[0].CreditExpiresAt == nil || !sums[0].CreditExpiresAt.Equal(creditExp) {
			t.Fatalf("batch summary %+v, %v", sums, err)
		}
		codes, err := e.Service.Codes(ctx, billing.CodeFilter{BatchID: b.BatchID})
		if err != nil || len(codes) != 2 || codes[0].CreditKind != ledger.CreditPromotional || !codes[0].CreditExpiresAt.Equal(creditExp) {
			t.Fatalf("codes %+v, %v", codes, err)
		}
		if _, err := e.Service.Redeem(ctx, ws.ID, b.Codes[0], "198.51.100.1"); err != nil {
			t.Fatal(err)
		}
		lots, err := e.Ledger.Lots(ctx, ws.ID)
		if err != nil || len(lots) != 1 || lots[0].Kind != ledger.CreditPromotional || lots[0].ExpiresAt == nil ||
			!lots[0].ExpiresAt.Equal(creditExp) || lots[0].Amount != billingtest.Amount("5.00") || lots[0].Source != ledger.KindPayment {
			t.Fatalf("lots %+v, %v; want one promotional lot of 5.00 expiring %v", lots, err, creditExp)
		}
		if bal := e.Balance(t, ws.ID); bal.Promotional != billingtest.Amount("5.00") || bal.Paid != 0 {
			t.Fatalf("balance %+v", bal)
		}

		// A default batch gives paid credit that never expires.
		plain, err := e.Service.CreateCodes(ctx, billing.CodeBatchRequest{Amount: billingtest.Amount("1.00"), Count: 1, ExpiresAt: validUntil})
		if err != nil || plain.Kind != ledger.CreditPaid || plain.CreditExpiresAt != nil {
			t.Fatalf("default batch %+v, %v", plain, err)
		}

		_, err = e.Service.CreateCodes(ctx, billing.CodeBatchRequest{Amount: billingtest.Amount("1.00"), Count: 1, ExpiresAt: validUntil, Kind: "gift"})
		storetest.WantCode(t, err, "invalid_credit_kind")
		_, err = e.Service.CreateCodes(ctx, billing.CodeBatchRequest{Amount: billingtest.Amount("1.00"), Count: 1, ExpiresAt: validUntil,
			CreditExpiresAt: validUntil})
		storetest.WantCode(t, err, "invalid_expires_at")
		e.Verify(t)
	})
}
