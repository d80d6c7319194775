package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// logEvents ingests n random events into ws over the 6 hours before coreT0, in batches
// of various sizes (so in many overlapping blocks): a few common values of each
// dimension and some rare ones, many equal times, costs, tokens and latencies with
// ties, and one batch with more projects than a block lists (its blocks take the
// wildcard tag). It returns the events as stored.
func logEvents(t *testing.T, e *coreEnv, rng *rand.Rand, ws string, n int) []metering.Event {
	t.Helper()
	ctx := context.Background()
	pick := func(common []string, rare ...string) string {
		if rng.IntN(20) == 0 {
			return rare[rng.IntN(len(rare))]
		}
		return common[rng.IntN(len(common))]
	}
	var all []metering.Event
	for len(all) < n {
		size := 1 + rng.IntN(120)
		wide := rng.IntN(5) == 0
		batch := make([]metering.Event, 0, size)
		for range size {
			i := len(all) + len(batch)
			ts := coreT0.Add(-time.Duration(rng.Int64N(int64(6 * time.Hour)))).Truncate(30 * time.Second) // many equal times
			ev := metering.Event{ID: fmt.Sprintf("ev-%04d-%d", i, rng.IntN(1000)), WorkspaceID: ws, Timestamp: ts,
				Model: pick([]string{"m1", "m2"}, "m3"), KeyID: pick([]string{"k1", "k2"}, "k3", "k4"),
				Project: pick([]string{"p1", "p2"}, "p<&>", "p3", "ü<x>"), Member: pick([]string{"u1", "u2", ""}, "u3", `u"4`),
				Usage:     pricing.Usage{Input: rng.Int64N(5) * 100, Output: rng.Int64N(4) * 50},
				LatencyMS: rng.Int64N(6) * 10, Held: money.Amount(rng.Int64N(3) * 1000)}
			if wide {
				ev.Project = fmt.Sprint("wide-", rng.IntN(50))
			}
			batch = append(batch, ev)
		}
		res, err := e.Meter.Ingest(ctx, batch)
		if err != nil || res.Accepted != len(batch) {
			t.Fatalf("ingest: %+v %v", res, err)
		}
		all = append(all, res.Events...)
	}
	return all
}

// naiveLog is the request log by definition: every event f selects, in f's order, after
// its cursor.
func naiveLog(all []metering.Event, f metering.EventFilter) []metering.Event {
	in := func(values []string, v string) bool { return len(values) == 0 || slices.Contains(values, v) }
	after := f.After()
	var out []metering.Event
	for _, e := range all {
		if !f.Start.IsZero() && e.Timestamp.Before(f.Start) || !f.End.IsZero() && !e.Timestamp.Before(f.End) ||
			f.ID != "" && e.ID != f.ID || after != nil && !after.Passed(&e) ||
			!in(f.Models, e.Model) || !in(f.Keys, e.KeyID) || !in(f.Projects, e.Project) || !in(f.Members, e.Member) {
			continue
		}
		out = append(out, e)
	}
	s := f.Sort.Norm()
	slices.SortFunc(out, func(a, b metering.Event) int { return s.Compare(&a, &b) })
	return out
}

func sameEvents(t *testing.T, what string, got, want []metering.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events; want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || !g.Timestamp.Equal(w.Timestamp) || g.Cost != w.Cost || g.Held != w.Held || g.LatencyMS != w.LatencyMS ||
			!reflect.DeepEqual(g.Usage, w.Usage) || g.Model != w.Model || g.KeyID != w.KeyID || g.Project != w.Project || g.Member != w.Member {
			t.Fatalf("%s: event %d is %+v; want %+v", what, i, g, w)
		}
	}
}

func eventIDs(evs []metering.Event) []string {
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	return ids
}

