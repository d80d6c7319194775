package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// grantLot grants amount of kind to ws, expiring at exp (zero: never).
func grantLot(t storetest.Fataler, e *coreEnv, ws string, amount money.Amount, kind ledger.CreditKind, exp time.Time) ledger.Transfer {
	t.Helper()
	tr, _, err := e.Ledger.GrantCredit(context.Background(), ws, amount, kind, exp, ids.New("g"), "")
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// debit posts a usage (or refund) transfer of amount from ws's wallet.
func debit(t storetest.Fataler, db *store.DB, ws string, kind ledger.Kind, amount money.Amount) ledger.Transfer {
	t.Helper()
	to := ledger.Usage
	if kind == ledger.KindRefund {
		to = ledger.Refunds
	}
	tr, _, err := db.Transfer(context.Background(), ledger.TransferRequest{Key: ids.New(string(kind)), Kind: kind,
		From: ledger.Wallet(ws), To: to, Amount: amount, WorkspaceID: ws})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func lotsOf(t storetest.Fataler, db *store.DB, ws string) []ledger.Lot {
	t.Helper()
	lots, err := db.Lots(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return lots
}

// mustVerify fails the test when verify finds a problem, except that usage transfers
// posted here directly (debit) have no events behind them.
func mustVerify(t storetest.Fataler, e *coreEnv) {
	t.Helper()
	rep, err := e.DB.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, c := range rep.Checks {
		if len(c.Problems) > 0 && c.Name != "usage charged to each wallet equals the cost of its events" {
			failed = append(failed, fmt.Sprintf("%s: %v", c.Name, c.Problems))
		}
	}
	if len(failed) > 0 {
		t.Fatal("verify: " + strings.Join(failed, "; "))
	}
}

// TestLotsSpendOrder: a debit draws promotional before paid, then the earliest expiry
// first (never-expiring last), then the oldest; the balance splits by kind.
func TestLotsSpendOrder(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		ws := e.Workspace(t, 0)
		now := e.Clock.Now()
		paidNever := grantLot(t, e, ws, 100, ledger.CreditPaid, time.Time{})
		promo10 := grantLot(t, e, ws, 30, ledger.CreditPromotional, now.Add(10*24*time.Hour))
		promo5 := grantLot(t, e, ws, 20, ledger.CreditPromotional, now.Add(5*24*time.Hour))
		paid20 := grantLot(t, e, ws, 50, "", now.Add(20*24*time.Hour))
		promoNever := grantLot(t, e, ws, 5, ledger.CreditPromotional, time.Time{})

		lots := lotsOf(t, e.DB, ws)
		var order []int64
		for _, l := range lots {
			order = append(order, l.TransferID)
		}
		want := []int64{promo5.ID, promo10.ID, promoNever.ID, paid20.ID, paidNever.ID}
		if !equalInts(order, want) {
			t.Fatalf("lots in order of transfers %v; want %v", order, want)
		}
		b, err := e.DB.Balance(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		if b.Balance != 205 || b.Paid != 150 || b.Promotional != 55 || b.ExpiringWithin30Days != 100 {
			t.Fatalf("balance %+v; want 205 = paid 150 + promotional 55, 100 expiring within 30 days", b)
		}

		u := debit(t, e.DB, ws, ledger.KindUsage, 70) // promo5 20, promo10 30, promoNever 5, paid20 15
		remaining := map[int64]money.Amount{}
		for _, l := range lotsOf(t, e.DB, ws) {
			remaining[l.TransferID] = l.Remaining
			if l.Used+l.Expired+l.Remaining != l.Amount {
				t.Fatalf("lot %+v does not add up", l)
			}
		}
		wantRem := map[int64]money.Amount{promo5.ID: 0, promo10.ID: 0, promoNever.ID: 0, paid20.ID: 35, paidNever.ID: 100}
		for id, w := range wantRem {
			if remaining[id] != w {
				t.Fatalf("after usage %d: lot of transfer %d has %d; want %d (all %v)", u.Amount, id, remaining[id], w, remaining)
			}
		}
		paid, promo, unc, err := e.DB.UsageByCredit(ctx, ws, now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if paid != 15 || promo != 55 || unc != 0 {
			t.Fatalf("usage by credit: paid %d, promotional %d, uncovered %d; want 15, 55, 0", paid, promo, unc)
		}
		// Spent lots come after the open ones, newest first.
		lots = lotsOf(t, e.DB, ws)
		if lots[0].TransferID != paid20.ID || lots[1].TransferID != paidNever.ID || lots[2].TransferID != promoNever.ID || lots[4].TransferID != promo10.ID {
			t.Fatalf("lots %+v: want open in spend order, then spent newest first", lots)
		}
		mustVerify(t, e)
	})
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLotsUncoveredDebt: usage beyond the lots is the wallet's uncovered debt; the next
// lot repays it first, and the usage then counts as drawn on that lot's kind.
func TestLotsUncoveredDebt(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		ws := e.Workspace(t, 1000)
		now := e.Clock.Now()
		grantLot(t, e, ws, 30, ledger.CreditPromotional, time.Time{})
		debit(t, e.DB, ws, ledger.KindUsage, 50) // 30 promotional, 20 uncovered
		debit(t, e.DB, ws, ledger.KindUsage, 15) // 15 uncovered
		mustVerify(t, e)
		paid, promo, unc, err := e.DB.UsageByCredit(ctx, ws, now, now.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if paid != 0 || promo != 30 || unc != 35 {
			t.Fatalf("usage by credit: %d paid, %d promotional, %d uncovered; want 0, 30, 35", paid, promo, unc)
		}
		b := e.Balance(t, ws)
		if b.Balance != -35 || b.Paid != 0 || b.Promotional != 0 {
			t.Fatalf("balance %+v; want -35, no credit", b)
		}
		p := grantLot(t, e, ws, 25, ledger.CreditPaid, time.Time{}) // repays 20, then 5 of the 15
		lots := lotsOf(t, e.DB, ws)
		for _, l := range lots {
			if l.TransferID == p.ID && (l.Remaining != 0 || l.Used != 25) {
				t.Fatalf("repaying lot %+v; want all used", l)
			}
		}
		mustVerify(t, e)
		paid, promo, unc, _ = e.DB.UsageByCredit(ctx, ws, now, now.Add(time.Second))
		if paid != 25 || promo != 30 || unc != 10 {
			t.Fatalf("after repayment: %d paid, %d promotional, %d uncovered; want 25, 30, 10", paid, promo, unc)
		}
		grantLot(t, e, ws, 100, ledger.CreditPaid, time.Time{})
		if b := e.Balance(t, ws); b.Balance != 90 || b.Paid != 90 {
			t.Fatalf("balance %+v; want 90 paid", b)
		}
		mustVerify(t, e)
	})
}

// TestExpireLots: a due lot's remaining leaves the wallet once, as an expiry transfer to
// system:expired shown in the wallet's entries.
func TestExpireLots(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		ws := e.Workspace(t, 0)
		t0 := e.Clock.Now()
		promo := grantLot(t, e, ws, 100, ledger.CreditPromotional, t0.Add(time.Hour))
		grantLot(t, e, ws, 40, ledger.CreditPaid, time.Time{})
		debit(t, e.DB, ws, ledger.KindUsage, 30)
		if out, err := e.DB.ExpireLots(ctx, t0.Add(time.Hour-time.Microsecond)); err != nil || len(out) != 0 {
			t.Fatalf("before the expiry: %v, %v; want nothing", out, err)
		}
		due, err := e.DB.LotsExpiringBetween(ctx, t0, t0.Add(2*time.Hour))
		if err != nil || len(due) != 1 || due[0].TransferID != promo.ID || due[0].Remaining != 70 {
			t.Fatalf("lots expiring: %+v, %v; want the promotional lot with 70 left", due, err)
		}
		e.Clock.Advance(time.Hour)
		out, err := e.DB.ExpireLots(ctx, e.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 1 || out[0].Kind != ledger.KindExpiry || out[0].Amount != 70 || out[0].To != ledger.Expired ||
			!strings.HasPrefix(out[0].IdempotencyKey, "expiry:lot:") {
			t.Fatalf("expired %+v; want one expiry transfer of 70", out)
		}
		if again, err := e.DB.ExpireLots(ctx, e.Clock.Now().Add(time.Hour)); err != nil || len(again) != 0 {
			t.Fatalf("a second run: %v, %v; want nothing", again, err)
		}
		b := e.Balance(t, ws)
		if b.Balance != 40 || b.Paid != 40 || b.Promotional != 0 {
			t.Fatalf("balance %+v; want 40 paid", b)
		}
		entries, err := e.DB.Entries(ctx, ws, 0, 1)
		if err != nil || len(entries) != 1 || entries[0].Kind != ledger.KindExpiry || entries[0].Amount != -70 || entries[0].BalanceAfter != 40 {
			t.Fatalf("latest entry %+v, %v; want the expiry of 70", entries, err)
		}
		for _, l := range lotsOf(t, e.DB, ws) {
			if l.TransferID == promo.ID && (l.Used != 30 || l.Expired != 70 || l.Remaining != 0) {
				t.Fatalf("expired lot %+v; want used 30, expired 70", l)
			}
		}
		if due, _ := e.DB.LotsExpiringBetween(ctx, t0, t0.Add(2*time.Hour)); len(due) != 0 {
			t.Fatalf("an expired lot is still expiring: %+v", due)
		}
		mustVerify(t, e)
	})
}

// TestExpireLotsTwoNodes: two stores on one PostgreSQL database expire the same lots at
// the same time; each lot expires exactly once.
func TestExpireLotsTwoNodes(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.PostgresDSN(t)
	clock := storetest.NewClock(coreT0)
	var nodes []*store.DB
	for range 2 {
		db, err := store.Open(ctx, dsn, store.Options{Now: clock.Now, MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, db)
	}
	e := &coreEnv{storetest.NewEnv(nodes[0], clock)}
	const wallets, perWallet = 4, 10
	var total money.Amount
	for range wallets {
		ws := e.Workspace(t, 0)
		for i := range perWallet {
			grantLot(t, e, ws, money.Amount(10+i), ledger.CreditPromotional, coreT0.Add(time.Duration(i+1)*time.Minute))
			total += money.Amount(10 + i)
		}
	}
	clock.Advance(time.Hour)
	var mu sync.Mutex
	var got []ledger.Transfer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := nodes[i%2].ExpireLots(ctx, clock.Now())
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			got = append(got, out...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	var sum money.Amount
	for _, tr := range got {
		if seen[tr.IdempotencyKey] {
			t.Fatalf("lot expired twice: %s", tr.IdempotencyKey)
		}
		seen[tr.IdempotencyKey] = true
		sum += tr.Amount
	}
	if len(got) != wallets*perWallet || sum != total {
		t.Fatalf("%d expiries of %d; want %d of %d", len(got), sum, wallets*perWallet, total)
	}
	mustVerify(t, e)
}

// TestGrantCreditReplay: a replay with the same kind and expiry returns the grant; another
// kind or expiry is idempotency_conflict. An unknown kind is invalid_credit_kind.
func TestGrantCreditReplay(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		ws := e.Workspace(t, 0)
		exp := e.Clock.Now().Add(48 * time.Hour)
		first, created, err := e.Ledger.GrantCredit(ctx, ws, 10, ledger.CreditPromotional, exp, "k1", "")
		if err != nil || !created {
			t.Fatal(err, created)
		}
		again, created, err := e.Ledger.GrantCredit(ctx, ws, 10, ledger.CreditPromotional, exp, "k1", "")
		if err != nil || created || again.ID != first.ID {
			t.Fatalf("replay: %+v %v %v", again, created, err)
		}
		_, _, err = e.Ledger.GrantCredit(ctx, ws, 10, ledger.CreditPaid, exp, "k1", "")
		storetest.WantCode(t, err, "idempotency_conflict")
		_, _, err = e.Ledger.GrantCredit(ctx, ws, 10, ledger.CreditPromotional, exp.Add(time.Second), "k1", "")
		storetest.WantCode(t, err, "idempotency_conflict")
		_, _, err = e.Ledger.GrantCredit(ctx, ws, 10, ledger.CreditPromotional, time.Time{}, "k1", "")
		storetest.WantCode(t, err, "idempotency_conflict")
		_, _, err = e.Ledger.GrantCredit(ctx, ws, 10, "gift", time.Time{}, "k2", "")
		storetest.WantCode(t, err, "invalid_credit_kind")
		_, _, err = e.DB.Transfer(ctx, ledger.TransferRequest{Key: "u", Kind: ledger.KindUsage, From: ledger.Wallet(ws), To: ledger.Usage,
			Amount: 1, WorkspaceID: ws, CreditKind: ledger.CreditPaid})
		storetest.WantCode(t, err, "invalid_transfer")
		mustVerify(t, e)
	})
}

// TestPaidCreditExpiry: with a paid-credit expiry set, a paid lot without an expiry of
// its own expires that long after it was added (and its replay still matches); a
// promotional one without an expiry never expires.
func TestPaidCreditExpiry(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		e.DB.SetPaidCreditExpiry(8760 * time.Hour)
		ws := e.Workspace(t, 0)
		now := e.Clock.Now()
		p, _, err := e.Ledger.GrantCredit(ctx, ws, 10, "", time.Time{}, "paid", "")
		if err != nil {
			t.Fatal(err)
		}
		own := now.Add(time.Hour)
		grantLot(t, e, ws, 5, ledger.CreditPaid, own)
		grantLot(t, e, ws, 7, ledger.CreditPromotional, time.Time{})
		e.Clock.Advance(time.Minute)
		if _, created, err := e.Ledger.GrantCredit(ctx, ws, 10, ledger.CreditPaid, time.Time{}, "paid", ""); err != nil || created {
			t.Fatalf("replay: %v %v", created, err)
		}
		for _, l := range lotsOf(t, e.DB, ws) {
			switch {
			case l.TransferID == p.ID:
				if l.ExpiresAt == nil || !l.ExpiresAt.Equal(now.Add(8760*time.Hour)) {
					t.Fatalf("paid lot expires %v; want a year after %v", l.ExpiresAt, now)
				}
			case l.Kind == ledger.CreditPaid:
				if l.ExpiresAt == nil || !l.ExpiresAt.Equal(own) {
					t.Fatalf("paid lot with its own expiry expires %v; want %v", l.ExpiresAt, own)
				}
			default:
				if l.ExpiresAt != nil {
					t.Fatalf("promotional lot expires %v; want never", l.ExpiresAt)
				}
			}
		}
	})
}

