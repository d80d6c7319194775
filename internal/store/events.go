package store

import (
	"cmp"
	"context"
	"database/sql"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"spectra/internal/ids"
	"spectra/internal/metering"
	"spectra/internal/money"
)

// maxGroupEvents bounds how many events concurrent ApplyEvents calls merge into one transaction.
const maxGroupEvents = 4000

// committer groups concurrent ApplyEvents calls into shared transactions: on SQLite one
// writer commits many batches at once instead of queueing them one by one; on PostgreSQL
// a few workers each commit what has gathered since their last commit.
type committer struct {
	db      *DB
	reqs    chan *applyReq
	flushes chan sweepReq
	quit    chan struct{}
	wg      sync.WaitGroup
	stmts   stmtCache
}

// sweepReq asks the committer for a sweep of recent event keys: all of them, or one slice.
type sweepReq struct {
	all  bool
	done chan error
}

type applyReq struct {
	ctx      context.Context
	version  int64
	events   []metering.Event
	keys     []int64  // idKey of each event
	enc      [][]byte // each event as its block stores it
	outcomes []metering.Outcome
	err      error
	done     chan struct{}
}

func newCommitter(db *DB, workers int) *committer {
	c := &committer{db: db, reqs: make(chan *applyReq), flushes: make(chan sweepReq), quit: make(chan struct{})}
	for range workers {
		c.wg.Add(1)
		go c.run()
	}
	return c
}

func (c *committer) stop() {
	close(c.quit)
	c.wg.Wait()
}

// run commits groups as they come. On SQLite, between groups, it sweeps recent event
// keys into event_ids (event_keys.go) when there are enough, and before stopping it
// sweeps them all, so that the next start has no tail to read.
func (c *committer) run() {
	defer c.wg.Done()
	ctx := context.Background()
	var sweepAfter time.Time // after a failed sweep, the next waits a while
	now := make(chan time.Time)
	close(now) // always ready: a sweep slice competes with the waiting groups
	for {
		var first *applyReq
		var idle <-chan time.Time
		if c.db.keys.needsSweep() {
			if wait := time.Until(sweepAfter); wait > 0 {
				idle = time.After(wait)
			} else {
				idle = now
			}
		}
		select {
		case first = <-c.reqs:
		case r := <-c.flushes:
			r.done <- c.db.sweepKeys(ctx, r.all)
			continue
		case <-idle:
			if err := c.db.sweepKeys(ctx, false); err != nil {
				sweepAfter = time.Now().Add(time.Second)
			}
			continue
		case <-c.quit:
			// Best effort: a tail left is read again at the next start. Only a store that
			// ingested sweeps (verify, say, leaves another process's tail alone).
			if c.db.keys.loaded {
				c.db.sweepKeys(ctx, true)
			}
			return
		}
		group, n := []*applyReq{first}, len(first.events)
	gather:
		for n < maxGroupEvents {
			select {
			case r := <-c.reqs:
				group = append(group, r)
				n += len(r.events)
			default:
				break gather
			}
		}
		c.commit(group)
	}
}

// commit applies a group in one transaction. When that fails, each request is applied on
// its own, so one request's failure never fails another's.
func (c *committer) commit(group []*applyReq) {
	err := c.db.applyGroup(context.WithoutCancel(group[0].ctx), group)
	if err != nil && len(group) > 1 {
		for _, r := range group {
			r.err = c.db.applyGroup(context.WithoutCancel(r.ctx), []*applyReq{r})
			close(r.done)
		}
		return
	}
	for _, r := range group {
		if r.err == nil {
			r.err = err
		}
		close(r.done)
	}
}

