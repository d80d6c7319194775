package store_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// TestEventKeyCollisions forces every (workspace, id) onto one 64-bit key: the overflow
// table must still count each event exactly once, report replays as duplicates and
// changed contents as conflicts, in one batch and across batches.
func TestEventKeyCollisions(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		restore := store.SetEventKey(func(ws, id string) int64 { return 42 })
		defer restore()
		ctx := context.Background()
		e.addPrice(t, "m", 1_000_000)
		ws1, ws2 := e.Workspace(t, 0), e.Workspace(t, 0)
		ev := func(ws, id string, out int64) metering.Event {
			return metering.Event{ID: id, WorkspaceID: ws, Model: "m", Timestamp: coreT0.Add(-time.Minute), Usage: pricing.Usage{Input: 10, Output: out}}
		}
		res, err := e.Meter.Ingest(ctx, []metering.Event{ev(ws1, "a", 1), ev(ws1, "b", 2), ev(ws2, "a", 3), ev(ws1, "a", 1)})
		if err != nil || res.Accepted != 3 || res.Duplicates != 1 || len(res.Rejected) != 0 {
			t.Fatalf("first batch: %+v %v", res, err)
		}
		res, err = e.Meter.Ingest(ctx, []metering.Event{ev(ws1, "b", 2), ev(ws2, "a", 4), ev(ws2, "c", 5), ev(ws1, "a", 1)})
		if err != nil || res.Accepted != 1 || res.Duplicates != 2 || len(res.Rejected) != 1 || res.Rejected[0].Code != "idempotency_conflict" {
			t.Fatalf("second batch: %+v %v", res, err)
		}
		for ws, want := range map[string][]string{ws1: {"b", "a"}, ws2: {"c", "a"}} {
			got, err := e.DB.Events(ctx, metering.EventFilter{WorkspaceID: ws, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var idsGot []string
			for _, g := range got {
				idsGot = append(idsGot, g.ID)
			}
			if !slices.Equal(idsGot, want) {
				t.Errorf("%s: request log %q; want %q", ws, idsGot, want)
			}
		}
		// Verify recomputes keys with the real key function, so the one event that owns
		// the forced key 42 is the only one it cannot find by its key (once indexed).
		if err := e.DB.IndexEventKeys(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range e.report(t).Checks {
			want := 0
			if c.Name == "every event is stored once and found by its id" {
				want = 1
			}
			if len(c.Problems) != want {
				t.Errorf("verify %q: %q", c.Name, c.Problems)
			}
		}
	})
}

// TestRequestLogAcrossBlocks pages through events spread over hours and batches (so over
// many overlapping blocks) and checks every page against the events sorted newest first.
func TestRequestLogAcrossBlocks(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		for _, m := range []string{"m1", "m2", "m3"} {
			e.addPrice(t, m, 1_000_000)
		}
		ws := e.Workspace(t, 0)
		rng := rand.New(rand.NewPCG(1, 2))
		var all []metering.Event
		for b := range 6 {
			var batch []metering.Event
			for i := range 70 {
				ts := coreT0.Add(-time.Duration(rng.Int64N(int64(3 * time.Hour)))).Truncate(time.Second) // many equal times
				batch = append(batch, metering.Event{ID: fmt.Sprintf("e%d-%02d", b, i), WorkspaceID: ws, Model: fmt.Sprint("m", 1+rng.IntN(3)),
					Timestamp: ts, Metadata: []byte(`{"n":` + fmt.Sprint(i) + `,"s":"ü\"x"}`), Usage: pricing.Usage{Input: int64(i), Output: 1}})
			}
			res, err := e.Meter.Ingest(ctx, batch)
			if err != nil || res.Accepted != len(batch) {
				t.Fatalf("batch %d: %+v %v", b, res, err)
			}
			all = append(all, res.Events...)
		}
		slices.SortFunc(all, func(a, b metering.Event) int {
			return cmp.Or(b.Timestamp.Compare(a.Timestamp), strings.Compare(b.ID, a.ID))
		})
		for _, c := range []struct {
			name  string
			f     metering.EventFilter
			match func(metering.Event) bool
		}{
			{"all", metering.EventFilter{}, func(metering.Event) bool { return true }},
			{"model m2", metering.EventFilter{Filter: metering.Filter{Models: []string{"m2"}}}, func(e metering.Event) bool { return e.Model == "m2" }},
			{"models m1, m3 and no member", metering.EventFilter{Filter: metering.Filter{Models: []string{"m1", "m3"}, Members: []string{"nobody"}}},
				func(e metering.Event) bool { return false }},
			{"model m3 or m<x>", metering.EventFilter{Filter: metering.Filter{Models: []string{"m<x>", "m3"}}}, func(e metering.Event) bool { return e.Model == "m3" }},
			{"one hour", metering.EventFilter{Start: coreT0.Add(-2 * time.Hour), End: coreT0.Add(-time.Hour)}, func(e metering.Event) bool {
				return !e.Timestamp.Before(coreT0.Add(-2*time.Hour)) && e.Timestamp.Before(coreT0.Add(-time.Hour))
			}},
		} {
			var want []metering.Event
			for _, ev := range all {
				if c.match(ev) {
					want = append(want, ev)
				}
			}
			var got []metering.Event
			f := c.f
			f.WorkspaceID, f.Limit = ws, 7
			for page := 0; ; page++ {
				evs, err := e.DB.Events(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, evs...)
				if len(evs) < f.Limit || page > 100 {
					break
				}
				last := evs[len(evs)-1]
				f.BeforeTime, f.BeforeID = last.Timestamp, last.ID
			}
			if len(got) != len(want) {
				t.Fatalf("%s: %d events paged; want %d", c.name, len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.ID != w.ID || !g.Timestamp.Equal(w.Timestamp) || g.Model != w.Model || g.Cost != w.Cost || !reflect.DeepEqual(g.Usage, w.Usage) ||
					string(g.Metadata) != string(w.Metadata) || g.Hash != w.Hash || g.Source != "api" || !g.IngestedAt.Equal(w.IngestedAt) {
					t.Fatalf("%s: event %d is %+v; want %+v", c.name, i, g, w)
				}
			}
		}
	})
}

