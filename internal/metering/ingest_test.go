package metering_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store/storetest"
)

// batch makes n varied events for ws with ids prefix-0 … prefix-(n−1), in the hours before now.
func batch(ws, prefix string, n int, now time.Time) []metering.Event {
	out := make([]metering.Event, n)
	for i := range out {
		model := "gpt-x"
		if i%3 == 0 {
			model = "gpt-y"
		}
		in := int64(100 + i*37)
		out[i] = metering.Event{ID: fmt.Sprintf("%s-%d", prefix, i), WorkspaceID: ws, Model: model,
			Timestamp: now.Add(-time.Duration(i%7)*time.Hour - time.Duration(i)*time.Second),
			KeyID:     fmt.Sprint("key_", i%2), Project: fmt.Sprint("p", i%3), Member: fmt.Sprint("m", i%4),
			Usage: pricing.Usage{Input: in, CachedInput: in / 3, CacheWrite: int64(i % 5), Output: int64(50 + i), Reasoning: int64(i % 11)}}
	}
	return out
}

// usageTotal is the whole usage of ws in the three days before the test clock's start, from rollups.
func (e *env) usageTotal(t *testing.T, ws string) metering.Totals {
	t.Helper()
	buckets, err := e.Meter.Usage(context.Background(), metering.UsageQuery{WorkspaceID: ws, Start: storetest.Start.AddDate(0, 0, -3),
		End: storetest.Start.Add(time.Hour), Bucket: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var tot metering.Totals
	for _, b := range buckets {
		for _, r := range b.Results {
			tot.Add(r.Totals)
		}
	}
	return tot
}

func totalsOf(t *testing.T, events []metering.Event) metering.Totals {
	var tot metering.Totals
	for _, ev := range events {
		ev.Cost = 0
		tot.Add(metering.TotalsOf(ev))
	}
	tot.Cost = sumCost(t, events)
	return tot
}

func TestIngestExactlyOnce(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.catalog(t)
		ws := e.Workspace(t, 0)
		e.Grant(t, ws, 100*money.Scale)
		events := batch(ws, "ev", 40, e.Clock.Now())
		res := e.ingest(t, slices.Clone(events))
		if res.Accepted != 40 || res.Duplicates != 0 || len(res.Rejected) != 0 {
			t.Fatalf("first ingest: %+v", res)
		}
		for i, o := range res.Outcomes {
			if o != metering.Accepted || !charged(t, events[i], res.Events[i].Cost, false) {
				t.Fatalf("event %d: outcome %v cost %s; want accepted at %s rounded down or up", i, o, res.Events[i].Cost, exactOf(t, events[i]))
			}
		}
		spent := sumCost(t, events)
		want := totalsOf(t, events)
		check := func(when string) {
			t.Helper()
			if b := e.Balance(t, ws); b.Balance != 100*money.Scale-spent {
				t.Errorf("%s: balance %s; want 100 − %s", when, b.Balance, spent)
			}
			if got := e.usageTotal(t, ws); got != want {
				t.Errorf("%s: usage %+v; want %+v", when, got, want)
			}
			if entries, _ := e.Ledger.Entries(context.Background(), ws, 0, 10); len(entries) != 2 || entries[0].Amount != -spent || entries[0].Kind != ledger.KindUsage {
				t.Errorf("%s: entries %+v; want the grant and one usage transfer for the batch", when, entries)
			}
			e.Verify(t)
		}
		check("after the batch")
		e.Clock.Advance(time.Hour)
		res = e.ingest(t, slices.Clone(events))
		if res.Accepted != 0 || res.Duplicates != 40 || len(res.Rejected) != 0 {
			t.Fatalf("replay: %+v", res)
		}
		for i, o := range res.Outcomes {
			if o != metering.Duplicate {
				t.Errorf("replayed event %d: %v", i, o)
			}
		}
		check("after the replay")
	})
}