// ApplyEvents applies prepared, priced events exactly once each. See metering.Store.
func (db *DB) ApplyEvents(ctx context.Context, catalogVersion int64, events []metering.Event) (_ []metering.Outcome, err error) {
	defer wrapErr(&err, "apply events")
	if len(events) == 0 {
		return nil, nil
	}
	// Keys and encodings are computed here, on the caller's goroutine, so that the one
	// SQLite writer does only SQL.
	keys, enc := make([]int64, len(events)), make([][]byte, len(events))
	for i := range events {
		keys[i], enc[i] = keyOf(events[i].WorkspaceID, events[i].ID), encodeEvent(&events[i])
	}
	r := &applyReq{ctx: ctx, version: catalogVersion, events: events, keys: keys, enc: enc, done: make(chan struct{})}
	select {
	case db.ingest.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	<-r.done // once handed over, wait: the outcome is decided by the commit, not by the caller's patience
	return r.outcomes, r.err
}

type eventKey struct{ ws, id string }

type rollupKey struct {
	ws                            string
	hour                          int64
	project, keyID, member, model string
}

type walletChange struct {
	debit    money.Amount // usage cost posted now
	released money.Amount // holds settled now
}

// applyGroup is one transaction over every request of a group (retried as a whole on
// PostgreSQL serialization failures and lost insert races).
func (db *DB) applyGroup(ctx context.Context, group []*applyReq) error {
	if err := db.prepareIngest(ctx); err != nil {
		return err
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var version int64
		err := db.ingestQueryRow(ctx, tx, qCatalogVersion).Scan(&version)
		if err != nil {
			return err
		}
		var live []*applyReq
		for _, r := range group {
			r.outcomes, r.err = make([]metering.Outcome, len(r.events)), nil
			if r.version != version {
				r.err = metering.ErrCatalogChanged
				continue
			}
			live = append(live, r)
		}
		return db.apply(ctx, tx, live)
	})
	if db.dialect == SQLite {
		if err == nil {
			db.keys.keysCommitted()
		} else {
			db.keys.keysAbandoned()
		}
	}
	return err
}

// IndexEventKeys writes every recent event key to event_ids now instead of in the
// background (SQLite; a no-op on PostgreSQL, which writes them as it stores events).
func (db *DB) IndexEventKeys(ctx context.Context) (err error) {
	defer wrapErr(&err, "index event keys")
	return db.requestSweep(ctx, true)
}

