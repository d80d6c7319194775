package ledger_test

import (
	"context"
	"sync"
	"testing"

	"spectra/internal/ledger"
	"spectra/internal/money"
	"spectra/internal/store/storetest"
)

func TestGrantIdempotent(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ws := e.Workspace(t, 0)
		first, created, err := e.Ledger.Grant(ctx, ws, 25*money.Scale, "req-1", "welcome")
		if err != nil || !created {
			t.Fatalf("first grant: created=%v err=%v", created, err)
		}
		if first.Kind != ledger.KindGrant || first.From != ledger.Grants || first.To != ledger.Wallet(ws) || first.Amount != 25*money.Scale ||
			first.WorkspaceID != ws || first.Note != "welcome" || !first.CreatedAt.Equal(e.Clock.Now()) {
			t.Errorf("transfer = %+v", first)
		}
		e.Clock.Advance(1)
		again, created, err := e.Ledger.Grant(ctx, ws, 25*money.Scale, "req-1", "welcome")
		if err != nil || created {
			t.Fatalf("replay: created=%v err=%v", created, err)
		}
		if again != first {
			t.Errorf("replay returned %+v; want the first transfer %+v", again, first)
		}
		for name, replay := range map[string]func() error{
			"different amount": func() error { _, _, err := e.Ledger.Grant(ctx, ws, 26*money.Scale, "req-1", "welcome"); return err },
			"different note":   func() error { _, _, err := e.Ledger.Grant(ctx, ws, 25*money.Scale, "req-1", "other"); return err },
		} {
			if err := replay(); err != ledger.ErrConflict {
				t.Errorf("%s: %v; want idempotency_conflict", name, err)
			}
		}
		if b := e.Balance(t, ws); b.Balance != 25*money.Scale || b.Available != 25*money.Scale || b.Held != 0 {
			t.Errorf("balance = %+v; want one credit of 25", b)
		}
		entries, err := e.Ledger.Entries(ctx, ws, 0, 10)
		if err != nil || len(entries) != 1 || entries[0].TransferID != first.ID || entries[0].BalanceAfter != 25*money.Scale {
			t.Errorf("entries = %+v, %v; want one", entries, err)
		}
		// The same key for another workspace is another grant (keys are per workspace).
		other := e.Workspace(t, 0)
		if _, created, err := e.Ledger.Grant(ctx, other, 1, "req-1", ""); err != nil || !created {
			t.Errorf("the same key on another workspace: created=%v err=%v", created, err)
		}
		// A payment credit with the grant's key is a separate key space too.
		if _, created, err := e.Ledger.Credit(ctx, ws, 5*money.Scale, "req-1", "bank transfer"); err != nil || !created {
			t.Errorf("credit: created=%v err=%v", created, err)
		}
		if _, created, err := e.Ledger.Credit(ctx, ws, 5*money.Scale, "req-1", "bank transfer"); err != nil || created {
			t.Errorf("credit replay: created=%v err=%v", created, err)
		}
		if b := e.Balance(t, ws); b.Balance != 30*money.Scale {
			t.Errorf("balance after credit = %s", b.Balance)
		}
		e.Verify(t)
	})
}

func TestTransferRejections(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ws := e.Workspace(t, 0)
		_, _, err := e.Ledger.Grant(ctx, "ws_nope", money.Scale, "k", "")
		storetest.WantCode(t, err, "workspace_not_found")
		_, _, err = e.Ledger.Credit(ctx, "ws_nope", money.Scale, "k", "")
		storetest.WantCode(t, err, "workspace_not_found")
		_, err = e.Ledger.Balance(ctx, "ws_nope")
		storetest.WantCode(t, err, "workspace_not_found")
		_, err = e.Ledger.Entries(ctx, "ws_nope", 0, 10)
		storetest.WantCode(t, err, "workspace_not_found")
		_, _, err = e.DB.Transfer(ctx, ledger.TransferRequest{Key: "x", Kind: ledger.KindGrant, From: "system:nope", To: ledger.Wallet(ws), Amount: 1})
		storetest.WantCode(t, err, "account_not_found")
		_, _, err = e.Ledger.Grant(ctx, ws, 0, "k0", "")
		storetest.WantCode(t, err, "invalid_amount")
		_, _, err = e.Ledger.Grant(ctx, ws, -1, "k0", "")
		storetest.WantCode(t, err, "invalid_amount")
		_, _, err = e.DB.Transfer(ctx, ledger.TransferRequest{Key: "", Kind: ledger.KindGrant, From: ledger.Grants, To: ledger.Wallet(ws), Amount: 1})
		storetest.WantCode(t, err, "invalid_idempotency_key")
		_, _, err = e.DB.Transfer(ctx, ledger.TransferRequest{Key: "k", Kind: ledger.KindGrant, From: ledger.Wallet(ws), To: ledger.Wallet(ws), Amount: 1})
		storetest.WantCode(t, err, "invalid_transfer")
		// Nothing of the failures was written (a failed grant does not burn its key either).
		if entries, _ := e.Ledger.Entries(ctx, ws, 0, 10); len(entries) != 0 {
			t.Errorf("entries after rejections: %+v", entries)
		}
		if _, created, err := e.Ledger.Grant(ctx, ws, 1, "k0", ""); err != nil || !created {
			t.Errorf("grant after a rejected one with the same key: %v %v", created, err)
		}
		e.Verify(t)
	})
}