// randomLogFilter is a random filter of the request log: some dimensions with one to
// three values (sometimes one no event has), sometimes a period, any sort.
func randomLogFilter(rng *rand.Rand, ws string, all []metering.Event) metering.EventFilter {
	f := metering.EventFilter{WorkspaceID: ws, Limit: 1 + rng.IntN(12), Sort: metering.Sorts[rng.IntN(len(metering.Sorts))]}
	if rng.IntN(4) == 0 {
		f.Sort = "" // the default
	}
	values := func(pool ...string) []string {
		var v []string
		for range 1 + rng.IntN(3) {
			v = append(v, pool[rng.IntN(len(pool))])
		}
		return v
	}
	if rng.IntN(3) == 0 {
		f.Models = values("m1", "m2", "m3", "nope")
	}
	if rng.IntN(3) == 0 {
		f.Keys = values("k1", "k2", "k3", "k4", "revoked")
	}
	if rng.IntN(3) == 0 {
		f.Projects = values("p1", "p2", "p3", "p<&>", "ü<x>", "wide-7", "wide-8", "nope")
	}
	if rng.IntN(3) == 0 {
		f.Members = values("u1", "u2", "u3", `u"4`, "", "nobody")
	}
	if rng.IntN(3) == 0 {
		a := coreT0.Add(-time.Duration(rng.Int64N(int64(7 * time.Hour))))
		b := a.Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
		if rng.IntN(4) == 0 {
			b = a.Add(30 * time.Second) // a period that often holds nothing
		}
		f.Start, f.End = a, b
	}
	if rng.IntN(10) == 0 {
		f.ID = all[rng.IntN(len(all))].ID
	}
	return f
}

// TestRequestLogProperty compares the request log with naiveLog for random filters and
// sorts, reading whole candidate blocks and walking the indexes, and pages through each
// with cursors: every event the filter selects is visited exactly once, in order.
func TestRequestLogProperty(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		for i, m := range []string{"m1", "m2", "m3"} {
			e.addPrice(t, m, money.Amount(1_000_000*(i+1)))
		}
		restoreTags := store.SetMaxBlockTags(8)
		ws, other := e.Workspace(t, 0), e.Workspace(t, 0)
		rng := rand.New(rand.NewPCG(7, 11))
		all := logEvents(t, e, rng, ws, 900)
		logEvents(t, e, rng, other, 100) // another workspace's events are never shown
		restoreTags()
		for _, readAll := range []int{0, 1_000_000, 64, 2} {
			restore := store.SetReadAllBlocks(readAll)
			for range 35 {
				f := randomLogFilter(rng, ws, all)
				want := naiveLog(all, f)
				what := fmt.Sprintf("read all %d, %+v", readAll, f)
				got, err := e.Meter.Events(ctx, f)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				sameEvents(t, what, got, want[:min(len(want), f.Limit)])
				// Page through with cursors (through their text form), in about 15 pages.
				f.Limit = max(f.Limit, len(want)/15+1)
				var paged []metering.Event
				for page := 0; ; page++ {
					evs, err := e.Meter.Events(ctx, f)
					if err != nil {
						t.Fatalf("%s page %d: %v", what, page, err)
					}
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
			restore()
		}
	})
}

// TestRequestLogDeepCursorAndPeriod: the last pages of each sort, and a period or filter
// that holds nothing, answer exactly.
func TestRequestLogDeepCursorAndPeriod(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		e.addPrice(t, "m1", 1_000_000)
		e.addPrice(t, "m2", 3_000_000)
		e.addPrice(t, "m3", 5_000_000)
		ws := e.Workspace(t, 0)
		rng := rand.New(rand.NewPCG(3, 5))
		all := logEvents(t, e, rng, ws, 400)
		for _, s := range metering.Sorts {
			want := naiveLog(all, metering.EventFilter{Sort: s})
			// The page after the 11th event from the end is the last 10.
			c := metering.CursorOf(s, want[len(want)-11])
			got, err := e.Meter.Events(ctx, metering.EventFilter{WorkspaceID: ws, Sort: s, Cursor: &c, Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			sameEvents(t, string(s)+" last page", got, want[len(want)-10:])
			for _, f := range []metering.EventFilter{
				{Filter: metering.Filter{Members: []string{"nobody"}}},
				{Filter: metering.Filter{Keys: []string{"k3"}, Models: []string{"nope"}}},
				{Start: coreT0.Add(time.Hour), End: coreT0.Add(2 * time.Hour)},
				{Start: coreT0.Add(-24 * time.Hour), End: coreT0.Add(-23 * time.Hour)},
			} {
				f.WorkspaceID, f.Sort, f.Limit = ws, s, 10
				if got, err := e.Meter.Events(ctx, f); err != nil || len(got) != 0 {
					t.Errorf("%s %+v: %v %v; want none", s, f.Filter, eventIDs(got), err)
				}
			}
		}
	})
}