// TestLotsIngestion: usage posted by ingestion draws on lots like any debit.
func TestLotsIngestion(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		e.addPrice(t, "m", 1_000_000) // one micro-unit per output token
		ws := e.Workspace(t, 1_000_000)
		grantLot(t, e, ws, 3, ledger.CreditPromotional, time.Time{})
		grantLot(t, e, ws, 100, ledger.CreditPaid, time.Time{})
		var evs []metering.Event
		for i := range 5 {
			evs = append(evs, metering.Event{ID: ids.New("ev"), WorkspaceID: ws, Model: "m", Timestamp: e.Clock.Now().Add(-time.Duration(i) * time.Second),
				Usage: pricing.Usage{Output: 1}})
		}
		if _, err := e.Meter.Ingest(ctx, evs); err != nil {
			t.Fatal(err)
		}
		b := e.Balance(t, ws)
		var rem money.Amount
		for _, l := range lotsOf(t, e.DB, ws) {
			rem += l.Remaining
		}
		if rem != b.Balance || b.Balance >= 103 {
			t.Fatalf("lots hold %d, balance %+v; want equal and charged", rem, b)
		}
		e.Verify(t)
	})
}

// TestVerifyLotsTampered: verify reports a lot that no longer matches its wallet and a
// debit whose draw was lost.
func TestVerifyLotsTampered(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		ws := e.Workspace(t, 0)
		grantLot(t, e, ws, 100, ledger.CreditPaid, time.Time{})
		u := debit(t, e.DB, ws, ledger.KindUsage, 30)
		mustVerify(t, e)
		if _, err := e.DB.RawExec(ctx, `UPDATE credit_lots SET remaining = remaining + 1, amount = amount + 1 WHERE workspace_id = ?`, ws); err != nil {
			t.Fatal(err)
		}
		if _, err := e.DB.RawExec(ctx, `DELETE FROM lot_draws WHERE transfer_id = ?`, u.ID); err != nil {
			t.Fatal(err)
		}
		rep, err := e.DB.Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		failed := map[string]bool{}
		for _, c := range rep.Checks {
			if len(c.Problems) > 0 {
				failed[c.Name] = true
			}
		}
		for _, name := range []string{"each wallet's lots less its uncovered debt equal its balance",
			"each debit of a wallet is drawn on lots or uncovered for its amount", "each credit lot's use and expiry are its draws",
			"each credit of a wallet created one lot of its amount"} {
			if !failed[name] {
				t.Errorf("verify passed %q after tampering", name)
			}
		}
	})
}

