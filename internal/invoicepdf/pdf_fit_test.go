package invoicepdf_test

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/invoicepdf"
	"spectra/internal/money"
)

// wantWhole asserts that every string of want appears whole in the PDF's text.
func wantWhole(t *testing.T, text string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%q is not printed whole in:\n%s", w, text)
		}
	}
	if strings.Contains(text, "...") {
		t.Errorf("something was cut (\"...\") in:\n%s", text)
	}
}

// wantOneFormat asserts that every amount printed has the same number of decimals.
func wantOneFormat(t *testing.T, text, currency string, decimals int) {
	t.Helper()
	all := regexp.MustCompile(currency+` -?[0-9,]+(?:\.([0-9]+))?`).FindAllStringSubmatch(text, -1)
	if len(all) == 0 {
		t.Fatalf("no amount in:\n%s", text)
	}
	for _, m := range all {
		if len(m[1]) != decimals {
			t.Errorf("%q has %d decimals, want %d like every amount of the document", m[0], len(m[1]), decimals)
		}
	}
}

func statement(lines []billing.Line) billing.Invoice {
	start, end := time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)
	var total money.Amount
	for _, l := range lines {
		if l.Kind == billing.LineModel {
			total += l.Amount
		}
	}
	return billing.Invoice{ID: "inv_9", Number: "SPEC-2026-000999", Kind: billing.KindStatement, WorkspaceID: "ws_1", Currency: "USD",
		Total: total, Subtotal: total, Seller: pdfSeller, Buyer: billing.Party{Name: "Acme AI"}, Timezone: "America/New_York",
		Period: "2026-11", PeriodStart: &start, PeriodEnd: &end, Lines: lines, IssuedAt: time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC),
		Note: "Usage of 2026-11."}
}

// The demo's statement at 2,000,000 events: nine models with ten-figure token counts
// and costs in the hundreds of thousands. The old fixed columns cut six of them
// ("USD 176.1387..."); every count and amount is printed whole now, with one format.
func TestStatementPDFPrintsEveryAmountWhole(t *testing.T) {
	names := []string{"claude-opus-4-1-20250805", "claude-sonnet-4-5-20250929", "gemini-2.5-pro-preview-06-05", "gpt-4.1-2025-04-14",
		"gpt-4o-mini-2024-07-18", "gpt-5-2025-08-07", "o3-deep-research-2025-06-26", "text-embedding-3-large", "a model with a name far too long for any column of this table, which wraps"}
	var lines []billing.Line
	var want []string
	for i, n := range names {
		l := billing.Line{Kind: billing.LineModel, Description: n, Requests: 1_234_567 + int64(i), InputTokens: 98_765_432_109 + int64(i),
			CachedInputTokens: 12_345_678_901, CacheWriteTokens: 1_234_567_890, OutputTokens: 9_876_543_210, Amount: 176_138_712_345 + money.Amount(i)*1_000_001}
		lines = append(lines, l)
		want = append(want, money.FormatExact(l.Amount, "USD"), money.GroupDigits(fmt.Sprint(l.InputTokens)), money.GroupDigits(fmt.Sprint(l.Requests)))
	}
	lines = append(lines, billing.Line{Kind: billing.LineProject, Description: "(no project)", Requests: 11_111_111, Amount: 1_585_248_411_105})
	inv := statement(lines)
	want = append(want, "USD 1,585,248.411105", "12,345,678,901", "9,876,543,210", money.FormatExact(inv.Total, "USD"))
	text := pdfText(t, inv)
	wantWhole(t, text, want)
	wantOneFormat(t, text, "USD", 6)
}

// The extreme: int64's largest counts and amounts still print whole, in a smaller type.
func TestStatementPDFExtremeValues(t *testing.T) {
	const big = math.MaxInt64
	lines := []billing.Line{{Kind: billing.LineModel, Description: "m", Requests: big, InputTokens: big, CachedInputTokens: big,
		CacheWriteTokens: big, OutputTokens: big, Amount: money.Max}, {Kind: billing.LineProject, Description: "p", Requests: big, Amount: money.Max}}
	text := pdfText(t, statement(lines))
	wantWhole(t, text, []string{"9,223,372,036,854,775,807", "USD 9,223,372,036,854.775807"})
}

// Many models spill onto further pages, each with the table's header again.
func TestStatementPDFManyModels(t *testing.T) {
	var lines []billing.Line
	var want []string
	for i := range 80 {
		a := money.Amount(1_000_000_000 + i*10_000)
		lines = append(lines, billing.Line{Kind: billing.LineModel, Description: fmt.Sprintf("model-%02d", i), Requests: 1, Amount: a})
		want = append(want, fmt.Sprintf("model-%02d", i), money.FormatExact(a, "USD"))
	}
	text := pdfText(t, statement(lines))
	wantWhole(t, text, want)
	if n := strings.Count(text, "Output tokens"); n < 2 {
		t.Errorf("the model table's header appears %d times over its pages, want it on each", n)
	}
	wantOneFormat(t, text, "USD", 2)
}

// Receipts and credit notes: a long description wraps, and the amounts, tax included,
// print whole and alike; a document whose amounts are all whole cents shows two decimals.
func TestReceiptAndCreditNotePDFAmounts(t *testing.T) {
	total := money.Amount(9_876_543_210_000) // 9,876,543.21
	tax := billing.IncludedTax(total, 1900)
	long := strings.Repeat("Prepaid balance top-up by bank transfer with a long reference ", 4)
	for _, kind := range []billing.DocKind{billing.KindReceipt, billing.KindCreditNote} {
		inv := billing.Invoice{ID: "inv_4", Number: "SPEC-2026-000126", Kind: kind, WorkspaceID: "ws_1", Currency: "EUR",
			Total: total, Tax: tax, Subtotal: total - tax, TaxRateBP: 1900, TaxName: "MwSt", Seller: pdfSeller, Buyer: billing.Party{Name: "Acme"},
			Timezone: "Europe/Berlin", PaymentMethod: billing.MethodManual, OriginalNumber: "SPEC-2026-000001",
			Lines:    []billing.Line{{Kind: billing.LinePayment, Description: long, Amount: total}},
			IssuedAt: time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)}
		text := pdfText(t, inv)
		wantWhole(t, text, []string{money.FormatExact(total, "EUR") + "000", money.FormatExact(tax, "EUR"), money.FormatExact(total-tax, "EUR")})
		wantOneFormat(t, text, "EUR", 6)

		inv.TaxRateBP, inv.Tax, inv.Subtotal = 0, 0, total
		text = pdfText(t, inv)
		wantWhole(t, text, []string{"EUR 9,876,543.21"})
		wantOneFormat(t, text, "EUR", 2)
	}
}

// A deployment without seller details says so where the seller belongs.
func TestPDFSellerNotConfigured(t *testing.T) {
	inv := statement([]billing.Line{{Kind: billing.LineModel, Description: "m", Requests: 1, Amount: 10_000}})
	inv.Seller = billing.Party{}
	text := pdfText(t, inv)
	wantLine(t, text, `Seller details not configured`)
	if !strings.Contains(strings.Join(strings.Fields(text), " "), "SPECTRA_SELLER_NAME") {
		t.Errorf("the note does not say which setting to set:\n%s", text)
	}
	_ = invoicepdf.SellerNotConfigured
}