// TestEventByID finds an event by its id, while its key is only in the committer's
// recent keys and once it is indexed; not in another workspace, not an unknown id; and
// with every key forced onto one (through event_id_overflow).
func TestEventByID(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		e.addPrice(t, "m", 1_000_000)
		ws, other := e.Workspace(t, 0), e.Workspace(t, 0)
		ev := func(ws, id string) metering.Event {
			return metering.Event{ID: id, WorkspaceID: ws, Model: "m", Timestamp: coreT0.Add(-time.Minute), Member: "u", Usage: pricing.Usage{Input: 10, Output: 20},
				Source: "gateway", LatencyMS: 120, Status: 200, Held: 5000}
		}
		if res, err := e.Meter.Ingest(ctx, []metering.Event{ev(ws, "a"), ev(ws, "b"), ev(other, "c")}); err != nil || res.Accepted != 3 {
			t.Fatalf("%+v %v", res, err)
		}
		check := func(when string) {
			t.Helper()
			for _, id := range []string{"a", "b"} {
				got, err := e.Meter.Event(ctx, ws, id)
				if err != nil || got.ID != id || got.WorkspaceID != ws || got.Held != 5000 || got.LatencyMS != 120 || got.Cost == 0 || got.Member != "u" {
					t.Errorf("%s: Event(%s) = %+v, %v", when, id, got, err)
				}
				if evs, err := e.Meter.Events(ctx, metering.EventFilter{WorkspaceID: ws, ID: id, Limit: 10}); err != nil || len(evs) != 1 || evs[0].ID != id {
					t.Errorf("%s: the log searched for %s: %v %v", when, id, eventIDs(evs), err)
				}
			}
			for _, c := range []struct{ ws, id string }{{ws, "c"}, {other, "a"}, {ws, "zz"}, {"nope", "a"}} {
				if _, err := e.Meter.Event(ctx, c.ws, c.id); errs.CodeOf(err) != "request_not_found" || errs.KindOf(err) != errs.NotFound {
					t.Errorf("%s: Event(%s, %s): %v; want request_not_found", when, c.ws, c.id, err)
				}
				if evs, err := e.Meter.Events(ctx, metering.EventFilter{WorkspaceID: c.ws, ID: c.id, Limit: 10}); err != nil || len(evs) != 0 {
					t.Errorf("%s: the log searched for %s: %v %v", when, c.id, eventIDs(evs), err)
				}
			}
		}
		check("recent")
		if err := e.DB.IndexEventKeys(ctx); err != nil {
			t.Fatal(err)
		}
		check("indexed")

		restore := store.SetEventKey(func(ws, id string) int64 { return 42 })
		defer restore()
		if res, err := e.Meter.Ingest(ctx, []metering.Event{ev(ws, "x"), ev(ws, "y"), ev(other, "x")}); err != nil || res.Accepted != 3 {
			t.Fatalf("%+v %v", res, err)
		}
		for _, c := range []struct{ ws, id string }{{ws, "x"}, {ws, "y"}, {other, "x"}} {
			if got, err := e.Meter.Event(ctx, c.ws, c.id); err != nil || got.ID != c.id || got.WorkspaceID != c.ws {
				t.Errorf("colliding keys: Event(%s, %s) = %+v, %v", c.ws, c.id, got, err)
			}
		}
		if _, err := e.Meter.Event(ctx, other, "y"); errs.CodeOf(err) != "request_not_found" {
			t.Errorf("colliding keys: y of the other workspace: %v", err)
		}
	})
}

