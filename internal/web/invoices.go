package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"spectra/internal/billing"
	"spectra/internal/errs"
)

// invoicesPageSize is how many documents one page of the invoices page shows.
const invoicesPageSize = 50

// invoiceRow is one document as the invoices page lists it.
type invoiceRow struct {
	billing.Invoice
	Date    string
	Label   string // "Receipt", "Usage statement", "Credit note"
	PDFURL  string
	Against string // a credit note's original number
}

// invoicesData is what the invoices page shows.
type invoicesData struct {
	pageBase
	Enabled  bool // the deployment issues documents
	Invoices []invoiceRow
	NextURL  string
	FirstURL string
	Paged    bool
}

// invoices lists the workspace's receipts, usage statements and credit notes, newest
// first, each with its PDF. Without billing it says where the ledger is meanwhile.
func (s *Server) invoices(w http.ResponseWriter, r *http.Request, rq *request) error {
	d := invoicesData{pageBase: rq.base("Invoices", "invoices"), Enabled: s.bill != nil, FirstURL: rq.URL("invoices")}
	if s.bill == nil {
		return s.render(w, r, http.StatusOK, "invoices", d)
	}
	f := billing.InvoiceFilter{WorkspaceID: rq.Workspace.ID, Limit: invoicesPageSize + 1}
	q := r.URL.Query()
	if bt := q.Get("before"); bt != "" {
		t, err := time.Parse(time.RFC3339Nano, bt)
		if err != nil || q.Get("before_number") == "" {
			return errs.E(errs.Invalid, "invalid_cursor", "the page cursor is not valid; start from the first page")
		}
		f.BeforeTime, f.BeforeNumber, d.Paged = t, q.Get("before_number"), true
	}
	docs, err := s.bill.Invoices(r.Context(), f)
	if err != nil {
		return err
	}
	if len(docs) > invoicesPageSize {
		docs = docs[:invoicesPageSize]
		last := docs[len(docs)-1]
		d.NextURL = rq.URL("invoices") + "?" + url.Values{"before": {last.IssuedAt.UTC().Format(time.RFC3339Nano)},
			"before_number": {last.Number}}.Encode()
	}
	for _, inv := range docs {
		d.Invoices = append(d.Invoices, invoiceRow{Invoice: inv, Date: rq.Date(inv.IssuedAt), Label: inv.Kind.Title(),
			PDFURL: rq.URL("invoices/" + url.PathEscape(inv.ID) + ".pdf"), Against: inv.OriginalNumber})
	}
	return s.render(w, r, http.StatusOK, "invoices", d)
}

// invoicePDF serves one document of this workspace as a PDF download
// (/w/{ws}/invoices/{id}.pdf); another workspace's document is a 404.
func (s *Server) invoicePDF(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".pdf")
	if s.bill == nil || !ok || id == "" {
		return errNotFound
	}
	inv, pdf, err := s.bill.InvoicePDF(r.Context(), rq.Workspace.ID, id)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `attachment; filename="`+safeFilename(inv.Number)+`.pdf"`)
	h.Set("Content-Length", strconv.Itoa(len(pdf)))
	h.Set("Cache-Control", "private, no-store")
	_, err = w.Write(pdf)
	return err
}

// safeFilename keeps the letters, digits, dashes and underscores of s.
func safeFilename(s string) string {
	out := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, s)
	if out == "" {
		return "invoice"
	}
	return out
}
