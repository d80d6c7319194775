package ledger_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/money"
	"spectra/internal/store/storetest"
)

// TestConcurrentHolds: 200 goroutines reserve on one wallet that can pay for exactly N
// holds; exactly N succeed, the rest are refused, and available balance never goes below
// the overdraft limit.
func TestConcurrentHolds(t *testing.T) {
	cases := []struct {
		name            string
		limit, balance  money.Amount
		amount          money.Amount
		want            int
		zeroHoldAllowed bool // after the N holds
	}{
		{"room for 37 and change", 0, 37_999, 1_000, 37, true},
		{"exactly 40", 0, 40_000, 1_000, 40, false},
		{"overdraft of 2.5 holds", 2_500, 30_000, 1_000, 32, true},
		{"overdraft to the micro-unit", 3_000, 30_000, 1_000, 33, false},
	}
	each(t, func(t *testing.T, e *env) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx := context.Background()
				ws := e.Workspace(t, c.limit)
				e.Grant(t, ws, c.balance)
				const n = 200
				var wg sync.WaitGroup
				start := make(chan struct{})
				errs := make([]error, n)
				for i := range n {
					wg.Go(func() {
						<-start
						_, errs[i] = e.Ledger.Reserve(ctx, ws, fmt.Sprintf("%s-%d", ws, i), c.amount, time.Minute)
					})
				}
				close(start)
				wg.Wait()
				ok := 0
				for _, err := range errs {
					switch {
					case err == nil:
						ok++
					case err != ledger.ErrInsufficient:
						t.Fatalf("reserve: %v; want nil or insufficient_balance", err)
					}
				}
				b := e.Balance(t, ws)
				if ok != c.want || b.Held != money.Amount(c.want)*c.amount {
					t.Errorf("%d holds placed, held %s; want exactly %d", ok, b.Held, c.want)
				}
				if b.Available < -c.limit {
					t.Errorf("available %s is below the limit −%s", b.Available, c.limit)
				}
				_, err := e.Ledger.Reserve(ctx, ws, ws+"-zero", 0, time.Minute)
				if c.zeroHoldAllowed != (err == nil) {
					t.Errorf("a 0-amount hold at available %s (limit %s): %v", b.Available, c.limit, err)
				}
				e.Verify(t)
			})
		}
	})
}

func TestOverdraftLimit(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ws := e.Workspace(t, 5*money.Scale)
		// An empty wallet with a limit of 5 may hold up to 5.
		_, err := e.Ledger.Reserve(ctx, ws, "a", 5*money.Scale+1, time.Minute)
		storetest.WantCode(t, err, "insufficient_balance")
		if _, err := e.Ledger.Reserve(ctx, ws, "a", 3*money.Scale, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Ledger.Reserve(ctx, ws, "b", 2*money.Scale, time.Minute); err != nil {
			t.Fatal(err)
		}
		if b := e.Balance(t, ws); b.Available != -5*money.Scale || b.Held != 5*money.Scale || b.OverdraftLimit != 5*money.Scale {
			t.Errorf("balance = %+v", b)
		}
		// At the limit: not even a 0-amount hold.
		_, err = e.Ledger.Reserve(ctx, ws, "c", 0, time.Minute)
		storetest.WantCode(t, err, "insufficient_balance")
		if err := e.Ledger.Release(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Ledger.Reserve(ctx, ws, "c", 0, time.Minute); err != nil {
			t.Errorf("0-amount hold above the limit: %v", err)
		}
		if _, err := e.Ledger.Reserve(ctx, ws, "d", 3*money.Scale, time.Minute); err != nil {
			t.Errorf("hold back to the limit: %v", err)
		}
		e.Verify(t)
	})
}

