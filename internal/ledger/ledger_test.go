package ledger

import (
	"strings"
	"testing"

	"spectra/internal/errs"
)

func TestTransferRequestValidate(t *testing.T) {
	ok := TransferRequest{Key: "k", Kind: KindGrant, From: Grants, To: Wallet("ws_1"), Amount: 1}
	tests := []struct {
		name   string
		change func(*TransferRequest)
		code   string
	}{
		{"valid", func(*TransferRequest) {}, ""},
		{"longest key", func(r *TransferRequest) { r.Key = strings.Repeat("k", 255) }, ""},
		{"longest note", func(r *TransferRequest) { r.Note = strings.Repeat("n", 1000) }, ""},
		{"no key", func(r *TransferRequest) { r.Key = "" }, "invalid_idempotency_key"},
		{"key too long", func(r *TransferRequest) { r.Key = strings.Repeat("k", 256) }, "invalid_idempotency_key"},
		{"zero amount", func(r *TransferRequest) { r.Amount = 0 }, "invalid_amount"},
		{"negative amount", func(r *TransferRequest) { r.Amount = -1 }, "invalid_amount"},
		{"same account", func(r *TransferRequest) { r.From = r.To }, "invalid_transfer"},
		{"note too long", func(r *TransferRequest) { r.Note = strings.Repeat("n", 1001) }, "invalid_note"},
	}
	for _, tt := range tests {
		r := ok
		tt.change(&r)
		err := r.Validate()
		if tt.code == "" && err != nil || tt.code != "" && (!errs.Is(err, tt.code) || errs.KindOf(err) != errs.Invalid) {
			t.Errorf("%s: Validate = %v; want %q", tt.name, err, tt.code)
		}
	}
}

func TestTransferRequestSame(t *testing.T) {
	r := TransferRequest{Key: "k", Kind: KindGrant, From: Grants, To: Wallet("ws_1"), Amount: 5, Note: "n", Guarded: true}
	t0 := Transfer{ID: 9, IdempotencyKey: "k", Kind: KindGrant, From: Grants, To: Wallet("ws_1"), Amount: 5, Note: "n"}
	if !r.Same(t0) {
		t.Error("the same request is not Same")
	}
	for name, change := range map[string]func(*Transfer){
		"kind":   func(t *Transfer) { t.Kind = KindPayment },
		"from":   func(t *Transfer) { t.From = Payments },
		"to":     func(t *Transfer) { t.To = Wallet("ws_2") },
		"amount": func(t *Transfer) { t.Amount = 6 },
		"note":   func(t *Transfer) { t.Note = "other" },
	} {
		t1 := t0
		change(&t1)
		if r.Same(t1) {
			t.Errorf("a different %s is Same", name)
		}
	}
}

func TestWalletIDs(t *testing.T) {
	if Wallet("ws_1") != "wallet:ws_1" || WorkspaceOf("wallet:ws_1") != "ws_1" {
		t.Error("wallet ids do not round-trip")
	}
	for _, a := range SystemAccounts {
		if WorkspaceOf(a) != "" {
			t.Errorf("%s is taken for a wallet", a)
		}
	}
}
