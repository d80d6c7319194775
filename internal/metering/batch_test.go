package metering_test

import (
	"slices"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
)

// ev returns an event of workspace ws with id, cost and content hash h, at 10:25 UTC.
func ev(ws, id string, cost money.Amount, h string) *metering.Event {
	return &metering.Event{ID: id, WorkspaceID: ws, Model: "m", Project: "p", Timestamp: time.Date(2026, 1, 2, 10, 25, 0, 0, time.UTC),
		Usage: pricing.Usage{Input: 3, Output: 2}, Cost: cost, Hash: h}
}

// TestBatchOrder: candidates are the first event of each key, in (workspace, id) order;
// the wallets to read are the workspaces, sorted, once each.
func TestBatchOrder(t *testing.T) {
	b := metering.NewBatch([]*metering.Event{ev("w2", "b", 1, "h"), ev("w1", "z", 1, "h"), ev("w2", "a", 1, "h"), ev("w2", "b", 1, "h")})
	if got := b.Workspaces(); !slices.Equal(got, []string{"w1", "w2"}) {
		t.Fatalf("Workspaces = %v", got)
	}
	b.Admit(wallets(map[string]money.Amount{"w1": 0, "w2": 0}))
	if !slices.Equal(b.Candidates, []int{1, 2, 0}) {
		t.Fatalf("Candidates = %v, want [1 2 0]", b.Candidates)
	}
}

// TestBatchOutcomes: every outcome, including those of repeats within the batch.
func TestBatchOutcomes(t *testing.T) {
	events := []*metering.Event{
		ev("w1", "new", 10, "h1"),      // 0: stored now
		ev("w1", "dup", 10, "h2"),      // 1: stored before, same contents
		ev("w1", "conflict", 10, "h3"), // 2: stored before, other contents
		ev("ghost", "x", 10, "h4"),     // 3: no such workspace
		ev("w1", "new", 10, "h1"),      // 4: repeat of 0, same contents
		ev("w1", "new", 10, "other"),   // 5: repeat of 0, other contents
		ev("ghost", "x", 10, "h4"),     // 6: repeat of 3
	}
	b := metering.NewBatch(events)
	b.Admit(wallets(map[string]money.Amount{"w1": 1000}))
	// Candidates in id order: conflict (2), dup (1), new (0).
	if !slices.Equal(b.Candidates, []int{2, 1, 0}) {
		t.Fatalf("Candidates = %v", b.Candidates)
	}
	stored := map[string]string{"dup": "h2", "conflict": "other"}
	b.Resolve([]bool{false, false, true}, func(e *metering.Event) string { return stored[e.ID] })
	want := []metering.Outcome{metering.Accepted, metering.Duplicate, metering.Conflict, metering.UnknownWorkspace,
		metering.Duplicate, metering.Conflict, metering.UnknownWorkspace}
	if !slices.Equal(b.Outcomes, want) {
		t.Fatalf("Outcomes = %v, want %v", b.Outcomes, want)
	}
	c := b.Charges()
	if len(c.Debits) != 1 || c.Debits["w1"] != 10 {
		t.Fatalf("Debits = %v, want w1: 10 (only the event stored now)", c.Debits)
	}
	k := metering.RollupKey{WorkspaceID: "w1", Hour: time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC), Project: "p", Model: "m"}
	if len(c.Rollups) != 1 || c.Rollups[k] == nil || *c.Rollups[k] != (metering.Totals{Requests: 1, InputTokens: 3, OutputTokens: 2, Cost: 10}) {
		t.Fatalf("Rollups = %v", c.Rollups)
	}
}

// TestBatchBalanceFloor: candidates' costs count against their wallet's room down to
// MinBalance, in (workspace, id) order; the refused and their repeats are
// BalanceOutOfRange, other wallets are unaffected, and a free event always fits.
func TestBatchBalanceFloor(t *testing.T) {
	floor := metering.MinBalance + 100 // room: 100
	events := []*metering.Event{ev("w1", "b", 60, "h"), ev("w1", "a", 60, "h"), ev("w1", "c", 0, "h"), ev("w1", "b", 60, "h"),
		ev("w2", "a", 60, "h")}
	b := metering.NewBatch(events)
	b.Admit(wallets(map[string]money.Amount{"w1": floor, "w2": floor}))
	if !slices.Equal(b.Candidates, []int{1, 2, 4}) {
		t.Fatalf("Candidates = %v, want [1 2 4] (a fits, b does not, c is free, w2 has its own room)", b.Candidates)
	}
	b.Resolve([]bool{true, true, true}, func(*metering.Event) string { return "" })
	want := []metering.Outcome{metering.BalanceOutOfRange, metering.Accepted, metering.Accepted, metering.BalanceOutOfRange, metering.Accepted}
	if !slices.Equal(b.Outcomes, want) {
		t.Fatalf("Outcomes = %v, want %v", b.Outcomes, want)
	}
	if c := b.Charges(); c.Debits["w1"] != 60 || c.Debits["w2"] != 60 {
		t.Fatalf("Debits = %v", c.Debits)
	}
	// A balance so high that its room overflows is capped, not wrapped.
	b = metering.NewBatch([]*metering.Event{ev("w1", "a", money.Max, "h")})
	b.Admit(wallets(map[string]money.Amount{"w1": money.Max}))
	if len(b.Candidates) != 1 {
		t.Fatalf("an event within a capped room was refused: %v", b.Outcomes)
	}
}

