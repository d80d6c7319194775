package api

import (
	"net/http"

	"spectra/internal/errs"
	"spectra/internal/ledger"
)

// Credit lot page sizes.
const (
	DefaultCredits = 100
	MaxCredits     = 500
)

// credits lists a wallet's credit lots: first the open ones (credit left) in the order
// spending draws on them (promotional before paid, then earliest expiry, never-expiring
// last, then oldest), then the spent and expired ones, newest first. Each lot has its
// kind, source, amount and what became of it (used, expired, remaining). next_cursor
// continues the list after the page's last lot; it is null on the last page. Each page
// reads the lots afresh, so a lot spent or expired between two pages may move from the
// open part to the other and be listed twice or not at all.
func (s *Server) credits(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q, DefaultCredits, MaxCredits)
	if err != nil {
		return err
	}
	var after int64
	if c := q.Get("cursor"); c != "" {
		var ok bool
		if after, ok = decodeCursor("lot", c); !ok {
			return errs.E(errs.Invalid, "invalid_cursor", "cursor is not one this API returned")
		}
	}
	lots, err := s.ledger.Lots(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if after > 0 {
		i := lotIndex(lots, after)
		if i < 0 {
			return errs.E(errs.Invalid, "invalid_cursor", "cursor is not one this API returned")
		}
		lots = lots[i+1:]
	}
	var next *string
	if len(lots) > limit {
		lots = lots[:limit]
		c := encodeCursor("lot", lots[limit-1].ID)
		next = &c
	}
	if lots == nil {
		lots = []ledger.Lot{}
	}
	WriteJSON(w, http.StatusOK, struct {
		Credits    []ledger.Lot `json:"credits"`
		NextCursor *string      `json:"next_cursor"`
		Currency   string       `json:"currency"`
	}{lots, next, s.currency})
	return nil
}

// lotIndex is the position of lot id in lots, or -1.
func lotIndex(lots []ledger.Lot, id int64) int {
	for i, l := range lots {
		if l.ID == id {
			return i
		}
	}
	return -1
}
