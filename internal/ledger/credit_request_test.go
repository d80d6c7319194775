package ledger_test

import (
	"testing"

	"spectra/internal/ledger"
)

// TestCreditRequest: the transfer a credit posts is keyed by PaymentKey, so billing's
// receipts and Service.Credit count one caller key once.
func TestCreditRequest(t *testing.T) {
	r := ledger.CreditRequest("ws1", 1_500_000, "pi_1", "top-up")
	want := ledger.TransferRequest{Key: ledger.PaymentKey("pi_1"), Kind: ledger.KindPayment, From: ledger.Payments,
		To: ledger.Wallet("ws1"), Amount: 1_500_000, WorkspaceID: "ws1", Note: "top-up"}
	if r != want {
		t.Fatalf("CreditRequest = %+v, want %+v", r, want)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if ledger.PaymentKey("pi_1") != "payment:pi_1" {
		t.Fatalf("PaymentKey changed format: %q (stored transfers use payment:<key>)", ledger.PaymentKey("pi_1"))
	}
}