// TestConcurrentReplay sends the same batch from 8 goroutines at once, a few times over:
// every event is counted exactly once, whichever goroutine wins it.
func TestConcurrentReplay(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.catalog(t)
		ws := e.Workspace(t, 0)
		e.Grant(t, ws, 1000*money.Scale)
		var all []metering.Event
		for round := range 3 {
			events := batch(ws, fmt.Sprint("r", round), 300, e.Clock.Now())
			all = append(all, events...)
			const senders = 8
			results := make([]metering.IngestResult, senders)
			errs := make([]error, senders)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := range senders {
				wg.Go(func() {
					<-start
					results[g], errs[g] = e.Meter.Ingest(context.Background(), slices.Clone(events))
				})
			}
			close(start)
			wg.Wait()
			accepted := 0
			for g, r := range results {
				if errs[g] != nil {
					t.Fatalf("sender %d: %v", g, errs[g])
				}
				if r.Accepted+r.Duplicates != len(events) || len(r.Rejected) != 0 {
					t.Errorf("sender %d: %+v", g, r)
				}
				accepted += r.Accepted
			}
			if accepted != len(events) {
				t.Errorf("round %d: %d events accepted in all; want %d", round, accepted, len(events))
			}
			// Each event was accepted by exactly one sender.
			for i := range events {
				n := 0
				for _, r := range results {
					if r.Outcomes[i] == metering.Accepted {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("round %d event %d accepted %d times", round, i, n)
				}
			}
		}
		if b := e.Balance(t, ws); b.Balance != 1000*money.Scale-sumCost(t, all) {
			t.Errorf("balance %s; want 1000 − %s", b.Balance, sumCost(t, all))
		}
		if got, want := e.usageTotal(t, ws), totalsOf(t, all); got != want {
			t.Errorf("usage %+v; want %+v", got, want)
		}
		e.Verify(t)
	})
}

func TestInBatchDuplicates(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.catalog(t)
		ws := e.Workspace(t, 0)
		ev := func(id string, out int64) metering.Event {
			return metering.Event{ID: id, WorkspaceID: ws, Model: "gpt-x", Timestamp: e.Clock.Now().Add(-time.Minute), Usage: pricing.Usage{Output: out}}
		}
		other := ev("a", 1)
		other.KeyID = "key_other" // the key is how it arrived, not what happened: still the same event
		res := e.ingest(t, []metering.Event{ev("a", 1), ev("a", 1), ev("b", 2), ev("b", 3), ev("c", 4), ev("a", 5), other})
		want := []metering.Outcome{metering.Accepted, metering.Duplicate, metering.Accepted, metering.Conflict, metering.Accepted, metering.Conflict, metering.Duplicate}
		if !slices.Equal(res.Outcomes, want) {
			t.Errorf("outcomes %v; want %v", res.Outcomes, want)
		}
		if res.Accepted != 3 || res.Duplicates != 2 || len(res.Rejected) != 2 {
			t.Fatalf("result %+v", res)
		}
		for i, r := range res.Rejected {
			if r.Index != []int{3, 5}[i] || r.Code != "idempotency_conflict" || r.ID != []string{"b", "a"}[i] || r.Error == "" {
				t.Errorf("rejection %d: %+v", i, r)
			}
		}
		spent := sumCost(t, []metering.Event{ev("a", 1), ev("b", 2), ev("c", 4)})
		if b := e.Balance(t, ws); b.Balance != -spent {
			t.Errorf("balance %s; want −%s", b.Balance, spent)
		}
		stored, _ := e.Meter.Events(context.Background(), metering.EventFilter{WorkspaceID: ws})
		if len(stored) != 3 {
			t.Fatalf("%d events stored", len(stored))
		}
		for _, s := range stored {
			if s.ID == "b" && s.Usage.Output != 2 || s.ID == "a" && (s.Usage.Output != 1 || s.KeyID != "") {
				t.Errorf("stored %+v; want the first version", s)
			}
		}
		e.Verify(t)
	})
}

