package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/money"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// AdjustHold grows a hold only within the available balance, shrinks it always, and
// never touches a hold that is no longer active.
func TestAdjustHold(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		ls := ledger.NewService(db, time.Now)
		ws, err := team.NewService(db, time.Now).CreateWorkspace(ctx, team.Workspace{Name: "w"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := ls.Grant(ctx, ws.ID, 1000, "g", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := ls.Reserve(ctx, ws.ID, "h1", 100, time.Minute); err != nil {
			t.Fatal(err)
		}
		held := func(want money.Amount) {
			t.Helper()
			b, err := ls.Balance(ctx, ws.ID)
			if err != nil || b.Held != want {
				t.Fatalf("balance %+v %v, want held %s", b, err, want)
			}
		}
		if err := db.AdjustHold(ctx, "h1", 1000, now.Add(time.Hour), true); err != nil {
			t.Fatal(err)
		}
		held(1000)
		if err := db.AdjustHold(ctx, "h1", 1001, now.Add(time.Hour), true); !errs.Is(err, "insufficient_balance") {
			t.Fatalf("over the balance: %v", err)
		}
		held(1000)
		if err := db.AdjustHold(ctx, "h1", 10, now.Add(time.Hour), true); err != nil {
			t.Fatal(err)
		}
		held(10)
		// Once the balance went down (a refund here), a guarded resize that claims room the balance
		// no longer has is refused, even when the amount does not grow; an unguarded
		// shrink passes.
		if _, _, err := db.Transfer(ctx, ledger.TransferRequest{Key: "refund-1", Kind: ledger.KindRefund, From: ledger.Wallet(ws.ID),
			To: ledger.Refunds, Amount: 995, WorkspaceID: ws.ID}); err != nil {
			t.Fatal(err)
		}
		if err := db.AdjustHold(ctx, "h1", 10, now.Add(time.Hour), true); !errs.Is(err, "insufficient_balance") {
			t.Fatalf("guarded resize past the balance: %v", err)
		}
		if err := db.AdjustHold(ctx, "h1", 5, now.Add(time.Hour), false); err != nil {
			t.Fatal(err)
		}
		held(5)
		// Concurrent growth never takes the wallet below zero.
		if _, _, err := ls.Grant(ctx, ws.ID, 995, "g2", ""); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() { db.AdjustHold(ctx, "h1", money.Amount(100*i), now.Add(time.Hour), i%2 == 0) })
		}
		wg.Wait()
		if b, _ := ls.Balance(ctx, ws.ID); b.Available < 0 || b.Held > 1000 {
			t.Fatalf("after concurrent adjusts %+v", b)
		}
		if err := ls.Release(ctx, "h1"); err != nil {
			t.Fatal(err)
		}
		held(0)
		if err := db.AdjustHold(ctx, "h1", 5, now.Add(time.Hour), true); !errs.Is(err, "hold_not_found") {
			t.Fatalf("adjusting a released hold: %v", err)
		}
		if err := db.AdjustHold(ctx, "", 5, now, false); !errs.Is(err, "invalid_hold") {
			t.Fatalf("no id: %v", err)
		}
		rep, err := db.Verify(ctx)
		if err != nil || !rep.OK() {
			t.Fatalf("verify %+v %v", rep, err)
		}
	})
}
