package invoicepdf_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"spectra/internal/invoicepdf"
	"strings"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/money"
)

// pdfText renders inv and reads it back with poppler's pdftotext, keeping the layout.
func pdfText(t *testing.T, inv billing.Invoice) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext (poppler-utils) is required: apt-get install poppler-utils")
	}
	b, err := invoicepdf.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", b[:min(len(b), 16)])
	}
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, out)
	}
	return string(out)
}

// wantLine asserts that some line of text matches the pattern.
func wantLine(t *testing.T, text, pattern string) {
	t.Helper()
	if !regexp.MustCompile(`(?m)` + pattern).MatchString(text) {
		t.Errorf("no line matches %q in:\n%s", pattern, text)
	}
}

var pdfSeller = billing.Party{Name: "Spectra Operator Ltd", Line1: "1 Example Street", City: "London", PostalCode: "EC1A 1AA", Country: "GB", TaxID: "GB123456789"}

func TestReceiptPDF(t *testing.T) {
	total := money.Amount(1_234_567_891)
	tax := billing.IncludedTax(total, 2000)
	inv := billing.Invoice{ID: "inv_1", Number: "SPEC-2026-000123", Kind: billing.KindReceipt, WorkspaceID: "ws_1", Currency: "USD",
		Total: total, Tax: tax, Subtotal: total - tax, TaxRateBP: 2000, TaxName: "VAT", Seller: pdfSeller,
		Buyer:    billing.Party{Name: "Acme Café GmbH", Line1: "Hauptstraße 5", City: "Berlin", Country: "DE", TaxID: "DE999"},
		Timezone: "Europe/Berlin", PaymentMethod: billing.MethodManual, PaymentReference: "BANK-REF-42",
		Lines:    []billing.Line{{Kind: billing.LinePayment, Description: "Prepaid balance top-up, Bank transfer", Amount: total}},
		IssuedAt: time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)}
	text := pdfText(t, inv)
	wantLine(t, text, `^\s*Receipt\s*$`)
	wantLine(t, text, `Number\s+SPEC-2026-000123`)
	wantLine(t, text, `Total paid\s+USD 1,234\.567891\s*$`)
	wantLine(t, text, `VAT 20% \(included\)\s+USD `+regexp.QuoteMeta(strings.TrimPrefix(money.FormatExact(tax, "USD"), "USD ")))
	wantLine(t, text, `Net\s+USD 1,028\.806576`)
	wantLine(t, text, `Acme Café GmbH`) // Windows-1252 covers Western European names
	wantLine(t, text, `Reference\s+BANK-REF-42`)

	a, _ := invoicepdf.Render(inv)
	b, _ := invoicepdf.Render(inv)
	if !bytes.Equal(a, b) {
		t.Error("rendering the same document twice gave different bytes")
	}
}

func TestStatementPDF(t *testing.T) {
	start, end := time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 4, 0, 0, 0, time.UTC)
	lines := []billing.Line{
		{Kind: billing.LineModel, Description: "gpt-4o", Requests: 1200, InputTokens: 3_400_000, CachedInputTokens: 100_000, OutputTokens: 900_000, Amount: 17_500_001},
		{Kind: billing.LineModel, Description: "small-model", Requests: 5, InputTokens: 10, OutputTokens: 3, Amount: 3},
		{Kind: billing.LineProject, Description: "(no project)", Requests: 5, Amount: 3},
		{Kind: billing.LineProject, Description: "search", Requests: 1200, Amount: 17_500_001},
	}
	inv := billing.Invoice{ID: "inv_2", Number: "SPEC-2026-000124", Kind: billing.KindStatement, WorkspaceID: "ws_1", Currency: "USD",
		Total: 17_500_004, Subtotal: 17_500_004, Seller: pdfSeller, Buyer: billing.Party{Name: "Acme"}, Timezone: "America/New_York",
		Period: "2026-03", PeriodStart: &start, PeriodEnd: &end, Lines: lines, IssuedAt: time.Date(2026, 4, 1, 5, 0, 0, 0, time.UTC),
		Note: "Usage of 2026-03."}
	text := pdfText(t, inv)
	wantLine(t, text, `Usage statement`)
	wantLine(t, text, `Period\s+2026-03: 1 March 2026 – 31 March 2026`)
	wantLine(t, text, `gpt-4o\s+1,200\s+3,400,000\s+100,000\s+0\s+900,000\s+USD 17\.500001`)
	wantLine(t, text, `small-model\s+5\s+10\s+0\s+0\s+3\s+USD 0\.000003`)
	wantLine(t, text, `search\s+1,200\s+USD 17\.500001`)
	wantLine(t, text, `Total usage\s+USD 17\.500004\s*$`)
}

// A JPY receipt prints whole yen, the decimals the dashboard shows for the same amount.
func TestReceiptPDFZeroDecimalCurrency(t *testing.T) {
	total := money.Amount(1_500 * money.Scale)
	inv := billing.Invoice{ID: "inv_3", Number: "SPEC-2026-000125", Kind: billing.KindReceipt, WorkspaceID: "ws_1", Currency: "JPY",
		Total: total, Subtotal: total, Seller: pdfSeller, Buyer: billing.Party{Name: "Acme KK"}, Timezone: "Asia/Tokyo",
		PaymentMethod: billing.MethodManual, Lines: []billing.Line{{Kind: billing.LinePayment, Description: "Prepaid balance top-up", Amount: total}},
		IssuedAt: time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)}
	text := pdfText(t, inv)
	wantLine(t, text, `Total paid\s+JPY 1,500\s*$`)
	if got := money.Format(total, "JPY"); got != "¥1,500" {
		t.Errorf("the dashboard shows %q for the same amount", got)
	}
}
