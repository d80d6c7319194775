package budget_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spectra/internal/budget"
	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/team"
)

func TestValidateRejections(t *testing.T) {
	ok := func() budget.Budget {
		return budget.Budget{Name: "b", Scope: budget.ScopeKey, ScopeID: "key_1", Amount: 1, Period: budget.PeriodDay}
	}
	cases := []struct {
		name string
		edit func(*budget.Budget)
		code string
	}{
		{"empty name", func(b *budget.Budget) { b.Name = "  " }, "invalid_budget_name"},
		{"long name", func(b *budget.Budget) { b.Name = string(make([]byte, 201)) }, "invalid_budget_name"},
		{"bad scope", func(b *budget.Budget) { b.Scope = "team" }, "invalid_scope"},
		{"key without id", func(b *budget.Budget) { b.ScopeID = "" }, "invalid_scope_id"},
		{"workspace with id", func(b *budget.Budget) { b.Scope = budget.ScopeWorkspace }, "invalid_scope_id"},
		{"zero amount", func(b *budget.Budget) { b.Amount = 0 }, "invalid_amount"},
		{"negative amount", func(b *budget.Budget) { b.Amount = -5 }, "invalid_amount"},
		{"bad period", func(b *budget.Budget) { b.Period = "year" }, "invalid_period"},
		{"threshold 0", func(b *budget.Budget) { b.Thresholds = []int{0, 50} }, "invalid_thresholds"},
		{"threshold 1001", func(b *budget.Budget) { b.Thresholds = []int{1001} }, "invalid_thresholds"},
	}
	for _, c := range cases {
		b := ok()
		c.edit(&b)
		if err := b.Validate(); !errs.Is(err, c.code) || errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	b := ok()
	must(t, b.Validate())
	if fmt.Sprint(b.Thresholds) != "[50 80 100]" {
		t.Fatalf("default thresholds %v", b.Thresholds)
	}
	b.Thresholds = []int{100, 5, 100, 1000}
	must(t, b.Validate())
	if fmt.Sprint(b.Thresholds) != "[5 100 1000]" {
		t.Fatalf("normalised thresholds %v", b.Thresholds)
	}
}

func TestPeriodsFollowTheWorkspaceTimezone(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	ny, _ := time.LoadLocation("America/New_York")
	at := func(loc *time.Location, y int, m time.Month, d, h int) time.Time {
		return time.Date(y, m, d, h, 0, 0, 0, loc)
	}
	cases := []struct {
		period     budget.Period
		loc        *time.Location
		t          time.Time
		start, end time.Time
	}{
		// 2026-03-11 is a Wednesday.
		{budget.PeriodDay, time.UTC, at(time.UTC, 2026, 3, 11, 15), at(time.UTC, 2026, 3, 11, 0), at(time.UTC, 2026, 3, 12, 0)},
		// 23:30 UTC on the 11th is already the 12th in Tokyo.
		{budget.PeriodDay, tokyo, time.Date(2026, 3, 11, 23, 30, 0, 0, time.UTC), at(tokyo, 2026, 3, 12, 0), at(tokyo, 2026, 3, 13, 0)},
		{budget.PeriodWeek, time.UTC, at(time.UTC, 2026, 3, 11, 15), at(time.UTC, 2026, 3, 9, 0), at(time.UTC, 2026, 3, 16, 0)},
		// Sunday belongs to the week that started the Monday before.
		{budget.PeriodWeek, time.UTC, at(time.UTC, 2026, 3, 15, 23), at(time.UTC, 2026, 3, 9, 0), at(time.UTC, 2026, 3, 16, 0)},
		{budget.PeriodWeek, time.UTC, at(time.UTC, 2026, 3, 16, 0), at(time.UTC, 2026, 3, 16, 0), at(time.UTC, 2026, 3, 23, 0)},
		// Sunday 22:00 in New York is Monday in UTC, but still last week in New York.
		{budget.PeriodWeek, ny, at(ny, 2026, 3, 15, 22), at(ny, 2026, 3, 9, 0), at(ny, 2026, 3, 16, 0)},
		// A month across New York's DST change (8 March 2026) and the year's end.
		{budget.PeriodMonth, ny, at(ny, 2026, 3, 31, 23), at(ny, 2026, 3, 1, 0), at(ny, 2026, 4, 1, 0)},
		{budget.PeriodMonth, time.UTC, at(time.UTC, 2026, 12, 31, 23), at(time.UTC, 2026, 12, 1, 0), at(time.UTC, 2027, 1, 1, 0)},
		{budget.PeriodAllTime, tokyo, at(tokyo, 2026, 3, 11, 1), time.Unix(0, 0), time.Time{}},
	}
	for _, c := range cases {
		b := budget.Budget{Period: c.period}
		w := b.PeriodAt(c.t, c.loc)
		if !w.Start.Equal(c.start) || !w.End.Equal(c.end) {
			t.Errorf("%s in %s at %s: [%s, %s), want [%s, %s)", c.period, c.loc, c.t, w.Start, w.End, c.start, c.end)
		}
	}
}

// Spend of a budget resets at its period boundary by time alone: no job runs.
func TestPeriodRollsOverByTimeAlone(t *testing.T) {
	each(t, "Asia/Tokyo", func(t *testing.T, e *env) {
		ctx := context.Background()
		daily := e.create(budget.Budget{Name: "daily", Scope: budget.ScopeWorkspace, Amount: 1000, Period: budget.PeriodDay})
		weekly := e.create(budget.Budget{Name: "weekly", Scope: budget.ScopeWorkspace, Amount: 1000, Period: budget.PeriodWeek})
		tokyo, _ := time.LoadLocation("Asia/Tokyo")
		// Sunday 23:00 in Tokyo.
		sun := time.Date(2026, 3, 15, 23, 0, 0, 0, tokyo)
		e.clock.Set(sun)
		e.spend(e.metering, 400, sun, "k", "", "")
		st, err := e.budgets.Status(ctx, e.ws.ID, daily.ID)
		must(t, err)
		if st.Spent != 400 || st.Remaining != 600 || st.Percent != 40 || !st.PeriodStart.Equal(time.Date(2026, 3, 15, 0, 0, 0, 0, tokyo)) {
			t.Fatalf("Sunday %+v", st)
		}
		// An hour later it is Monday in Tokyo: a new day and a new week.
		e.clock.Set(sun.Add(time.Hour))
		for _, id := range []string{daily.ID, weekly.ID} {
			st, err = e.budgets.Status(ctx, e.ws.ID, id)
			must(t, err)
			if st.Spent != 0 || st.Remaining != 1000 || !st.PeriodStart.Equal(time.Date(2026, 3, 16, 0, 0, 0, 0, tokyo)) {
				t.Fatalf("Monday %s %+v", st.Name, st)
			}
		}
		e.spend(e.metering, 300, sun.Add(time.Hour), "k", "", "")
		all, err := e.budgets.Statuses(ctx, e.ws.ID)
		must(t, err)
		if len(all) != 2 || all[0].Spent != 300 || all[1].Spent != 300 {
			t.Fatalf("statuses %+v", all)
		}
	})
}

// Each scope counts only its own spend.
func TestScopesCountTheirSpend(t *testing.T) {
	each(t, "UTC", func(t *testing.T, e *env) {
		ctx := context.Background()
		key, _, err := e.team.CreateKey(ctx, team.APIKey{WorkspaceID: e.ws.ID, Name: "k1"})
		must(t, err)
		bs := []budget.Budget{
			e.create(budget.Budget{Name: "ws", Scope: budget.ScopeWorkspace, Amount: 1000, Period: budget.PeriodMonth}),
			e.create(budget.Budget{Name: "proj", Scope: budget.ScopeProject, ScopeID: "prod", Amount: 1000, Period: budget.PeriodMonth}),
			e.create(budget.Budget{Name: "mem", Scope: budget.ScopeMember, ScopeID: "usr_1", Amount: 1000, Period: budget.PeriodMonth}),
			e.create(budget.Budget{Name: "key", Scope: budget.ScopeKey, ScopeID: key.ID, Amount: 1000, Period: budget.PeriodAllTime}),
		}
		e.spend(e.metering, 100, t0, key.ID, "prod", "usr_2")
		e.spend(e.metering, 20, t0, "key_2", "prod", "usr_1")
		e.spend(e.metering, 3, t0, "key_3", "staging", "usr_2")
		want := []money.Amount{123, 120, 20, 100}
		for i, b := range bs {
			st, err := e.budgets.Status(ctx, e.ws.ID, b.ID)
			must(t, err)
			if st.Spent != want[i] {
				t.Errorf("%s spent %s, want %s", b.Name, st.Spent, want[i])
			}
		}
	})
}

// Several nodes settle concurrently across a threshold: each threshold alerts exactly
// once per period, and again in the next period.
func TestThresholdAlertExactlyOncePerCrossing(t *testing.T) {
	each(t, "UTC", func(t *testing.T, e *env) {
		ctx := context.Background()
		b := e.create(budget.Budget{Name: "team", Scope: budget.ScopeWorkspace, Amount: 1000, Period: budget.PeriodDay, Thresholds: []int{50, 80, 100}})
		nodes := []node{e.node, e.newNode(), e.newNode(), e.newNode()}
		var wg sync.WaitGroup
		for i := range 40 {
			n := nodes[i%len(nodes)]
			wg.Go(func() { e.spend(n.metering, 30, t0, "k", "", "") }) // 40 × 30 = 1200: past 100 %
		}
		wg.Wait()
		for _, n := range nodes {
			n.budgets.Wait()
			must(t, n.budgets.Sweep(ctx)) // the sweep finds nothing new
		}
		alerts, err := e.budgets.Alerts(ctx, e.ws.ID, 100)
		must(t, err)
		got := map[int]int{}
		for _, a := range alerts {
			got[a.Threshold]++
			if a.Kind != budget.KindThreshold || a.BudgetID != b.ID {
				t.Fatalf("alert %+v", a)
			}
		}
		if len(alerts) != 3 || got[50] != 1 || got[80] != 1 || got[100] != 1 {
			t.Fatalf("alerts by threshold %v (%d), want one each", got, len(alerts))
		}
		if n := e.alerted.Load(); n != 3 {
			t.Errorf("OnAlert was called %d times across the nodes, want once per stored alert (3)", n)
		}
		var p struct {
			WorkspaceID string `json:"workspace_id"`
			Budget      struct{ ID, Name, Scope, Period string }
			Threshold   int
			Spent       struct{ Amount, Currency string }
			Limit       struct{ Amount, Currency string }
			PeriodStart string `json:"period_start"`
			PeriodEnd   string `json:"period_end"`
		}
		must(t, json.Unmarshal(alerts[0].Payload, &p))
		if p.WorkspaceID != e.ws.ID || p.Budget.ID != b.ID || p.Budget.Name != "team" || p.Budget.Period != "day" ||
			p.Limit.Amount != "0.001000" || p.Limit.Currency != "USD" || p.PeriodStart != "2026-03-11T00:00:00Z" || p.PeriodEnd != "2026-03-12T00:00:00Z" {
			t.Fatalf("payload %s", alerts[0].Payload)
		}
		// People read the subject rounded to cents (or the significant micro-units of a
		// tiny amount); the body adds the exact amounts.
		spent, err := money.Parse(p.Spent.Amount)
		must(t, err)
		if want := fmt.Sprintf(`Budget "team" reached %d%% (%s of $0.001)`, p.Threshold, money.Format(spent, "USD")); alerts[0].Subject != want {
			t.Errorf("subject %q; want %q", alerts[0].Subject, want)
		}
		if want := "Limit: $0.001 (0.001000 USD)"; !strings.Contains(alerts[0].Body, want) {
			t.Errorf("body %q does not say %q", alerts[0].Body, want)
		}
		// The next day is a new period: crossing 50 % alerts again, once.
		next := t0.Add(24 * time.Hour)
		e.clock.Set(next)
		for range 4 {
			wg.Go(func() { e.spend(nodes[1].metering, 150, next, "k", "", "") })
		}
		wg.Wait()
		for _, n := range nodes {
			n.budgets.Wait()
			must(t, n.budgets.Sweep(ctx))
		}
		alerts, err = e.budgets.Alerts(ctx, e.ws.ID, 100)
		must(t, err)
		if len(alerts) != 4 || alerts[0].Threshold != 50 || !alerts[0].PeriodStart.Equal(time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("after the day changed: %d alerts, newest %+v", len(alerts), alerts[0])
		}
		if n := e.alerted.Load(); n != 4 {
			t.Errorf("OnAlert calls = %d, want 4", n)
		}
	})
}

// The sweep alone (no ingestion hook, as after a crash) records a crossing.
func TestSweepRecordsMissedCrossings(t *testing.T) {
	each(t, "UTC", func(t *testing.T, e *env) {
		ctx := context.Background()
		other := e.newNode() // its ingestion-time evaluation runs before the budget exists
		e.spend(other.metering, 600, t0, "k", "", "")
		other.budgets.Wait()
		b := e.create(budget.Budget{Name: "late", Scope: budget.ScopeWorkspace, Amount: 1000, Period: budget.PeriodMonth})
		alerts, err := e.budgets.Alerts(ctx, e.ws.ID, 10)
		must(t, err)
		if len(alerts) != 0 {
			t.Fatalf("alerts before the sweep: %+v", alerts)
		}
		must(t, e.budgets.Sweep(ctx))
		alerts, err = e.budgets.Alerts(ctx, e.ws.ID, 10)
		must(t, err)
		if len(alerts) != 1 || alerts[0].BudgetID != b.ID || alerts[0].Threshold != 50 {
			t.Fatalf("after the sweep: %+v", alerts)
		}
	})
}

func TestLowBalanceAlertsOncePerCrossing(t *testing.T) {
	each(t, "UTC", func(t *testing.T, e *env) {
		ctx := context.Background()
		_, _, err := e.ledger.Grant(ctx, e.ws.ID, 1000, "g1", "")
		must(t, err)
		if _, err := e.budgets.SetLowBalanceLine(ctx, e.ws.ID, -1); !errs.Is(err, "invalid_low_balance_line") {
			t.Fatalf("negative line: %v", err)
		}
		l, err := e.budgets.SetLowBalanceLine(ctx, e.ws.ID, 500)
		must(t, err)
		if l.Line != 500 || !l.Armed {
			t.Fatalf("line %+v", l)
		}
		nodes := []node{e.node, e.newNode(), e.newNode()}
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() { e.spend(nodes[i%3].metering, 60, t0, "k", "", "") }) // 1000 − 720 = 280 < 500
		}
		wg.Wait()
		for _, n := range nodes {
			n.budgets.Wait()
			must(t, n.budgets.Sweep(ctx))
		}
		alerts, err := e.budgets.Alerts(ctx, e.ws.ID, 10)
		must(t, err)
		if len(alerts) != 1 || alerts[0].Kind != budget.KindLowBalance {
			t.Fatalf("alerts %+v", alerts)
		}
		var p struct {
			Available, Line struct{ Amount, Currency string }
		}
		must(t, json.Unmarshal(alerts[0].Payload, &p))
		if p.Line.Amount != "0.000500" || p.Available.Currency != "USD" {
			t.Fatalf("payload %s", alerts[0].Payload)
		}
		available, err := money.Parse(p.Available.Amount)
		must(t, err)
		if want := "Available balance " + money.Format(available, "USD") + " is below $0.0005"; alerts[0].Subject != want {
			t.Errorf("subject %q; want %q", alerts[0].Subject, want)
		}
		// Back just above the line (less than a tenth): still disarmed, and a dip
		// below it again is the same crossing.
		_, _, err = e.ledger.Grant(ctx, e.ws.ID, 240, "g-small", "") // 280 + 240 = 520
		must(t, err)
		e.clock.Set(t0.Add(2 * time.Second)) // past the cache
		must(t, e.budgets.Sweep(ctx))
		if l, _ := e.budgets.LowBalance(ctx, e.ws.ID); l.Armed {
			t.Fatalf("re-armed 4 %% above the line: %+v", l)
		}
		e.spend(e.metering, 30, t0, "k", "", "") // 490 < 500
		e.budgets.Wait()
		if alerts, _ := e.budgets.Alerts(ctx, e.ws.ID, 10); len(alerts) != 1 {
			t.Fatalf("%d alerts after a wobble around the line, want 1", len(alerts))
		}
		// Recharged well above the line: re-armed; falling below again alerts a second time.
		e.clock.Set(t0.Add(4 * time.Second))
		_, _, err = e.ledger.Grant(ctx, e.ws.ID, 1000, "g2", "")
		must(t, err)
		time.Sleep(0)
		e.clock.Set(t0.Add(6 * time.Second)) // past the cache
		must(t, e.budgets.Sweep(ctx))
		if l, _ := e.budgets.LowBalance(ctx, e.ws.ID); !l.Armed || l.Crossings != 1 {
			t.Fatalf("after recharge %+v", l)
		}
		e.spend(e.metering, 1000, t0, "k", "", "") // 1490 − 1000 = 490 < 500
		e.budgets.Wait()
		alerts, err = e.budgets.Alerts(ctx, e.ws.ID, 10)
		must(t, err)
		if len(alerts) != 2 {
			t.Fatalf("%d alerts after the second crossing, want 2", len(alerts))
		}
		if _, err := e.budgets.Alerts(ctx, e.ws.ID, 1001); !errs.Is(err, "invalid_limit") {
			t.Fatalf("limit 1001: %v", err)
		}
	})
}

