package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// SQLite indexes recent event keys in the background (event_keys.go); until then they
// are known only to the process that read their blocks. These tests open one file twice
// — two processes, or a process and its restart — and check that no event is counted
// twice whichever handle sees it again, wherever its key is: claimed by the other
// handle, in a tail read at start, half swept, or swept.

// keysEnv is one handle on a shared SQLite file.
type keysEnv struct {
	*coreEnv
}

func openKeysEnv(t *testing.T, path string, c *storetest.Clock) keysEnv {
	db := storetest.SQLiteAt(t, path, storetest.Options{Now: c.Now})
	return keysEnv{&coreEnv{&storetest.Env{DB: db, Clock: c, Ledger: ledger.NewService(db, c.Now), Meter: metering.NewService(db, db, c.Now)}}}
}

// keysFile opens a fresh SQLite file as handle 1, with a price for model "m" and a workspace.
func keysFile(t *testing.T) (a keysEnv, path string, c *storetest.Clock, ws string) {
	c = storetest.NewClock(coreT0)
	path = filepath.Join(t.TempDir(), "spectra.db")
	a = openKeysEnv(t, path, c)
	a.addPrice(t, "m", 1_000_000)
	return a, path, c, a.Workspace(t, 0)
}

func keysBatch(ws, prefix string, n int, input int64) []metering.Event {
	var out []metering.Event
	for i := range n {
		out = append(out, metering.Event{ID: fmt.Sprint(prefix, i), WorkspaceID: ws, Model: "m", Timestamp: coreT0.Add(-time.Minute),
			Usage: pricing.Usage{Input: input, Output: 10}})
	}
	return out
}

// ingestWant ingests events and checks how many were accepted and were duplicates.
func (e keysEnv) ingestWant(t *testing.T, what string, events []metering.Event, accepted, duplicates, conflicts int) {
	t.Helper()
	res, err := e.Meter.Ingest(context.Background(), events)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if res.Accepted != accepted || res.Duplicates != duplicates || len(res.Rejected) != conflicts {
		t.Fatalf("%s: accepted %d, duplicates %d, rejected %+v; want %d, %d, %d", what, res.Accepted, res.Duplicates, res.Rejected,
			accepted, duplicates, conflicts)
	}
}

// checkStored checks that the workspace holds events events, has been charged for them
// exactly once, and that verify finds nothing wrong.
func (e keysEnv) checkStored(t *testing.T, ws string, events int, cost money.Amount) {
	t.Helper()
	ctx := context.Background()
	n, err := e.DB.RawInt(ctx, `SELECT COUNT(*) FROM events WHERE workspace_id = ?`, ws)
	if err != nil || n != int64(events) {
		t.Fatalf("%d events stored (%v); want %d", n, err, events)
	}
	b, err := e.DB.Balance(ctx, ws)
	if err != nil || b.Balance != -cost {
		t.Fatalf("balance %s (%v); want %s", b.Balance, err, -cost)
	}
	if got := failingChecks(e.report(t)); len(got) != 0 {
		t.Fatalf("verify: %q", got)
	}
}

