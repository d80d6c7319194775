package metering

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"spectra/internal/money"
	"spectra/internal/pricing"
)

// This file holds ingestion's rules, without a database: which events of a batch a
// store keeps, what each event's outcome is, and what the kept events add to the rollups
// and take from the wallets. A Store's ApplyEvents reads and writes; a Batch decides.

// EventKey names an event: ids are unique within a workspace.
type EventKey struct{ WorkspaceID, ID string }

// Key returns e's key.
func (e *Event) Key() EventKey { return EventKey{e.WorkspaceID, e.ID} }

// Batch is the events one store transaction applies, with their outcomes. Its steps, in
// order: NewBatch; Admit, with the balances and carries of Workspaces' wallets; the
// store claims Candidates' ids; Charge, with which it claimed, sets what each new event
// is charged; the store writes the new events; Resolve, with what it stored; Charges,
// which the store writes.
type Batch struct {
	// Events are the batch's events, in the callers' order.
	Events []*Event
	// Outcomes are the events' outcomes, one per event (final after Resolve).
	Outcomes []Outcome
	// Candidates are the indexes of the events to store, in (workspace, id) order: the
	// first event of each key whose workspace exists and whose wallet can take its cost.
	Candidates []int

	first      map[EventKey]int // the first event with each key
	fresh      []int            // the first event of each key, in (workspace, id) order
	later      []int            // every other event: a repeat within the batch
	outOfRange map[EventKey]bool
	carries    map[string]int64 // each wallet's carry, as Charge leaves it
	before     map[string]int64 // each wallet's carry before the batch
}

// Carry is the unit of a wallet's sub-micro carry: 10^-6 micro-units (10^-12 of the
// currency), the resolution of pricing.Exact. A carry is in [0, Carry).
const Carry = 1_000_000

// Wallet is what a batch needs to know of a wallet: its balance, and its carry (the part
// of a micro-unit its events cost exactly but were not charged yet, in 1/Carry
// micro-units).
type Wallet struct {
	Balance money.Amount
	Carry   int64
}

// NewBatch starts a batch of events. An event whose key an earlier event of the batch
// has is a repeat: its outcome is the first one's stored copy's (Resolve). An event
// without an exact cost (a zero CostExact: not priced by Service.Ingest) costs Cost
// exactly.
func NewBatch(events []*Event) *Batch {
	b := &Batch{Events: events, Outcomes: make([]Outcome, len(events)), first: make(map[EventKey]int, len(events))}
	for i, e := range events {
		if e.CostExact == (pricing.Exact{}) {
			e.CostExact.Micro = e.Cost
		}
		k := e.Key()
		if _, seen := b.first[k]; seen {
			b.later = append(b.later, i)
			continue
		}
		b.first[k] = i
		b.fresh = append(b.fresh, i)
	}
	slices.SortFunc(b.fresh, func(x, y int) int {
		a, c := events[x], events[y]
		return cmp.Or(strings.Compare(a.WorkspaceID, c.WorkspaceID), strings.Compare(a.ID, c.ID))
	})
	return b
}

// Workspaces returns the workspaces the batch's events name, sorted: the wallets whose
// balances Admit needs.
func (b *Batch) Workspaces() []string {
	var list []string
	for _, i := range b.fresh { // fresh is in workspace order
		if ws := b.Events[i].WorkspaceID; len(list) == 0 || list[len(list)-1] != ws {
			list = append(list, ws)
		}
	}
	return list
}

// Admit decides, before anything is stored, which events are candidates, from the
// balance and carry of each existing wallet (a workspace absent from wallets does not
// exist: UnknownWorkspace). An event whose cost would take its wallet below MinBalance is
// refused (BalanceOutOfRange): every candidate's exact cost rounded up (at least what
// Charge can charge it), in (workspace, id) order, counts against its wallet's room, a
// candidate that turns out a duplicate too, which errs on the side of refusing. The
// debits Charges sums therefore stay within room, so neither they nor the balance
// overflow.
func (b *Batch) Admit(wallets map[string]Wallet) {
	room := make(map[string]money.Amount, len(wallets))
	b.carries, b.before = make(map[string]int64, len(wallets)), make(map[string]int64, len(wallets))
	for ws, w := range wallets {
		r, err := money.Add(w.Balance, -MinBalance)
		if err != nil {
			r = money.Max
		}
		room[ws] = r
		b.carries[ws] = w.Carry
		b.before[ws] = w.Carry
	}
	b.outOfRange = map[EventKey]bool{}
	b.Candidates = b.Candidates[:0]
	for _, i := range b.fresh {
		e := b.Events[i]
		if _, ok := wallets[e.WorkspaceID]; !ok {
			b.Outcomes[i] = UnknownWorkspace
			continue
		}
		most := e.CostExact.Ceil()
		if most > 0 && most > room[e.WorkspaceID] {
			b.Outcomes[i] = BalanceOutOfRange
			b.outOfRange[e.Key()] = true
			continue
		}
		room[e.WorkspaceID] -= most
		b.Candidates = append(b.Candidates, i)
	}
}

