package billing

import (
	"context"
	"log/slog"
	"strings"
	"unicode/utf8"

	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/money"
	"spectra/internal/team"
	"spectra/internal/text"
)

// credit posts one top-up of a workspace under ledger key ledger.PaymentKey(key), with its
// receipt, and re-arms auto-recharge when it was posted now.
func (s *Service) credit(ctx context.Context, ws team.Workspace, amount money.Amount, method PaymentMethod, reference, key, note string) (Payment, bool, error) {
	receipt, err := s.newReceipt(ctx, ws, amount, method, reference)
	if err != nil {
		return Payment{}, false, err
	}
	p, created, err := s.store.RecordPayment(ctx, PaymentRecord{
		Transfer: transferFor(ws.ID, amount, key, note),
		Method:   method,
		Receipt:  receipt,
	})
	if err != nil {
		return Payment{}, false, err
	}
	if created {
		s.afterCredit(ctx, ws.ID)
	}
	return p, created, nil
}

// transferFor is the ledger transfer of a top-up: ledger.CreditRequest, the transfer
// ledger.Service.Credit posts, so that both count a key once.
func transferFor(workspaceID string, amount money.Amount, key, note string) ledger.TransferRequest {
	return ledger.CreditRequest(workspaceID, amount, key, note)
}

// newReceipt drafts the receipt of a top-up: tax-inclusive, the seller from the
// configuration, the buyer from the workspace's billing details at this moment.
func (s *Service) newReceipt(ctx context.Context, ws team.Workspace, amount money.Amount, method PaymentMethod, reference string) (Invoice, error) {
	buyer, err := s.buyer(ctx, ws)
	if err != nil {
		return Invoice{}, err
	}
	now := s.issuedNow()
	inv := Invoice{Kind: KindReceipt, WorkspaceID: ws.ID, Currency: s.cfg.Currency, Total: amount,
		Seller: s.cfg.Seller, Buyer: buyer, Timezone: ws.Timezone, PaymentMethod: method, PaymentReference: reference,
		Lines:    []Line{{Kind: LinePayment, Description: "Prepaid balance top-up, " + method.Label(), Amount: amount}},
		IssuedAt: now, Series: s.series(now)}
	s.applyTax(&inv)
	return inv, nil
}

// applyTax splits a document's tax-inclusive total at the configured rate.
func (s *Service) applyTax(inv *Invoice) {
	inv.TaxRateBP = s.cfg.TaxRateBasisPoints
	if inv.TaxRateBP > 0 {
		inv.TaxName = s.cfg.TaxName
	}
	inv.Tax = IncludedTax(inv.Total, inv.TaxRateBP)
	inv.Subtotal = inv.Total - inv.Tax
}

// buyer returns a workspace's billing details, named after the workspace when no name was saved.
func (s *Service) buyer(ctx context.Context, ws team.Workspace) (Party, error) {
	p, err := s.store.BillingDetails(ctx, ws.ID)
	if err != nil {
		return Party{}, err
	}
	if p.Name == "" {
		p.Name = ws.Name
	}
	return p, nil
}

// creditStripe credits a Stripe payment (a Checkout session or a PaymentIntent, named by
// objectID) once. It refuses — nothing credited, one clear error log line, and the reason
// returned — a payment in another currency, of no amount, or for an unknown workspace.
func (s *Service) creditStripe(ctx context.Context, log *slog.Logger, workspaceID, objectID string, minor int64, currency string,
	method PaymentMethod, note string) (p Payment, created bool, refused string, err error) {
	log = log.With("workspace_id", workspaceID, "amount_minor", minor, "currency", strings.ToUpper(currency))
	if !strings.EqualFold(currency, s.cfg.Currency) {
		log.Error("billing: Stripe payment refused, nothing credited: its currency is not the deployment's",
			"deployment_currency", s.cfg.Currency)
		return p, false, "currency mismatch", nil
	}
	amount, err := FromMinor(minor, s.cfg.Currency)
	if err != nil || amount <= 0 {
		log.Error("billing: Stripe payment refused, nothing credited: no positive amount")
		return p, false, "no amount", nil
	}
	ws, err := s.teams.Workspace(ctx, workspaceID)
	if errs.KindOf(err) == errs.NotFound {
		log.Error("billing: Stripe payment refused, nothing credited: unknown workspace")
		return p, false, "unknown workspace", nil
	}
	if err != nil {
		return p, false, "", err
	}
	p, created, err = s.credit(ctx, ws, amount, method, objectID, "stripe:"+objectID, note)
	if errs.Is(err, ledger.ErrConflict.Code) {
		log.Error("billing: Stripe payment refused, nothing credited: it was credited before with different contents", "err", err)
		return p, false, "idempotency conflict", nil
	}
	if err != nil {
		return p, false, "", err
	}
	if created {
		log.Info("billing: Stripe payment credited", "amount", amount.String(), "transfer_id", p.TransferID, "receipt", p.ReceiptNumber)
	} else {
		log.Info("billing: Stripe payment already credited; nothing changed", "transfer_id", p.TransferID)
	}
	return p, created, "", nil
}

// ManualPayment is a payment the operator received outside Stripe (a bank transfer, a
// paid invoice).
type ManualPayment struct {
	Amount    money.Amount `json:"amount"`
	Reference string       `json:"reference"` // the bank's reference; one credit per reference, ever
	Note      string       `json:"note"`
}

// MaxReference is the longest payment reference accepted.
const MaxReference = 200

// RecordManualPayment credits a payment received outside Stripe, once per reference:
// the same reference again returns the first payment and false; the same reference with
// another amount, note or workspace is idempotency_conflict. Errors: invalid_amount,
// invalid_reference, invalid_note, workspace_not_found.
func (s *Service) RecordManualPayment(ctx context.Context, workspaceID string, m ManualPayment) (Payment, bool, error) {
	m.Reference = strings.TrimSpace(m.Reference)
	m.Note = strings.TrimSpace(m.Note)
	switch {
	case m.Amount <= 0:
		return Payment{}, false, errs.E(errs.Invalid, "invalid_amount", "amount must be greater than zero")
	case m.Reference == "" || len(m.Reference) > MaxReference || !utf8.ValidString(m.Reference):
		return Payment{}, false, errs.E(errs.Invalid, "invalid_reference", "reference is required (at most %d bytes)", MaxReference)
	case len(m.Note) > 500 || !utf8.ValidString(m.Note):
		return Payment{}, false, errs.E(errs.Invalid, "invalid_note", "note is at most 500 bytes")
	}
	if err := text.Line("reference", m.Reference, MaxReference); err != nil {
		return Payment{}, false, err
	}
	if err := text.Free("note", m.Note, 500); err != nil {
		return Payment{}, false, err
	}
	ws, err := s.teams.Workspace(ctx, workspaceID)
	if err != nil {
		return Payment{}, false, err
	}
	note := "Bank transfer " + m.Reference
	if m.Note != "" {
		note += ": " + m.Note
	}
	p, created, err := s.credit(ctx, ws, m.Amount, MethodManual, m.Reference, "manual:"+m.Reference, note)
	if err == nil && created {
		s.log.Info("billing: manual payment recorded", "workspace_id", ws.ID, "reference", m.Reference, "amount", m.Amount.String(), "receipt", p.ReceiptNumber)
	}
	return p, created, err
}
