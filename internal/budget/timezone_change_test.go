package budget_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/budget"
	"spectra/internal/team"
)

// TestTimezoneChangeMovesBudgetPeriods: when an owner changes the workspace's time zone,
// a daily budget's day and the month of the forecast are the new zone's (once the
// cached zone expires, at most CacheTTL later), and the spend they count is exactly the
// spend in the new zone's day and month.
func TestTimezoneChangeMovesBudgetPeriods(t *testing.T) {
	each(t, "UTC", func(t *testing.T, e *env) {
		ctx := context.Background()
		daily := e.create(budget.Budget{Name: "daily", Scope: budget.ScopeWorkspace, Amount: 10_000, Period: budget.PeriodDay})
		tokyo, _ := time.LoadLocation("Asia/Tokyo")
		// 1 April 2026, 10:00 UTC: 19:00 on 1 April in Tokyo.
		now := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
		e.clock.Set(now)
		e.spend(e.metering, 1000, time.Date(2026, 3, 31, 14, 0, 0, 0, time.UTC), "k", "", "") // 31 March in both (23:00 in Tokyo)
		e.spend(e.metering, 100, time.Date(2026, 3, 31, 15, 0, 0, 0, time.UTC), "k", "", "")  // 31 March in UTC, 1 April 00:00 in Tokyo
		e.spend(e.metering, 20, time.Date(2026, 3, 31, 16, 0, 0, 0, time.UTC), "k", "", "")   // 31 March in UTC, 1 April 01:00 in Tokyo
		e.spend(e.metering, 3, time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC), "k", "", "")      // 1 April in both

		st, err := e.budgets.Status(ctx, e.ws.ID, daily.ID)
		must(t, err)
		if st.Spent != 3 || !st.PeriodStart.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("UTC day: %+v", st)
		}
		fc, err := e.budgets.Forecast(ctx, e.ws.ID)
		must(t, err)
		if fc.MonthToDate != 3 || fc.Timezone != "UTC" {
			t.Fatalf("UTC April: %+v", fc)
		}

		tz := "Asia/Tokyo"
		if _, err := e.team.UpdateWorkspace(ctx, e.ws.ID, team.WorkspaceUpdate{Timezone: &tz}); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(now.Add(2 * time.Second)) // past the budget cache's TTL (1 s)
		st, err = e.budgets.Status(ctx, e.ws.ID, daily.ID)
		must(t, err)
		if st.Spent != 123 || !st.PeriodStart.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, tokyo)) {
			t.Fatalf("Tokyo day: %+v", st)
		}
		fc, err = e.budgets.Forecast(ctx, e.ws.ID)
		must(t, err)
		if fc.MonthToDate != 123 || fc.Timezone != "Asia/Tokyo" || !fc.MonthStart.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, tokyo)) {
			t.Fatalf("Tokyo April: %+v", fc)
		}
	})
}
