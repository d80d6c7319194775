package web

import (
	"encoding/csv"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"spectra/internal/audit"
	"spectra/internal/billing"
	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

// The console's Redemption codes section. Every action is billing's, as the API's:
//
//	create a batch   billing.CreateCodes   POST /api/v1/redemption-codes
//	disable a code   billing.DisableCode   (console only)
//	list, export     billing.CodeBatches, Codes, BatchCodes
//
// Only a code's hash is stored, so its text is shown once, on the page that answers
// the batch's creation (with its CSV download, made in the page); later listings and
// exports give each code's id, its last four characters and its state.

// adminCodesPage is the codes listing's page size.
const adminCodesPage = 100

// codeBatchForm is the create-batch form's fields as typed.
type codeBatchForm struct {
	Amount, Count, Expires, Note string
	// Kind is the credit the codes give ("paid" or "promotional"); CreditExpires its
	// optional expiry, a date (the end of that day, UTC) or an RFC 3339 time.
	Kind, CreditExpires string
}

type adminCodesData struct {
	adminBase
	Billing   bool
	Form      codeBatchForm
	Batches   []billing.CodeBatchSummary
	NextBatch string // the next page of batches: ?before=
	// Batch is the open batch (?batch=): its summary and a page of its codes.
	Batch    *billing.CodeBatchSummary
	Codes    []billing.Code
	NextCode string // ?after=
	// Created is the batch just created, with its codes' text: shown this once.
	Created    *billing.CodeBatch
	CreatedCSV template.URL
	Flash      string
	Error      string
	ErrorCode  string
}

var errNoBilling = errs.E(errs.Unavailable, "billing_unavailable", "billing is not set up in this deployment, so redemption codes are not available")

// adminCodes is GET /admin/codes: the create form, the batches (newest first, paged),
// and with ?batch= that batch's codes (paged).
func (s *Server) adminCodes(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	d := adminCodesData{adminBase: a.base("Redemption codes", "codes"), Billing: s.bill != nil}
	d.Form.Count, d.Form.Expires = "10", a.Now.AddDate(0, 3, 0).UTC().Format("2006-01-02")
	switch r.URL.Query().Get("done") {
	case "disabled":
		d.Flash = "Code …" + r.URL.Query().Get("hint") + " is disabled: it can no longer be redeemed."
	}
	return s.renderCodes(w, r, a, d, http.StatusOK)
}

// renderCodes loads the listings into d and renders the page.
func (s *Server) renderCodes(w http.ResponseWriter, r *http.Request, a *adminRequest, d adminCodesData, status int) error {
	if s.bill == nil {
		return s.render(w, r, status, "admin_codes", d)
	}
	ctx := r.Context()
	q := r.URL.Query()
	id := q.Get("batch")
	if d.Created != nil {
		id = ""
	}
	if id == "" { // the list of batches: only on the list itself (a batch's page shows its own summary)
		batches, err := s.bill.CodeBatches(ctx, billing.CodeBatchFilter{Before: q.Get("before"), Limit: adminPageSize + 1})
		if err != nil {
			return err
		}
		if len(batches) > adminPageSize {
			batches = batches[:adminPageSize]
			d.NextBatch = batches[len(batches)-1].BatchID
		}
		d.Batches = batches
	}
	if id != "" {
		codes, err := s.bill.Codes(ctx, billing.CodeFilter{BatchID: id, After: q.Get("after"), Limit: adminCodesPage + 1})
		if err != nil {
			return err
		}
		if len(codes) > adminCodesPage {
			codes = codes[:adminCodesPage]
			d.NextCode = codes[len(codes)-1].ID
		}
		d.Codes = codes
		d.Batch = s.batchSummary(r, id)
	}
	return s.render(w, r, status, "admin_codes", d)
}

// batchSummary reads batch id's summary alone (its row in billing_code_batches).
func (s *Server) batchSummary(r *http.Request, id string) *billing.CodeBatchSummary {
	bs, err := s.bill.CodeBatches(r.Context(), billing.CodeBatchFilter{BatchID: id, Limit: 1})
	if err != nil || len(bs) == 0 {
		return nil
	}
	return &bs[0]
}

// adminCreateCodes is POST /admin/codes: billing.CreateCodes, as POST
// /api/v1/redemption-codes. The page that answers shows the codes' text this once.
func (s *Server) adminCreateCodes(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	if s.bill == nil {
		return errNoBilling
	}
	f := codeBatchForm{Amount: strings.TrimSpace(r.PostFormValue("amount")), Count: strings.TrimSpace(r.PostFormValue("count")),
		Expires: strings.TrimSpace(r.PostFormValue("expires")), Note: strings.TrimSpace(r.PostFormValue("note")),
		Kind: strings.TrimSpace(r.PostFormValue("kind")), CreditExpires: strings.TrimSpace(r.PostFormValue("credit_expires"))}
	d := adminCodesData{adminBase: a.base("Redemption codes", "codes"), Billing: true, Form: f}
	req, err := f.request()
	if err == nil {
		var b billing.CodeBatch
		if b, err = s.bill.CreateCodes(r.Context(), req); err == nil {
			s.audit(r.Context(), a, audit.Entry{Action: "codes.create", Target: "batch " + b.BatchID, IdempotencyKey: b.BatchID,
				After: map[string]string{"batch": b.BatchID, "count": itoa64(int64(len(b.Codes))), "amount": b.Amount.String(),
					"expires_at": b.ExpiresAt.Format(time.RFC3339), "note": b.Note, "kind": string(b.Kind), "credit_expires_at": timeCell(b.CreditExpiresAt)}})
			d.Created, d.CreatedCSV = &b, createdCSV(b)
			d.Form = codeBatchForm{Count: f.Count, Expires: f.Expires, Kind: f.Kind, CreditExpires: f.CreditExpires}
			return s.renderCodes(w, r, a, d, http.StatusCreated)
		}
	}
	switch errs.KindOf(err) {
	case errs.Invalid, errs.Conflict:
		d.Error, d.ErrorCode = userMessage(err), errs.CodeOf(err)
		return s.renderCodes(w, r, a, d, statusOf(err))
	}
	return err
}

// request reads the form: the amount as a decimal, the expiry as a date (the end of
// that day, UTC) or an RFC 3339 time, the credit's kind and its optional expiry (the
// same forms). Errors: invalid_amount, invalid_count, invalid_expiry,
// invalid_credit_kind, invalid_expires_at (billing.CreateCodes checks the rest).
func (f codeBatchForm) request() (billing.CodeBatchRequest, error) {
	amount, err := money.ParsePositive(f.Amount)
	if err != nil {
		return billing.CodeBatchRequest{}, errs.E(errs.Invalid, "invalid_amount", "the amount must be a positive amount, e.g. 10 or 4.50")
	}
	n, ok := parseCount(f.Count)
	if !ok {
		return billing.CodeBatchRequest{}, errs.E(errs.Invalid, "invalid_count", "count must be from 1 to %d", billing.MaxCodesPerBatch)
	}
	exp, err := time.Parse("2006-01-02", f.Expires)
	if err == nil {
		exp = exp.Add(24*time.Hour - time.Second)
	} else if exp, err = time.Parse(time.RFC3339, f.Expires); err != nil {
		return billing.CodeBatchRequest{}, errs.E(errs.Invalid, "invalid_expiry", "the expiry must be a date such as 2026-12-31")
	}
	kind := ledger.CreditKind(f.Kind)
	if kind != "" && !kind.Valid() {
		return billing.CodeBatchRequest{}, errs.E(errs.Invalid, "invalid_credit_kind", "the kind of credit must be paid or promotional")
	}
	var creditExp time.Time
	if f.CreditExpires != "" {
		if creditExp, err = time.Parse("2006-01-02", f.CreditExpires); err == nil {
			creditExp = creditExp.Add(24*time.Hour - time.Second)
		} else if creditExp, err = time.Parse(time.RFC3339, f.CreditExpires); err != nil {
			return billing.CodeBatchRequest{}, errs.E(errs.Invalid, "invalid_expires_at", "the credit's expiry must be a date such as 2027-06-30")
		}
	}
	return billing.CodeBatchRequest{Amount: amount, Count: n, ExpiresAt: exp, Note: f.Note, Kind: kind, CreditExpiresAt: creditExp}, nil
}

// parseCount reads a whole number from 1 to billing.MaxCodesPerBatch.
func parseCount(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n >= 1 && n <= billing.MaxCodesPerBatch
}

// createdCSV is the CSV of a batch just created, with its codes' text, as a data: URL
// the page offers for download: the text is never stored, so it is made in the page.
func createdCSV(b billing.CodeBatch) template.URL {
	var sb strings.Builder
	cw := csv.NewWriter(&sb)
	cw.Write([]string{"code", "amount", "currency", "expires_at", "batch_id", "note"})
	for _, c := range b.Codes {
		cw.Write([]string{c, b.Amount.String(), b.Currency, b.ExpiresAt.Format(time.RFC3339), b.BatchID, csvSafe(b.Note)})
	}
	cw.Flush()
	return template.URL("data:text/csv;charset=utf-8," + url.PathEscape(sb.String()))
}

// adminDisableCode is POST /admin/codes/{code}/disable: billing.DisableCode.
func (s *Server) adminDisableCode(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	if s.bill == nil {
		return errNoBilling
	}
	c, err := s.bill.DisableCode(r.Context(), r.PathValue("code"))
	if err != nil {
		if errs.KindOf(err) == errs.Conflict {
			d := adminCodesData{adminBase: a.base("Redemption codes", "codes"), Billing: true}
			d.Error, d.ErrorCode = userMessage(err)+" Its credit belongs to the workspace that redeemed it; it cannot be disabled.", errs.CodeOf(err)
			return s.renderCodes(w, r, a, d, statusOf(err))
		}
		return err
	}
	s.audit(r.Context(), a, audit.Entry{Action: "codes.disable", Target: "code " + c.ID, IdempotencyKey: c.ID,
		Before: map[string]string{"state": "unused"}, After: map[string]string{"state": "disabled", "batch": c.BatchID, "hint": c.Hint}})
	http.Redirect(w, r, "/admin/codes?batch="+url.QueryEscape(c.BatchID)+"&done=disabled&hint="+url.QueryEscape(c.Hint), http.StatusSeeOther)
	return nil
}

// adminExportCodes is GET /admin/codes/{batch}/export.csv: every code of the batch
// with its state — ids and last four characters, never the text, which is not stored.
func (s *Server) adminExportCodes(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	if s.bill == nil {
		return errNoBilling
	}
	id := r.PathValue("batch")
	codes, err := s.bill.BatchCodes(r.Context(), id)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="spectra-codes-`+strings.Map(fileSafe, id)+`.csv"`)
	h.Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write([]string{"code_id", "last_four", "amount", "currency", "state", "redeemed_by", "redeemed_by_name", "redeemed_at", "disabled_at", "expires_at", "created_at", "batch_id", "note"})
	for _, c := range codes {
		cw.Write([]string{c.ID, c.Hint, c.Amount.String(), s.currency, c.State, c.RedeemedBy, csvSafe(c.RedeemedByName),
			timeCell(c.RedeemedAt), timeCell(c.DisabledAt), c.ExpiresAt.Format(time.RFC3339), c.CreatedAt.Format(time.RFC3339), c.BatchID, csvSafe(c.Note)})
	}
	cw.Flush()
	return cw.Error()
}

func timeCell(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// fileSafe keeps letters, digits, - and _ of a file name.
func fileSafe(r rune) rune {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		return r
	}
	return '_'
}
