package billing_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/billing/billingtest"
	"spectra/internal/ids"
	"spectra/internal/metering"
	"spectra/internal/pricing"
)

// statementMonths lists the months of a workspace's statements, oldest first.
func statementMonths(t *testing.T, e *billingtest.Env, workspaceID string) []string {
	t.Helper()
	list, err := e.Service.Invoices(context.Background(), billing.InvoiceFilter{WorkspaceID: workspaceID, Kind: billing.KindStatement})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, inv := range list {
		out = append(out, inv.Period)
	}
	slices.Sort(out)
	return out
}

// Every month that had usage gets its statement, not only last month: a database with
// history (the demo's September and October had none) or a server that did not run in
// the month after one is caught up on the schedule's first pass; a month without
// usage gets none; later passes issue each new month once.
func TestStatementScheduleIssuesEveryMonthWithUsage(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		pricesFor(t, e)
		e.Clock.Set(time.Date(2026, 9, 8, 14, 0, 0, 0, time.UTC))
		ny := e.Workspace(t, "NY", "America/New_York")
		loc, _ := time.LoadLocation("America/New_York")
		var events []metering.Event
		// September, October and December have usage; November has none. The first
		// October request is at 23:30 on 30 September in New York: September's.
		for _, ts := range []time.Time{time.Date(2026, 9, 9, 10, 0, 0, 0, loc), time.Date(2026, 9, 30, 23, 30, 0, 0, loc),
			time.Date(2026, 10, 15, 12, 0, 0, 0, loc), time.Date(2026, 12, 2, 9, 0, 0, 0, loc)} {
			events = append(events, metering.Event{ID: ids.New("ev"), WorkspaceID: ny.ID, Model: "gpt-4o", Timestamp: ts,
				Usage: pricing.Usage{Input: 1000, Output: 100}})
		}
		e.Clock.Set(time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC))
		ingest(t, e, events)

		schedule := e.Service.StatementSchedule()
		if _, err := schedule.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := statementMonths(t, e, ny.ID), []string{"2026-09", "2026-10"}; !slices.Equal(got, want) {
			t.Fatalf("statements after the first pass: %v, want %v", got, want)
		}
		if _, err := schedule.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if got := statementMonths(t, e, ny.ID); len(got) != 2 {
			t.Fatalf("a second pass issued more: %v", got)
		}
		// 1 January 03:00 UTC is still 31 December in New York: not yet; at 06:00 it is.
		e.Clock.Set(time.Date(2027, 1, 1, 3, 0, 0, 0, time.UTC))
		if runs, err := schedule.Run(ctx); err != nil || len(runs) == 0 || runs[len(runs)-1].Month.String() != "2026-12" || runs[len(runs)-1].NotEnded != 1 {
			t.Fatalf("pass before New York's December ended: %+v, %v", runs, err)
		}
		e.Clock.Set(time.Date(2027, 1, 1, 6, 0, 0, 0, time.UTC))
		if _, err := schedule.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := statementMonths(t, e, ny.ID), []string{"2026-09", "2026-10", "2026-12"}; !slices.Equal(got, want) {
			t.Fatalf("statements: %v, want %v", got, want)
		}
		// A new schedule (a restart) finds nothing more to issue.
		if _, err := e.Service.StatementSchedule().Run(ctx); err != nil {
			t.Fatal(err)
		}
		if got := statementMonths(t, e, ny.ID); len(got) != 3 {
			t.Fatalf("a restart issued more: %v", got)
		}
	})
}
