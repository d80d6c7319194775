package billinghttp

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"spectra/internal/billing"
	"spectra/internal/errs"
	"spectra/internal/httpjson"
)

// invoiceView is a document as the API shows it, with where to get its PDF.
type invoiceView struct {
	billing.Invoice
	PDFURL string `json:"pdf_url"`
}

func view(inv billing.Invoice) invoiceView {
	return invoiceView{inv, "/api/v1/workspaces/" + inv.WorkspaceID + "/invoices/" + inv.ID + ".pdf"}
}

// listInvoices is GET /api/v1/workspaces/{id}/invoices?kind=&limit=&cursor=, newest first.
func (s *server) listInvoices(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := billing.InvoiceFilter{WorkspaceID: r.PathValue("id"), Kind: billing.DocKind(q.Get("kind")), Limit: 50}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return errs.E(errs.Invalid, "invalid_limit", "limit must be an integer from 1 to 200")
		}
		f.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		t, num, ok := decodeCursor(c)
		if !ok {
			return errs.E(errs.Invalid, "invalid_cursor", "cursor is not one this API returned")
		}
		f.BeforeTime, f.BeforeNumber = t, num
	}
	list, err := s.svc.Invoices(r.Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Invoices   []invoiceView `json:"invoices"`
		NextCursor string        `json:"next_cursor,omitempty"`
	}{Invoices: []invoiceView{}}
	for _, inv := range list {
		out.Invoices = append(out.Invoices, view(inv))
	}
	if len(list) == f.Limit {
		last := list[len(list)-1]
		out.NextCursor = encodeCursor(last.IssuedAt, last.Number)
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

func encodeCursor(t time.Time, number string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + ":" + number))
}

func decodeCursor(s string) (time.Time, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", false
	}
	ts, num, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || n <= 0 || num == "" {
		return time.Time{}, "", false
	}
	return time.UnixMicro(n).UTC(), num, true
}

// getInvoice is GET /api/v1/workspaces/{id}/invoices/{invoice_id} (JSON with lines) and
// …/{invoice_id}.pdf (the PDF).
func (s *server) getInvoice(w http.ResponseWriter, r *http.Request) error {
	file := r.PathValue("file")
	id, pdf := strings.CutSuffix(file, ".pdf")
	if !pdf {
		inv, err := s.svc.Invoice(r.Context(), r.PathValue("id"), id)
		if err != nil {
			return err
		}
		httpjson.Write(w, http.StatusOK, view(inv))
		return nil
	}
	inv, body, err := s.svc.InvoicePDF(r.Context(), r.PathValue("id"), id)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `attachment; filename="`+inv.Number+`.pdf"`)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "private, max-age=3600") // issued documents never change
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return nil
}