// eventCost is the exact cost of ev.
func eventCost(t *testing.T, e keysEnv, ev metering.Event) pricing.Exact {
	t.Helper()
	cat, err := e.DB.Catalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := cat.At(ev.Model, ev.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	q, err := p.Quote(ev.Usage)
	if err != nil {
		t.Fatal(err)
	}
	return q.Cost
}

// times is what a wallet with no carry yet is charged for n events of exact cost x:
// floor(n·x) (metering.Batch.Charge).
func times(n int64, x pricing.Exact) money.Amount {
	return money.Amount(n)*x.Micro + money.Amount(n*x.Frac/1_000_000)
}

func TestEventKeysAcrossHandles(t *testing.T) {
	ctx := context.Background()
	a, path, c, ws := keysFile(t)
	batchA, batchB, batchC := keysBatch(ws, "a", 10, 100), keysBatch(ws, "b", 10, 100), keysBatch(ws, "c", 10, 100)
	one := eventCost(t, a, batchA[0])
	a.ingestWant(t, "A on handle 1", batchA, 10, 0, 0)

	// A second handle (another process, or this one restarted without its sweep) reads
	// the tail of blocks handle 1 has not indexed.
	b := openKeysEnv(t, path, c)
	changed := keysBatch(ws, "a", 1, 999)
	b.ingestWant(t, "A again on handle 2", batchA, 0, 10, 0)
	b.ingestWant(t, "A changed on handle 2", changed, 0, 0, 1)
	b.ingestWant(t, "B on handle 2", batchB, 10, 0, 0)
	// Handle 1 learns of handle 2's blocks at its next transaction.
	a.ingestWant(t, "B again on handle 1", batchB, 0, 10, 0)

	// Handle 2 indexes everything: handle 1 sees W move and reads what is left.
	if err := b.DB.IndexEventKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := b.DB.RawInt(ctx, `SELECT COUNT(*) FROM event_ids`); err != nil || n != 20 {
		t.Fatalf("event_ids holds %d keys (%v) after indexing; want 20", n, err)
	}
	a.ingestWant(t, "A and B again on handle 1", append(append([]metering.Event{}, batchA...), batchB...), 0, 20, 0)
	a.ingestWant(t, "C on handle 1", batchC, 10, 0, 0)
	b.ingestWant(t, "C again on handle 2", batchC, 0, 10, 0)
	a.checkStored(t, ws, 30, times(30, one))
	b.checkStored(t, ws, 30, times(30, one))
}

// TestEventKeysSweepCutShort: a sweep that stopped after some of its slices (a crash)
// leaves keys both in event_ids and in the tail; the next start reads the tail again,
// and a sweep inserts them once.
func TestEventKeysSweepCutShort(t *testing.T) {
	defer store.SetSweepSizes(1<<30, 3)() // 3 keys a slice
	defer store.PauseSweeps()()           // no sweep unless asked
	ctx := context.Background()
	a, path, c, ws := keysFile(t)
	batch := keysBatch(ws, "e", 10, 50)
	one := eventCost(t, a, batch[0])
	a.ingestWant(t, "first", batch, 10, 0, 0)
	for range 2 {
		if err := a.DB.SweepEventKeysOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := a.DB.RawInt(ctx, `SELECT COUNT(*) FROM event_ids`); err != nil || n != 6 {
		t.Fatalf("after two slices of 3, event_ids holds %d keys (%v)", n, err)
	}
	b := openKeysEnv(t, path, c)
	b.ingestWant(t, "replayed after the cut", batch, 0, 10, 0)
	if err := b.DB.IndexEventKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := b.DB.RawInt(ctx, `SELECT COUNT(*) FROM event_ids`); err != nil || n != 10 {
		t.Fatalf("after the sweep, event_ids holds %d keys (%v); want 10", n, err)
	}
	// Handle 1's own sweep, still half done, starts over from the database.
	if err := a.DB.IndexEventKeys(ctx); err != nil {
		t.Fatal(err)
	}
	a.ingestWant(t, "replayed on handle 1", batch, 0, 10, 0)
	a.checkStored(t, ws, 10, times(10, one))
}

// TestEventKeysBackgroundSweep: once enough keys are recent, the committer indexes them
// on its own between groups, and replays are still duplicates.
func TestEventKeysBackgroundSweep(t *testing.T) {
	defer store.SetSweepSizes(8, 5)()
	ctx := context.Background()
	a, _, _, ws := keysFile(t)
	var all []metering.Event
	for i := range 3 {
		batch := keysBatch(ws, fmt.Sprint("g", i, "-"), 10, 20)
		all = append(all, batch...)
		a.ingestWant(t, "a group", batch, 10, 0, 0)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := a.DB.RawInt(ctx, `SELECT COUNT(*) FROM event_ids`)
		if err != nil {
			t.Fatal(err)
		}
		if n == 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("event_ids holds %d of 30 keys: the background sweep did not run", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.ingestWant(t, "everything again", all, 0, 30, 0)
	a.checkStored(t, ws, 30, times(30, eventCost(t, a, all[0])))
}

// TestEventKeyCollisionsInTheTail: with every id forced onto one key, the tail read by
// a second handle must leave the events that lost the key to event_id_overflow, where
// the first handle put them.
func TestEventKeyCollisionsInTheTail(t *testing.T) {
	defer store.SetEventKey(func(ws, id string) int64 { return 42 })()
	a, path, c, ws := keysFile(t)
	batch := keysBatch(ws, "x", 4, 10)
	one := eventCost(t, a, batch[0])
	a.ingestWant(t, "first", batch, 4, 0, 0)
	b := openKeysEnv(t, path, c)
	b.ingestWant(t, "replayed on handle 2", batch, 0, 4, 0)
	b.ingestWant(t, "changed on handle 2", keysBatch(ws, "x", 4, 11), 0, 0, 4)
	b.ingestWant(t, "one more on handle 2", keysBatch(ws, "y", 1, 10), 1, 0, 0)
	a.ingestWant(t, "all again on handle 1", append(keysBatch(ws, "y", 1, 10), batch...), 0, 5, 0)

	// The key's owner indexed, an event that lost the key to it in the tail: a third
	// handle must still find the owner through event_ids, not through the tail.
	if err := a.DB.IndexEventKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.ingestWant(t, "z after indexing", keysBatch(ws, "z", 1, 10), 1, 0, 0)
	c3 := openKeysEnv(t, path, c)
	c3.ingestWant(t, "all again on handle 3", append(keysBatch(ws, "z", 1, 10), batch...), 0, 5, 0)
	n, err := a.DB.RawInt(context.Background(), `SELECT COUNT(*) FROM events WHERE workspace_id = ?`, ws)
	if err != nil || n != 6 {
		t.Fatalf("%d events stored (%v); want 6", n, err)
	}
	bal, err := a.DB.Balance(context.Background(), ws)
	if err != nil || bal.Balance != -times(6, one) {
		t.Fatalf("balance %s (%v); want %s", bal.Balance, err, -times(6, one))
	}
}

// TestEventKeysReaderLeavesTheTail: a store that only reads (spectra verify beside a
// running serve) neither reads nor sweeps the other process's tail when it closes.
func TestEventKeysReaderLeavesTheTail(t *testing.T) {
	defer store.PauseSweeps()()
	ctx := context.Background()
	a, path, c, ws := keysFile(t)
	a.ingestWant(t, "ten", keysBatch(ws, "r", 10, 10), 10, 0, 0)
	reader, err := store.Open(ctx, "sqlite:"+path, store.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := reader.Verify(ctx)
	if err != nil || len(failingChecks(rep)) != 0 {
		t.Fatalf("verify beside the writer: %q %v", failingChecks(rep), err)
	}
	if err := reader.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := a.DB.RawInt(ctx, `SELECT COUNT(*) FROM event_ids`); err != nil || n != 0 {
		t.Fatalf("event_ids holds %d keys (%v) after the reader closed; want the writer's tail left alone", n, err)
	}
	a.ingestWant(t, "ten again", keysBatch(ws, "r", 10, 10), 0, 10, 0)
}
