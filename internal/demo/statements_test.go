package demo_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/demo"
	"spectra/internal/store/storetest"
)

// The demo's history has a statement for every month that has ended (the demo's
// September and October had none: only the statements job issued them, and it issued
// last month's alone), each issued after its month ended in the workspace's time zone,
// and the ledger's usage is dated on the day it happened, never at the next midnight.
func TestSeedIssuesEveryEndedMonthsStatement(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, storetest.SQLite, true)
	bill, err := billing.New(billing.Config{Now: e.clock.Now}, e.db, e.deps.Ledger, e.deps.Team, e.deps.Metering)
	if err != nil {
		t.Fatal(err)
	}
	e.deps.Billing = bill
	res, err := demo.Seed(ctx, e.deps, demo.Options{EventsPerDay: 20, Seed: 3, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	list, err := bill.Invoices(ctx, billing.InvoiceFilter{WorkspaceID: res.WorkspaceID, Kind: billing.KindStatement})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, inv := range list {
		got = append(got, inv.Period)
		loc, _ := time.LoadLocation(demo.Timezone)
		m, _ := billing.ParseMonth(inv.Period)
		if inv.IssuedAt.Before(m.End(loc)) || inv.Total <= 0 {
			t.Errorf("statement %s issued %v (month ends %v), total %s", inv.Period, inv.IssuedAt, m.End(loc), inv.Total)
		}
	}
	slices.Sort(got)
	// 90 days to 15 June 2025: 17 March to 15 June; March, April and May have ended.
	if want := []string{"2025-03", "2025-04", "2025-05"}; !slices.Equal(got, want) {
		t.Fatalf("statements %v, want %v", got, want)
	}
	entries, err := e.deps.Ledger.Entries(ctx, res.WorkspaceID, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation(demo.Timezone)
	for _, en := range entries {
		if l := en.CreatedAt.In(loc); en.Kind == "usage" && l.Hour() == 0 && l.Minute() == 0 && l.Second() == 0 {
			t.Errorf("usage transfer %d dated at midnight %v: the day's usage belongs to the day before", en.TransferID, l)
		}
	}
}