func TestForecastAndProjection(t *testing.T) {
	each(t, "UTC", func(t *testing.T, e *env) {
		ctx := context.Background()
		_, _, err := e.ledger.Grant(ctx, e.ws.ID, 100_000, "g", "")
		must(t, err)
		// 700 spent in the last 7 days (100 a day), 200 of it this month... t0 is 11 March.
		for d := range 7 {
			e.spend(e.metering, 100, t0.Add(-time.Duration(d)*24*time.Hour), "k", "", "")
		}
		e.spend(e.metering, 50, t0.AddDate(0, 0, -20), "k", "", "") // February: outside month and week
		f, err := e.budgets.Forecast(ctx, e.ws.ID)
		must(t, err)
		// Month to date: 5..11 March = 700. The rest of March: 20 days 9 hours at 100/day.
		if f.BurnPerDay != 100 || f.MonthToDate != 700 || f.Available != 100_000-750 || f.RunwayDays == nil || *f.RunwayDays != 992 {
			t.Fatalf("forecast %+v runway %v", f, f.RunwayDays)
		}
		if want := money.Amount(700 + 2037); f.MonthProjected != want { // 20 d 9 h × 100/d = 2037.5 → 2037
			t.Fatalf("month projected %s, want %s", f.MonthProjected, want)
		}
		b := e.create(budget.Budget{Name: "m", Scope: budget.ScopeWorkspace, Amount: 5000, Period: budget.PeriodMonth})
		st, err := e.budgets.Status(ctx, e.ws.ID, b.ID)
		must(t, err)
		if st.Spent != 700 || st.Projected != 700+2037 || st.PeriodEnd == nil {
			t.Fatalf("status %+v", st)
		}
		// No spend: no runway number.
		ws2, err := e.team.CreateWorkspace(ctx, team.Workspace{Name: "Idle"})
		must(t, err)
		f, err = e.budgets.Forecast(ctx, ws2.ID)
		must(t, err)
		if f.RunwayDays != nil || f.BurnPerDay != 0 {
			t.Fatalf("idle forecast %+v", f)
		}
	})
}

