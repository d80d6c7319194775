package billing

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/money"
	"spectra/internal/text"
)

// Invoices returns a page of a workspace's documents (receipts, statements, credit
// notes), newest first, without their lines. Errors: invalid_kind, workspace_not_found.
func (s *Service) Invoices(ctx context.Context, f InvoiceFilter) ([]Invoice, error) {
	switch f.Kind {
	case "", KindReceipt, KindStatement, KindCreditNote:
	default:
		return nil, errs.E(errs.Invalid, "invalid_kind", "kind must be receipt, statement or credit_note")
	}
	if _, err := s.teams.Workspace(ctx, f.WorkspaceID); err != nil {
		return nil, err
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	return s.store.Invoices(ctx, f)
}

// Invoice returns one document of a workspace with its lines. Errors: ErrInvoiceNotFound.
func (s *Service) Invoice(ctx context.Context, workspaceID, id string) (Invoice, error) {
	return s.store.Invoice(ctx, workspaceID, id)
}

// ErrPDFUnavailable is returned by InvoicePDF when no renderer is configured.
var ErrPDFUnavailable = errs.E(errs.Unavailable, "pdf_unavailable", "PDF documents are not available on this server")

// InvoicePDF returns a document and its PDF, drawn by Config.RenderPDF.
// Errors: ErrInvoiceNotFound, ErrPDFUnavailable.
func (s *Service) InvoicePDF(ctx context.Context, workspaceID, id string) (Invoice, []byte, error) {
	inv, err := s.store.Invoice(ctx, workspaceID, id)
	if err != nil {
		return Invoice{}, nil, err
	}
	if s.cfg.RenderPDF == nil {
		return Invoice{}, nil, ErrPDFUnavailable
	}
	pdf, err := s.cfg.RenderPDF(inv)
	return inv, pdf, err
}

// CreditNoteRequest asks for a credit note against a receipt or a statement.
type CreditNoteRequest struct {
	// Amount is the tax-inclusive amount credited; 0 credits what is left of the original.
	Amount money.Amount `json:"amount"`
	Reason string       `json:"reason"`
	// IdempotencyKey makes a retry return the first credit note; empty issues a new one.
	IdempotencyKey string `json:"idempotency_key"`
}

// IssueCreditNote corrects an issued document: a credit note with its own number, the
// original's parties and tax rate, and the credited amount, never more (with the earlier
// credit notes) than the original's total. It is a document only: money moves through
// the ledger, not through credit notes. Errors: ErrInvoiceNotFound,
// ErrCreditNoteOfCredit, ErrCreditExceeds, invalid_reason, invalid_amount,
// idempotency_conflict (the same key with another amount or reason).
func (s *Service) IssueCreditNote(ctx context.Context, workspaceID, invoiceID string, r CreditNoteRequest) (Invoice, bool, error) {
	r.Reason = strings.TrimSpace(r.Reason)
	switch {
	case r.Reason == "" || len(r.Reason) > 500 || !utf8.ValidString(r.Reason):
		return Invoice{}, false, errs.E(errs.Invalid, "invalid_reason", "reason is required (at most 500 bytes)")
	case r.Amount < 0:
		return Invoice{}, false, errs.E(errs.Invalid, "invalid_amount", "amount must not be negative")
	case len(r.IdempotencyKey) > 200:
		return Invoice{}, false, errs.E(errs.Invalid, "invalid_idempotency_key", "idempotency_key is at most 200 bytes")
	}
	if err := text.Free("reason", r.Reason, 500); err != nil {
		return Invoice{}, false, err
	}
	if err := text.Line("idempotency_key", r.IdempotencyKey, 200); err != nil {
		return Invoice{}, false, err
	}
	orig, err := s.store.Invoice(ctx, workspaceID, invoiceID)
	if err != nil {
		return Invoice{}, false, err
	}
	if orig.Kind == KindCreditNote {
		return Invoice{}, false, ErrCreditNoteOfCredit
	}
	key := r.IdempotencyKey
	if key == "" {
		key = ids.Random(10)
	}
	source := "credit_note:" + orig.ID + ":" + key
	if prev, ok, err := s.store.InvoiceBySource(ctx, source); err != nil {
		return Invoice{}, false, err
	} else if ok {
		if (r.Amount != 0 && r.Amount != prev.Total) || r.Reason != prev.Note {
			return Invoice{}, false, ledger.ErrConflict
		}
		return prev, false, nil
	}
	credited, err := s.store.CreditedTotal(ctx, orig.ID)
	if err != nil {
		return Invoice{}, false, err
	}
	amount := r.Amount
	if amount == 0 {
		amount = orig.Total - credited
	}
	if amount <= 0 || amount > orig.Total-credited {
		return Invoice{}, false, ErrCreditExceeds
	}
	now := s.issuedNow()
	inv := Invoice{Kind: KindCreditNote, WorkspaceID: orig.WorkspaceID, Currency: orig.Currency, Total: amount,
		TaxRateBP: orig.TaxRateBP, TaxName: orig.TaxName, Tax: IncludedTax(amount, orig.TaxRateBP),
		Seller: orig.Seller, Buyer: orig.Buyer, Timezone: orig.Timezone, OriginalID: orig.ID, OriginalNumber: orig.Number,
		Note:     r.Reason,
		Lines:    []Line{{Kind: LineCredit, Description: "Correction of " + orig.Number + ": " + r.Reason, Amount: amount}},
		IssuedAt: now, Series: s.series(now), SourceKey: source}
	inv.Subtotal = inv.Total - inv.Tax
	return s.issue(ctx, inv)
}

// BillingDetails returns a workspace's buyer details (empty fields when none were saved).
// Errors: workspace_not_found.
func (s *Service) BillingDetails(ctx context.Context, workspaceID string) (Party, error) {
	if _, err := s.teams.Workspace(ctx, workspaceID); err != nil {
		return Party{}, err
	}
	return s.store.BillingDetails(ctx, workspaceID)
}

// SetBillingDetails saves a workspace's buyer details; documents issued from now on
// carry them (issued ones keep their snapshot). Errors: invalid_billing_details,
// workspace_not_found.
func (s *Service) SetBillingDetails(ctx context.Context, workspaceID string, p Party) (Party, error) {
	if err := p.Validate(); err != nil {
		return Party{}, err
	}
	if _, err := s.teams.Workspace(ctx, workspaceID); err != nil {
		return Party{}, err
	}
	if err := s.store.SetBillingDetails(ctx, workspaceID, p, s.issuedNow()); err != nil {
		return Party{}, err
	}
	return p, nil
}

// Notices returns a workspace's notices not yet dismissed, newest first.
func (s *Service) Notices(ctx context.Context, workspaceID string) ([]Notice, error) {
	return s.store.Notices(ctx, workspaceID, false)
}

// DismissNotice hides a notice. Errors: ErrNoticeNotFound.
func (s *Service) DismissNotice(ctx context.Context, workspaceID, id string) error {
	return s.store.DismissNotice(ctx, workspaceID, id, s.issuedNow())
}

func (s *Service) addNotice(ctx context.Context, n Notice) error {
	if n.ID == "" {
		n.ID = ids.New("ntc")
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = s.issuedNow()
	}
	return s.store.AddNotice(ctx, n)
}

// creditReceipt says on a receipt which credit its transfer t creates: paid credit keeps
// the receipt as it is, with the credit's expiry on its line when t sets one; promotional
// credit (a redeemed promotional code) was given, not paid for, so its receipt's line is
// LinePromotionalCredit and it carries no tax. Its total stays the credit's amount (the
// ledger's), and statements count the usage it pays as promotional, not revenue.
func creditReceipt(inv Invoice, t ledger.TransferRequest) Invoice {
	if len(inv.Lines) != 1 {
		return inv
	}
	l := &inv.Lines[0]
	exp := ""
	if !t.ExpiresAt.IsZero() {
		exp = ", expires " + t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if t.CreditKind != ledger.CreditPromotional {
		l.Description += exp
		return inv
	}
	l.Kind = LinePromotionalCredit
	l.Description = "Promotional credit (not paid)" + strings.TrimPrefix(l.Description, "Prepaid balance top-up") + exp
	inv.TaxRateBP, inv.TaxName, inv.Tax, inv.Subtotal = 0, "", 0, inv.Total
	return inv
}