// TestNoHoldsBelowLimitUntilRecharged: charged usage may take a wallet below its limit;
// then no hold is placed, however small, until a recharge lifts it above the limit.
func TestNoHoldsBelowLimitUntilRecharged(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.price(t, "unit")
		ws := e.Workspace(t, money.Scale)
		e.Grant(t, ws, 2*money.Scale)
		if _, err := e.Ledger.Reserve(ctx, ws, "h", 3*money.Scale, time.Minute); err != nil {
			t.Fatal(err)
		}
		// The request cost more than its hold and more than the wallet had: usage is a
		// fact. Its holder then releases the hold.
		if res := e.charge(t, ws, "ev", 4_500_000); res.Accepted != 1 {
			t.Fatalf("charge: %+v", res)
		}
		if err := e.Ledger.Release(ctx, "h"); err != nil {
			t.Fatal(err)
		}
		b := e.Balance(t, ws)
		if b.Balance != -2_500_000 || b.Held != 0 || b.Available != -2_500_000 {
			t.Fatalf("balance = %+v; want −2.5 with nothing held", b)
		}
		for _, amount := range []money.Amount{0, 1, money.Scale} {
			_, err := e.Ledger.Reserve(ctx, ws, fmt.Sprint("x", amount), amount, time.Minute)
			storetest.WantCode(t, err, "insufficient_balance")
		}
		e.Grant(t, ws, 1_500_000) // back to exactly −1: the limit itself
		_, err := e.Ledger.Reserve(ctx, ws, "y", 0, time.Minute)
		storetest.WantCode(t, err, "insufficient_balance")
		e.Grant(t, ws, 1) // one micro-unit above the limit
		if _, err := e.Ledger.Reserve(ctx, ws, "y", 0, time.Minute); err != nil {
			t.Errorf("0-amount hold after recharge: %v", err)
		}
		if _, err := e.Ledger.Reserve(ctx, ws, "z", 1, time.Minute); err != nil {
			t.Errorf("1 micro-unit hold after recharge: %v", err)
		}
		_, err = e.Ledger.Reserve(ctx, ws, "z2", 1, time.Minute)
		storetest.WantCode(t, err, "insufficient_balance")
		e.Verify(t)
	})
}

func TestReserveSameIDHoldsOnce(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ws := e.Workspace(t, 0)
		e.Grant(t, ws, 10*money.Scale)
		h1, err := e.Ledger.Reserve(ctx, ws, "req-1", 4*money.Scale, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if h1.ID != "req-1" || h1.WorkspaceID != ws || h1.Amount != 4*money.Scale || !h1.ExpiresAt.Equal(e.Clock.Now().Add(time.Minute)) {
			t.Errorf("hold = %+v", h1)
		}
		e.Clock.Advance(time.Second)
		h2, err := e.Ledger.Reserve(ctx, ws, "req-1", 5*money.Scale, time.Hour)
		if err != nil || h2 != h1 {
			t.Errorf("the same id again = %+v, %v; want the first hold %+v", h2, err, h1)
		}
		// Concurrently too.
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, err := e.Ledger.Reserve(ctx, ws, "req-2", 3*money.Scale, time.Minute); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if b := e.Balance(t, ws); b.Held != 7*money.Scale {
			t.Errorf("held %s; want 4 + 3", b.Held)
		}
		_, err = e.Ledger.Reserve(ctx, "ws_nope", "req-3", 1, time.Minute)
		storetest.WantCode(t, err, "workspace_not_found")
		for _, h := range []ledger.Hold{{ID: "", WorkspaceID: ws, Amount: 1, ExpiresAt: e.Clock.Now()}, {ID: "n", WorkspaceID: ws, Amount: -1, ExpiresAt: e.Clock.Now()}, {ID: "n", WorkspaceID: ws, Amount: 1}} {
			_, err = e.DB.Reserve(ctx, h)
			storetest.WantCode(t, err, "invalid_hold")
		}
		e.Verify(t)
	})
}

