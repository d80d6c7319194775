package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
)

// TestIngestRefusesBalanceOverflow: usage may take a wallet down to metering.MinBalance
// and no further. The event whose cost would pass it is rejected alone with
// balance_out_of_range and stores nothing, on both databases; the balance, the usage
// and verify stay exact. (Before, ten events of 10^18 micro-units each wrapped the
// group's int64 debit, crediting the wallet, and a further one was a 500 on PostgreSQL.)
func TestIngestRefusesBalanceOverflow(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		ws := e.Workspace(t, 0)
		const unit = money.Amount(1_000_000_000_000_000_000) // 10^18 micro-units: the cost of one "gold" event
		e.addPrice(t, "gold", unit/metering.MaxTokensPerField*1_000_000)
		at := e.Clock.Now().Add(-time.Minute)
		event := func(id string, output int64) metering.Event {
			return metering.Event{ID: id, WorkspaceID: ws, Model: "gold", Timestamp: at, Usage: pricing.Usage{Output: output}}
		}
		batch := make([]metering.Event, 10)
		for i := range batch {
			batch[i] = event(fmt.Sprintf("e%d", i), metering.MaxTokensPerField)
		}
		res, err := e.Meter.Ingest(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		// −4·10^18 fits above MinBalance (−2^62 ≈ −4.61·10^18); a fifth would not.
		if res.Accepted != 4 || len(res.Rejected) != 6 {
			t.Fatalf("accepted %d, rejected %+v", res.Accepted, res.Rejected)
		}
		for _, r := range res.Rejected {
			if r.Code != "balance_out_of_range" || r.Error == "" {
				t.Errorf("rejection %+v", r)
			}
		}
		balance := func() money.Amount {
			t.Helper()
			b, err := e.Ledger.Balance(ctx, ws)
			if err != nil {
				t.Fatal(err)
			}
			return b.Balance
		}
		if b := balance(); b != -4*unit {
			t.Fatalf("balance %d, want %d", b, -4*unit)
		}

		// One at a time, across transactions: the same bound, and no 500.
		res, err = e.Meter.Ingest(ctx, []metering.Event{event("one-more", metering.MaxTokensPerField)})
		if err != nil || res.Accepted != 0 || len(res.Rejected) != 1 || res.Rejected[0].Code != "balance_out_of_range" {
			t.Fatalf("one more: %+v, %v", res, err)
		}
		// What still fits is taken, and an event that costs nothing always is.
		half := int64(metering.MaxTokensPerField / 2)
		res, err = e.Meter.Ingest(ctx, []metering.Event{event("half", half), event("free", 0), event("half-again", half)})
		if err != nil || res.Accepted != 2 || len(res.Rejected) != 1 || res.Rejected[0].ID != "half-again" {
			t.Fatalf("what fits: %+v, %v", res, err)
		}
		if b := balance(); b != -4*unit-unit/2 || b < metering.MinBalance {
			t.Fatalf("balance %d", b)
		}
		// A rejected id was never stored: it is not a duplicate (it is refused again).
		res, err = e.Meter.Ingest(ctx, []metering.Event{event("e9", metering.MaxTokensPerField)})
		if err != nil || res.Duplicates != 0 || len(res.Rejected) != 1 || res.Rejected[0].Code != "balance_out_of_range" {
			t.Fatalf("rejected id again: %+v, %v", res, err)
		}
		if rep := e.report(t); !rep.OK() {
			t.Fatalf("verify: %+v", rep)
		}
	})
}
