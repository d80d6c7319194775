package invoicepdf_test

import (
	"strings"
	"testing"
	"time"

	"spectra/internal/billing"
)

// A statement's lines by kind of credit print as their own table after the usage, and
// not among the models or projects.
func TestStatementPDFCreditLines(t *testing.T) {
	start, end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	lines := []billing.Line{
		{Kind: billing.LineModel, Description: "gpt-4o", Requests: 3, InputTokens: 1000, OutputTokens: 10, Amount: 8_250_001},
		{Kind: billing.LineProject, Description: "search", Requests: 3, Amount: 8_250_001},
		{Kind: billing.LineUsagePaid, Description: "Paid credit", Amount: 5_000_000},
		{Kind: billing.LineUsagePromotional, Description: "Promotional credit", Amount: 1_500_000},
		{Kind: billing.LineUsageUncovered, Description: "Not covered by credit (overdraft)", Amount: 1_750_001},
	}
	inv := billing.Invoice{ID: "inv_9", Number: "SPEC-2026-000200", Kind: billing.KindStatement, WorkspaceID: "ws_1", Currency: "USD",
		Total: 8_250_001, Subtotal: 8_250_001, Seller: pdfSeller, Buyer: billing.Party{Name: "Acme"}, Timezone: "UTC",
		Period: "2026-03", PeriodStart: &start, PeriodEnd: &end, Lines: lines, IssuedAt: end}
	text := pdfText(t, inv)
	wantLine(t, text, `Paid from \(charged to the balance in the period\)`)
	wantLine(t, text, `^\s*Paid credit\s+USD 5\.000000\s*$`)
	wantLine(t, text, `^\s*Promotional credit\s+USD 1\.500000\s*$`)
	wantLine(t, text, `^\s*Not covered by credit \(overdraft\)\s+USD 1\.750001\s*$`)
	wantLine(t, text, `Total usage\s+USD 8\.250001\s*$`)
	if i, j := strings.Index(text, "Usage by project"), strings.Index(text, "Paid from"); i < 0 || j < i {
		t.Errorf("the credit table is not after the projects:\n%s", text)
	}
}

// A promotional credit's receipt totals "Promotional credit (not paid)", not "Total paid".
func TestPromotionalReceiptPDF(t *testing.T) {
	inv := billing.Invoice{ID: "inv_10", Number: "SPEC-2026-000201", Kind: billing.KindReceipt, WorkspaceID: "ws_1", Currency: "USD",
		Total: 12_000_000, Subtotal: 12_000_000, Seller: pdfSeller, Buyer: billing.Party{Name: "Acme"}, Timezone: "UTC",
		PaymentMethod: billing.MethodCode, Lines: []billing.Line{{Kind: billing.LinePromotionalCredit, Description: "Promotional credit (not paid), Redemption code", Amount: 12_000_000}},
		IssuedAt: time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)}
	text := pdfText(t, inv)
	wantLine(t, text, `Promotional credit \(not paid\)\s+USD 12\.00\s*$`)
	wantLine(t, text, `Given by\s+Redemption code`)
	if strings.Contains(text, "Total paid") || strings.Contains(text, "Paid by") {
		t.Errorf("a promotional receipt says Total paid:\n%s", text)
	}
}