func TestRelease(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ws := e.Workspace(t, 0)
		e.Grant(t, ws, 10*money.Scale)
		for _, id := range []string{"a", "b"} {
			if _, err := e.Ledger.Reserve(ctx, ws, id, 4*money.Scale, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Ledger.Release(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if b := e.Balance(t, ws); b.Held != 4*money.Scale || b.Balance != 10*money.Scale || b.Available != 6*money.Scale {
			t.Errorf("after release: %+v", b)
		}
		storetest.WantCode(t, e.Ledger.Release(ctx, "a"), "hold_not_found")
		storetest.WantCode(t, e.Ledger.Release(ctx, "nope"), "hold_not_found")
		// A released id is spent: reserving it again returns the closed hold, holding nothing.
		if _, err := e.Ledger.Reserve(ctx, ws, "a", 4*money.Scale, time.Minute); err != nil {
			t.Fatal(err)
		}
		if b := e.Balance(t, ws); b.Held != 4*money.Scale {
			t.Errorf("re-reserving a released id held again: %+v", b)
		}
		if entries, _ := e.Ledger.Entries(ctx, ws, 0, 10); len(entries) != 1 {
			t.Errorf("holds wrote entries: %+v", entries)
		}
		e.Verify(t)
	})
}

// TestReleaseExpired: the sweeper releases holds past their expiry (on the injected clock)
// and never charges them; usage arriving after that is charged once and leaves the
// released hold alone.
func TestReleaseExpired(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.price(t, "unit")
		ws := e.Workspace(t, 0)
		e.Grant(t, ws, 10*money.Scale)
		t0 := e.Clock.Now()
		for i, ttl := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute} {
			if _, err := e.Ledger.Reserve(ctx, ws, fmt.Sprint("h", i), money.Scale, ttl); err != nil {
				t.Fatal(err)
			}
		}
		n, err := e.DB.ReleaseExpired(ctx, t0.Add(time.Minute)) // expiry is not before now: kept
		if err != nil || n != 0 {
			t.Fatalf("ReleaseExpired at the first expiry = %d, %v; want 0", n, err)
		}
		n, err = e.DB.ReleaseExpired(ctx, t0.Add(150*time.Second))
		if err != nil || n != 2 {
			t.Fatalf("ReleaseExpired = %d, %v; want 2", n, err)
		}
		if n, _ := e.DB.ReleaseExpired(ctx, t0.Add(150*time.Second)); n != 0 {
			t.Errorf("released %d again", n)
		}
		b := e.Balance(t, ws)
		if b.Held != money.Scale || b.Balance != 10*money.Scale {
			t.Errorf("after expiry: %+v; want balance untouched, one hold left", b)
		}
		storetest.WantCode(t, e.Ledger.Release(ctx, "h0"), "hold_not_found")
		// The request of h1 finished after all (late usage): its usage is charged, the hold stays released.
		if res := e.charge(t, ws, "late", 700_000); res.Accepted != 1 {
			t.Fatalf("late usage: %+v", res)
		}
		b = e.Balance(t, ws)
		if b.Held != money.Scale || b.Balance != 9_300_000 {
			t.Errorf("after the late usage: %+v", b)
		}
		if entries, _ := e.Ledger.Entries(ctx, ws, 0, 10); len(entries) != 2 {
			t.Errorf("entries = %+v; want the grant and one usage", entries)
		}
		e.Verify(t)
	})
}

// TestReleaseExpiredManyPages releases more holds than one sweep page.
func TestReleaseExpiredManyPages(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		const n, workers = 1003, 8
		var wss []string
		for range workers { // one wallet per worker, so their reserves do not queue on one row
			ws := e.Workspace(t, 0)
			e.Grant(t, ws, money.Scale)
			wss = append(wss, ws)
		}
		var wg sync.WaitGroup
		for w, ws := range wss {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					if _, err := e.DB.Reserve(ctx, ledger.Hold{ID: fmt.Sprint("h", i), WorkspaceID: ws, Amount: 1, ExpiresAt: e.Clock.Now().Add(time.Duration(i) * time.Millisecond)}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		got, err := e.DB.ReleaseExpired(ctx, e.Clock.Now().Add(time.Hour))
		if err != nil || got != n {
			t.Fatalf("ReleaseExpired = %d, %v; want %d", got, err, n)
		}
		for _, ws := range wss {
			if b := e.Balance(t, ws); b.Held != 0 || b.Balance != money.Scale {
				t.Errorf("after the sweep: %+v", b)
			}
		}
		e.Verify(t)
	})
}
