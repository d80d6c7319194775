package api

import (
	"net/http"

	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

func (s *Server) balance(w http.ResponseWriter, r *http.Request) error {
	b, err := s.ledger.Balance(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	// paid and promotional: the unexpired credit left of each kind (GET …/credits lists
	// the lots); expiring_within_30_days: the part of them that expires within 30 days.
	WriteJSON(w, http.StatusOK, struct {
		WorkspaceID          string       `json:"workspace_id"`
		Balance              money.Amount `json:"balance"`
		Held                 money.Amount `json:"held"`
		Available            money.Amount `json:"available"`
		OverdraftLimit       money.Amount `json:"overdraft_limit"`
		Paid                 money.Amount `json:"paid"`
		Promotional          money.Amount `json:"promotional"`
		ExpiringWithin30Days money.Amount `json:"expiring_within_30_days"`
		Currency             string       `json:"currency"`
	}{b.WorkspaceID, b.Balance, b.Held, b.Available, b.OverdraftLimit, b.Paid, b.Promotional, b.ExpiringWithin30Days, s.currency})
	return nil
}

// Transaction page sizes.
const (
	DefaultTransactions = 50
	MaxTransactions     = 200
)

// transactions lists a wallet's entries newest first, each with the balance after it.
// next_cursor continues the list; it is null on the last page.
func (s *Server) transactions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q, DefaultTransactions, MaxTransactions)
	if err != nil {
		return err
	}
	var before int64
	if c := q.Get("cursor"); c != "" {
		var ok bool
		if before, ok = decodeCursor("tx", c); !ok {
			return errs.E(errs.Invalid, "invalid_cursor", "cursor is not one this API returned")
		}
	}
	entries, err := s.ledger.Entries(r.Context(), r.PathValue("id"), before, limit+1)
	if err != nil {
		return err
	}
	var next *string
	if len(entries) > limit {
		entries = entries[:limit]
		c := encodeCursor("tx", entries[limit-1].Cursor)
		next = &c
	}
	WriteJSON(w, http.StatusOK, struct {
		Transactions []ledger.Entry `json:"transactions"`
		NextCursor   *string        `json:"next_cursor"`
		Currency     string         `json:"currency"`
	}{entries, next, s.currency})
	return nil
}