func (db *DB) requestSweep(ctx context.Context, all bool) error {
	if db.dialect != SQLite {
		return nil
	}
	r := sweepReq{all: all, done: make(chan error, 1)}
	select {
	case db.ingest.flushes <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.done
}

func (db *DB) apply(ctx context.Context, tx *sql.Tx, group []*applyReq) error {
	now := db.now()
	type ref struct{ r, i int }
	first := map[eventKey]ref{}
	var fresh []ref
	var later []ref
	wallets := map[string]bool{}
	for ri, r := range group {
		for i, e := range r.events {
			k := eventKey{e.WorkspaceID, e.ID}
			if _, seen := first[k]; seen {
				later = append(later, ref{ri, i})
				continue
			}
			first[k] = ref{ri, i}
			fresh = append(fresh, ref{ri, i})
			wallets[e.WorkspaceID] = true
		}
	}
	ev := func(x ref) *metering.Event { return &group[x.r].events[x.i] }
	known, err := db.existingWallets(ctx, tx, wallets)
	if err != nil {
		return err
	}
	slices.SortFunc(fresh, func(a, b ref) int {
		return cmp.Or(strings.Compare(ev(a).WorkspaceID, ev(b).WorkspaceID), strings.Compare(ev(a).ID, ev(b).ID))
	})
	groupID := ids.Random(10)
	usageKey := func(ws string) string { return "usage:" + groupID + ":" + ws }

	// 1. Insert events; event_ids (a key per workspace and id) is what makes each count once.
	// An event whose cost would take its wallet below metering.MinBalance is refused
	// before it is stored: room is what each wallet can still take, from the balance read
	// (and, on PostgreSQL, locked) above, and every candidate's cost is counted against it
	// (a candidate that turns out a duplicate too, which errs on the side of refusing).
	// The debits summed below stay within room, so neither they nor the balance overflow.
	room := make(map[string]money.Amount, len(known))
	for ws, balance := range known {
		r, err := money.Add(balance, -metering.MinBalance)
		if err != nil {
			r = money.Max
		}
		room[ws] = r
	}
	outOfRange := map[eventKey]bool{}
	var candidates []*metering.Event
	var candRefs []ref
	var candKeys []int64
	var candEnc [][]byte
	for _, x := range fresh {
		e := ev(x)
		if _, ok := known[e.WorkspaceID]; !ok {
			group[x.r].outcomes[x.i] = metering.UnknownWorkspace
			continue
		}
		if e.Cost > 0 && e.Cost > room[e.WorkspaceID] {
			group[x.r].outcomes[x.i] = metering.BalanceOutOfRange
			outOfRange[eventKey{e.WorkspaceID, e.ID}] = true
			continue
		}
		room[e.WorkspaceID] -= e.Cost
		candidates = append(candidates, ev(x))
		candRefs = append(candRefs, x)
		candKeys = append(candKeys, group[x.r].keys[x.i])
		candEnc = append(candEnc, group[x.r].enc[x.i])
	}
	inserted, hashes, err := db.insertEvents(ctx, tx, candidates, candKeys, candEnc, usageKey, now)
	if err != nil {
		return err
	}

	// 2. Events not inserted were there before: a duplicate when the contents match.
	stored := make(map[eventKey]string, len(candidates))
	for i, e := range candidates {
		k := eventKey{e.WorkspaceID, e.ID}
		if inserted[i] {
			stored[k] = e.Hash
			group[candRefs[i].r].outcomes[candRefs[i].i] = metering.Accepted
			continue
		}
		stored[k] = hashes[k]
		group[candRefs[i].r].outcomes[candRefs[i].i] = outcomeFor(hashes[k], e.Hash)
	}
	for _, x := range later {
		e := ev(x)
		h, ok := stored[eventKey{e.WorkspaceID, e.ID}]
		if !ok {
			group[x.r].outcomes[x.i] = metering.UnknownWorkspace
			if outOfRange[eventKey{e.WorkspaceID, e.ID}] {
				group[x.r].outcomes[x.i] = metering.BalanceOutOfRange
			}
			continue
		}
		group[x.r].outcomes[x.i] = outcomeFor(h, e.Hash)
	}

	// 3. Settle holds (whatever the outcome: a duplicate was charged before, so its hold
	// must not linger), sum the rollups and the wallet debits.
	changes := map[string]*walletChange{}
	change := func(ws string) *walletChange {
		c := changes[ws]
		if c == nil {
			c = &walletChange{}
			changes[ws] = c
		}
		return c
	}
	var holds []holdRef
	rollups := map[rollupKey]*metering.Totals{}
	for ri, r := range group {
		for i := range r.events {
			e := &r.events[i]
			o := r.outcomes[i]
			if e.HoldID != "" && o != metering.UnknownWorkspace {
				holds = append(holds, holdRef{e.HoldID, e.WorkspaceID})
			}
			if o != metering.Accepted || first[eventKey{e.WorkspaceID, e.ID}] != (ref{ri, i}) {
				continue
			}
			change(e.WorkspaceID).debit += e.Cost
			k := rollupKey{e.WorkspaceID, micros(e.Timestamp.Truncate(time.Hour)), e.Project, e.KeyID, e.Member, e.Model}
			t := rollups[k]
			if t == nil {
				t = &metering.Totals{}
				rollups[k] = t
			}
			t.Add(metering.TotalsOf(*e))
		}
	}
	released, err := db.settleHolds(ctx, tx, holds, now)
	if err != nil {
		return err
	}
	for ws, amount := range released {
		change(ws).released += amount
	}
	if err := db.upsertRollups(ctx, tx, rollups); err != nil {
		return err
	}
	if err := db.upsertDailyRollups(ctx, tx, rollups); err != nil {
		return err
	}

	// 4. One usage transfer per wallet, in a fixed order so concurrent groups never deadlock.
	for _, ws := range slices.Sorted(maps.Keys(changes)) {
		if err := db.postUsage(ctx, tx, ws, changes[ws], usageKey(ws), now); err != nil {
			return err
		}
	}
	return nil
}

func outcomeFor(storedHash, hash string) metering.Outcome {
	if storedHash == hash {
		return metering.Duplicate
	}
	return metering.Conflict
}
