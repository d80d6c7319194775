package billing

import (
	"fmt"
	"time"

	"spectra/internal/money"
)

// DocKind is the kind of a billing document.
type DocKind string

// Document kinds. All share one gapless numbering per deployment and year.
const (
	KindReceipt    DocKind = "receipt"     // one per top-up
	KindStatement  DocKind = "statement"   // one per workspace and calendar month of usage
	KindCreditNote DocKind = "credit_note" // corrects a receipt or a statement
)

// Title is the document's printed title.
func (k DocKind) Title() string {
	switch k {
	case KindReceipt:
		return "Receipt"
	case KindStatement:
		return "Usage statement"
	case KindCreditNote:
		return "Credit note"
	}
	return string(k)
}

// LineKind says what a document line counts.
type LineKind string

// Line kinds.
const (
	LineModel   LineKind = "model"   // a statement's usage of one model
	LineProject LineKind = "project" // a statement's usage of one project (the same cost, cut the other way)
	LinePayment LineKind = "payment" // a receipt's top-up
	// LinePromotionalCredit is the line of a receipt for promotional credit (a redeemed
	// promotional code): credit given, not money received, so not revenue and untaxed.
	LinePromotionalCredit LineKind = "promotional_credit"
	LineCredit            LineKind = "credit" // a credit note's correction

	// A statement's usage charged to the balance in its period, by the kind of credit
	// it drew on (ledger.Store's UsageByCredit). Revenue is the paid part only.
	LineUsagePaid        LineKind = "usage_paid"        // drawn on paid credit: revenue
	LineUsagePromotional LineKind = "usage_promotional" // drawn on promotional credit: not revenue
	LineUsageUncovered   LineKind = "usage_uncovered"   // covered by no credit yet (an overdraft)
)

// Promotional reports whether inv is the receipt of promotional credit: no money was
// received for it.
func (inv Invoice) Promotional() bool {
	return inv.Kind == KindReceipt && len(inv.Lines) == 1 && inv.Lines[0].Kind == LinePromotionalCredit
}

// CreditLine reports whether k is one of a statement's lines by kind of credit.
func (k LineKind) CreditLine() bool {
	return k == LineUsagePaid || k == LineUsagePromotional || k == LineUsageUncovered
}

// Line is one line of a document. Token counts are set on statement lines only.
type Line struct {
	Kind              LineKind     `json:"kind"`
	Description       string       `json:"description"`
	Requests          int64        `json:"requests,omitempty"`
	InputTokens       int64        `json:"input_tokens,omitempty"`
	CachedInputTokens int64        `json:"cached_input_tokens,omitempty"`
	CacheWriteTokens  int64        `json:"cache_write_tokens,omitempty"`
	OutputTokens      int64        `json:"output_tokens,omitempty"`
	ReasoningTokens   int64        `json:"reasoning_tokens,omitempty"`
	Amount            money.Amount `json:"amount"`
}

// Invoice is an issued billing document: a receipt, a usage statement or a credit note.
// Once issued it never changes (the database refuses updates and deletes); a correction
// is a credit note. Amounts are tax-inclusive: Total = Subtotal + Tax, and a receipt's
// Total is exactly its ledger credit, a statement's Total exactly the month's usage cost.
type Invoice struct {
	ID          string       `json:"id"`
	Number      string       `json:"number"` // e.g. SPEC-2026-000123
	Kind        DocKind      `json:"kind"`
	WorkspaceID string       `json:"workspace_id"`
	Currency    string       `json:"currency"`
	Subtotal    money.Amount `json:"subtotal"` // Total − Tax
	Tax         money.Amount `json:"tax"`
	Total       money.Amount `json:"total"`
	TaxRateBP   int64        `json:"tax_rate_basis_points"`
	TaxName     string       `json:"tax_name,omitempty"`
	Seller      Party        `json:"seller"`
	Buyer       Party        `json:"buyer"`
	Timezone    string       `json:"timezone"` // the workspace's, for dates on the document

	// Statements.
	Period      string     `json:"period,omitempty"` // "YYYY-MM"
	PeriodStart *time.Time `json:"period_start,omitempty"`
	PeriodEnd   *time.Time `json:"period_end,omitempty"`

	// Receipts.
	TransferID       int64         `json:"transfer_id,omitempty"`
	PaymentMethod    PaymentMethod `json:"payment_method,omitempty"`
	PaymentReference string        `json:"payment_reference,omitempty"`

	// Credit notes.
	OriginalID     string `json:"original_id,omitempty"`
	OriginalNumber string `json:"original_number,omitempty"`

	Note     string    `json:"note,omitempty"`
	Lines    []Line    `json:"lines,omitempty"`
	IssuedAt time.Time `json:"issued_at"`

	// Series is the numbering series (prefix and year, e.g. "SPEC-2026"); the store
	// numbers the document Series-NNNNNN.
	Series string `json:"-"`
	// SourceKey makes issuing idempotent: one document per key ("receipt:<transfer id>",
	// "statement:<workspace>:<month>", "credit_note:<invoice>:<key>").
	SourceKey string `json:"-"`
}

// FormatNumber returns the number of the seq-th document of a series.
func FormatNumber(series string, seq int64) string { return fmt.Sprintf("%s-%06d", series, seq) }

// InvoiceFilter selects a page of a workspace's documents, newest first.
type InvoiceFilter struct {
	WorkspaceID string
	Kind        DocKind // "" for every kind
	// Before continues after an earlier page: documents issued before BeforeTime, or at
	// it with a number before BeforeNumber.
	BeforeTime   time.Time
	BeforeNumber string
	Limit        int
}
