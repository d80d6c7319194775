package api

import (
	"net/http"
	"time"
	"unicode/utf8"

	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

// grantRequest is the body of POST /api/v1/workspaces/{id}/grants.
type grantRequest struct {
	Amount         string `json:"amount"`
	IdempotencyKey string `json:"idempotency_key"`
	Note           string `json:"note"`
	Kind           string `json:"kind"`       // credit kind: "paid" (default) or "promotional"
	ExpiresAt      string `json:"expires_at"` // RFC 3339, in the future; "": never (or the paid-credit default)
}

// MaxIdempotencyKey is the longest idempotency key a grant takes.
const MaxIdempotencyKey = 200

// grantView is a grant transfer as the API shows it.
type grantView struct {
	ID             int64        `json:"id"`
	Kind           ledger.Kind  `json:"kind"`
	WorkspaceID    string       `json:"workspace_id"`
	Amount         money.Amount `json:"amount"`
	Currency       string       `json:"currency"`
	IdempotencyKey string       `json:"idempotency_key"` // as the client sent it
	Note           string       `json:"note"`
	CreatedAt      time.Time    `json:"created_at"`
	// The credit lot the grant created: its kind and expiry (null: never).
	CreditKind ledger.CreditKind `json:"credit_kind"`
	ExpiresAt  *time.Time        `json:"expires_at"`
	LotID      int64             `json:"lot_id,omitempty"`
}

// grant credits a workspace once per idempotency key: 201 when posted now, 200 with the
// same transfer on a replay, 409 idempotency_conflict when the key was used with another
// amount, note, credit kind or expiry.
func (s *Server) grant(w http.ResponseWriter, r *http.Request) error {
	var body grantRequest
	if err := decodeBody(w, r, MaxBody, &body); err != nil {
		return err
	}
	amount, err := money.ParsePositive(body.Amount)
	if err != nil {
		return errs.E(errs.Invalid, "invalid_amount", "amount: %s", amountProblem(err))
	}
	if body.IdempotencyKey == "" || len(body.IdempotencyKey) > MaxIdempotencyKey || !utf8.ValidString(body.IdempotencyKey) {
		return errs.E(errs.Invalid, "invalid_idempotency_key", "idempotency_key is required (at most %d bytes)", MaxIdempotencyKey)
	}
	kind := ledger.CreditKind(body.Kind)
	if kind == "" {
		kind = ledger.CreditPaid
	}
	if !kind.Valid() {
		return errs.E(errs.Invalid, "invalid_credit_kind", "kind must be %q or %q", ledger.CreditPaid, ledger.CreditPromotional)
	}
	var expires time.Time
	if body.ExpiresAt != "" {
		if expires, err = time.Parse(time.RFC3339, body.ExpiresAt); err != nil {
			return errs.E(errs.Invalid, "invalid_expires_at", "expires_at must be a time in RFC 3339 form, such as 2027-01-31T00:00:00Z")
		}
		if !expires.After(s.now()) {
			return errs.E(errs.Invalid, "invalid_expires_at", "expires_at must be in the future")
		}
	}
	id := r.PathValue("id")
	t, created, err := s.ledger.GrantCredit(r.Context(), id, amount, kind, expires, body.IdempotencyKey, body.Note)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	view := grantView{ID: t.ID, Kind: t.Kind, WorkspaceID: id, Amount: t.Amount, Currency: s.currency,
		IdempotencyKey: body.IdempotencyKey, Note: t.Note, CreatedAt: t.CreatedAt, CreditKind: kind}
	lots, err := s.ledger.Lots(r.Context(), id)
	if err != nil {
		return err
	}
	for _, l := range lots {
		if l.TransferID == t.ID {
			view.CreditKind, view.ExpiresAt, view.LotID = l.Kind, l.ExpiresAt, l.ID
		}
	}
	WriteJSON(w, status, view)
	return nil
}
