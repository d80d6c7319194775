package billing

// The operator's view of redemption codes: batches with their codes counted by state,
// the codes of a batch page by page (or all of them, for a CSV export), and disabling
// a code. Only hashes are stored, so a code's text is never listed again: a listing
// shows each code's id and its last four characters (Hint).

import (
	"context"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/money"
	"spectra/internal/text"
)

// The states of a code, as CodeState reads them.
const (
	CodeUnused   = "unused"
	CodeRedeemed = "redeemed"
	CodeExpired  = "expired"
	CodeDisabled = "disabled"
)

// CodeState is c's state at now: disabled, redeemed, expired (unredeemed past its
// expiry) or unused.
func CodeState(c Code, now time.Time) string {
	switch {
	case c.DisabledAt != nil:
		return CodeDisabled
	case c.RedeemedAt != nil:
		return CodeRedeemed
	case !c.ExpiresAt.After(now):
		return CodeExpired
	}
	return CodeUnused
}

// CodeBatchSummary is one batch and its codes counted by state.
type CodeBatchSummary struct {
	BatchID   string       `json:"batch_id"`
	Amount    money.Amount `json:"amount"`
	ExpiresAt time.Time    `json:"expires_at"`
	// The credit its codes give: kind and expiry (nil: never, or the paid-credit default).
	Kind            ledger.CreditKind `json:"kind"`
	CreditExpiresAt *time.Time        `json:"credit_expires_at"`
	Note            string            `json:"note,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	Count           int               `json:"count"`
	Redeemed        int               `json:"redeemed"`
	Disabled        int               `json:"disabled"`
	Expired         int               `json:"expired"` // unredeemed and not disabled, past expiry
	Unused          int               `json:"unused"`
}

// CodeBatchFilter pages batches, newest first: Before is the batch id of the last
// batch of the previous page ("" for the first). BatchID, when set, selects that batch
// alone. Batches are read from their rows (counts kept as codes change), not by
// grouping codes.
type CodeBatchFilter struct {
	Before  string
	BatchID string
	Limit   int
}

// CodeFilter lists codes by id: those of BatchID ("" for every batch) after the code
// id After, at most Limit.
type CodeFilter struct {
	BatchID string
	After   string
	Limit   int
}

// MaxCodePage bounds one page of codes or batches.
const MaxCodePage = 200

// CodeBatches lists batches, newest first, MaxCodePage at most per page (f.Limit, 50
// when zero). Errors: invalid_cursor.
func (s *Service) CodeBatches(ctx context.Context, f CodeBatchFilter) ([]CodeBatchSummary, error) {
	if text.Line("batch", f.BatchID, 100) != nil {
		return nil, errs.E(errs.Invalid, "invalid_cursor", "batch is not a batch id")
	}
	if err := text.Line("before", f.Before, 100); err != nil {
		return nil, errs.E(errs.Invalid, "invalid_cursor", "before is not a batch id")
	}
	f.Limit = pageLimit(f.Limit, 50)
	return s.store.CodeBatches(ctx, f, s.issuedNow())
}

// Codes lists codes by id with their redeeming workspace and their State now, MaxCodePage at most (f.Limit,
// 100 when zero). Errors: invalid_cursor, code_batch_not_found when f.BatchID names no batch.
func (s *Service) Codes(ctx context.Context, f CodeFilter) ([]Code, error) {
	if text.Line("after", f.After, 100) != nil || text.Line("batch", f.BatchID, 100) != nil {
		return nil, errs.E(errs.Invalid, "invalid_cursor", "after and batch are code and batch ids")
	}
	f.Limit = pageLimit(f.Limit, 100)
	out, err := s.store.Codes(ctx, f)
	if err == nil && len(out) == 0 && f.BatchID != "" && f.After == "" {
		return nil, ErrCodeBatchNotFound
	}
	now := s.issuedNow()
	for i := range out {
		out[i].State = CodeState(out[i], now)
	}
	return out, err
}

// BatchCodes returns every code of batch batchID (at most MaxCodesPerBatch), for an
// export. Errors: code_batch_not_found.
func (s *Service) BatchCodes(ctx context.Context, batchID string) ([]Code, error) {
	var out []Code
	after := ""
	for {
		page, err := s.Codes(ctx, CodeFilter{BatchID: batchID, After: after, Limit: MaxCodePage})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < MaxCodePage {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// DisableCode disables code codeID so that it can never be redeemed; disabling a
// disabled code again changes nothing and returns it. Errors: code_not_found,
// code_already_redeemed (409: its credit is the workspace's).
func (s *Service) DisableCode(ctx context.Context, codeID string) (Code, error) {
	codeID = strings.TrimSpace(codeID)
	if text.Line("code_id", codeID, 100) != nil || codeID == "" {
		return Code{}, ErrCodeNotFound
	}
	c, err := s.store.DisableCode(ctx, codeID, s.issuedNow())
	if err != nil {
		return Code{}, err
	}
	c.State = CodeDisabled
	s.log.Info("billing: redemption code disabled", "code_id", c.ID, "batch_id", c.BatchID)
	return c, nil
}

// ErrCodeBatchNotFound is returned for a batch id with no codes.
var ErrCodeBatchNotFound = errs.E(errs.NotFound, "code_batch_not_found", "no batch of redemption codes with this id")

func pageLimit(n, def int) int {
	switch {
	case n <= 0:
		return def
	case n > MaxCodePage:
		return MaxCodePage
	}
	return n
}