// TestEventBlocksMigration applies migration 0011 to a database holding events in the
// old table: the events move into blocks with every column kept, replays of them are
// still duplicates (and changed contents conflicts), and verify agrees.
func TestEventBlocksMigration(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			db := unmigrated(t, dialect)
			if err := db.MigrateBefore(ctx, 11); err != nil {
				t.Fatal(err)
			}
			e := &coreEnv{&storetest.Env{DB: db, Clock: storetest.NewClock(coreT0)}}
			e.Meter = metering.NewService(db, db, e.Clock.Now)
			ws := e.Workspace(t, 0)
			ts := coreT0.Add(-time.Hour).UnixMicro()
			legacy := []metering.Event{
				{ID: "old-1", WorkspaceID: ws, Model: "m", Timestamp: time.UnixMicro(ts).UTC(), KeyID: "k1", Project: "p", Member: "u", Usage: pricing.Usage{Input: 100, CachedInput: 10, Output: 50}},
				{ID: "old-2", WorkspaceID: ws, Model: "m", Timestamp: time.UnixMicro(ts + 1).UTC(), Metadata: []byte(`{"a":"b"}`), Usage: pricing.Usage{Input: 5}},
			}
			for i := range legacy {
				l := &legacy[i]
				if err := l.Prepare(coreT0); err != nil {
					t.Fatal(err)
				}
				var meta any
				if l.Metadata != nil {
					meta = string(l.Metadata)
				}
				if _, err := db.RawExec(ctx, `INSERT INTO events (workspace_id, id, ts, key_id, project, member, model, input_tokens, cached_input_tokens,
					cache_write_tokens, output_tokens, reasoning_tokens, cost, usage_key, source, endpoint, status, latency_ms, stream, estimated,
					metadata, hash, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, 0, 0, '', 'gateway', '/v1/x', 200, 12, 1, 0, ?, ?, ?)`,
					ws, l.ID, l.Timestamp.UnixMicro(), l.KeyID, l.Project, l.Member, l.Model, l.Usage.Input, l.Usage.CachedInput, l.Usage.Output,
					meta, l.Hash, coreT0.UnixMicro()); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			e.addPrice(t, "m", 1_000_000) // with today's columns
			got, err := db.Events(ctx, metering.EventFilter{WorkspaceID: ws, Limit: 10})
			if err != nil || len(got) != 2 {
				t.Fatalf("after migrating: %+v %v", got, err)
			}
			g := got[1]
			if g.ID != "old-1" || g.KeyID != "k1" || !reflect.DeepEqual(g.Usage, legacy[0].Usage) || g.Source != "gateway" || g.Endpoint != "/v1/x" || g.Status != 200 ||
				g.LatencyMS != 12 || !g.Stream || g.Hash != legacy[0].Hash || !g.Timestamp.Equal(legacy[0].Timestamp) || !g.IngestedAt.Equal(coreT0) {
				t.Errorf("old-1 after migrating: %+v", g)
			}
			if string(got[0].Metadata) != `{"a":"b"}` {
				t.Errorf("old-2's metadata: %s", got[0].Metadata)
			}
			replay := []metering.Event{legacy[0], legacy[1], legacy[1], {ID: "new", WorkspaceID: ws, Model: "m", Timestamp: coreT0, Usage: pricing.Usage{Input: 1}}}
			replay[0].Metadata, replay[0].Hash = nil, ""
			replay[2].Usage.Input = 6
			replay[2].ID = "old-2"
			res, err := e.Meter.Ingest(ctx, []metering.Event{replay[0], replay[3]})
			if err != nil || res.Accepted != 1 || res.Duplicates != 1 {
				t.Fatalf("replaying old-1: %+v %v", res, err)
			}
			res, err = e.Meter.Ingest(ctx, []metering.Event{replay[2]})
			if err != nil || len(res.Rejected) != 1 || res.Rejected[0].Code != "idempotency_conflict" {
				t.Fatalf("old-2 with other contents: %+v %v", res, err)
			}
		})
	}
}

