// Package invoicepdf draws Spectra's billing documents (receipts, statements, credit notes)
// as PDF. It lives outside internal/billing because page geometry is measured in
// millimetres as floats, and no float belongs in a money package: every amount here is
// printed from exact micro-units by money.FormatExact.
package invoicepdf

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"

	"spectra/internal/billing"
	"spectra/internal/money"
)

// Page geometry, in millimetres (A4 portrait).
const (
	pdfMargin = 18.0
	pdfWidth  = 210.0 - 2*pdfMargin
	pdfLineH  = 5.0
)

// Render draws a document as a PDF. Every amount is printed exactly (money.FormatExact:
// decimal strings from micro-units, never floats), so the printed total reads back equal
// to the ledger. The output depends only on the document: rendering it twice gives the
// same bytes. Text outside Windows-1252 (the core PDF fonts) prints as "?".
func Render(inv billing.Invoice) ([]byte, error) {
	r := newPDF(inv)
	r.header()
	r.parties()
	switch inv.Kind {
	case billing.KindStatement:
		r.statementLines()
	default:
		r.simpleLines()
	}
	r.totals()
	r.note()
	var buf bytes.Buffer
	if err := r.pdf.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type pdfDoc struct {
	pdf *fpdf.Fpdf
	tr  func(string) string
	inv billing.Invoice
	loc *time.Location
}

func newPDF(inv billing.Invoice) *pdfDoc {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(inv.IssuedAt)
	pdf.SetModificationDate(inv.IssuedAt)
	pdf.SetCatalogSort(true)
	pdf.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	pdf.SetAutoPageBreak(true, 20)
	pdf.SetTitle(inv.Kind.Title()+" "+inv.Number, true)
	pdf.SetAuthor(inv.Seller.Name, true)
	pdf.SetProducer("Spectra", false)
	pdf.AliasNbPages("{nb}")
	r := &pdfDoc{pdf: pdf, tr: pdf.UnicodeTranslatorFromDescriptor(""), inv: inv, loc: location(inv.Timezone)}
	pdf.SetFooterFunc(func() {
		pdf.SetY(-14)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(0, 4, r.tr(inv.Number+" · page "+strconv.Itoa(pdf.PageNo())+" of {nb}"), "", 0, "C", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	pdf.AddPage()
	return r
}

func (r *pdfDoc) font(style string, size float64) { r.pdf.SetFont("Helvetica", style, size) }

// cell writes one cell of width w, cutting text that does not fit.
func (r *pdfDoc) cell(w float64, text, align string, ln int) {
	r.pdf.CellFormat(w, pdfLineH, r.fit(r.tr(text), w-1), "", ln, align, false, 0, "")
}

// fit shortens s (already translated) with "..." until it fits in w millimetres.
func (r *pdfDoc) fit(s string, w float64) string {
	if w <= 0 || r.pdf.GetStringWidth(s) <= w {
		return s
	}
	for len(s) > 0 && r.pdf.GetStringWidth(s+"...") > w {
		s = s[:len(s)-1]
	}
	return s + "..."
}

func (r *pdfDoc) date(t time.Time) string { return t.In(r.loc).Format("2 January 2006") }

func (r *pdfDoc) money(a money.Amount) string { return money.FormatExact(a, r.inv.Currency) }

func (r *pdfDoc) header() {
	inv := r.inv
	r.font("B", 18)
	r.cell(pdfWidth, inv.Kind.Title(), "L", 1)
	r.pdf.Ln(2)
	r.font("", 10)
	r.kv("Number", inv.Number)
	r.kv("Issued", r.date(inv.IssuedAt)+" ("+inv.Timezone+")")
	if inv.Kind == billing.KindStatement && inv.PeriodStart != nil && inv.PeriodEnd != nil {
		last := inv.PeriodEnd.Add(-time.Microsecond)
		r.kv("Period", inv.Period+": "+r.date(*inv.PeriodStart)+" – "+r.date(last))
	}
	if inv.Kind == billing.KindReceipt {
		r.kv("Paid by", inv.PaymentMethod.Label())
		if inv.PaymentReference != "" {
			r.kv("Reference", inv.PaymentReference)
		}
	}
	if inv.Kind == billing.KindCreditNote {
		r.kv("Corrects", inv.OriginalNumber)
	}
	r.kv("Currency", inv.Currency)
	r.pdf.Ln(4)
}

// kv writes a "label: value" row.
func (r *pdfDoc) kv(label, value string) {
	r.font("B", 10)
	r.cell(28, label, "L", 0)
	r.font("", 10)
	r.cell(pdfWidth-28, value, "L", 1)
}

func (r *pdfDoc) parties() {
	half := pdfWidth / 2
	seller, buyer := r.inv.Seller.Lines(), r.inv.Buyer.Lines()
	r.font("B", 10)
	r.cell(half, "From", "L", 0)
	r.cell(half, "Billed to", "L", 1)
	r.font("", 10)
	for i := 0; i < max(len(seller), len(buyer)); i++ {
		r.cell(half, at(seller, i), "L", 0)
		r.cell(half, at(buyer, i), "L", 1)
	}
	r.pdf.Ln(6)
}

func at(ss []string, i int) string {
	if i < len(ss) {
		return ss[i]
	}
	return ""
}

// row writes a table row; widths and aligns are per column.
func (r *pdfDoc) row(widths []float64, aligns string, cols ...string) {
	for i, c := range cols {
		ln := 0
		if i == len(cols)-1 {
			ln = 1
		}
		r.cell(widths[i], c, aligns[i:i+1], ln)
	}
}

func (r *pdfDoc) rule() {
	y := r.pdf.GetY()
	r.pdf.Line(pdfMargin, y, pdfMargin+pdfWidth, y)
	r.pdf.Ln(1)
}

func (r *pdfDoc) statementLines() {
	w := []float64{46, 18, 24, 22, 20, 22, 22}
	r.font("B", 11)
	r.cell(pdfWidth, "Usage by model", "L", 1)
	r.font("B", 8)
	r.row(w, "LRRRRRR", "Model", "Requests", "Input tokens", "Cached input", "Cache write", "Output tokens", "Cost")
	r.rule()
	r.font("", 8)
	for _, l := range r.inv.Lines {
		if l.Kind == billing.LineModel {
			r.row(w, "LRRRRRR", l.Description, count(l.Requests), count(l.InputTokens), count(l.CachedInputTokens),
				count(l.CacheWriteTokens), count(l.OutputTokens), r.money(l.Amount))
		}
	}
	r.pdf.Ln(5)
	pw := []float64{pdfWidth - 22 - 40, 22, 40}
	r.font("B", 11)
	r.cell(pdfWidth, "Usage by project", "L", 1)
	r.font("B", 8)
	r.row(pw, "LRR", "Project", "Requests", "Cost")
	r.rule()
	r.font("", 8)
	for _, l := range r.inv.Lines {
		if l.Kind == billing.LineProject {
			r.row(pw, "LRR", l.Description, count(l.Requests), r.money(l.Amount))
		}
	}
	r.pdf.Ln(4)
}

func (r *pdfDoc) simpleLines() {
	w := []float64{pdfWidth - 50, 50}
	r.font("B", 10)
	r.row(w, "LR", "Description", "Amount")
	r.rule()
	r.font("", 10)
	for _, l := range r.inv.Lines {
		r.row(w, "LR", l.Description, r.money(l.Amount))
	}
	r.pdf.Ln(4)
}

func (r *pdfDoc) totals() {
	inv := r.inv
	label, value := pdfWidth-60, 60.0
	x := pdfMargin
	line := func(style, l, v string) {
		r.pdf.SetX(x)
		r.font(style, 10)
		r.cell(label, l, "R", 0)
		r.cell(value, v, "R", 1)
	}
	r.rule()
	if inv.TaxRateBP > 0 {
		line("", "Net", r.money(inv.Subtotal))
		line("", inv.TaxName+" "+billing.FormatRate(inv.TaxRateBP)+" (included)", r.money(inv.Tax))
	}
	switch inv.Kind {
	case billing.KindStatement:
		line("B", "Total usage", r.money(inv.Total))
	case billing.KindCreditNote:
		line("B", "Total credited", r.money(inv.Total))
	default:
		line("B", "Total paid", r.money(inv.Total))
	}
	r.pdf.Ln(6)
}

func (r *pdfDoc) note() {
	if r.inv.Note == "" {
		return
	}
	r.font("", 9)
	r.pdf.MultiCell(pdfWidth, 4.5, r.tr(r.inv.Note), "", "L", false)
}

// count formats a whole number with thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// location is the document's timezone, UTC when unknown.
func location(name string) *time.Location {
	if loc, err := time.LoadLocation(name); err == nil && name != "" {
		return loc
	}
	return time.UTC
}