func TestLaterConflict(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.catalog(t)
		ws := e.Workspace(t, 0)
		e.Grant(t, ws, 10*money.Scale)
		first := metering.Event{ID: "x", WorkspaceID: ws, Model: "gpt-x", Timestamp: e.Clock.Now().Add(-time.Hour), Project: "p",
			Usage: pricing.Usage{Input: 1000, Output: 100}, Metadata: []byte(`{"a":1}`)}
		if res := e.ingest(t, []metering.Event{first}); res.Accepted != 1 {
			t.Fatal(res)
		}
		before := e.Balance(t, ws)
		usage := e.usageTotal(t, ws)
		e.Clock.Advance(24 * time.Hour * 400) // years later, as far as the store cares
		for name, change := range map[string]func(*metering.Event){
			"tokens":    func(ev *metering.Event) { ev.Usage.Output++ },
			"model":     func(ev *metering.Event) { ev.Model = "gpt-y" },
			"timestamp": func(ev *metering.Event) { ev.Timestamp = ev.Timestamp.Add(time.Second) },
			"project":   func(ev *metering.Event) { ev.Project = "q" },
			"metadata":  func(ev *metering.Event) { ev.Metadata = []byte(`{"a":2}`) },
		} {
			ev := first
			change(&ev)
			res := e.ingest(t, []metering.Event{ev})
			if res.Accepted != 0 || res.Duplicates != 0 || len(res.Rejected) != 1 || res.Rejected[0].Code != "idempotency_conflict" || res.Outcomes[0] != metering.Conflict {
				t.Errorf("a different %s: %+v", name, res)
			}
		}
		same := first
		same.Metadata = []byte(`{ "a" : 1 }`)
		if res := e.ingest(t, []metering.Event{same}); res.Duplicates != 1 {
			t.Errorf("the same event later: %+v", res)
		}
		if b := e.Balance(t, ws); b != before {
			t.Errorf("balance %+v; want %+v", b, before)
		}
		if u := e.usageTotal(t, ws); u != usage {
			t.Errorf("usage %+v; want %+v", u, usage)
		}
		stored, _ := e.Meter.Events(ctx, metering.EventFilter{WorkspaceID: ws})
		if len(stored) != 1 || stored[0].Usage.Output != 100 || stored[0].Model != "gpt-x" || string(stored[0].Metadata) != `{"a":1}` {
			t.Errorf("stored %+v", stored)
		}
		// Ids are per workspace: the same id elsewhere is another event.
		ws2 := e.Workspace(t, 0)
		ev := first
		ev.WorkspaceID = ws2
		if res := e.ingest(t, []metering.Event{ev}); res.Accepted != 1 {
			t.Errorf("the same id in another workspace: %+v", res)
		}
		e.Verify(t)
	})
}

