package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"spectra/internal/billing"
	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/money"
)

// IssueInvoice numbers and stores a document once per source key.
func (db *DB) IssueInvoice(ctx context.Context, inv billing.Invoice) (_ billing.Invoice, _ bool, err error) {
	defer wrapErr(&err, "issue invoice")
	var out billing.Invoice
	var created bool
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, created, err = db.issueTx(ctx, tx, inv)
		return err
	})
	return out, created, err
}

// issueTx issues inv inside tx. The series counter is incremented by one upsert in the
// same transaction as the insert: a rolled-back issue gives its number back, and on
// PostgreSQL the counter row's lock orders concurrent issuers, so numbers are gapless.
func (db *DB) issueTx(ctx context.Context, tx *sql.Tx, inv billing.Invoice) (billing.Invoice, bool, error) {
	if inv.SourceKey == "" || inv.Series == "" || inv.Total < 0 || inv.Subtotal+inv.Tax != inv.Total {
		return inv, false, errs.E(errs.Internal, "invalid_invoice", "an invoice needs a source key, a series and consistent totals")
	}
	if prev, ok, err := db.invoiceBySource(ctx, tx, inv.SourceKey); err != nil || ok {
		return prev, false, err
	}
	var seq int64
	err := tx.QueryRowContext(ctx, db.q(`INSERT INTO billing_counters (series, last_seq) VALUES (?, 1)
		ON CONFLICT (series) DO UPDATE SET last_seq = billing_counters.last_seq + 1 RETURNING last_seq`), inv.Series).Scan(&seq)
	if err != nil {
		return inv, false, err
	}
	if inv.Kind == billing.KindCreditNote {
		if err := db.checkCredit(ctx, tx, inv); err != nil {
			return inv, false, err
		}
	}
	if inv.ID == "" {
		inv.ID = ids.New("inv")
	}
	inv.Number = billing.FormatNumber(inv.Series, seq)
	inv.IssuedAt = fromMicros(micros(inv.IssuedAt))
	seller, _ := json.Marshal(inv.Seller)
	buyer, _ := json.Marshal(inv.Buyer)
	var original sql.NullString
	if inv.OriginalID != "" {
		original = sql.NullString{String: inv.OriginalID, Valid: true}
	}
	var transfer sql.NullInt64
	if inv.TransferID != 0 {
		transfer = sql.NullInt64{Int64: inv.TransferID, Valid: true}
	}
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO billing_invoices (id, number, series, seq, kind, workspace_id, source_key, currency,
		subtotal, tax, total, tax_rate_bp, tax_name, seller, buyer, timezone, period, period_start, period_end, transfer_id,
		payment_method, payment_reference, original_id, original_number, note, issued_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		inv.ID, inv.Number, inv.Series, seq, string(inv.Kind), inv.WorkspaceID, inv.SourceKey, inv.Currency,
		int64(inv.Subtotal), int64(inv.Tax), int64(inv.Total), inv.TaxRateBP, inv.TaxName, string(seller), string(buyer), inv.Timezone,
		inv.Period, optionalMicros(inv.PeriodStart), optionalMicros(inv.PeriodEnd), transfer, string(inv.PaymentMethod), inv.PaymentReference,
		original, inv.OriginalNumber, inv.Note, micros(inv.IssuedAt))
	if isBillingUniqueViolation(err) {
		// A concurrent issuer of the same source key committed first: run again to return its document.
		return inv, false, fmt.Errorf("%w: %v", errRetry, err)
	}
	if err != nil {
		return inv, false, err
	}
	if err := db.insertLines(ctx, tx, inv.ID, inv.Lines); err != nil {
		return inv, false, err
	}
	return inv, true, nil
}

// checkCredit refuses a credit note that would take its original's credit notes past
// the original's total. It runs after the counter upsert, which on PostgreSQL serialises
// issuers, so the sum it reads includes every committed credit note.
func (db *DB) checkCredit(ctx context.Context, tx *sql.Tx, inv billing.Invoice) error {
	var total, credited int64
	err := tx.QueryRowContext(ctx, db.q(`SELECT total FROM billing_invoices WHERE id = ? AND workspace_id = ? AND kind <> 'credit_note'`),
		inv.OriginalID, inv.WorkspaceID).Scan(&total)
	if errors.Is(err, sql.ErrNoRows) {
		return billing.ErrInvoiceNotFound
	}
	if err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, db.q(`SELECT COALESCE(SUM(total), 0) FROM billing_invoices WHERE original_id = ?`), inv.OriginalID).Scan(&credited); err != nil {
		return err
	}
	if credited+int64(inv.Total) > total {
		return billing.ErrCreditExceeds
	}
	return nil
}

const lineColumns = 11 // columns of billing_invoice_lines written per line