// TestEventByIDAnotherProcess: a store that has not ingested anything (another
// process on the same SQLite file) finds the events whose keys are not indexed yet.
func TestEventByIDAnotherProcess(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/spectra.db"
	c := storetest.NewClock(coreT0)
	open := func() *store.DB {
		db, err := store.Open(ctx, "sqlite:"+path, store.Options{Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	restore := store.PauseSweeps()
	defer restore()
	e := &coreEnv{storetest.NewEnv(open(), c)}
	e.addPrice(t, "m", 1_000_000)
	ws := e.Workspace(t, 0)
	if res, err := e.Meter.Ingest(ctx, []metering.Event{{ID: "a", WorkspaceID: ws, Model: "m", Timestamp: coreT0, Usage: pricing.Usage{Input: 1}}}); err != nil || res.Accepted != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	reader := open()
	if got, err := reader.Event(ctx, ws, "a"); err != nil || got.ID != "a" {
		t.Errorf("another process: %+v %v", got, err)
	}
	if _, err := reader.Event(ctx, ws, "b"); errs.CodeOf(err) != "request_not_found" {
		t.Errorf("another process, unknown id: %v", err)
	}
}

// TestRequestLogMigration: blocks written before migration 0020 (events without held)
// get their value ranges and tags, read with held 0, and sort and filter like new ones.
func TestRequestLogMigration(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			db := unmigrated(t, dialect)
			if err := db.MigrateBefore(ctx, 20); err != nil {
				t.Fatal(err)
			}
			e := &coreEnv{&storetest.Env{DB: db, Clock: storetest.NewClock(coreT0)}}
			e.Meter = metering.NewService(db, db, e.Clock.Now)
			ws := e.Workspace(t, 0)
			ts := coreT0.Add(-time.Hour).UnixMicro()
			// Two blocks in the old layout: 20 elements an event.
			for i, data := range []string{
				fmt.Sprintf(`[["a",%d,"k1","p","u1","m",100,0,0,50,0,700,"api","",0,0,0,0,null,"h1"],["b",%d,"k2","p","u2","m",10,0,0,5,0,90,"gateway","/v1/x",200,300,0,0,null,"h2"]]`, ts, ts+1),
				fmt.Sprintf(`[["c",%d,"k1","q","u1","m",1000,0,0,500,0,7000,"api","",0,0,0,0,null,"h3"]]`, ts+2),
			} {
				if _, err := db.RawExec(ctx, `INSERT INTO event_blocks (seq, workspace_id, min_ts, max_ts, n, usage_key, ingested_at, data) VALUES (?, ?, ?, ?, ?, '', ?, ?)`,
					i+1, ws, ts, ts+2, 2-i, coreT0.UnixMicro(), data); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				f    metering.EventFilter
				want []string
			}{
				{metering.EventFilter{Sort: metering.SortCost}, []string{"c", "a", "b"}},
				{metering.EventFilter{Sort: metering.SortTokens}, []string{"c", "a", "b"}},
				{metering.EventFilter{Sort: metering.SortLatency}, []string{"b", "c", "a"}},
				{metering.EventFilter{Filter: metering.Filter{Members: []string{"u2"}}}, []string{"b"}},
				{metering.EventFilter{Filter: metering.Filter{Projects: []string{"q"}}, Sort: metering.SortCost}, []string{"c"}},
				{metering.EventFilter{Filter: metering.Filter{Keys: []string{"k9"}}}, nil},
			} {
				for _, readAll := range []int{0, 100} {
					restore := store.SetReadAllBlocks(readAll)
					c.f.WorkspaceID, c.f.Limit = ws, 10
					got, err := db.Events(ctx, c.f)
					restore()
					if err != nil || !slices.Equal(eventIDs(got), c.want) {
						t.Errorf("%+v (read all %d): %v %v; want %v", c.f, readAll, eventIDs(got), err, c.want)
					}
					for _, g := range got {
						if g.Held != 0 {
							t.Errorf("%s: held %d; want 0", g.ID, g.Held)
						}
					}
				}
			}
			if n, err := db.RawInt(ctx, `SELECT COUNT(*) FROM events WHERE held = 0`); err != nil || n != 3 {
				t.Errorf("the events view's held: %d %v", n, err)
			}
		})
	}
}

