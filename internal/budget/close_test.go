package budget_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"spectra/internal/budget"
)

// blockingBudgets is a budget store whose second budget read blocks until its context
// ends.
type blockingBudgets struct {
	budget.Store
	reads    atomic.Int64
	started  chan struct{}
	returned atomic.Bool
}

func (b *blockingBudgets) Budgets(ctx context.Context, workspaceID string) ([]budget.Budget, error) {
	if b.reads.Add(1) == 2 {
		close(b.started)
		<-ctx.Done()
		b.returned.Store(true)
		return nil, ctx.Err()
	}
	return b.Store.Budgets(ctx, workspaceID)
}

// TestCloseCancelsAndWaitsForTheCacheRefresh: a stale entry is answered at once while
// one background read refreshes it (however many lookups ask), and Close, the
// shutdown path, cancels that read and returns only once it has returned.
func TestCloseCancelsAndWaitsForTheCacheRefresh(t *testing.T) {
	each(t, "UTC", func(t *testing.T, e *env) {
		ctx := context.Background()
		bs := &blockingBudgets{Store: e.db, started: make(chan struct{})}
		svc, err := budget.New(budget.Config{Store: bs, Metering: e.metering, Ledger: e.ledger, Team: e.team, Now: e.clock.Now,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		must(t, err)
		if _, _, err := svc.HardBudgets(ctx, e.ws.ID, "key_1", "", ""); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(t0.Add(2 * time.Second)) // past the TTL
		for range 3 {
			// The refresh blocks until Close: these return only because the stale entry is served.
			if _, _, err := svc.HardBudgets(ctx, e.ws.ID, "key_1", "", ""); err != nil {
				t.Fatal(err)
			}
		}
		<-bs.started
		if n := bs.reads.Load(); n != 2 {
			t.Fatalf("%d budget reads, want 2 (the load, then one refresh)", n)
		}
		svc.Close()
		if !bs.returned.Load() {
			t.Fatal("Close returned before the refresh did")
		}
	})
}
