package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
)

// TestRequestLogRareValueFromCursor: a member with one event in each of its blocks (a
// rare value spread thinly) is walked from the cursor in the value orders, and every
// page equals the request log by definition, with ties, with and without a period; a
// member with two events in one block, and a filter of two dimensions, are walked from
// the top as before, with the same pages.
func TestRequestLogRareValueFromCursor(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		for i, m := range []string{"m1", "m2", "m3"} {
			e.addPrice(t, m, money.Amount(1_000_000*(i+1)))
		}
		defer store.SetReadAllBlocks(0)()
		defer store.SetMaxTail(1<<20, 1<<20)()
		ws := e.Workspace(t, 0)
		rng := rand.New(rand.NewPCG(13, 31))
		all := logEvents(t, e, rng, ws, 300)
		event := func(id, member string, ts time.Time) metering.Event {
			return metering.Event{ID: id, WorkspaceID: ws, Timestamp: ts, Model: []string{"m1", "m2", "m3"}[rng.IntN(3)],
				KeyID: "k1", Project: "p1", Member: member,
				Usage:     pricing.Usage{Input: rng.Int64N(3) * 100, Output: rng.Int64N(2) * 50}, // many ties
				LatencyMS: rng.Int64N(3) * 10}
		}
		// One block per batch: a solo event (and, in block 7, two pair events) among others.
		for j := range 40 {
			ts := coreT0.Add(-time.Duration(j) * 7 * time.Minute)
			batch := []metering.Event{event(fmt.Sprint("solo-", j), "solo", ts)}
			if j%4 == 0 || j == 7 {
				batch = append(batch, event(fmt.Sprint("pair-", j), "pair", ts.Add(-time.Second)))
			}
			if j == 7 {
				batch = append(batch, event("pair-7b", "pair", ts.Add(-2*time.Second)))
			}
			for f := range 3 {
				batch = append(batch, event(fmt.Sprintf("fill-%d-%d", j, f), "u1", ts.Add(-time.Duration(f)*time.Millisecond)))
			}
			res, err := e.Meter.Ingest(ctx, batch)
			if err != nil || res.Accepted != len(batch) {
				t.Fatalf("ingest: %+v %v", res, err)
			}
			all = append(all, res.Events...)
		}
		if err := e.DB.IndexRequestLog(ctx); err != nil {
			t.Fatal(err)
		}
		filters := func(s metering.Sort, limit int, fl metering.Filter) []metering.EventFilter {
			return []metering.EventFilter{
				{WorkspaceID: ws, Sort: s, Limit: limit, Filter: fl},
				{WorkspaceID: ws, Sort: s, Limit: limit, Filter: fl, Start: coreT0.Add(-3 * time.Hour), End: coreT0.Add(-time.Hour)},
			}
		}
		before := store.FromCursorPages()
		for _, s := range metering.Sorts[1:] {
			for _, limit := range []int{1, 3, 7} {
				for _, f := range filters(s, limit, metering.Filter{Members: []string{"solo"}}) {
					pageThrough(t, e, fmt.Sprintf("solo %+v", f), all, f)
				}
			}
		}
		if store.FromCursorPages() == before {
			t.Fatal("no page of the solo member was walked from the cursor")
		}
		before = store.FromCursorPages()
		for _, s := range metering.Sorts[1:] {
			for _, limit := range []int{1, 3} {
				for _, fl := range []metering.Filter{{Members: []string{"pair"}}, {Members: []string{"solo"}, Models: []string{"m2"}},
					{Members: []string{"solo", "pair"}}} {
					for _, f := range filters(s, limit, fl) {
						pageThrough(t, e, fmt.Sprintf("%+v", f), all, f)
					}
				}
			}
		}
		if n := store.FromCursorPages() - before; n != 0 {
			t.Fatalf("%d pages of a member with two events in a block, or of two filters, were walked from the cursor", n)
		}
	})
}
