package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// pageThrough pages through f with cursors (through their text form) and compares
// every page and the whole with naiveLog over all.
func pageThrough(t *testing.T, e *coreEnv, what string, all []metering.Event, f metering.EventFilter) {
	t.Helper()
	ctx := context.Background()
	want := naiveLog(all, f)
	var paged []metering.Event
	for page := 0; ; page++ {
		evs, err := e.Meter.Events(ctx, f)
		if err != nil {
			t.Fatalf("%s page %d: %v", what, page, err)
		}
		sameEvents(t, fmt.Sprintf("%s page %d", what, page), evs, want[len(paged):min(len(want), len(paged)+f.Limit)])
		paged = append(paged, evs...)
		if len(evs) < f.Limit {
			break
		}
		if page > len(all) {
			t.Fatalf("%s: paging does not end", what)
		}
		c, err := metering.ParseCursor(metering.CursorOf(f.Sort, evs[len(evs)-1]).String())
		if err != nil {
			t.Fatal(err)
		}
		f.Cursor = &c
	}
	sameEvents(t, what+" paged", paged, want)
}

// indexLogCases pages through random filters of the value orders, every page past the
// first from the value index (forced), and checks the index answered.
func indexLogCases(t *testing.T, e *coreEnv, rng *rand.Rand, ws, stage string, all []metering.Event, n int) {
	t.Helper()
	before := store.IndexPages()
	for range n {
		f := randomLogFilter(rng, ws, all)
		f.ID = ""
		f.Sort = metering.Sorts[1+rng.IntN(3)]
		f.Limit = 1 + rng.IntN(40)
		pageThrough(t, e, fmt.Sprintf("%s %+v", stage, f), all, f)
	}
	if store.IndexPages() == before {
		t.Fatalf("%s: the index answered no page", stage)
	}
}