// TestLotsMigration: migration 0027 gives a wallet with a positive balance one paid lot
// holding it, and a wallet in overdraft an uncovered debt; verify agrees, and new credit
// repays the debt first.
func TestLotsMigration(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			db := unmigrated(t, dialect)
			if err := db.MigrateBefore(ctx, 27); err != nil {
				t.Fatal(err)
			}
			e := &coreEnv{storetest.NewEnv(db, storetest.NewClock(coreT0))}
			for _, a := range []string{"system:grants", "system:usage"} {
				if _, err := db.RawExec(ctx, `INSERT INTO accounts (id, kind, created_at) VALUES (?, 'system', 0)`, a); err != nil {
					t.Fatal(err)
				}
			}
			rich, poor := e.Workspace(t, 0), e.Workspace(t, 100)
			post := func(key, kind, from, to string, amount int64) {
				var id int64
				if err := rawRow(ctx, db, `INSERT INTO transfers (idempotency_key, kind, from_account, to_account, amount, workspace_id, note, created_at)
					VALUES (?, ?, ?, ?, ?, '', '', 0) RETURNING id`, &id, key, kind, from, to, amount); err != nil {
					t.Fatal(err)
				}
				for _, side := range []struct {
					acc string
					amt int64
				}{{from, -amount}, {to, amount}} {
					var after any
					if strings.HasPrefix(side.acc, "wallet:") {
						if _, err := db.RawExec(ctx, `UPDATE accounts SET balance = balance + ? WHERE id = ?`, side.amt, side.acc); err != nil {
							t.Fatal(err)
						}
						b, _ := db.RawInt(ctx, `SELECT balance FROM accounts WHERE id = ?`, side.acc)
						after = b
					}
					if _, err := db.RawExec(ctx, `INSERT INTO entries (transfer_id, account_id, amount, balance_after, created_at) VALUES (?, ?, ?, ?, 0)`,
						id, side.acc, side.amt, after); err != nil {
						t.Fatal(err)
					}
				}
			}
			post("g1", "grant", "system:grants", "wallet:"+rich, 500)
			post("u1", "usage", "wallet:"+rich, "system:usage", 120)
			post("u2", "usage", "wallet:"+poor, "system:usage", 40)
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			lots := lotsOf(t, db, rich)
			if len(lots) != 1 || lots[0].Kind != ledger.CreditPaid || lots[0].Source != ledger.KindMigrated || lots[0].Amount != 380 || lots[0].Remaining != 380 {
				t.Fatalf("rich wallet's lots %+v; want one migrated paid lot of 380", lots)
			}
			if lots := lotsOf(t, db, poor); len(lots) != 0 {
				t.Fatalf("poor wallet's lots %+v; want none", lots)
			}
			mustVerify(t, e)
			grantLot(t, e, poor, 100, ledger.CreditPaid, time.Time{})
			if b := e.Balance(t, poor); b.Balance != 60 || b.Paid != 60 {
				t.Fatalf("poor wallet %+v; want 60 paid after repaying 40", b)
			}
			mustVerify(t, e)
		})
	}
}