func (db *DB) insertLines(ctx context.Context, tx *sql.Tx, invoiceID string, lines []billing.Line) error {
	for start := 0; start < len(lines); start += 500 {
		chunk := lines[start:min(start+500, len(lines))]
		args := make([]any, 0, len(chunk)*lineColumns)
		for i, l := range chunk {
			args = append(args, invoiceID, start+i, string(l.Kind), l.Description, l.Requests, l.InputTokens, l.CachedInputTokens,
				l.CacheWriteTokens, l.OutputTokens, l.ReasoningTokens, int64(l.Amount))
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO billing_invoice_lines (invoice_id, position, kind, description, requests,
			input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, amount) VALUES `+placeholders(len(chunk), lineColumns)), args...)
		if err != nil {
			return err
		}
	}
	return nil
}

const invoiceColumns = `id, number, series, kind, workspace_id, source_key, currency, subtotal, tax, total, tax_rate_bp, tax_name,
	seller, buyer, timezone, period, period_start, period_end, transfer_id, payment_method, payment_reference,
	original_id, original_number, note, issued_at FROM billing_invoices`

func scanInvoice(row scanner) (billing.Invoice, error) {
	var inv billing.Invoice
	var kind, seller, buyer, method string
	var start, end, transfer sql.NullInt64
	var original sql.NullString
	var issued int64
	err := row.Scan(&inv.ID, &inv.Number, &inv.Series, &kind, &inv.WorkspaceID, &inv.SourceKey, &inv.Currency, &inv.Subtotal, &inv.Tax,
		&inv.Total, &inv.TaxRateBP, &inv.TaxName, &seller, &buyer, &inv.Timezone, &inv.Period, &start, &end, &transfer, &method,
		&inv.PaymentReference, &original, &inv.OriginalNumber, &inv.Note, &issued)
	if err != nil {
		return inv, err
	}
	inv.Kind, inv.PaymentMethod, inv.OriginalID, inv.TransferID = billing.DocKind(kind), billing.PaymentMethod(method), original.String, transfer.Int64
	inv.PeriodStart, inv.PeriodEnd, inv.IssuedAt = nullMicros(start), nullMicros(end), fromMicros(issued)
	if err := json.Unmarshal([]byte(seller), &inv.Seller); err != nil {
		return inv, err
	}
	return inv, json.Unmarshal([]byte(buyer), &inv.Buyer)
}

// invoiceBySource returns the document issued under key, with its lines.
func (db *DB) invoiceBySource(ctx context.Context, q billingQueryer, key string) (billing.Invoice, bool, error) {
	inv, err := scanInvoice(q.QueryRowContext(ctx, db.q(`SELECT `+invoiceColumns+` WHERE source_key = ?`), key))
	if errors.Is(err, sql.ErrNoRows) {
		return billing.Invoice{}, false, nil
	}
	if err != nil {
		return inv, false, err
	}
	inv.Lines, err = db.invoiceLines(ctx, q, inv.ID)
	return inv, err == nil, err
}

// InvoiceBySource returns the document issued under a source key, and whether there is one.
func (db *DB) InvoiceBySource(ctx context.Context, key string) (_ billing.Invoice, _ bool, err error) {
	defer wrapErr(&err, "invoice by source")
	return db.invoiceBySource(ctx, db.read, key)
}

// Invoice returns one document of a workspace with its lines.
func (db *DB) Invoice(ctx context.Context, workspaceID, id string) (_ billing.Invoice, err error) {
	defer wrapErr(&err, "invoice")
	inv, err := scanInvoice(db.read.QueryRowContext(ctx, db.q(`SELECT `+invoiceColumns+` WHERE id = ? AND workspace_id = ?`), id, workspaceID))
	if errors.Is(err, sql.ErrNoRows) {
		return inv, billing.ErrInvoiceNotFound
	}
	if err != nil {
		return inv, err
	}
	inv.Lines, err = db.invoiceLines(ctx, db.read, inv.ID)
	return inv, err
}

// billingQueryer is what both *sql.DB and *sql.Tx offer for reads.
type billingQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (db *DB) invoiceLines(ctx context.Context, q billingQueryer, invoiceID string) ([]billing.Line, error) {
	rows, err := q.QueryContext(ctx, db.q(`SELECT kind, description, requests, input_tokens, cached_input_tokens, cache_write_tokens,
		output_tokens, reasoning_tokens, amount FROM billing_invoice_lines WHERE invoice_id = ? ORDER BY position`), invoiceID)
	return collect(rows, err, scanLine)
}

func scanLine(row scanner) (billing.Line, error) {
	var l billing.Line
	var kind string
	if err := row.Scan(&kind, &l.Description, &l.Requests, &l.InputTokens, &l.CachedInputTokens, &l.CacheWriteTokens,
		&l.OutputTokens, &l.ReasoningTokens, &l.Amount); err != nil {
		return l, err
	}
	l.Kind = billing.LineKind(kind)
	return l, nil
}

// Invoices returns a page of a workspace's documents, newest first, without lines.
func (db *DB) Invoices(ctx context.Context, f billing.InvoiceFilter) (_ []billing.Invoice, err error) {
	defer wrapErr(&err, "invoices")
	var where strings.Builder
	args := []any{f.WorkspaceID}
	where.WriteString(`workspace_id = ?`)
	if f.Kind != "" {
		where.WriteString(` AND kind = ?`)
		args = append(args, string(f.Kind))
	}
	if !f.BeforeTime.IsZero() {
		where.WriteString(` AND (issued_at < ? OR (issued_at = ? AND number < ?))`)
		args = append(args, micros(f.BeforeTime), micros(f.BeforeTime), f.BeforeNumber)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	args = append(args, f.Limit)
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT `+invoiceColumns+` WHERE `+where.String()+` ORDER BY issued_at DESC, number DESC LIMIT ?`), args...)
	return collect(rows, err, scanInvoice)
}

// CreditedTotal sums the credit notes issued against a document.
func (db *DB) CreditedTotal(ctx context.Context, invoiceID string) (_ money.Amount, err error) {
	defer wrapErr(&err, "credited total")
	var sum int64
	err = db.read.QueryRowContext(ctx, db.q(`SELECT COALESCE(SUM(total), 0) FROM billing_invoices WHERE original_id = ?`), invoiceID).Scan(&sum)
	return money.Amount(sum), err
}

// optionalMicros stores an optional time as Unix microseconds or NULL.
func optionalMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

// isBillingUniqueViolation reports whether err is a unique-constraint violation.
func isBillingUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}