// TestRequestLogIndexProperty: pages of the cost, tokens and latency orders answered by
// the value index equal the request log by definition, for random filters and periods,
// with many ties — while the indexer has done part of its work (stopped after a few
// blocks, then resumed), once it is done and more events came (the tail, merged), and
// after it indexed everything again from the start (every row a duplicate).
func TestRequestLogIndexProperty(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		for i, m := range []string{"m1", "m2", "m3"} {
			e.addPrice(t, m, money.Amount(1_000_000*(i+1)))
		}
		defer store.SetForceIndex(true)()
		defer store.SetReadAllBlocks(0)()
		defer store.SetMaxTail(1<<20, 1<<20)()
		restoreTags := store.SetMaxBlockTags(8)
		ws, other := e.Workspace(t, 0), e.Workspace(t, 0)
		rng := rand.New(rand.NewPCG(21, 8))
		all := logEvents(t, e, rng, ws, 500)
		logEvents(t, e, rng, other, 100) // another workspace's events are never shown
		restoreTags()

		// Part of the way: a few steps of a few blocks, then a restart, a few more.
		if n, err := e.DB.IndexRequestLogSteps(ctx, 3, 5); err != nil || n != 15 {
			t.Fatalf("indexed %d blocks: %v", n, err)
		}
		indexLogCases(t, e, rng, ws, "part indexed", all, 10)
		if _, err := e.DB.IndexRequestLogSteps(ctx, 20, 7); err != nil {
			t.Fatal(err)
		}
		indexLogCases(t, e, rng, ws, "more indexed", all, 10)

		// All indexed, then more events: the tail.
		if err := e.DB.IndexRequestLog(ctx); err != nil {
			t.Fatal(err)
		}
		all = append(all, logEvents(t, e, rng, ws, 150)...)
		indexLogCases(t, e, rng, ws, "indexed with a tail", all, 15)

		// Everything indexed twice: the mark set back to the start.
		if err := e.DB.IndexRequestLog(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.DB.RawExec(ctx, `UPDATE settings SET value = '0' WHERE name = 'request_log_indexed_through'`); err != nil {
			t.Fatal(err)
		}
		if err := e.DB.IndexRequestLog(ctx); err != nil {
			t.Fatal(err)
		}
		rows, err := e.DB.RawInt(ctx, `SELECT COUNT(*) FROM request_log_index WHERE workspace_id = ?`, ws)
		if err != nil || rows != int64(3*len(all)) {
			t.Fatalf("%d index rows (%v); want %d, one per event and value order", rows, err, 3*len(all))
		}
		gaps, err := e.DB.RawInt(ctx, `SELECT COUNT(*) FROM request_log_index_gaps`)
		if err != nil || gaps != 0 {
			t.Fatalf("%d gaps (%v); want none", gaps, err)
		}
		indexLogCases(t, e, rng, ws, "indexed twice", all, 15)

		// Unforced: each page chooses the index or the blocks by their cost; with a
		// scan budget of one row, a filtered page the index starts turns to the blocks.
		restore := store.SetForceIndex(false)
		for _, budget := range []int64{20_000, 1} {
			restoreBudget := store.SetMinScanBudget(budget)
			for range 15 {
				f := randomLogFilter(rng, ws, all)
				f.Limit = 1 + rng.IntN(40)
				pageThrough(t, e, fmt.Sprintf("chosen, budget %d, %+v", budget, f), all, f)
			}
			restoreBudget()
		}
		// Unfiltered periods in a value order, with few blocks read whole: a period
		// holding more than readAllBlocks but at most periodBlocks is read whole on SQLite
		// and from the index on PostgreSQL; either way the same pages.
		for _, readAll := range []int{1, 2, 4} {
			restoreAll := store.SetReadAllBlocks(readAll)
			for range 10 {
				a := coreT0.Add(-time.Duration(rng.Int64N(int64(7 * time.Hour))))
				f := metering.EventFilter{WorkspaceID: ws, Sort: metering.Sorts[1+rng.IntN(3)], Limit: 1 + rng.IntN(20),
					Start: a, End: a.Add(time.Duration(1 + rng.Int64N(int64(3*time.Hour))))}
				pageThrough(t, e, fmt.Sprintf("period, read all %d, %+v", readAll, f), all, f)
			}
			restoreAll()
		}
		// Periods read from the index by time (request_log_index_time), filtered or
		// not: forced, then chosen for a period of at most timeIndexBlocks blocks.
		restoreForce, restoreTime := store.SetForceIndex(true), store.SetForceTimeIndex(true)
		before := store.IndexPages()
		for i := range 30 {
			f := randomLogFilter(rng, ws, all)
			f.ID = ""
			a := coreT0.Add(-time.Duration(rng.Int64N(int64(7 * time.Hour))))
			f.Start, f.End = a, a.Add(time.Duration(1+rng.Int64N(int64(3*time.Hour))))
			if i%3 == 0 {
				f.Start = time.Time{}
			}
			f.Sort = metering.Sorts[1+rng.IntN(3)]
			f.Limit = 1 + rng.IntN(30)
			pageThrough(t, e, fmt.Sprintf("period by time, forced, %+v", f), all, f)
		}
		if store.IndexPages() == before {
			t.Fatal("period by time: the index answered no page")
		}
		restoreTime()
		restoreForce()
		restoreAll, restoreBlocks := store.SetReadAllBlocks(1), store.SetTimeIndexBlocks(1<<20)
		for range 15 {
			f := randomLogFilter(rng, ws, all)
			f.ID = ""
			a := coreT0.Add(-time.Duration(rng.Int64N(int64(7 * time.Hour))))
			f.Start, f.End = a, a.Add(time.Duration(1+rng.Int64N(int64(3*time.Hour))))
			f.Sort = metering.Sorts[1+rng.IntN(3)]
			f.Limit = 1 + rng.IntN(30)
			pageThrough(t, e, fmt.Sprintf("period by time, chosen, %+v", f), all, f)
		}
		restoreBlocks()
		restoreAll()
		restore()
	})
}

