package billinghttp

import (
	"net/http"
	"time"

	"spectra/internal/billing"
	"spectra/internal/errs"
	"spectra/internal/httpjson"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

// recordPayment is POST /api/v1/workspaces/{id}/payments
// {"amount":"…","reference":"…","note":"…"}: 201 when credited now, 200 with the same
// payment for a reference already recorded, 409 for a reference used with other contents.
func (s *server) recordPayment(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Amount    string `json:"amount"`
		Reference string `json:"reference"`
		Note      string `json:"note"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	a, err := amount("amount", body.Amount)
	if err != nil {
		return err
	}
	p, now, err := s.svc.RecordManualPayment(r.Context(), r.PathValue("id"), billing.ManualPayment{Amount: a, Reference: body.Reference, Note: body.Note})
	if err != nil {
		return err
	}
	httpjson.Write(w, created(now), p)
	return nil
}

// createCodes is POST /api/v1/redemption-codes {"amount":"…","count":N,"expires_at":"RFC3339","note":"…",
// "kind":"paid|promotional","credit_expires_at":"RFC3339"} → 201 with the codes, shown this once.
// expires_at is the codes' validity; credit_expires_at the expiry of the credit they give.
func (s *server) createCodes(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Amount          string `json:"amount"`
		Count           int    `json:"count"`
		ExpiresAt       string `json:"expires_at"`
		Note            string `json:"note"`
		Kind            string `json:"kind"`
		CreditExpiresAt string `json:"credit_expires_at"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	a, err := amount("amount", body.Amount)
	if err != nil {
		return err
	}
	exp, err := time.Parse(time.RFC3339Nano, body.ExpiresAt)
	if err != nil {
		return errs.E(errs.Invalid, "invalid_expiry", "expires_at must be an RFC 3339 time")
	}
	var creditExp time.Time
	if body.CreditExpiresAt != "" {
		if creditExp, err = time.Parse(time.RFC3339Nano, body.CreditExpiresAt); err != nil {
			return errs.E(errs.Invalid, "invalid_expires_at", "credit_expires_at must be an RFC 3339 time")
		}
	}
	b, err := s.svc.CreateCodes(r.Context(), billing.CodeBatchRequest{Amount: a, Count: body.Count, ExpiresAt: exp, Note: body.Note,
		Kind: ledger.CreditKind(body.Kind), CreditExpiresAt: creditExp})
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusCreated, b)
	return nil
}

// monthBody is the body of the statement routes: {"month":"2026-03"}.
type monthBody struct {
	Month string `json:"month"`
}

// issueStatement is POST /api/v1/workspaces/{id}/statements {"month":"2026-03"}: 201
// with the statement, or 200 with the one issued before.
func (s *server) issueStatement(w http.ResponseWriter, r *http.Request) error {
	var body monthBody
	if err := decode(w, r, &body); err != nil {
		return err
	}
	m, err := billing.ParseMonth(body.Month)
	if err != nil {
		return err
	}
	inv, now, err := s.svc.IssueStatement(r.Context(), r.PathValue("id"), m)
	if err != nil {
		return err
	}
	httpjson.Write(w, created(now), view(inv))
	return nil
}

// issueStatements is POST /api/v1/statements {"month":"2026-03"}: every workspace's
// statement for the month (those whose month has ended), as the background loop does.
func (s *server) issueStatements(w http.ResponseWriter, r *http.Request) error {
	var body monthBody
	if err := decode(w, r, &body); err != nil {
		return err
	}
	m, err := billing.ParseMonth(body.Month)
	if err != nil {
		return err
	}
	run, err := s.svc.IssueStatements(r.Context(), m)
	if err != nil && run.Issued+run.AlreadyIssued+run.NoUsage+run.NotEnded == 0 {
		return err
	}
	httpjson.Write(w, http.StatusOK, run)
	return nil
}

// creditNote is POST /api/v1/workspaces/{id}/invoices/{invoice_id}/credit-note
// {"amount":"…" (optional: the rest of the total),"reason":"…","idempotency_key":"…"}.
func (s *server) creditNote(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Amount         string `json:"amount"`
		Reason         string `json:"reason"`
		IdempotencyKey string `json:"idempotency_key"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	var a money.Amount
	if body.Amount != "" {
		var err error
		if a, err = amount("amount", body.Amount); err != nil {
			return err
		}
	}
	inv, now, err := s.svc.IssueCreditNote(r.Context(), r.PathValue("id"), r.PathValue("invoice_id"),
		billing.CreditNoteRequest{Amount: a, Reason: body.Reason, IdempotencyKey: body.IdempotencyKey})
	if err != nil {
		return err
	}
	httpjson.Write(w, created(now), view(inv))
	return nil
}
