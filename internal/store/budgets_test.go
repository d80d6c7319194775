package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"spectra/internal/budget"
	"spectra/internal/errs"
	"spectra/internal/ids"
)

func TestBudgetsCRUD(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		ws, other := e.Workspace(t, 0), e.Workspace(t, 0)
		b := budget.Budget{ID: ids.New("bud"), WorkspaceID: ws, Name: "prod", Scope: budget.ScopeProject, ScopeID: "prod",
			Amount: 5_000_000, Period: budget.PeriodMonth, Thresholds: []int{50, 100}, HardLimit: true, CreatedAt: e.Clock.Now(), UpdatedAt: e.Clock.Now()}
		budgetMust(t, e.DB.CreateBudget(ctx, b))
		got, err := e.DB.Budget(ctx, ws, b.ID)
		budgetMust(t, err)
		if got.Name != "prod" || got.Scope != budget.ScopeProject || got.ScopeID != "prod" || got.Amount != 5_000_000 ||
			got.Period != budget.PeriodMonth || fmt.Sprint(got.Thresholds) != "[50 100]" || !got.HardLimit || !got.CreatedAt.Equal(b.CreatedAt) {
			t.Fatalf("read back %+v", got)
		}
		if _, err := e.DB.Budget(ctx, other, b.ID); !errs.Is(err, "budget_not_found") {
			t.Fatalf("another workspace's budget: %v", err)
		}
		got.Name, got.Amount, got.Thresholds, got.HardLimit = "prod2", 7, []int{}, false
		budgetMust(t, e.DB.UpdateBudget(ctx, got))
		list, err := e.DB.Budgets(ctx, ws)
		budgetMust(t, err)
		if len(list) != 1 || list[0].Name != "prod2" || list[0].Amount != 7 || len(list[0].Thresholds) != 0 || list[0].HardLimit {
			t.Fatalf("after update %+v", list)
		}
		watched, err := e.DB.WatchedWorkspaces(ctx)
		budgetMust(t, err)
		if len(watched) != 1 || watched[0] != ws {
			t.Fatalf("watched %v", watched)
		}
		if err := e.DB.UpdateBudget(ctx, budget.Budget{ID: "bud_none", WorkspaceID: ws}); !errs.Is(err, "budget_not_found") {
			t.Fatalf("update missing: %v", err)
		}
		budgetMust(t, e.DB.DeleteBudget(ctx, ws, b.ID))
		if err := e.DB.DeleteBudget(ctx, ws, b.ID); !errs.Is(err, "budget_not_found") {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

func TestAlertsInsertedOnceByDedupeKey(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		ws := e.Workspace(t, 0)
		var stored atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				a := budget.Alert{ID: ids.New("alt"), WorkspaceID: ws, Kind: budget.KindThreshold, BudgetID: "bud_x", Threshold: 80,
					PeriodStart: e.Clock.Now(), DedupeKey: "budget:bud_x:1:80", Subject: "s", Body: "b", Payload: json.RawMessage(`{"a":1}`), CreatedAt: e.Clock.Now()}
				ok, err := e.DB.InsertAlert(ctx, a)
				if err != nil {
					t.Error(err)
				}
				if ok {
					stored.Add(1)
				}
			})
		}
		wg.Wait()
		if stored.Load() != 1 {
			t.Fatalf("%d inserts stored, want 1", stored.Load())
		}
		list, err := e.DB.WorkspaceAlerts(ctx, ws, 10)
		budgetMust(t, err)
		if len(list) != 1 || list[0].BudgetID != "bud_x" || string(list[0].Payload) != `{"a":1}` || list[0].DispatchedAt != nil {
			t.Fatalf("alerts %+v", list)
		}
	})
}

func TestLowBalanceCrossesOnceAndRearms(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		ws := e.Workspace(t, 0)
		l, err := e.DB.LowBalance(ctx, ws)
		budgetMust(t, err)
		if l.Line != 0 || !l.Armed {
			t.Fatalf("unset %+v", l)
		}
		build := func(n int64) budget.Alert {
			return budget.Alert{ID: ids.New("alt"), WorkspaceID: ws, Kind: budget.KindLowBalance, PeriodStart: e.Clock.Now(),
				DedupeKey: fmt.Sprintf("low_balance:%s:%d", ws, n), Subject: "low", Body: "low", Payload: json.RawMessage(`{}`), CreatedAt: e.Clock.Now()}
		}
		if ok, err := e.DB.CrossLowBalance(ctx, ws, e.Clock.Now(), build); err != nil || ok {
			t.Fatalf("crossing with no line: %v %v", ok, err)
		}
		budgetMust(t, e.DB.SetLowBalanceLine(ctx, ws, 10_000_000, e.Clock.Now()))
		var crossed atomic.Int64
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				ok, err := e.DB.CrossLowBalance(ctx, ws, e.Clock.Now(), build)
				if err != nil {
					t.Error(err)
				}
				if ok {
					crossed.Add(1)
				}
			})
		}
		wg.Wait()
		if crossed.Load() != 1 {
			t.Fatalf("%d crossings, want 1", crossed.Load())
		}
		budgetMust(t, e.DB.RearmLowBalance(ctx, ws, e.Clock.Now()))
		if ok, err := e.DB.CrossLowBalance(ctx, ws, e.Clock.Now(), build); err != nil || !ok {
			t.Fatalf("second crossing after re-arm: %v %v", ok, err)
		}
		l, err = e.DB.LowBalance(ctx, ws)
		budgetMust(t, err)
		if l.Line != 10_000_000 || l.Armed || l.Crossings != 2 {
			t.Fatalf("state %+v", l)
		}
		list, err := e.DB.WorkspaceAlerts(ctx, ws, 10)
		budgetMust(t, err)
		if len(list) != 2 {
			t.Fatalf("%d alerts, want 2", len(list))
		}
	})
}

func budgetMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