// TestRequestLogIndexGapsAndRepairs: a block the indexer passed without seeing (listed
// as a gap) is read as it is until the indexer indexes it; a listed number whose block
// never comes is forgotten; a repaired event (an UPDATE of the events view) is shown
// with its new values, before and after the indexer indexes its block again, and never
// at its old place.
func TestRequestLogIndexGapsAndRepairs(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		for i, m := range []string{"m1", "m2", "m3"} {
			e.addPrice(t, m, money.Amount(1_000_000*(i+1)))
		}
		defer store.SetForceIndex(true)()
		defer store.SetReadAllBlocks(0)()
		ws := e.Workspace(t, 0)
		rng := rand.New(rand.NewPCG(5, 13))
		all := logEvents(t, e, rng, ws, 300)
		if err := e.DB.IndexRequestLog(ctx); err != nil {
			t.Fatal(err)
		}
		check := func(stage string) {
			t.Helper()
			for _, s := range metering.Sorts[1:] {
				pageThrough(t, e, stage+" "+string(s), all, metering.EventFilter{WorkspaceID: ws, Sort: s, Limit: 7})
				pageThrough(t, e, stage+" "+string(s)+" m2", all, metering.EventFilter{WorkspaceID: ws, Sort: s, Limit: 5,
					Filter: metering.Filter{Models: []string{"m2"}}})
			}
		}
		check("indexed")

		// A block passed without being indexed.
		last, err := e.DB.RawInt(ctx, `SELECT MAX(seq) FROM event_blocks`)
		if err != nil {
			t.Fatal(err)
		}
		mid, err := e.DB.RawInt(ctx, `SELECT MIN(seq) FROM event_blocks WHERE seq > ? AND workspace_id = ?`, last/2, ws)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.DB.RawExec(ctx, `DELETE FROM request_log_index WHERE block = ?`, mid); err != nil {
			t.Fatal(err)
		}
		if _, err := e.DB.RawExec(ctx, `INSERT INTO request_log_index_gaps (seq, next_xid, noted_at) VALUES (?, 0, ?)`, mid, coreT0.UnixMicro()); err != nil {
			t.Fatal(err)
		}
		// Two numbers no block will ever have, noted long ago, and the mark past them.
		for _, s := range []int64{last + 1, last + 2} {
			if _, err := e.DB.RawExec(ctx, `INSERT INTO request_log_index_gaps (seq, next_xid, noted_at) VALUES (?, 0, 0)`, s); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.DB.RawExec(ctx, `UPDATE settings SET value = ? WHERE name = 'request_log_indexed_through'`, fmt.Sprint(last+2)); err != nil {
			t.Fatal(err)
		}
		check("a gap")
		if err := e.DB.IndexRequestLog(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := e.DB.RawInt(ctx, `SELECT COUNT(*) FROM request_log_index_gaps`); err != nil || n != 0 {
			t.Fatalf("%d gaps left (%v); want none", n, err)
		}
		if n, err := e.DB.RawInt(ctx, `SELECT COUNT(*) FROM request_log_index WHERE block = ?`, mid); err != nil || n == 0 {
			t.Fatalf("the gap's block has %d index rows (%v)", n, err)
		}
		check("the gap indexed")

		// A repair: the most expensive event becomes the cheapest, and slow.
		target := naiveLog(all, metering.EventFilter{Sort: metering.SortCost})[0]
		if _, err := e.DB.RawExec(ctx, `UPDATE events SET cost = 0, latency_ms = 999999 WHERE workspace_id = ? AND id = ?`, ws, target.ID); err != nil {
			t.Fatal(err)
		}
		for i := range all {
			if all[i].ID == target.ID {
				all[i].Cost, all[i].LatencyMS = 0, 999999
			}
		}
		if n, err := e.DB.RawInt(ctx, `SELECT COUNT(*) FROM request_log_index_gaps`); err != nil || n != 1 {
			t.Fatalf("%d gaps after a repair (%v); want its block", n, err)
		}
		check("repaired")
		if err := e.DB.IndexRequestLog(ctx); err != nil {
			t.Fatal(err)
		}
		check("repaired and indexed again")
	})
}

// TestRequestLogIndexAnswersDeep: the middle of a value order, which the blocks alone
// refuse (sort_too_deep) past their bound, is answered once the index is up to date.
func TestRequestLogIndexAnswersDeep(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		e.addPrice(t, "m1", 1_000_000)
		e.addPrice(t, "m2", 3_000_000)
		e.addPrice(t, "m3", 5_000_000)
		ws := e.Workspace(t, 0)
		all := logEvents(t, e, rand.New(rand.NewPCG(9, 9)), ws, 600)
		defer store.SetMaxValueWalk(5)()
		defer store.SetReadAllBlocks(0)()
		defer store.SetMaxTail(1<<20, 1<<20)()
		if err := e.DB.IndexRequestLog(ctx); err != nil {
			t.Fatal(err)
		}
		for _, s := range metering.Sorts[1:] {
			want := naiveLog(all, metering.EventFilter{Sort: s})
			c := metering.CursorOf(s, want[len(want)/2])
			got, err := e.Meter.Events(ctx, metering.EventFilter{WorkspaceID: ws, Sort: s, Cursor: &c, Limit: 10})
			if err != nil {
				t.Fatalf("the middle of the %s order: %v", s, err)
			}
			sameEvents(t, "the middle of the "+string(s)+" order", got, want[len(want)/2+1:len(want)/2+11])
		}
	})
}

