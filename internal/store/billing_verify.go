package store

import (
	"context"
	"fmt"
)

// VerifyBilling checks billing's documents against the ledger: every payment transfer
// has exactly one receipt whose total is the transfer's amount, every document's lines
// add up to its total, and every numbering series runs from 1 to its counter without a
// gap. Verify does not call it; `spectra verify` can add its checks to its report.
func (db *DB) VerifyBilling(ctx context.Context) (_ []Check, err error) {
	defer wrapErr(&err, "verify billing")
	checks := []sqlCheck{
		{
			name:  "every payment has one receipt for its amount",
			count: `SELECT COUNT(*) FROM transfers WHERE kind = 'payment'`,
			problems: `SELECT t.id, t.amount, COUNT(i.id), COALESCE(SUM(i.total), 0) FROM transfers t
				LEFT JOIN billing_invoices i ON i.transfer_id = t.id AND i.kind = 'receipt'
				WHERE t.kind = 'payment' GROUP BY t.id, t.amount HAVING COUNT(i.id) <> 1 OR COALESCE(SUM(i.total), 0) <> t.amount`,
			describe: func(v []any) string {
				return fmt.Sprintf("payment transfer %v of %v has %v receipts totalling %v", v[0], v[1], v[2], v[3])
			},
		},
		{
			name:  "every document's lines add up to its total",
			count: `SELECT COUNT(*) FROM billing_invoices`,
			// A statement's lines by kind of credit (usage_paid, usage_promotional,
			// usage_uncovered) are the ledger's charges of its period, another cut: not
			// summed here.
			problems: `SELECT i.number, i.total, COALESCE(SUM(CASE WHEN l.kind NOT IN ('project', 'usage_paid', 'usage_promotional', 'usage_uncovered') THEN l.amount ELSE 0 END), 0),
				COALESCE(SUM(CASE WHEN l.kind = 'project' THEN l.amount ELSE 0 END), 0)
				FROM billing_invoices i LEFT JOIN billing_invoice_lines l ON l.invoice_id = i.id
				GROUP BY i.id, i.number, i.total, i.kind
				HAVING COALESCE(SUM(CASE WHEN l.kind NOT IN ('project', 'usage_paid', 'usage_promotional', 'usage_uncovered') THEN l.amount ELSE 0 END), 0) <> i.total
				OR (i.kind = 'statement' AND COALESCE(SUM(CASE WHEN l.kind = 'project' THEN l.amount ELSE 0 END), 0) <> i.total)`,
			describe: func(v []any) string {
				return fmt.Sprintf("document %v totals %v but its lines sum to %v (projects %v)", v[0], v[1], v[2], v[3])
			},
		},
		{
			name:  "document numbers run without a gap",
			count: `SELECT COUNT(*) FROM billing_counters`,
			problems: `SELECT c.series, c.last_seq, COUNT(i.id), COALESCE(MAX(i.seq), 0) FROM billing_counters c
				LEFT JOIN billing_invoices i ON i.series = c.series GROUP BY c.series, c.last_seq
				HAVING COUNT(i.id) <> c.last_seq OR COALESCE(MAX(i.seq), 0) <> c.last_seq`,
			describe: func(v []any) string {
				return fmt.Sprintf("series %v: counter at %v but %v documents, highest %v", v[0], v[1], v[2], v[3])
			},
		},
	}
	return db.runChecks(ctx, checks)
}
