package billinghttp_test

import (
	"testing"

	"spectra/internal/billing/billingtest"
)

// TestBillingTextRule: a NUL or another control character in a payment's reference or
// note, a code batch's note, a redemption code, a credit note's reason, billing details,
// a path segment or a query parameter is a 400 invalid_text that stores nothing, on both
// databases (before, a NUL was a 500 on PostgreSQL).
func TestBillingTextRule(t *testing.T) {
	each(t, billingtest.Options{}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		w := "/api/v1/workspaces/" + ws
		for _, c := range []struct{ method, path, token, body string }{
			{"POST", w + "/payments", "operator", `{"amount":"1","reference":"r\u0000"}`},
			{"POST", w + "/payments", "operator", `{"amount":"1","reference":"r\nx"}`},
			{"POST", w + "/payments", "operator", `{"amount":"1","reference":"r","note":"n\u0000"}`},
			{"POST", "/api/v1/redemption-codes", "operator", `{"amount":"1","count":1,"expires_at":"2030-01-01T00:00:00Z","note":"\u0000"}`},
			{"POST", w + "/redeem", "billing:" + ws, `{"code":"AAAA-\u0000AAA-AAAA-AAAA"}`},
			{"POST", w + "/invoices/inv_x/credit-note", "operator", `{"reason":"r\u0000"}`},
			{"PUT", w + "/billing-details", "billing:" + ws, `{"name":"X\u0000"}`},
			{"PUT", w + "/billing-details", "billing:" + ws, `{"name":"X","line1":"\u001b[2J"}`},
			{"GET", "/api/v1/workspaces/ws%00/billing", "operator", ""},
			{"GET", w + "/invoices/inv%00.pdf", "operator", ""},
			{"GET", w + "/invoices?cursor=%00", "operator", ""},
			{"POST", w + "/checkout/cs_%00/confirm", "billing:" + ws, ""},
			{"POST", w + "/notices/ntc%00/dismiss", "billing:" + ws, ""},
		} {
			want(t, s.do(t, c.method, c.path, c.token, c.body), 400, "invalid_text")
		}
		if b := s.Balance(t, ws); b.Balance != 0 {
			t.Fatalf("balance %d", b.Balance)
		}
		if r := s.receipts(t, ws); len(r) != 0 {
			t.Fatalf("receipts: %+v", r)
		}
		s.Verify(t)
	})
}