// TestVerifyRequestLogIndex: Verify finds every indexed event's rows, and names an event
// whose row is missing.
func TestVerifyRequestLogIndex(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		e.addPrice(t, "m1", 1_000_000)
		e.addPrice(t, "m2", 3_000_000)
		e.addPrice(t, "m3", 5_000_000)
		ws := e.Workspace(t, 0)
		all := logEvents(t, e, rand.New(rand.NewPCG(4, 4)), ws, 120)
		if err := e.DB.IndexRequestLog(ctx); err != nil {
			t.Fatal(err)
		}
		const name = "every indexed event has its rows in the request log's value index"
		find := func() store.Check {
			t.Helper()
			for _, c := range e.report(t).Checks {
				if c.Name == name {
					return c
				}
			}
			t.Fatalf("no check %q", name)
			return store.Check{}
		}
		if c := find(); len(c.Problems) != 0 || c.Checked != int64(len(all)) {
			t.Fatalf("%+v; want %d events checked, no problem", c, len(all))
		}
		if _, err := e.DB.RawExec(ctx, `DELETE FROM request_log_index WHERE id = ? AND sort = 2`, all[7].ID); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("workspace %s: event %q has no row in the tokens order", ws, all[7].ID)
		if c := find(); len(c.Problems) != 1 || c.Problems[0] != want {
			t.Fatalf("%+v; want the problem %q", c.Problems, want)
		}
	})
}

// TestRequestLogIndexTwoNodes: two nodes on one database run the indexer at once while
// events are ingested; every event ends up indexed once in each order, and every page
// of the value orders equals the log by definition.
func TestRequestLogIndexTwoNodes(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			opts := storetest.Options{Now: func() time.Time { return coreT0 }}
			openNode := func(t *testing.T, dsn string) *store.DB {
				db, err := store.Open(ctx, dsn, store.Options{Now: opts.Now, MaxConns: 8})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				if _, err := db.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
				return db
			}
			var one, two *store.DB
			if dialect == "sqlite" {
				path := filepath.Join(t.TempDir(), "nodes.db")
				one, two = storetest.SQLiteAt(t, path, opts), storetest.SQLiteAt(t, path, opts)
			} else {
				dsn := storetest.PostgresDSN(t)
				one, two = openNode(t, dsn), openNode(t, dsn)
			}
			e := &coreEnv{storetest.NewEnv(one, storetest.NewClock(coreT0))}
			for i, m := range []string{"m1", "m2", "m3"} {
				e.addPrice(t, m, money.Amount(1_000_000*(i+1)))
			}
			ws := e.Workspace(t, 0)
			rng := rand.New(rand.NewPCG(17, 3))
			stop := make(chan struct{})
			errc := make(chan error, 2)
			for _, db := range []*store.DB{one, two} {
				go func() {
					for {
						if err := db.IndexRequestLog(ctx); err != nil {
							errc <- err
							return
						}
						select {
						case <-stop:
							errc <- db.IndexRequestLog(ctx)
							return
						default:
						}
					}
				}()
			}
			all := logEvents(t, e, rng, ws, 320) // in batches, while both index
			close(stop)
			for range 2 {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			rows, err := one.RawInt(ctx, `SELECT COUNT(*) FROM request_log_index WHERE workspace_id = ?`, ws)
			if err != nil || rows != int64(3*len(all)) {
				t.Fatalf("%d index rows (%v); want %d", rows, err, 3*len(all))
			}
			defer store.SetForceIndex(true)()
			defer store.SetReadAllBlocks(0)()
			for _, s := range metering.Sorts[1:] {
				pageThrough(t, e, "two nodes "+string(s), all, metering.EventFilter{WorkspaceID: ws, Sort: s, Limit: 9})
			}
		})
	}
}
