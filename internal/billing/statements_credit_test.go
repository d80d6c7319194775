package billing_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"spectra/internal/billing/billingtest"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

// A statement shows the month's usage by the credit it was drawn on: promotional credit
// first, then paid, then none (an overdraft); revenue is the paid part. The lines agree
// to the micro-unit with the ledger's UsageByCredit, and here, every request charged in
// the month it happened, they sum to the statement's total. Usage of another month and
// another workspace's usage are not counted.
func TestStatementCreditLines(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		e.Clock.Set(time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC))
		ws := e.Workspace(t, "Acme", "UTC")
		other := e.Workspace(t, "Other", "UTC")
		grant := func(ws string, key string, amount money.Amount, kind ledger.CreditKind, exp time.Time) {
			if _, _, err := e.Ledger.GrantCredit(ctx, ws, amount, kind, exp, key, key); err != nil {
				t.Fatal(err)
			}
		}
		grant(ws.ID, "paid", 5*money.Scale, ledger.CreditPaid, time.Time{})
		grant(ws.ID, "promo", 2*money.Scale, ledger.CreditPromotional, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
		grant(other.ID, "other", 50*money.Scale, ledger.CreditPromotional, time.Time{})
		e.Spend(t, ws.ID, 500_000) // February: 0.50 of the promotional credit
		e.Clock.Set(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC))
		e.Spend(t, ws.ID, 1_250_001)    // promotional (0.249999 of it left)
		e.Spend(t, ws.ID, 7_000_000)    // promotional 0.249999, paid 5.00, then 1.750001 uncovered
		e.Spend(t, other.ID, 3_000_000) // another workspace
		e.Clock.Set(time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC))
		e.Spend(t, ws.ID, 1_000_000) // April: not March's

		st, created, err := e.Service.IssueStatement(ctx, ws.ID, march)
		if err != nil || !created {
			t.Fatalf("IssueStatement: %v %v", created, err)
		}
		var got []string
		var sum money.Amount
		for _, l := range st.Lines {
			if l.Kind.CreditLine() {
				got = append(got, fmt.Sprintf("%s %s %s", l.Kind, l.Description, l.Amount))
				sum += l.Amount
			}
		}
		paid, promo, uncovered, err := e.Ledger.UsageByCredit(ctx, ws.ID, march.Start(time.UTC), march.End(time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"usage_paid Paid credit " + paid.String(),
			"usage_promotional Promotional credit " + promo.String(),
			"usage_uncovered Not covered by credit (overdraft) " + uncovered.String(),
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("credit lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// Spend order: the 1.50 of promotional credit left first, then the 5.00 paid, then none.
		if promo != 1_500_000 || paid != 5*money.Scale || uncovered != 1_750_001 {
			t.Errorf("by credit: paid %s, promotional %s, uncovered %s; want 5.000000, 1.500000, 1.750001", paid, promo, uncovered)
		}
		if sum != st.Total || st.Total != 8_250_001 {
			t.Errorf("credit lines sum to %s, statement total %s; want both 8.250001", sum, st.Total)
		}
		e.Verify(t) // the document's lines still add up to its total (the credit lines are another cut)
	})
}

// A statement of a month in which nothing was charged to the balance has no credit
// lines; one without promotional credit says so with a zero line and no overdraft line.
func TestStatementCreditLinesPaidOnly(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		e.Clock.Set(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
		ws := e.Workspace(t, "Acme", "UTC")
		if _, _, err := e.Ledger.Grant(ctx, ws.ID, 10*money.Scale, "g", "grant"); err != nil {
			t.Fatal(err)
		}
		e.Spend(t, ws.ID, 3_000_000)
		e.Clock.Set(time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC))
		st, _, err := e.Service.IssueStatement(ctx, ws.ID, march)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range st.Lines {
			if l.Kind.CreditLine() {
				got = append(got, fmt.Sprintf("%s %s", l.Kind, l.Amount))
			}
		}
		if strings.Join(got, ",") != "usage_paid 3.000000,usage_promotional 0.000000" {
			t.Errorf("credit lines = %q", got)
		}
	})
}
