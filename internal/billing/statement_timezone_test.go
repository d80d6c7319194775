package billing_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/billing/billingtest"
	"spectra/internal/ids"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/team"
)

// TestStatementsAcrossATimezoneChange: a statement issued before the workspace's time
// zone changed is not issued again, nor changed, afterwards; and the next month's
// statement begins where it ended, so that every event is on exactly one statement
// whether the zone moved west (its month would start hours after the issued one ended:
// a gap) or east (hours before: billed twice).
func TestStatementsAcrossATimezoneChange(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		pricesFor(t, e)
		april := billing.Month{Year: 2026, Month: time.April}
		west := e.Workspace(t, "West", "UTC")                 // then America/Los_Angeles (UTC−7 in April)
		east := e.Workspace(t, "East", "America/Los_Angeles") // then Europe/Berlin (UTC+2 in April)
		ev := func(ws string, at time.Time, input int64) metering.Event {
			return metering.Event{ID: ids.New("ev"), WorkspaceID: ws, Model: "gpt-4o", Timestamp: at, Usage: pricing.Usage{Input: input}}
		}
		// gpt-4o input is $2.50 a million: 400,000 tokens cost exactly $1.00.
		e.Clock.Set(time.Date(2026, 4, 11, 0, 0, 0, 0, time.UTC)) // March is over in both zones
		ingest(t, e, []metering.Event{
			ev(west.ID, time.Date(2026, 3, 31, 20, 0, 0, 0, time.UTC), 400_000),   // March in UTC
			ev(east.ID, time.Date(2026, 3, 31, 20, 0, 0, 0, time.UTC), 400_000),   // March in Los Angeles
			ev(east.ID, time.Date(2026, 4, 1, 5, 0, 0, 0, time.UTC), 2*400_000),   // March in Los Angeles, April in Berlin
			ev(west.ID, time.Date(2026, 4, 1, 3, 0, 0, 0, time.UTC), 4*400_000),   // April in UTC, March in Los Angeles
			ev(west.ID, time.Date(2026, 4, 10, 0, 0, 0, 0, time.UTC), 8*400_000),  // April in both
			ev(east.ID, time.Date(2026, 4, 10, 0, 0, 0, 0, time.UTC), 16*400_000), // April in both
		})
		issue := func(ws team.Workspace, m billing.Month, created bool) billing.Invoice {
			t.Helper()
			inv, c, err := e.Service.IssueStatement(ctx, ws.ID, m)
			if err != nil || c != created {
				t.Fatalf("%s %s: created %v, %v (want created %v)", ws.Name, m, c, err, created)
			}
			return inv
		}
		wMarch, eMarch := issue(west, march, true), issue(east, march, true)
		if wMarch.Total != 1*money.Scale || eMarch.Total != 3*money.Scale {
			t.Fatalf("March: west %s, east %s", wMarch.Total, eMarch.Total)
		}

		for ws, tz := range map[string]string{west.ID: "America/Los_Angeles", east.ID: "Europe/Berlin"} {
			if _, err := e.Teams.UpdateWorkspace(ctx, ws, team.WorkspaceUpdate{Timezone: &tz}); err != nil {
				t.Fatal(err)
			}
		}
		// March is issued already: not again, and not in the new zone.
		for _, prev := range []billing.Invoice{wMarch, eMarch} {
			ws := west
			if prev.WorkspaceID == east.ID {
				ws = east
			}
			again := issue(ws, march, false)
			if again.ID != prev.ID || again.Number != prev.Number || again.Total != prev.Total || again.Timezone != prev.Timezone {
				t.Errorf("%s March after the change: %+v, was %+v", ws.Name, again, prev)
			}
		}
		if run, err := e.Service.IssueStatements(ctx, march); err != nil || run.Issued != 0 || run.AlreadyIssued != 2 {
			t.Fatalf("a run for March after the change: %+v, %v", run, err)
		}

		e.Clock.Set(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)) // April is over in both new zones
		wApril, eApril := issue(west, april, true), issue(east, april, true)
		// West: the event at 03:00 UTC on 1 April was after UTC's March and before Los
		// Angeles' April began (07:00 UTC): it is on April's statement, which begins where
		// March's ended.
		if wApril.Total != 12*money.Scale || !wApril.PeriodStart.Equal(*wMarch.PeriodEnd) || wApril.Timezone != "America/Los_Angeles" {
			t.Errorf("west April: total %s from %s (March ended %s)", wApril.Total, wApril.PeriodStart, wMarch.PeriodEnd)
		}
		// East: the event at 05:00 UTC on 1 April is on Los Angeles' March already, though it
		// is April in Berlin: not billed twice.
		if eApril.Total != 16*money.Scale || !eApril.PeriodStart.Equal(*eMarch.PeriodEnd) || eApril.Timezone != "Europe/Berlin" {
			t.Errorf("east April: total %s from %s (March ended %s)", eApril.Total, eApril.PeriodStart, eMarch.PeriodEnd)
		}
		if got := wMarch.Total + wApril.Total; got != 13*money.Scale {
			t.Errorf("west: statements total %s, usage $13", got)
		}
		if got := eMarch.Total + eApril.Total; got != 19*money.Scale {
			t.Errorf("east: statements total %s, usage $19", got)
		}
	})
}