// Charge sets the cost of each candidate stored now (inserted, one per candidate): in
// the candidates' (workspace, id) order, each is charged floor(carry + CostExact) whole
// micro-units of its wallet, and the rest of a micro-unit is carried to the wallet's
// next event. So what a wallet is charged over any run of its events is their exact
// cost to within one micro-unit (its carry), and no event is charged more than its
// exact cost rounded up. Candidates not stored now (duplicates, conflicts) charge
// nothing and leave the carry as it is.
func (b *Batch) Charge(inserted []bool) {
	for j, i := range b.Candidates {
		e := b.Events[i]
		if !inserted[j] {
			e.Cost = e.CostExact.Round()
			continue
		}
		sum := b.carries[e.WorkspaceID] + e.CostExact.Frac // < 2·Carry
		e.Cost = e.CostExact.Micro + money.Amount(sum/Carry)
		b.carries[e.WorkspaceID] = sum % Carry
	}
}

// Resolve sets the outcomes of the candidates and of the repeats, from whether each
// candidate was stored now (inserted, one per candidate) and, for one that was not, the
// content hash of the copy stored before (storedHash): the same contents are a
// Duplicate, others a Conflict. A repeat within the batch has its first event's
// outcome, or, when the first was stored, the outcome of comparing with it.
func (b *Batch) Resolve(inserted []bool, storedHash func(*Event) string) {
	stored := make(map[EventKey]string, len(b.Candidates))
	for j, i := range b.Candidates {
		e := b.Events[i]
		if inserted[j] {
			stored[e.Key()] = e.Hash
			b.Outcomes[i] = Accepted
			continue
		}
		h := storedHash(e)
		stored[e.Key()] = h
		b.Outcomes[i] = sameContents(h, e.Hash)
	}
	for _, i := range b.later {
		e := b.Events[i]
		h, ok := stored[e.Key()]
		switch {
		case ok:
			b.Outcomes[i] = sameContents(h, e.Hash)
		case b.outOfRange[e.Key()]:
			b.Outcomes[i] = BalanceOutOfRange
		default:
			b.Outcomes[i] = UnknownWorkspace
		}
	}
}

func sameContents(storedHash, hash string) Outcome {
	if storedHash == hash {
		return Duplicate
	}
	return Conflict
}

// RollupKey is an hourly rollup row: one combination of the dimensions in one hour.
type RollupKey struct {
	WorkspaceID string
	Hour        time.Time // the start of the hour, UTC
	Project     string
	KeyID       string
	Member      string
	Model       string
}

// Charges are what a resolved batch changes: the rollups' deltas and each wallet's debit.
type Charges struct {
	// Rollups are the totals each hourly rollup row gains: the accepted events'.
	Rollups map[RollupKey]*Totals
	// Debits are the usage cost each wallet is charged: the sum of its accepted events'
	// costs. A workspace with accepted events is present even when they cost nothing.
	Debits map[string]money.Amount
	// Carries are the carries of the wallets in Debits after the batch (Charge), and
	// CarryMoved says which of them changed.
	Carries    map[string]int64
	CarryMoved map[string]bool
}

// Charges returns what the resolved batch changes. Each accepted event counts once.
func (b *Batch) Charges() Charges {
	c := Charges{Rollups: map[RollupKey]*Totals{}, Debits: map[string]money.Amount{}, Carries: map[string]int64{}, CarryMoved: map[string]bool{}}
	for i, e := range b.Events {
		if b.Outcomes[i] != Accepted || b.first[e.Key()] != i {
			continue
		}
		c.Debits[e.WorkspaceID] += e.Cost
		c.Carries[e.WorkspaceID] = b.carries[e.WorkspaceID]
		c.CarryMoved[e.WorkspaceID] = b.carries[e.WorkspaceID] != b.before[e.WorkspaceID]
		k := RollupKey{e.WorkspaceID, e.Timestamp.Truncate(time.Hour).UTC(), e.Project, e.KeyID, e.Member, e.Model}
		t := c.Rollups[k]
		if t == nil {
			t = &Totals{}
			c.Rollups[k] = t
		}
		t.Add(TotalsOf(*e))
	}
	return c
}
