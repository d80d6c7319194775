package billinghttp

import (
	"net/http"
	"strconv"

	"spectra/internal/billing"
	"spectra/internal/errs"
	"spectra/internal/httpjson"
)

// The operator's view of redemption codes (the console's Codes page calls the same
// billing methods): batches counted by state, a batch's codes with their states, and
// disabling a code. A code's text is never listed: only hashes are stored.

// listCodeBatches is GET /api/v1/redemption-codes?before=&limit=: batches newest first
// with their codes counted by state, and next_cursor (a batch id) to continue.
func (s *server) listCodeBatches(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	bs, err := s.svc.CodeBatches(r.Context(), billing.CodeBatchFilter{Before: r.URL.Query().Get("before"), Limit: limit + 1})
	if err != nil {
		return err
	}
	out := struct {
		Batches    []billing.CodeBatchSummary `json:"batches"`
		NextCursor string                     `json:"next_cursor,omitempty"`
	}{Batches: bs}
	if len(bs) > limit {
		out.Batches = bs[:limit]
		out.NextCursor = bs[limit-1].BatchID
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// listBatchCodes is GET /api/v1/redemption-codes/batches/{batch_id}?after=&limit=: the
// batch's codes by id with their state, and next_cursor (a code id) to continue.
func (s *server) listBatchCodes(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	cs, err := s.svc.Codes(r.Context(), billing.CodeFilter{BatchID: r.PathValue("batch_id"), After: r.URL.Query().Get("after"), Limit: limit + 1})
	if err != nil {
		return err
	}
	out := struct {
		Codes      []billing.Code `json:"codes"`
		NextCursor string         `json:"next_cursor,omitempty"`
	}{Codes: cs}
	if len(cs) > limit {
		out.Codes = cs[:limit]
		out.NextCursor = cs[limit-1].ID
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// disableCode is POST /api/v1/redemption-codes/{code_id}/disable: 200 with the code,
// disabled (again: the same answer); 409 code_already_redeemed, 404 code_not_found.
func (s *server) disableCode(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.DisableCode(r.Context(), r.PathValue("code_id"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, c)
	return nil
}

// pageLimit reads ?limit= (1 to billing.MaxCodePage, 50 when absent).
func pageLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > billing.MaxCodePage {
		return 0, errs.E(errs.Invalid, "invalid_limit", "limit must be a whole number from 1 to %d", billing.MaxCodePage)
	}
	return n, nil
}
