package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
)

// Names of Verify's checks.
const (
	verifyZeroSum    = "all entries sum to zero"
	verifyTransfers  = "every transfer has two entries that move its amount"
	verifyBalances   = "wallet balances equal the sum of their entries"
	verifyRunning    = "each wallet's last running balance is its balance"
	verifyLotBalance = "each wallet's lots less its uncovered debt equal its balance" // verify_lots.go
	verifyLotDraws   = "each credit lot's use and expiry are its draws"
	verifyHeld       = "held amounts equal the sum of active holds"
	verifyUsage      = "usage charged to each wallet equals the cost of its events"
	verifyCarry      = "each wallet's usage carry is its events' exact costs less what they were charged, under one micro-unit"
	verifyRollups    = "rollups equal the sum of their events"
	verifyDimRollups = "rollups by dimension equal the sum of their events"
	verifyDaily      = "daily rollups equal the sum of their events"
	verifyDailyDim   = "daily rollups by dimension equal the sum of their events"
)

// failingChecks returns the names of the checks that found problems.
func failingChecks(rep store.VerifyReport) []string {
	var out []string
	for _, c := range rep.Checks {
		if len(c.Problems) > 0 {
			out = append(out, c.Name)
		}
	}
	slices.Sort(out)
	return out
}

// coreSeed gives the store some of everything: grants, holds (one released, one open)
// and usage.
func coreSeed(t *testing.T, e *coreEnv) (ws string) {
	t.Helper()
	ctx := context.Background()
	e.addPrice(t, "m", 1_000_000)
	ws = e.Workspace(t, 0)
	other := e.Workspace(t, money.Scale)
	for _, w := range []string{ws, other} {
		if _, _, err := e.Ledger.Grant(ctx, w, 10*money.Scale, "g1", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Ledger.Reserve(ctx, w, w+"-h1", money.Scale, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Ledger.Reserve(ctx, w, w+"-h2", money.Scale, time.Minute); err != nil {
			t.Fatal(err)
		}
		var events []metering.Event
		for i := range 20 {
			ev := metering.Event{ID: fmt.Sprint("e", i), WorkspaceID: w, Model: "m", Timestamp: e.Clock.Now().Add(-time.Duration(i) * 17 * time.Minute),
				Project: fmt.Sprint("p", i%2), Usage: pricing.Usage{Input: int64(i * 100), Output: int64(i * 1000)}}
			events = append(events, ev)
		}
		if res, err := e.Meter.Ingest(ctx, events); err != nil || res.Accepted != 20 {
			t.Fatalf("seed: %+v %v", res, err)
		}
		if err := e.Ledger.Release(ctx, w+"-h1"); err != nil {
			t.Fatal(err)
		}
	}
	if rep := e.report(t); !rep.OK() {
		t.Fatalf("seeded store does not verify: %+v", rep)
	}
	return ws
}

// TestVerifyFindsTampering changes a balance, a held amount, a rollup, an event and an
// entry behind the store's back, and checks that Verify names each difference; undone,
// the store verifies again.
func TestVerifyFindsTampering(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		ws := coreSeed(t, e)
		wallet := string(ledger.Wallet(ws))
		exec := func(q string, args ...any) {
			t.Helper()
			n, err := e.DB.RawExec(ctx, q, args...)
			if err != nil || n == 0 {
				t.Fatalf("%s: %d rows, %v", q, n, err)
			}
		}
		// The immutability triggers must go before entries can be tampered with.
		drop := `DROP TRIGGER entries_immutable ON entries`
		if e.DB.Dialect() == store.SQLite {
			drop = `DROP TRIGGER entries_immutable_u`
		}
		if _, err := e.DB.RawExec(ctx, drop); err != nil {
			t.Fatal(err)
		}
		for _, s := range []struct {
			name       string
			tamper     string
			undo       string
			args       []any
			wantFailed []string
		}{
			{"a wallet balance", `UPDATE accounts SET balance = balance + 1 WHERE id = ?`, `UPDATE accounts SET balance = balance - 1 WHERE id = ?`, []any{wallet},
				[]string{verifyBalances, verifyRunning, verifyLotBalance}},
			{"a credit lot's remaining and use", `UPDATE credit_lots SET remaining = remaining + 1, used = used - 1 WHERE workspace_id = ? AND used > 0`,
				`UPDATE credit_lots SET remaining = remaining - 1, used = used + 1 WHERE workspace_id = ? AND used > 0`, []any{ws},
				[]string{verifyLotBalance, verifyLotDraws}},
			{"a held amount", `UPDATE accounts SET held = held + 1 WHERE id = ?`, `UPDATE accounts SET held = held - 1 WHERE id = ?`, []any{wallet},
				[]string{verifyHeld}},
			{"a hold's status", `UPDATE holds SET status = 'released' WHERE id = ?`, `UPDATE holds SET status = 'held' WHERE id = ?`, []any{ws + "-h2"},
				[]string{verifyHeld}},
			{"a rollup's cost", `UPDATE rollups_hourly SET cost = cost + 1 WHERE workspace_id = ? AND project = 'p1'`, `UPDATE rollups_hourly SET cost = cost - 1 WHERE workspace_id = ? AND project = 'p1'`, []any{ws},
				[]string{verifyRollups}},
			{"a dimension rollup's cost", `UPDATE rollups_hourly_dim SET cost = cost + 1 WHERE workspace_id = ? AND dim = 'project' AND value = 'p1'`, `UPDATE rollups_hourly_dim SET cost = cost - 1 WHERE workspace_id = ? AND dim = 'project' AND value = 'p1'`, []any{ws},
				[]string{verifyDimRollups}},
			{"a dimension rollup's requests", `UPDATE rollups_hourly_dim SET requests = requests + 1 WHERE workspace_id = ? AND dim = 'model'`, `UPDATE rollups_hourly_dim SET requests = requests - 1 WHERE workspace_id = ? AND dim = 'model'`, []any{ws},
				[]string{verifyDimRollups}},
			{"a dimension rollup's value", `UPDATE rollups_hourly_dim SET value = 'p9' WHERE workspace_id = ? AND dim = 'project' AND value = 'p1'`, `UPDATE rollups_hourly_dim SET value = 'p1' WHERE workspace_id = ? AND dim = 'project' AND value = 'p9'`, []any{ws},
				[]string{verifyDimRollups}},
			{"a rollup's tokens", `UPDATE rollups_hourly SET reasoning_tokens = reasoning_tokens + 5 WHERE workspace_id = ? AND project = 'p0'`, `UPDATE rollups_hourly SET reasoning_tokens = reasoning_tokens - 5 WHERE workspace_id = ? AND project = 'p0'`, []any{ws},
				[]string{verifyRollups}},
			{"a rollup's requests", `UPDATE rollups_hourly SET requests = requests + 1 WHERE workspace_id = ?`, `UPDATE rollups_hourly SET requests = requests - 1 WHERE workspace_id = ?`, []any{ws},
				[]string{verifyRollups}},
			{"an event's cost", `UPDATE events SET cost = cost + 7 WHERE workspace_id = ? AND id = 'e5'`, `UPDATE events SET cost = cost - 7 WHERE workspace_id = ? AND id = 'e5'`, []any{ws},
				[]string{verifyDimRollups, verifyRollups, verifyUsage, verifyCarry, verifyDaily, verifyDailyDim}},
			{"a wallet's usage carry", `UPDATE accounts SET usage_carry = usage_carry + 1 WHERE id = ?`, `UPDATE accounts SET usage_carry = usage_carry - 1 WHERE id = ?`, []any{wallet},
				[]string{verifyCarry}},
			{"an event's exact cost", `UPDATE events SET cost_exact_frac = cost_exact_frac + 5 WHERE workspace_id = ? AND id = 'e5'`, `UPDATE events SET cost_exact_frac = cost_exact_frac - 5 WHERE workspace_id = ? AND id = 'e5'`, []any{ws},
				[]string{verifyCarry}},
			{"an event's hour", `UPDATE events SET ts = ts + 7200000000 WHERE workspace_id = ? AND id = 'e5'`, `UPDATE events SET ts = ts - 7200000000 WHERE workspace_id = ? AND id = 'e5'`, []any{ws},
				[]string{verifyDimRollups, verifyRollups}},
			{"an event's member", `UPDATE events SET member = 'mallory' WHERE workspace_id = ? AND id = 'e5'`, `UPDATE events SET member = '' WHERE workspace_id = ? AND id = 'e5'`, []any{ws},
				[]string{verifyDimRollups, verifyRollups, verifyDaily, verifyDailyDim}},
			// The seed's events all fall on one UTC day: two days later is another day's row.
			{"an event's day", `UPDATE events SET ts = ts + 172800000000 WHERE workspace_id = ? AND id = 'e5'`, `UPDATE events SET ts = ts - 172800000000 WHERE workspace_id = ? AND id = 'e5'`, []any{ws},
				[]string{verifyDimRollups, verifyRollups, verifyDaily, verifyDailyDim}},
			{"a daily rollup's cost", `UPDATE rollups_daily SET cost = cost + 1 WHERE workspace_id = ? AND project = 'p1'`, `UPDATE rollups_daily SET cost = cost - 1 WHERE workspace_id = ? AND project = 'p1'`, []any{ws},
				[]string{verifyDaily}},
			{"a daily rollup's day", `UPDATE rollups_daily SET day = day + 86400000000 WHERE workspace_id = ? AND project = 'p1'`, `UPDATE rollups_daily SET day = day - 86400000000 WHERE workspace_id = ? AND project = 'p1'`, []any{ws},
				[]string{verifyDaily}},
			{"a daily rollup's workspace", `UPDATE rollups_daily SET workspace_id = 'nobody' WHERE workspace_id = ? AND project = 'p1'`, `UPDATE rollups_daily SET workspace_id = ? WHERE workspace_id = 'nobody'`, []any{ws},
				[]string{verifyDaily}},
			{"a daily dimension rollup's value", `UPDATE rollups_daily_dim SET value = 'p9' WHERE workspace_id = ? AND dim = 'project' AND value = 'p1'`, `UPDATE rollups_daily_dim SET value = 'p1' WHERE workspace_id = ? AND dim = 'project' AND value = 'p9'`, []any{ws},
				[]string{verifyDailyDim}},
			{"a daily dimension rollup's tokens", `UPDATE rollups_daily_dim SET output_tokens = output_tokens + 1 WHERE workspace_id = ? AND dim = 'model'`, `UPDATE rollups_daily_dim SET output_tokens = output_tokens - 1 WHERE workspace_id = ? AND dim = 'model'`, []any{ws},
				[]string{verifyDailyDim}},
			{"an entry's amount", `UPDATE entries SET amount = amount + 1 WHERE account_id = ? AND amount > 0`, `UPDATE entries SET amount = amount - 1 WHERE account_id = ? AND amount > 0`, []any{wallet},
				[]string{verifyBalances, verifyTransfers, verifyZeroSum}},
			{"a running balance", `UPDATE entries SET balance_after = balance_after + 1 WHERE id = (SELECT MAX(id) FROM entries WHERE account_id = ?)`, `UPDATE entries SET balance_after = balance_after - 1 WHERE id = (SELECT MAX(id) FROM entries WHERE account_id = ?)`, []any{wallet},
				[]string{verifyRunning}},
		} {
			exec(s.tamper, s.args...)
			rep := e.report(t)
			want := slices.Sorted(slices.Values(s.wantFailed))
			if got := failingChecks(rep); !slices.Equal(got, want) || rep.OK() {
				t.Errorf("tampering with %s: failing checks %q; want %q", s.name, got, want)
			}
			for _, c := range rep.Checks {
				for _, p := range c.Problems {
					if p == "" {
						t.Errorf("%s: an empty problem in %q", s.name, c.Name)
					}
				}
			}
			exec(s.undo, s.args...)
			if rep := e.report(t); !rep.OK() {
				t.Fatalf("after undoing %s: %+v", s.name, rep)
			}
		}
		// Rows added or removed behind the store's back.
		exec(`DELETE FROM rollups_daily_dim WHERE workspace_id = ? AND dim = 'member'`, ws)
		if got := failingChecks(e.report(t)); !slices.Equal(got, []string{verifyDailyDim}) {
			t.Errorf("deleted daily dimension rollups: %q", got)
		}
		exec(`DELETE FROM rollups_daily WHERE workspace_id = ? AND project = 'p0'`, ws)
		if got := failingChecks(e.report(t)); !slices.Equal(got, []string{verifyDailyDim, verifyDaily}) {
			t.Errorf("a deleted daily rollup: %q", got)
		}
		exec(`DELETE FROM rollups_hourly_dim WHERE workspace_id = ? AND dim = 'key'`, ws)
		if got := failingChecks(e.report(t)); !slices.Equal(got, []string{verifyDailyDim, verifyDaily, verifyDimRollups}) {
			t.Errorf("deleted dimension rollups: %q", got)
		}
		exec(`DELETE FROM rollups_hourly WHERE workspace_id = ? AND project = 'p1'`, ws)
		if got := failingChecks(e.report(t)); !slices.Equal(got, []string{verifyDailyDim, verifyDaily, verifyDimRollups, verifyRollups}) {
			t.Errorf("a deleted rollup: %q", got)
		}
		exec(`INSERT INTO entries (transfer_id, account_id, amount, balance_after, created_at) VALUES ((SELECT MIN(id) FROM transfers), ?, 5, NULL, 0)`, wallet)
		got := failingChecks(e.report(t))
		for _, c := range []string{verifyZeroSum, verifyTransfers, verifyBalances} {
			if !slices.Contains(got, c) {
				t.Errorf("an extra entry: %q does not fail (failing: %q)", c, got)
			}
		}
	})
}