func TestUnknownWorkspace(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.catalog(t)
		ws := e.Workspace(t, 0)
		mixed := batch(ws, "m", 6, e.Clock.Now())
		mixed[1].WorkspaceID = "ws_nope"
		mixed[4].WorkspaceID = "ws_nope"
		mixed[5].WorkspaceID = "ws_nope"
		mixed[5].ID = mixed[4].ID // a duplicate inside the batch for a missing workspace
		res := e.ingest(t, mixed)
		if res.Accepted != 3 || len(res.Rejected) != 3 {
			t.Fatalf("result %+v", res)
		}
		for i, r := range res.Rejected {
			if r.Index != []int{1, 4, 5}[i] || r.Code != "workspace_not_found" {
				t.Errorf("rejection %+v", r)
			}
		}
		// Concurrent batches, half of them for missing workspaces, grouped however the store likes.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var accepted []metering.Event
		accepted = append(accepted, mixed[0], mixed[2], mixed[3])
		for g := range 12 {
			wg.Go(func() {
				target := ws
				if g%2 == 1 {
					target = fmt.Sprint("ws_missing", g)
				}
				events := batch(target, fmt.Sprint("g", g), 50, e.Clock.Now())
				res, err := e.Meter.Ingest(context.Background(), slices.Clone(events))
				if err != nil {
					t.Error(err)
					return
				}
				if target == ws && (res.Accepted != 50 || len(res.Rejected) != 0) || target != ws && (res.Accepted != 0 || len(res.Rejected) != 50 || res.Rejected[0].Code != "workspace_not_found") {
					t.Errorf("batch %d for %s: accepted %d, rejected %d", g, target, res.Accepted, len(res.Rejected))
				}
				if target == ws {
					mu.Lock()
					accepted = append(accepted, events...)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if b := e.Balance(t, ws); b.Balance != -sumCost(t, accepted) {
			t.Errorf("balance %s; want −%s", b.Balance, sumCost(t, accepted))
		}
		e.Verify(t)
	})
}

// TestIngestRejections: every malformed or unpriceable event is rejected with its index
// and specific code while the rest of the batch is applied.
func TestIngestRejections(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.catalog(t)
		ctx := context.Background()
		later := pricing.Price{Model: "later", Output: 1, EffectiveFrom: e.Clock.Now().Add(time.Hour), CreatedAt: e.Clock.Now()}
		huge := pricing.Price{Model: "huge", Output: money.Max, EffectiveFrom: priceX.EffectiveFrom, CreatedAt: e.Clock.Now()}
		for _, p := range []pricing.Price{later, huge} {
			if err := e.DB.AddPrice(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		ws := e.Workspace(t, 0)
		now := e.Clock.Now()
		ok := func(id string) metering.Event {
			return metering.Event{ID: id, WorkspaceID: ws, Model: "gpt-x", Timestamp: now.Add(-time.Minute), Usage: pricing.Usage{Input: 10, Output: 10}}
		}
		bad := func(change func(*metering.Event)) metering.Event {
			ev := ok("bad")
			change(&ev)
			return ev
		}
		events := []metering.Event{
			ok("ok-0"),
			bad(func(ev *metering.Event) { ev.ID = "" }),
			bad(func(ev *metering.Event) { ev.Usage.Input = -1 }),
			bad(func(ev *metering.Event) { ev.Usage.CachedInput = 11 }),
			ok("ok-4"),
			bad(func(ev *metering.Event) { ev.Model = "nope" }),
			bad(func(ev *metering.Event) { ev.Model = "later" }),
			bad(func(ev *metering.Event) { ev.Model = "huge"; ev.Usage.Output = metering.MaxTokensPerField }),
			bad(func(ev *metering.Event) { ev.Timestamp = now.Add(time.Hour) }),
			bad(func(ev *metering.Event) { ev.Metadata = []byte(`"x"`) }),
			ok("ok-10"),
		}
		res := e.ingest(t, events)
		wantCodes := map[int]string{1: "missing_id", 2: "negative_tokens", 3: "cached_exceeds_input", 5: "unknown_model", 6: "no_price_in_effect",
			7: "cost_overflow", 8: "timestamp_in_future", 9: "invalid_metadata"}
		if res.Accepted != 3 || len(res.Rejected) != len(wantCodes) {
			t.Fatalf("result %+v", res)
		}
		for i, r := range res.Rejected {
			if wantCodes[r.Index] != r.Code || r.Error == "" || i > 0 && res.Rejected[i-1].Index >= r.Index {
				t.Errorf("rejection %+v; want code %q, sorted by index", r, wantCodes[r.Index])
			}
		}
		if b := e.Balance(t, ws); b.Balance != -sumCost(t, []metering.Event{ok("x"), ok("x"), ok("x")}) {
			t.Errorf("balance %s", b.Balance)
		}
		if _, err := e.Meter.Ingest(ctx, make([]metering.Event, metering.MaxBatch+1)); err == nil || wantCodeErr(err) != "batch_too_large" {
			t.Errorf("a batch too large: %v", err)
		}
		if res, err := e.Meter.Ingest(ctx, nil); err != nil || res.Accepted != 0 || len(res.Rejected) != 0 {
			t.Errorf("an empty batch: %+v, %v", res, err)
		}
		e.Verify(t)
	})
}