func rawRow(ctx context.Context, db *store.DB, q string, dst *int64, args ...any) error {
	n, err := db.RawInt(ctx, q, args...)
	*dst = n
	return err
}

// BenchmarkIngestLots is BenchmarkIngest's batch=500/parallel into wallets whose usage
// draws on credit lots (a promotional lot expiring in a year, then a paid one), where
// BenchmarkIngest's wallets have none (each usage is then an uncovered draw).
func BenchmarkIngestLots(b *testing.B) {
	for _, s := range []struct {
		name string
		open func(testing.TB, storetest.Options) *store.DB
	}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}} {
		b.Run(s.name+"/batch=500/parallel", func(b *testing.B) {
			e, wss := benchEnv(b, s.open, 16)
			for _, ws := range wss {
				for i, kind := range []ledger.CreditKind{ledger.CreditPromotional, ledger.CreditPaid} {
					if _, _, err := e.DB.Transfer(context.Background(), ledger.TransferRequest{Key: fmt.Sprintf("g:%s:%d", ws, i), Kind: ledger.KindGrant,
						From: ledger.Grants, To: ledger.Wallet(ws), Amount: 1e12, WorkspaceID: ws, CreditKind: kind,
						ExpiresAt: coreT0.Add(8760 * time.Hour)}); err != nil {
						b.Fatal(err)
					}
				}
			}
			benchIngestInto(b, e, wss, 500, true, false)
		})
	}
}