func TestVerifyCountsWhatItChecked(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		coreSeed(t, e)
		rep := e.report(t)
		counts := map[string]int64{}
		for _, c := range rep.Checks {
			counts[c.Name] = c.Checked
			if c.Problems == nil {
				t.Errorf("%q: problems is nil, not empty", c.Name)
			}
		}
		// 2 wallets × (1 grant + 1 usage transfer) = 4 transfers, 8 entries; 40 events; 4 holds.
		want := map[string]int64{verifyZeroSum: 8, verifyTransfers: 4, verifyBalances: 2, verifyRunning: 2, verifyHeld: 4, verifyUsage: 40}
		for name, n := range want {
			if counts[name] != n {
				t.Errorf("%q checked %d; want %d", name, counts[name], n)
			}
		}
		// One row per hour and value of each dimension: the seed's events span 6 hours.
		// The seed's events fall on one UTC day, in two projects, of one model and no key or member.
		if counts[verifyDaily] != 4 || counts[verifyDailyDim] != 2*(1+1+2+1) {
			t.Errorf("daily checks covered %d and %d rows; want 4 and 10", counts[verifyDaily], counts[verifyDailyDim])
		}
		if counts[verifyRollups] == 0 || counts[verifyDimRollups] < counts[verifyRollups] || len(rep.Checks) < 10 {
			t.Errorf("report %+v", rep)
		}
	})
}

// TestLedgerImmutable: entries and transfers cannot be changed or removed, even by hand.
func TestLedgerImmutable(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		coreSeed(t, e)
		for _, q := range []string{
			`UPDATE entries SET amount = amount + 1`,
			`UPDATE entries SET balance_after = 0`,
			`DELETE FROM entries`,
			`UPDATE transfers SET amount = amount + 1`,
			`UPDATE transfers SET note = 'changed'`,
			`DELETE FROM transfers`,
		} {
			if _, err := e.DB.RawExec(ctx, q); err == nil {
				t.Errorf("%s succeeded", q)
			}
		}
		if rep := e.report(t); !rep.OK() {
			t.Errorf("after the refused changes: %+v", rep)
		}
	})
}
