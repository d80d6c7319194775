package store

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"sync"
	"time"

	"spectra/internal/ids"
	"spectra/internal/metering"
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
	keys     []int64        // idKey of each event
	enc      []encodedEvent // each event as its block stores it, but for its cost
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
	keys, enc := make([]int64, len(events)), make([]encodedEvent, len(events))
	for i := range events {
		keys[i], enc[i] = keyOf(events[i].WorkspaceID, events[i].ID), encodeEventParts(&events[i])
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
			db.keys.keysCommitted(&db.keysMu)
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

// apply applies a group's live requests in tx, in steps: metering.Batch decides each
// event's outcome and what the stored events charge; the store reads the wallets, stores
// the candidates and writes the charges.
func (db *DB) apply(ctx context.Context, tx *sql.Tx, group []*applyReq) error {
	now := db.now()
	b, keys, enc := newBatch(group)
	wallets, err := db.existingWallets(ctx, tx, b.Workspaces())
	if err != nil {
		return err
	}
	b.Admit(wallets)
	usageKey := usageKeys(ids.Random(10))
	if err := db.storeCandidates(ctx, tx, b, keys, enc, usageKey, now); err != nil {
		return err
	}
	off := 0
	for _, r := range group {
		r.outcomes = b.Outcomes[off : off+len(r.events) : off+len(r.events)]
		off += len(r.events)
	}
	return db.writeCharges(ctx, tx, b.Charges(), usageKey, now)
}

// newBatch flattens a group's events into one metering.Batch, with each event's key and
// encoding in the same order.
func newBatch(group []*applyReq) (*metering.Batch, []int64, []encodedEvent) {
	var n int
	for _, r := range group {
		n += len(r.events)
	}
	events, keys, enc := make([]*metering.Event, 0, n), make([]int64, 0, n), make([]encodedEvent, 0, n)
	for _, r := range group {
		for i := range r.events {
			events = append(events, &r.events[i])
		}
		keys, enc = append(keys, r.keys...), append(enc, r.enc...)
	}
	return metering.NewBatch(events), keys, enc
}

// usageKeys returns the idempotency key of each wallet's usage transfer in group groupID.
func usageKeys(groupID string) func(ws string) string {
	return func(ws string) string { return "usage:" + groupID + ":" + ws }
}

// storeCandidates inserts the batch's candidates (event_ids, a key per workspace and id,
// is what makes each count once), each at the cost the batch charges it once it is known
// to be new, and resolves the batch's outcomes from what was stored.
func (db *DB) storeCandidates(ctx context.Context, tx *sql.Tx, b *metering.Batch, keys []int64, enc []encodedEvent,
	usageKey func(string) string, now time.Time) error {
	n := len(b.Candidates)
	events, candKeys, candEnc := make([]*metering.Event, 0, n), make([]int64, 0, n), make([]encodedEvent, 0, n)
	for _, i := range b.Candidates {
		events, candKeys, candEnc = append(events, b.Events[i]), append(candKeys, keys[i]), append(candEnc, enc[i])
	}
	inserted, hashes, err := db.insertEvents(ctx, tx, events, candKeys, candEnc, b.Charge, usageKey, now)
	if err != nil {
		return err
	}
	b.Resolve(inserted, func(e *metering.Event) string { return hashes[eventKey{e.WorkspaceID, e.ID}] })
	return nil
}

// writeCharges adds the rollups' deltas and posts one usage transfer per wallet, in a
// fixed order so concurrent groups never deadlock.
func (db *DB) writeCharges(ctx context.Context, tx *sql.Tx, c metering.Charges, usageKey func(string) string, now time.Time) error {
	rollups := make(map[rollupKey]*metering.Totals, len(c.Rollups))
	for k, t := range c.Rollups {
		rollups[rollupKey{k.WorkspaceID, micros(k.Hour), k.Project, k.KeyID, k.Member, k.Model}] = t
	}
	if err := db.upsertRollups(ctx, tx, rollups); err != nil {
		return err
	}
	if err := db.upsertDailyRollups(ctx, tx, rollups); err != nil {
		return err
	}
	for _, ws := range slices.Sorted(maps.Keys(c.Debits)) {
		if err := db.postUsage(ctx, tx, ws, c.Debits[ws], c.Carries[ws], c.CarryMoved[ws], usageKey(ws), now); err != nil {
			return err
		}
	}
	return nil
}