// TestGuardedTransfer: a guarded debit (a refund) may not take available balance below
// the overdraft limit, and is refused as a whole.
func TestGuardedTransfer(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ws := e.Workspace(t, 2*money.Scale)
		e.Grant(t, ws, 10*money.Scale)
		if _, err := e.Ledger.Reserve(ctx, ws, "h", 3*money.Scale, 60e9); err != nil {
			t.Fatal(err)
		}
		refund := func(key string, amount money.Amount) error {
			_, _, err := e.DB.Transfer(ctx, ledger.TransferRequest{Key: key, Kind: ledger.KindRefund, From: ledger.Wallet(ws), To: ledger.Refunds,
				Amount: amount, WorkspaceID: ws, Guarded: true})
			return err
		}
		// Available is 7; with a limit of 2 at most 9 may go.
		storetest.WantCode(t, refund("r1", 9*money.Scale+1), "insufficient_balance")
		if err := refund("r1", 9*money.Scale); err != nil {
			t.Fatal(err)
		}
		if b := e.Balance(t, ws); b.Balance != money.Scale || b.Available != -2*money.Scale {
			t.Errorf("balance = %+v", b)
		}
		storetest.WantCode(t, refund("r2", 1), "insufficient_balance")
		_, _, err := e.DB.Transfer(ctx, ledger.TransferRequest{Key: "r3", Kind: ledger.KindRefund, From: ledger.Wallet("ws_nope"), To: ledger.Refunds, Amount: 1, Guarded: true})
		storetest.WantCode(t, err, "workspace_not_found")
		e.Verify(t)
	})
}

func TestConcurrentIdenticalGrants(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ws := e.Workspace(t, 0)
		const n = 50
		var wg sync.WaitGroup
		start := make(chan struct{})
		got := make([]ledger.Transfer, n)
		made := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				<-start
				got[i], made[i], errs[i] = e.Ledger.Grant(ctx, ws, 7*money.Scale, "once", "n")
			})
		}
		close(start)
		wg.Wait()
		created := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("grant %d: %v", i, errs[i])
			}
			if made[i] {
				created++
			}
			if got[i].ID != got[0].ID || got[i].Amount != 7*money.Scale {
				t.Errorf("grant %d returned %+v; grant 0 returned %+v", i, got[i], got[0])
			}
		}
		if created != 1 {
			t.Errorf("%d grants report created; want 1", created)
		}
		if b := e.Balance(t, ws); b.Balance != 7*money.Scale {
			t.Errorf("balance = %s; want one credit of 7", b.Balance)
		}
		e.Verify(t)
	})
}

// TestEntriesPages walks a wallet's entries page by page: newest first, each exactly once,
// and each running balance is the one before it plus its amount.
func TestEntriesPages(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.price(t, "unit")
		ws := e.Workspace(t, 0)
		other := e.Workspace(t, 0)
		var want []money.Amount // amounts, oldest first
		for i := range 23 {
			switch i % 3 {
			case 0, 1:
				a := money.Amount(i+1) * money.Scale
				e.Grant(t, ws, a)
				want = append(want, a)
				e.Grant(t, other, a) // interleaved entries of another wallet never show
			case 2:
				cost := int64(i * 100_000)
				if res := e.charge(t, ws, "ev"+string(rune('a'+i)), cost); res.Accepted != 1 {
					t.Fatalf("charge: %+v", res)
				}
				want = append(want, -money.Amount(cost))
			}
			e.Clock.Advance(1e9)
		}
		var all []ledger.Entry
		var before int64
		for page := 0; ; page++ {
			got, err := e.Ledger.Entries(ctx, ws, before, 4)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) > 4 {
				t.Fatalf("page of %d entries; limit 4", len(got))
			}
			all = append(all, got...)
			if len(got) < 4 {
				break
			}
			before = got[len(got)-1].Cursor
		}
		if len(all) != len(want) {
			t.Fatalf("%d entries; want %d", len(all), len(want))
		}
		b := e.Balance(t, ws)
		if all[0].BalanceAfter != b.Balance {
			t.Errorf("newest running balance %s; balance %s", all[0].BalanceAfter, b.Balance)
		}
		for i, en := range all {
			if w := want[len(want)-1-i]; en.Amount != w {
				t.Errorf("entry %d amount %s; want %s", i, en.Amount, w)
			}
			prev := money.Amount(0)
			if i+1 < len(all) {
				prev = all[i+1].BalanceAfter
				if all[i+1].Cursor >= en.Cursor || all[i+1].CreatedAt.After(en.CreatedAt) {
					t.Errorf("entries %d and %d are not newest first", i, i+1)
				}
			}
			if en.BalanceAfter != prev+en.Amount {
				t.Errorf("entry %d: balance_after %s; previous %s + amount %s", i, en.BalanceAfter, prev, en.Amount)
			}
			wantKind := ledger.KindGrant
			if en.Amount < 0 {
				wantKind = ledger.KindUsage
			}
			if en.Kind != wantKind {
				t.Errorf("entry %d kind %s; want %s", i, en.Kind, wantKind)
			}
		}
		// The service bounds the page size.
		if got, _ := e.Ledger.Entries(ctx, ws, 0, 0); len(got) != len(want) {
			t.Errorf("limit 0 gave %d entries; want the default 50 (all %d)", len(got), len(want))
		}
		if got, _ := e.Ledger.Entries(ctx, ws, all[2].Cursor, 1); len(got) != 1 || got[0] != all[3] {
			t.Errorf("the page before the third entry: %+v", got)
		}
		e.Verify(t)
	})
}