// unmigrated opens an empty database of the dialect.
func unmigrated(t *testing.T, dialect string) *store.DB {
	t.Helper()
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "spectra.db")
	if dialect == "postgres" {
		dsn = storetest.PostgresDSN(t)
	}
	db, err := store.Open(ctx, dsn, store.Options{Now: func() time.Time { return coreT0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestVerifyFindsLostEventKeys: an event its key no longer finds (a replay would count it
// again) or an event stored twice fails verify.
func TestVerifyFindsLostEventKeys(t *testing.T) {
	const check = "every event is stored once and found by its id"
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		e.addPrice(t, "m", 1_000_000)
		ws := e.Workspace(t, 0)
		var batch []metering.Event
		for i := range 5 {
			batch = append(batch, metering.Event{ID: fmt.Sprint("e", i), WorkspaceID: ws, Model: "m", Timestamp: coreT0, Usage: pricing.Usage{Input: 1}})
		}
		if _, err := e.Meter.Ingest(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if got := failingChecks(e.report(t)); len(got) != 0 {
			t.Fatalf("before tampering: %q", got)
		}
		if err := e.DB.IndexEventKeys(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := e.DB.RawExec(ctx, `DELETE FROM event_ids WHERE k = ?`, store.EventKey(ws, "e3")); err != nil || n != 1 {
			t.Fatalf("delete a key: %d %v", n, err)
		}
		rep := e.report(t)
		if got := failingChecks(rep); !slices.Equal(got, []string{check}) {
			t.Fatalf("a lost key: failing %q", got)
		}
		// Stored twice: a copy of the block. Each event is then stored twice, and of each
		// pair at most one is found by its key.
		if _, err := e.DB.RawExec(ctx, `INSERT INTO event_blocks (seq, workspace_id, min_ts, max_ts, n, usage_key, ingested_at, data)
			SELECT seq + 1000, workspace_id, min_ts, max_ts, n, usage_key, ingested_at, data FROM event_blocks`); err != nil {
			t.Fatal(err)
		}
		if err := e.DB.IndexEventKeys(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range e.report(t).Checks {
			if c.Name == check && len(c.Problems) < 5+5 {
				t.Errorf("a copied block: %q", c.Problems)
			}
		}
	})
}
