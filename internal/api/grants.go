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
}

// grant credits a workspace once per idempotency key: 201 when posted now, 200 with the
// same transfer on a replay, 409 idempotency_conflict when the key was used with another
// amount or note.
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
	id := r.PathValue("id")
	t, created, err := s.ledger.Grant(r.Context(), id, amount, body.IdempotencyKey, body.Note)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	WriteJSON(w, status, grantView{ID: t.ID, Kind: t.Kind, WorkspaceID: id, Amount: t.Amount, Currency: s.currency,
		IdempotencyKey: body.IdempotencyKey, Note: t.Note, CreatedAt: t.CreatedAt})
	return nil
}