// TestBatchCharges: rollups group by hour and dimensions; a free accepted event still
// names its wallet (with a zero debit); a repeat within the batch counts once, and an
// event of an unknown workspace not at all.
func TestBatchCharges(t *testing.T) {
	a, b2, free, ghost := ev("w1", "a", 5, "h"), ev("w1", "b", 7, "h"), ev("w2", "c", 0, "h"), ev("nope", "d", 1, "h")
	b2.Timestamp = b2.Timestamp.Add(time.Hour)
	dup := ev("w1", "a", 5, "h")
	b := metering.NewBatch([]*metering.Event{a, b2, free, ghost, dup})
	b.Admit(wallets(map[string]money.Amount{"w1": 0, "w2": 0}))
	b.Resolve([]bool{true, true, true}, func(*metering.Event) string { return "" })
	c := b.Charges()
	if len(c.Debits) != 2 || c.Debits["w1"] != 12 || c.Debits["w2"] != 0 {
		t.Fatalf("Debits = %v, want w1: 12, w2: 0", c.Debits)
	}
	if len(c.Rollups) != 3 {
		t.Fatalf("Rollups = %v, want 3 rows (two hours of w1, one of w2)", c.Rollups)
	}
	k := metering.RollupKey{WorkspaceID: "w1", Hour: a.Timestamp.Truncate(time.Hour), Project: "p", Model: "m"}
	if r := c.Rollups[k]; r == nil || r.Requests != 1 || r.Cost != 5 {
		t.Fatalf("Rollups[%v] = %+v, want a's request once", k, r)
	}
}

// wallets returns wallets with these balances and no carry.
func wallets(balances map[string]money.Amount) map[string]metering.Wallet {
	out := make(map[string]metering.Wallet, len(balances))
	for ws, b := range balances {
		out[ws] = metering.Wallet{Balance: b}
	}
	return out
}

// TestBatchCharge: new events are charged floor(carry + exact) in (workspace, id) order,
// the rest carried per wallet; a candidate not stored now (a duplicate or a conflict)
// charges nothing and leaves the carry; a repeat within the batch counts once; Admit
// counts each candidate's exact cost rounded up against the wallet's room.
func TestBatchCharge(t *testing.T) {
	x := func(ws, id string, micro money.Amount, frac int64) *metering.Event {
		e := ev(ws, id, 0, "h-"+id)
		e.CostExact = pricing.Exact{Micro: micro, Frac: frac}
		return e
	}
	events := []*metering.Event{
		x("w1", "c", 0, 400_000), // 0: third of w1
		x("w1", "a", 1, 700_000), // 1: first of w1
		x("w2", "a", 0, 200_000), // 2: w2, from its carry of 0.9
		x("w1", "b", 0, 600_000), // 3: second of w1, a duplicate
		x("w1", "a", 1, 700_000), // 4: repeat of 1
		x("w1", "d", 2, 0),       // 5: a whole exact cost
	}
	b := metering.NewBatch(events)
	b.Admit(map[string]metering.Wallet{"w1": {Carry: 500_000}, "w2": {Carry: 900_000}})
	b.Charge([]bool{true, false, true, true, true}) // candidates: w1/a, w1/b, w1/c, w1/d, w2/a
	b.Resolve([]bool{true, false, true, true, true}, func(*metering.Event) string { return "h-b" })
	// w1: 0.5 + 1.7 = 2.2 → 2, carry 0.2; b charges nothing; 0.2 + 0.4 = 0.6 → 0, carry 0.6;
	// 0.6 + 2 → 2, carry 0.6. w2: 0.9 + 0.2 = 1.1 → 1, carry 0.1.
	for i, want := range []money.Amount{0, 2, 1, 0, 2, 2} {
		if i != 3 && i != 4 && events[i].Cost != want {
			t.Errorf("event %d (%s/%s) charged %s; want %s", i, events[i].WorkspaceID, events[i].ID, events[i].Cost, want)
		}
	}
	if events[3].Cost != 1 { // the duplicate: its exact cost rounded half-up, not charged
		t.Errorf("duplicate cost %s; want 0.6 rounded half-up, 1", events[3].Cost)
	}
	c := b.Charges()
	if c.Debits["w1"] != 4 || c.Debits["w2"] != 1 || c.Carries["w1"] != 600_000 || c.Carries["w2"] != 100_000 ||
		!c.CarryMoved["w1"] || !c.CarryMoved["w2"] {
		t.Fatalf("charges: debits %v carries %v moved %v", c.Debits, c.Carries, c.CarryMoved)
	}
	// A carry that ends where it began (a batch of whole exact costs) has not moved.
	b = metering.NewBatch([]*metering.Event{x("w1", "e", 3, 0)})
	b.Admit(map[string]metering.Wallet{"w1": {Carry: 250_000}})
	b.Charge([]bool{true})
	b.Resolve([]bool{true}, nil)
	if c := b.Charges(); c.Debits["w1"] != 3 || c.Carries["w1"] != 250_000 || c.CarryMoved["w1"] {
		t.Fatalf("whole costs: %+v", c)
	}
	// Room: 0.1 µ counts as 1 against the floor.
	floor := metering.MinBalance + 1
	b = metering.NewBatch([]*metering.Event{x("w1", "f", 0, 100_000), x("w1", "g", 0, 100_000)})
	b.Admit(map[string]metering.Wallet{"w1": {Balance: floor}})
	if !slices.Equal(b.Candidates, []int{0}) || b.Outcomes[1] != metering.BalanceOutOfRange {
		t.Fatalf("room: candidates %v outcomes %v", b.Candidates, b.Outcomes)
	}
}
