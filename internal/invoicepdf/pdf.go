// Package invoicepdf draws Spectra's billing documents (receipts, statements, credit notes)
// as PDF. It lives outside internal/billing because page geometry is measured in
// millimetres as floats, and no float belongs in a money package: every amount here is
// printed from exact micro-units by money.FormatExact, every amount of a document with
// the same number of decimals, and nothing is ever cut.
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
	pdfBottom = 20.0 // the automatic page break's margin
	cellPad   = 3.0  // room between a table's columns
	minText   = 40.0 // the narrowest a table's text column gets before the table's type shrinks
)

// Render draws a document as a PDF. Every amount is printed exactly (money.FormatExact:
// decimal strings from micro-units, never floats), so the printed total reads back equal
// to the ledger, and every amount of one document has the same number of decimals (see
// decimals). Nothing is cut: a column is as wide as its widest amount or count, a table
// whose numbers do not fit the page is set in a smaller type, and text wraps. The output
// depends only on the document: rendering it twice gives the same bytes. Text outside
// Windows-1252 (the core PDF fonts) prints as "?".
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
	pdf      *fpdf.Fpdf
	tr       func(string) string
	inv      billing.Invoice
	loc      *time.Location
	decimals int // every amount of the document is printed with this many decimals
}

func newPDF(inv billing.Invoice) *pdfDoc {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(inv.IssuedAt)
	pdf.SetModificationDate(inv.IssuedAt)
	pdf.SetCatalogSort(true)
	pdf.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	pdf.SetAutoPageBreak(true, pdfBottom)
	pdf.SetTitle(inv.Kind.Title()+" "+inv.Number, true)
	pdf.SetAuthor(inv.Seller.Name, true)
	pdf.SetProducer("Spectra", false)
	pdf.AliasNbPages("{nb}")
	r := &pdfDoc{pdf: pdf, tr: pdf.UnicodeTranslatorFromDescriptor(""), inv: inv, loc: location(inv.Timezone), decimals: decimals(inv)}
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

// decimals is how many decimals the document's amounts are printed with: the
// currency's minor digits, or, when any amount of the document has finer micro-units
// (usage costs, included tax), as many as the finest needs, for every amount alike, so
// that a column's decimal points line up and no amount is rounded.
func decimals(inv billing.Invoice) int {
	n := money.MinorDigits(inv.Currency)
	for _, a := range append([]money.Amount{inv.Total, inv.Subtotal, inv.Tax}, lineAmounts(inv.Lines)...) {
		n = max(n, fracDigits(money.FormatExact(a, inv.Currency)))
	}
	return n
}

func lineAmounts(lines []billing.Line) []money.Amount {
	out := make([]money.Amount, len(lines))
	for i, l := range lines {
		out[i] = l.Amount
	}
	return out
}

// fracDigits counts the decimals of a formatted amount.
func fracDigits(s string) int {
	if _, frac, ok := strings.Cut(s, "."); ok {
		return len(frac)
	}
	return 0
}

func (r *pdfDoc) font(style string, size float64) { r.pdf.SetFont("Helvetica", style, size) }

// cell writes one line of text in a cell of width w. It never cuts the text: callers
// size the cell to its content (numbers) or wrap it first (text).
func (r *pdfDoc) cell(w float64, text, align string, ln int) {
	r.pdf.CellFormat(w, pdfLineH, r.tr(text), "", ln, align, false, 0, "")
}

// width is how wide text is in the current font, in millimetres.
func (r *pdfDoc) width(text string) float64 { return r.pdf.GetStringWidth(r.tr(text)) }

// wrap splits text into lines that fit a cell of width w in the current font (a word
// longer than that is broken); the lines come back translated for the PDF.
func (r *pdfDoc) wrap(text string, w float64) []string {
	if text == "" {
		return []string{""}
	}
	var out []string
	for _, l := range r.pdf.SplitLines([]byte(r.tr(text)), w) {
		out = append(out, string(l))
	}
	if len(out) == 0 {
		return []string{""}
	}
	return out
}

// lines writes lines already translated by tr (from wrap) at x, one per line height.
func (r *pdfDoc) lines(x, w float64, lines []string, align string) {
	for _, l := range lines {
		r.pdf.SetX(x)
		r.pdf.CellFormat(w, pdfLineH, l, "", 1, align, false, 0, "")
	}
}

func (r *pdfDoc) date(t time.Time) string { return t.In(r.loc).Format("2 January 2006") }

// money prints an amount exactly with the document's decimals: "USD 1,234.50",
// "USD 0.000003", "JPY 1,500".
func (r *pdfDoc) money(a money.Amount) string {
	s := money.FormatExact(a, r.inv.Currency)
	have := fracDigits(s)
	switch {
	case have >= r.decimals:
		return s
	case have == 0:
		return s + "." + strings.Repeat("0", r.decimals)
	}
	return s + strings.Repeat("0", r.decimals-have)
}

func (r *pdfDoc) header() {
	inv := r.inv
	r.font("B", 18)
	r.pdf.MultiCell(pdfWidth, 8, r.tr(inv.Kind.Title()), "", "L", false)
	r.pdf.Ln(2)
	r.font("", 10)
	r.kv("Number", inv.Number)
	r.kv("Issued", r.date(inv.IssuedAt)+" ("+inv.Timezone+")")
	if inv.Kind == billing.KindStatement && inv.PeriodStart != nil && inv.PeriodEnd != nil {
		last := inv.PeriodEnd.Add(-time.Microsecond)
		r.kv("Period", inv.Period+": "+r.date(*inv.PeriodStart)+" – "+r.date(last))
	}
	if inv.Kind == billing.KindReceipt {
		if inv.Promotional() {
			r.kv("Given by", inv.PaymentMethod.Label())
		} else {
			r.kv("Paid by", inv.PaymentMethod.Label())
		}
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

// kv writes a "label: value" row; a long value wraps.
func (r *pdfDoc) kv(label, value string) {
	const lw = 28.0
	r.font("", 10)
	wrapped := r.wrap(value, pdfWidth-lw)
	r.breakFor(float64(len(wrapped)) * pdfLineH)
	y := r.pdf.GetY()
	r.font("B", 10)
	r.cell(lw, label, "L", 0)
	r.font("", 10)
	r.pdf.SetY(y)
	r.lines(pdfMargin+lw, pdfWidth-lw, wrapped, "L")
}

// SellerNotConfigured is printed in place of the seller's details when the deployment
// has none, so that a document never shows a blank where its issuer belongs.
const SellerNotConfigured = "Seller details not configured: the operator sets them with SPECTRA_SELLER_NAME and the other SPECTRA_SELLER_* settings."

func (r *pdfDoc) parties() {
	half := pdfWidth / 2
	seller, buyer := r.inv.Seller.Lines(), r.inv.Buyer.Lines()
	if len(seller) == 0 {
		seller = []string{SellerNotConfigured}
	}
	r.font("B", 10)
	r.cell(half, "From", "L", 0)
	r.cell(half, "Billed to", "L", 1)
	r.font("", 10)
	left, right := r.wrapAll(seller, half), r.wrapAll(buyer, half)
	r.breakFor(float64(max(len(left), len(right))) * pdfLineH)
	y := r.pdf.GetY()
	r.lines(pdfMargin, half, left, "L")
	yl := r.pdf.GetY()
	r.pdf.SetY(y)
	r.lines(pdfMargin+half, half, right, "L")
	r.pdf.SetY(max(yl, r.pdf.GetY()))
	r.pdf.Ln(6)
}

// wrapAll wraps each of ss to w and returns all their lines.
func (r *pdfDoc) wrapAll(ss []string, w float64) []string {
	var out []string
	for _, s := range ss {
		out = append(out, r.wrap(s, w)...)
	}
	return out
}

// breakFor starts a new page when h millimetres do not fit on this one.
func (r *pdfDoc) breakFor(h float64) {
	_, pageH := r.pdf.GetPageSize()
	if r.pdf.GetY()+h > pageH-pdfBottom {
		r.pdf.AddPage()
	}
}

func (r *pdfDoc) rule() {
	y := r.pdf.GetY()
	r.pdf.Line(pdfMargin, y, pdfMargin+pdfWidth, y)
	r.pdf.Ln(1)
}

// table draws a table whose first column is text and whose other columns are numbers
// (right-aligned). Each number column is as wide as its widest cell, header included;
// the text column takes the rest of the page and wraps. When the numbers leave the
// text column less than minText, the whole table is set in a smaller type until they
// fit: nothing is ever cut. The header row is repeated on every page the table spans.
func (r *pdfDoc) table(size float64, header []string, rows [][]string) {
	widths := r.columns(&size, header, rows)
	head := func() {
		r.font("B", size)
		r.row(widths, header)
		r.rule()
		r.font("", size)
	}
	r.breakFor(3 * pdfLineH)
	head()
	for _, cols := range rows {
		first := r.wrap(cols[0], widths[0])
		h := float64(len(first)) * pdfLineH
		_, pageH := r.pdf.GetPageSize()
		if r.pdf.GetY()+h > pageH-pdfBottom {
			r.pdf.AddPage()
			head()
		}
		y := r.pdf.GetY()
		r.lines(pdfMargin, widths[0], first, "L")
		end := r.pdf.GetY()
		r.pdf.SetXY(pdfMargin+widths[0], y)
		for i := 1; i < len(cols); i++ {
			r.cell(widths[i], cols[i], "R", 0)
		}
		r.pdf.SetY(end)
	}
}

// columns sizes a table's columns for the font size *size, shrinking it when needed.
func (r *pdfDoc) columns(size *float64, header []string, rows [][]string) []float64 {
	for {
		widths := make([]float64, len(header))
		var numbers float64
		for i := 1; i < len(header); i++ {
			r.font("B", *size)
			w := r.width(header[i])
			r.font("", *size)
			for _, cols := range rows {
				w = max(w, r.width(cols[i]))
			}
			widths[i] = w + cellPad
			numbers += widths[i]
		}
		widths[0] = pdfWidth - numbers
		if widths[0] >= minText || *size <= 1 {
			return widths
		}
		*size = max(1, *size*(pdfWidth-minText)/numbers-0.1)
	}
}

// row writes a one-line row: the first column left-aligned, the others right-aligned.
func (r *pdfDoc) row(widths []float64, cols []string) {
	lines := r.wrap(cols[0], widths[0])
	y := r.pdf.GetY()
	r.lines(pdfMargin, widths[0], lines, "L")
	end := r.pdf.GetY()
	r.pdf.SetXY(pdfMargin+widths[0], y)
	for i := 1; i < len(cols); i++ {
		r.cell(widths[i], cols[i], "R", 0)
	}
	r.pdf.SetY(end)
}

func (r *pdfDoc) statementLines() {
	var models, projects, credit [][]string
	for _, l := range r.inv.Lines {
		switch {
		case l.Kind == billing.LineModel:
			models = append(models, []string{l.Description, count(l.Requests), count(l.InputTokens), count(l.CachedInputTokens),
				count(l.CacheWriteTokens), count(l.OutputTokens), r.money(l.Amount)})
		case l.Kind == billing.LineProject:
			projects = append(projects, []string{l.Description, count(l.Requests), r.money(l.Amount)})
		case l.Kind.CreditLine():
			credit = append(credit, []string{l.Description, r.money(l.Amount)})
		}
	}
	r.font("B", 11)
	r.cell(pdfWidth, "Usage by model", "L", 1)
	r.table(8, []string{"Model", "Requests", "Input tokens", "Cached input", "Cache write", "Output tokens", "Cost"}, models)
	r.pdf.Ln(5)
	r.breakFor(4 * pdfLineH)
	r.font("B", 11)
	r.cell(pdfWidth, "Usage by project", "L", 1)
	r.table(8, []string{"Project", "Requests", "Cost"}, projects)
	r.pdf.Ln(4)
	if len(credit) > 0 {
		// The ledger's charges of the period by the credit they drew on: revenue is
		// the paid part.
		r.pdf.Ln(1)
		r.breakFor(4 * pdfLineH)
		r.font("B", 11)
		r.cell(pdfWidth, "Paid from (charged to the balance in the period)", "L", 1)
		r.table(8, []string{"Credit", "Amount"}, credit)
		r.pdf.Ln(4)
	}
}

func (r *pdfDoc) simpleLines() {
	rows := make([][]string, len(r.inv.Lines))
	for i, l := range r.inv.Lines {
		rows[i] = []string{l.Description, r.money(l.Amount)}
	}
	r.table(10, []string{"Description", "Amount"}, rows)
	r.pdf.Ln(4)
}

func (r *pdfDoc) totals() {
	inv := r.inv
	type total struct{ style, label, value string }
	var ts []total
	if inv.TaxRateBP > 0 {
		ts = append(ts, total{"", "Net", r.money(inv.Subtotal)},
			total{"", inv.TaxName + " " + billing.FormatRate(inv.TaxRateBP) + " (included)", r.money(inv.Tax)})
	}
	switch inv.Kind {
	case billing.KindStatement:
		ts = append(ts, total{"B", "Total usage", r.money(inv.Total)})
	case billing.KindCreditNote:
		ts = append(ts, total{"B", "Total credited", r.money(inv.Total)})
	default:
		if inv.Promotional() { // credit given, not money received
			ts = append(ts, total{"B", "Promotional credit (not paid)", r.money(inv.Total)})
			break
		}
		ts = append(ts, total{"B", "Total paid", r.money(inv.Total)})
	}
	value := 0.0
	for _, t := range ts {
		r.font(t.style, 10)
		value = max(value, r.width(t.value)+cellPad)
	}
	label := pdfWidth - value
	r.breakFor(float64(len(ts)+1) * pdfLineH)
	r.rule()
	for _, t := range ts {
		r.font(t.style, 10)
		lines := r.wrap(t.label, label)
		y := r.pdf.GetY()
		r.lines(pdfMargin, label, lines, "R")
		end := r.pdf.GetY()
		r.pdf.SetXY(pdfMargin+label, y)
		r.cell(value, t.value, "R", 0)
		r.pdf.SetY(end)
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