// TestEventUpdateKeepsSummaries: a repair that changes an event through the events
// view (as verify's tests do) keeps its block's ranges and tags true, so the log still
// sorts and filters it right, and held survives.
func TestEventUpdateKeepsSummaries(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		e.addPrice(t, "m", 1_000_000)
		ws := e.Workspace(t, 0)
		var batch []metering.Event
		for i := range 5 {
			batch = append(batch, metering.Event{ID: fmt.Sprint("e", i), WorkspaceID: ws, Model: "m", Member: "u", Timestamp: coreT0.Add(-time.Duration(i) * time.Second),
				Usage: pricing.Usage{Input: int64(10 * (i + 1)), CacheWrite: 8, CacheWrite1h: 5, WebSearchCalls: 2}, Held: 77})
		}
		if res, err := e.Meter.Ingest(ctx, batch); err != nil || res.Accepted != 5 {
			t.Fatalf("%+v %v", res, err)
		}
		if _, err := e.DB.RawExec(ctx, `UPDATE events SET cost = 999999999, member = 'mallory', latency_ms = 5 WHERE workspace_id = ? AND id = 'e3'`, ws); err != nil {
			t.Fatal(err)
		}
		restore := store.SetReadAllBlocks(0)
		defer restore()
		for _, c := range []struct {
			f    metering.EventFilter
			want string
		}{
			{metering.EventFilter{Sort: metering.SortCost}, "e3"},
			{metering.EventFilter{Sort: metering.SortLatency}, "e3"},
			{metering.EventFilter{Filter: metering.Filter{Members: []string{"mallory"}}}, "e3"},
		} {
			c.f.WorkspaceID, c.f.Limit = ws, 1
			got, err := e.DB.Events(ctx, c.f)
			if err != nil || len(got) != 1 || got[0].ID != c.want || got[0].Held != 77 || got[0].Usage.CacheWrite1h != 5 || got[0].Usage.WebSearchCalls != 2 {
				t.Errorf("%+v: %+v %v; want %s, its held, 1-hour cache writes and web searches kept", c.f, got, err, c.want)
			}
		}
	})
}

// TestRequestLogTooDeep: a page far down a value order that would read more blocks than
// the bound answers sort_too_deep; the first page and the time order do not.
func TestRequestLogTooDeep(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		e.addPrice(t, "m1", 1_000_000)
		e.addPrice(t, "m2", 3_000_000)
		e.addPrice(t, "m3", 5_000_000)
		ws := e.Workspace(t, 0)
		all := logEvents(t, e, rand.New(rand.NewPCG(9, 9)), ws, 600)
		restore := store.SetMaxValueWalk(5)
		defer restore()
		restoreAll := store.SetReadAllBlocks(0)
		defer restoreAll()
		want := naiveLog(all, metering.EventFilter{Sort: metering.SortCost})
		c := metering.CursorOf(metering.SortCost, want[len(want)/2])
		if _, err := e.Meter.Events(ctx, metering.EventFilter{WorkspaceID: ws, Sort: metering.SortCost, Cursor: &c, Limit: 10}); errs.CodeOf(err) != "sort_too_deep" {
			t.Errorf("the middle of the cost order: %v; want sort_too_deep", err)
		}
		got, err := e.Meter.Events(ctx, metering.EventFilter{WorkspaceID: ws, Sort: metering.SortCost, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		sameEvents(t, "the first page", got, want[:1])
		tc := metering.CursorOf(metering.SortTime, all[0])
		if _, err := e.Meter.Events(ctx, metering.EventFilter{WorkspaceID: ws, Cursor: &tc, Limit: 10}); err != nil {
			t.Errorf("time order: %v", err)
		}
	})
}

// TestEventByIDWhileIngesting looks ids up while batches are applied and their keys swept
// (run with -race: the committer's recent keys are shared with readers under keysMu):
// every id applied before a lookup began is found.
func TestEventByIDWhileIngesting(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		e.addPrice(t, "m", 1_000_000)
		ws := e.Workspace(t, 0)
		restore := store.SetSweepSizes(50, 20) // sweeps run between the batches
		defer restore()
		var applied atomic.Int64
		done := make(chan error, 1)
		go func() {
			for b := range 20 {
				batch := make([]metering.Event, 0, 25)
				for i := range 25 {
					batch = append(batch, metering.Event{ID: fmt.Sprintf("c-%04d", b*25+i), WorkspaceID: ws, Model: "m", Timestamp: coreT0, Usage: pricing.Usage{Input: 1}})
				}
				if _, err := e.Meter.Ingest(ctx, batch); err != nil {
					done <- err
					return
				}
				applied.Store(int64((b + 1) * 25))
			}
			done <- nil
		}()
		for finished := false; !finished; {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				finished = true
			default:
			}
			n := applied.Load()
			for i := int64(0); i < n; i += 7 {
				if _, err := e.DB.Event(ctx, ws, fmt.Sprintf("c-%04d", i)); err != nil {
					t.Fatalf("c-%04d, applied before the lookup: %v", i, err)
				}
			}
		}
	})
}