func TestServiceCRUD(t *testing.T) {
	each(t, "UTC", func(t *testing.T, e *env) {
		ctx := context.Background()
		if _, err := e.budgets.Create(ctx, budget.Budget{WorkspaceID: "ws_none", Name: "x", Scope: budget.ScopeWorkspace, Amount: 1, Period: budget.PeriodDay}); !errs.Is(err, "workspace_not_found") {
			t.Fatalf("unknown workspace: %v", err)
		}
		if _, err := e.budgets.Create(ctx, budget.Budget{WorkspaceID: e.ws.ID, Name: "x", Scope: budget.ScopeWorkspace, Period: budget.PeriodDay}); !errs.Is(err, "invalid_amount") {
			t.Fatalf("zero amount: %v", err)
		}
		if _, err := e.budgets.Create(ctx, budget.Budget{WorkspaceID: e.ws.ID, Name: "x", Scope: budget.ScopeKey, ScopeID: "key_none", Amount: 1, Period: budget.PeriodDay}); !errs.Is(err, "unknown_scope_key") {
			t.Fatalf("unknown key: %v", err)
		}
		key, _, err := e.team.CreateKey(ctx, team.APIKey{WorkspaceID: e.ws.ID, Name: "ci"})
		must(t, err)
		b := e.create(budget.Budget{Name: "k", Scope: budget.ScopeKey, ScopeID: key.ID, Amount: 10, Period: budget.PeriodDay, HardLimit: true})
		hard, _, err := e.budgets.HardBudgets(ctx, e.ws.ID, key.ID, "", "")
		must(t, err)
		if len(hard) != 1 || hard[0].ID != b.ID {
			t.Fatalf("hard budgets %+v", hard)
		}
		if hard, _, _ := e.budgets.HardBudgets(ctx, e.ws.ID, "key_2", "", ""); len(hard) != 0 {
			t.Fatalf("another key's hard budgets %+v", hard)
		}
		name, amount, period, off := "renamed", money.Amount(20), budget.PeriodWeek, false
		th := []int{90}
		u, err := e.budgets.Update(ctx, e.ws.ID, b.ID, budget.Update{Name: &name, Amount: &amount, Period: &period, Thresholds: &th, HardLimit: &off})
		must(t, err)
		if u.Name != "renamed" || u.Amount != 20 || u.Period != budget.PeriodWeek || fmt.Sprint(u.Thresholds) != "[90]" || u.HardLimit || u.Scope != budget.ScopeKey {
			t.Fatalf("updated %+v", u)
		}
		if hard, _, _ := e.budgets.HardBudgets(ctx, e.ws.ID, key.ID, "", ""); len(hard) != 0 {
			t.Fatal("the change did not apply at once on this node")
		}
		zero := money.Amount(0)
		if _, err := e.budgets.Update(ctx, e.ws.ID, b.ID, budget.Update{Amount: &zero}); !errs.Is(err, "invalid_amount") {
			t.Fatalf("update to zero: %v", err)
		}
		if _, err := e.budgets.Update(ctx, e.ws.ID, "bud_none", budget.Update{}); !errs.Is(err, "budget_not_found") {
			t.Fatalf("update missing: %v", err)
		}
		must(t, e.budgets.Delete(ctx, e.ws.ID, b.ID))
		if _, err := e.budgets.Get(ctx, e.ws.ID, b.ID); !errs.Is(err, "budget_not_found") {
			t.Fatalf("get deleted: %v", err)
		}
		if err := e.budgets.Delete(ctx, e.ws.ID, b.ID); !errs.Is(err, "budget_not_found") {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

// countingStore counts the budget reads that reach the database.
type countingStore struct {
	budget.Store
	reads atomic.Int64
}

func (c *countingStore) Budgets(ctx context.Context, workspaceID string) ([]budget.Budget, error) {
	c.reads.Add(1)
	return c.Store.Budgets(ctx, workspaceID)
}

// The gateway's question "which hard budgets cover this key?" is answered from the cache:
// a workspace's budgets are read once per TTL, however many requests ask, and a stale
// entry is refreshed in the background.
func TestHardBudgetsAreCached(t *testing.T) {
	each(t, "UTC", func(t *testing.T, e *env) {
		ctx := context.Background()
		cs := &countingStore{Store: e.db}
		svc, err := budget.New(budget.Config{Store: cs, Metering: e.metering, Ledger: e.ledger, Team: e.team, Now: e.clock.Now})
		must(t, err)
		for range 1000 {
			if hard, _, err := svc.HardBudgets(ctx, e.ws.ID, "key_1", "p", "m"); err != nil || len(hard) != 0 {
				t.Fatalf("%v %v", hard, err)
			}
		}
		if n := cs.reads.Load(); n != 1 {
			t.Fatalf("%d budget reads for 1000 lookups, want 1", n)
		}
		e.clock.Set(t0.Add(2 * time.Second))
		svc.HardBudgets(ctx, e.ws.ID, "key_1", "p", "m") // stale: answered, refreshed in the background
		deadline := time.Now().Add(5 * time.Second)
		for cs.reads.Load() != 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := cs.reads.Load(); n != 2 {
			t.Fatalf("%d reads after the TTL, want 2", n)
		}
	})
}
