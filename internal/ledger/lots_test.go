package ledger_test

import (
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ledger"
)

// TestTransferRequestCredit: a credit into a wallet takes a credit kind and an expiry; an
// unknown kind is invalid_credit_kind, and a transfer that creates no lot takes neither
// (invalid_transfer).
func TestTransferRequestCredit(t *testing.T) {
	grant := ledger.TransferRequest{Key: "k", Kind: ledger.KindGrant, From: ledger.Grants, To: ledger.Wallet("ws1"), Amount: 1, WorkspaceID: "ws1"}
	for _, kind := range []ledger.CreditKind{"", ledger.CreditPaid, ledger.CreditPromotional} {
		r := grant
		r.CreditKind, r.ExpiresAt = kind, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := r.Validate(); err != nil || !r.CreatesLot() {
			t.Fatalf("kind %q: %v, creates a lot %v", kind, err, r.CreatesLot())
		}
	}
	r := grant
	r.CreditKind = "gift"
	if err := r.Validate(); errs.CodeOf(err) != "invalid_credit_kind" {
		t.Fatalf("kind gift: %v; want invalid_credit_kind", err)
	}
	usage := ledger.TransferRequest{Key: "u", Kind: ledger.KindUsage, From: ledger.Wallet("ws1"), To: ledger.Usage, Amount: 1, WorkspaceID: "ws1"}
	if usage.CreatesLot() {
		t.Fatal("usage creates a lot")
	}
	for _, u := range []ledger.TransferRequest{
		func() ledger.TransferRequest { u := usage; u.CreditKind = ledger.CreditPaid; return u }(),
		func() ledger.TransferRequest { u := usage; u.ExpiresAt = time.Unix(1, 0); return u }(),
	} {
		if err := u.Validate(); errs.CodeOf(err) != "invalid_transfer" {
			t.Fatalf("usage with credit fields: %v; want invalid_transfer", err)
		}
	}
	if ledger.LotKey(42) != "expiry:lot:42" {
		t.Fatalf("LotKey(42) = %q", ledger.LotKey(42))
	}
}