// TestRefundDrawsOnItsPaymentFirst: a refund that names the payment it returns draws on
// that payment's lot first, then in the spend order; FirstFrom on a transfer that debits
// no wallet is invalid_transfer.
func TestRefundDrawsOnItsPaymentFirst(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		ws := e.Workspace(t, 0)
		promo := grantLot(t, e, ws, 50, ledger.CreditPromotional, time.Time{})
		pay, _, err := e.Ledger.Credit(ctx, ws, 100, "pi_1", "top-up")
		if err != nil {
			t.Fatal(err)
		}
		refund := func(amount money.Amount) {
			t.Helper()
			if _, _, err := e.DB.Transfer(ctx, ledger.TransferRequest{Key: ids.New("refund"), Kind: ledger.KindRefund, From: ledger.Wallet(ws),
				To: ledger.Refunds, Amount: amount, WorkspaceID: ws, FirstFrom: pay.ID}); err != nil {
				t.Fatal(err)
			}
		}
		refund(30)
		rem := map[int64]money.Amount{}
		for _, l := range lotsOf(t, e.DB, ws) {
			rem[l.TransferID] = l.Remaining
		}
		if rem[pay.ID] != 70 || rem[promo.ID] != 50 {
			t.Fatalf("after a refund of 30: payment lot %d, promotional %d; want 70, 50", rem[pay.ID], rem[promo.ID])
		}
		refund(90) // 70 from the payment, then 20 in the spend order
		for _, l := range lotsOf(t, e.DB, ws) {
			rem[l.TransferID] = l.Remaining
		}
		if rem[pay.ID] != 0 || rem[promo.ID] != 30 {
			t.Fatalf("after a refund of 90: payment lot %d, promotional %d; want 0, 30", rem[pay.ID], rem[promo.ID])
		}
		_, _, err = e.DB.Transfer(ctx, ledger.TransferRequest{Key: "g-first", Kind: ledger.KindGrant, From: ledger.Grants, To: ledger.Wallet(ws),
			Amount: 1, WorkspaceID: ws, FirstFrom: pay.ID})
		storetest.WantCode(t, err, "invalid_transfer")
		mustVerify(t, e)
	})
}
