package store_test

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
)

var propChecksChosen = sync.OnceValue(func() bool {
	chosen := false
	flag.Visit(func(f *flag.Flag) { chosen = chosen || f.Name == "rapid.checks" })
	_, coreEnv := os.LookupEnv("RAPID_CHECKS")
	return chosen || coreEnv
})

// propChecks runs n rapid checks per property in this test (each check here is a whole
// sequence of database transactions) unless -rapid.checks or RAPID_CHECKS chose a number.
func propChecks(t *testing.T, n int) {
	if propChecksChosen() {
		return
	}
	if raceDetector {
		n = max(n/5, 4)
	}
	f := flag.Lookup("rapid.checks")
	old := f.Value.String()
	if err := f.Value.Set(strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Value.Set(old) })
}

// The property test's price list; "m3" has no price.
var propPrices = map[string]pricing.Price{
	"m1": {Model: "m1", Input: 3_000_000, CachedInput: 300_000, CacheWrite: 3_750_000, Output: 15_000_000, Request: 7},
	"m2": {Model: "m2", Input: 150_000, CachedInput: 75_000, Output: 600_000},
}

// metadata variants: the first three are one canonical object.
var propMetadata = []struct {
	raw, canonical string
}{{"", ""}, {"null", ""}, {`{"a":1}`, "a1"}, {`{ "a" : 1 }`, "a1"}, {`{"a":2}`, "a2"}}

type propHold struct {
	ws      string
	amount  money.Amount
	expires time.Time
	open    bool
}

type propEvent struct {
	content string
	metering.Event
}

type propUsageKey struct {
	hour                          int64
	model, keyID, project, member string
}

// propStats counts what the generated sequences exercised, so a generator that stops
// producing replays, or events beside open holds, shows in -v output.
type propStats struct {
	accepted, duplicates, conflicts, unknownWS, invalid, besideHolds, grantReplays, grantConflicts, refused, released, swept int
}

// propModel is what the ledger and metering should hold, computed without the store.
type propModel struct {
	nonce   string
	wss     []string // known workspaces
	unknown string
	limit   map[string]money.Amount
	balance map[string]money.Amount
	carry   map[string]int64           // each wallet's sub-micro carry (metering.Batch.Charge)
	grants  map[string]ledger.Transfer // ws + "/" + key
	events  map[string]propEvent       // ws + "/" + id
	holds   map[string]*propHold
	usage   map[string]map[propUsageKey]metering.Totals // ws → group → totals
	sent    []metering.Event                            // every event sent, for replays
	stats   *propStats
}

func (m *propModel) held(ws string) money.Amount {
	var s money.Amount
	for _, h := range m.holds {
		if h.open && h.ws == ws {
			s += h.amount
		}
	}
	return s
}

func propContent(ev metering.Event, meta string) string {
	return fmt.Sprint(ev.WorkspaceID, "|", ev.ID, "|", ev.Model, "|", ev.Timestamp.UnixMicro(), "|", ev.Usage, "|", ev.Project, "|", ev.Member, "|", meta)
}

func propCanonicalMeta(raw []byte) string {
	for _, v := range propMetadata {
		if v.raw == string(raw) {
			return v.canonical
		}
	}
	panic("unknown metadata variant " + string(raw))
}

// TestLedgerAndMeteringProperties runs random sequences of grants (some replayed, some
// conflicting), event batches (ids from a small pool, so replays and conflicts happen),
// reserves, releases and expiry sweeps, against a model of what they must do: a hold
// closes only when released or swept, never by an event of its wallet. After every step
// each wallet's balance and held amount match the model; after every sequence Verify
// passes and usage from rollups equals the model's sums per group and hour.
func TestLedgerAndMeteringProperties(t *testing.T) {
	propChecks(t, 25)
	// SQLite: background sweeps of recent event keys start at 5 keys, 3 a slice, so they
	// interleave with the sequence's transactions.
	defer store.SetSweepSizes(5, 3)()
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		for _, p := range propPrices {
			p.EffectiveFrom, p.CreatedAt = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), e.Clock.Now()
			if err := e.DB.AddPrice(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		now := e.Clock.Now()
		stats := &propStats{}
		defer func() { t.Logf("exercised: %+v", *stats) }()
		rapid.Check(t, func(rt *rapid.T) {
			// Holds left open by earlier sequences would be swept by this one's sweeps.
			if _, err := e.DB.ReleaseExpired(ctx, now.AddDate(1, 0, 0)); err != nil {
				rt.Fatal(err)
			}
			m := &propModel{nonce: ids.Random(5), limit: map[string]money.Amount{}, balance: map[string]money.Amount{}, carry: map[string]int64{},
				grants: map[string]ledger.Transfer{}, events: map[string]propEvent{}, holds: map[string]*propHold{}, usage: map[string]map[propUsageKey]metering.Totals{},
				stats: stats}
			m.unknown = "ws_unknown_" + m.nonce
			for i := range 3 {
				limit := rapid.SampledFrom([]money.Amount{0, 0, 1_000, 2 * money.Scale}).Draw(rt, fmt.Sprint("limit", i))
				ws := e.Workspace(rt, limit)
				m.wss = append(m.wss, ws)
				m.limit[ws] = limit
				m.usage[ws] = map[propUsageKey]metering.Totals{}
				if start := rapid.SampledFrom([]money.Amount{0, 50 * money.Scale, 500 * money.Scale}).Draw(rt, "start"); start > 0 {
					tr, _, err := e.Ledger.Grant(ctx, ws, start, "start", "")
					if err != nil {
						rt.Fatal(err)
					}
					m.grants[ws+"/start"] = tr
					m.balance[ws] = start
				}
			}
			anyWS := func(rt *rapid.T, label string) string {
				return rapid.SampledFrom(append(slices.Clone(m.wss), m.wss[0], m.unknown)).Draw(rt, label)
			}
			holdID := func(rt *rapid.T) string { return m.nonce + "-h" + strconv.Itoa(rapid.IntRange(0, 5).Draw(rt, "hold")) }

			rt.Repeat(map[string]func(*rapid.T){
				"grant": func(rt *rapid.T) {
					ws := anyWS(rt, "ws")
					key := rapid.SampledFrom([]string{"g0", "g1", "g2"}).Draw(rt, "key")
					amount := rapid.SampledFrom([]money.Amount{1, 500, money.Scale, 7_654_321, 40 * money.Scale}).Draw(rt, "amount")
					note := rapid.SampledFrom([]string{"", "n"}).Draw(rt, "note")
					tr, created, err := e.Ledger.Grant(ctx, ws, amount, key, note)
					prev, seen := m.grants[ws+"/"+key]
					switch {
					case ws == m.unknown:
						if errs.CodeOf(err) != "workspace_not_found" {
							rt.Fatalf("grant to an unknown workspace: %v", err)
						}
					case seen && (prev.Amount != amount || prev.Note != note):
						if err != ledger.ErrConflict {
							rt.Fatalf("conflicting grant: %+v %v %v", tr, created, err)
						}
						m.stats.grantConflicts++
					case seen:
						if err != nil || created || tr != prev {
							rt.Fatalf("replayed grant: %+v %v %v; want %+v", tr, created, err, prev)
						}
						m.stats.grantReplays++
					default:
						if err != nil || !created || tr.Amount != amount {
							rt.Fatalf("grant: %+v %v %v", tr, created, err)
						}
						m.grants[ws+"/"+key] = tr
						m.balance[ws] += amount
					}
				},
				"ingest": func(rt *rapid.T) {
					n := rapid.IntRange(1, 6).Draw(rt, "n")
					batch := make([]metering.Event, n)
					for i := range batch {
						batch[i] = m.drawEvent(rt, anyWS, now)
					}
					m.sent = append(m.sent, batch...)
					res, err := e.Meter.Ingest(ctx, slices.Clone(batch))
					if err != nil {
						rt.Fatal(err)
					}
					want := m.ingest(rt, batch, now)
					for i, r := range res.Rejected {
						if r.Error == "" {
							rt.Fatalf("rejection %+v has no message", r)
						}
						res.Rejected[i].Error = ""
					}
					if res.Accepted != want.Accepted || res.Duplicates != want.Duplicates || !slices.Equal(res.Rejected, want.Rejected) {
						rt.Fatalf("ingest %+v:\n got %d accepted, %d duplicates, %+v\nwant %d accepted, %d duplicates, %+v", batch,
							res.Accepted, res.Duplicates, res.Rejected, want.Accepted, want.Duplicates, want.Rejected)
					}
				},
				"reserve": func(rt *rapid.T) {
					ws := anyWS(rt, "ws")
					id := holdID(rt)
					amount := rapid.SampledFrom([]money.Amount{0, 1, 1_000, 2 * money.Scale, 20 * money.Scale}).Draw(rt, "amount")
					ttl := time.Duration(rapid.IntRange(1, 3).Draw(rt, "ttl")) * time.Minute
					h, err := e.Ledger.Reserve(ctx, ws, id, amount, ttl)
					prev, seen := m.holds[id]
					available := m.balance[ws] - m.held(ws)
					switch {
					case seen:
						if err != nil || h.Amount != prev.amount || h.WorkspaceID != prev.ws {
							rt.Fatalf("reserving %s again: %+v %v; want the first hold %+v", id, h, err, prev)
						}
					case ws == m.unknown:
						if errs.CodeOf(err) != "workspace_not_found" {
							rt.Fatalf("reserve on an unknown workspace: %v", err)
						}
					case available-amount >= -m.limit[ws] && available > -m.limit[ws]:
						if err != nil {
							rt.Fatalf("reserve %s at available %s, limit %s: %v", amount, available, m.limit[ws], err)
						}
						m.holds[id] = &propHold{ws: ws, amount: amount, expires: now.Add(ttl), open: true}
					default:
						if err != ledger.ErrInsufficient {
							rt.Fatalf("reserve %s at available %s, limit %s: %v; want insufficient_balance", amount, available, m.limit[ws], err)
						}
						m.stats.refused++
					}
				},
				"release": func(rt *rapid.T) {
					id := holdID(rt)
					err := e.Ledger.Release(ctx, id)
					if h := m.holds[id]; h != nil && h.open {
						if err != nil {
							rt.Fatalf("release %s: %v", id, err)
						}
						h.open = false
						m.stats.released++
					} else if err != ledger.ErrHoldNotFound {
						rt.Fatalf("release %s (not open): %v", id, err)
					}
				},
				"sweep": func(rt *rapid.T) {
					at := now.Add(time.Duration(rapid.IntRange(0, 4).Draw(rt, "minutes")) * time.Minute)
					n, err := e.DB.ReleaseExpired(ctx, at)
					want := 0
					for _, h := range m.holds {
						if h.open && h.expires.Before(at) {
							h.open = false
							want++
						}
					}
					if err != nil || n != want {
						rt.Fatalf("ReleaseExpired(%s) = %d, %v; want %d", at, n, err, want)
					}
					m.stats.swept += n
				},
				"index keys": func(rt *rapid.T) {
					var err error
					if rapid.Bool().Draw(rt, "all") {
						err = e.DB.IndexEventKeys(ctx)
					} else {
						err = e.DB.SweepEventKeysOnce(ctx)
					}
					if err != nil {
						rt.Fatal(err)
					}
				},
				"": func(rt *rapid.T) {
					for _, ws := range m.wss {
						b, err := e.Ledger.Balance(ctx, ws)
						if err != nil {
							rt.Fatal(err)
						}
						if b.Balance != m.balance[ws] || b.Held != m.held(ws) || b.Available != b.Balance-b.Held {
							rt.Fatalf("%s: %+v; want balance %s, held %s", ws, b, m.balance[ws], m.held(ws))
						}
					}
				},
			})
			m.checkEnd(rt, e, now)
		})
	})
}

// drawEvent draws a fresh event, or replays an earlier one as it was or with one change.
func (m *propModel) drawEvent(rt *rapid.T, anyWS func(*rapid.T, string) string, now time.Time) metering.Event {
	var ev metering.Event
	kind := "fresh"
	if len(m.sent) > 0 {
		kind = rapid.SampledFrom([]string{"fresh", "fresh", "replay", "replay", "change"}).Draw(rt, "kind")
	}
	if kind != "fresh" {
		ev = rapid.SampledFrom(m.sent).Draw(rt, "earlier")
		ev.KeyID = rapid.SampledFrom([]string{ev.KeyID, "", "k2"}).Draw(rt, "key") // how it arrived is not what it is
	}
	if kind == "fresh" || kind == "change" {
		field := "all"
		if kind == "change" {
			field = rapid.SampledFrom([]string{"model", "ts", "tokens", "labels", "metadata"}).Draw(rt, "field")
		} else {
			ev.WorkspaceID = anyWS(rt, "ws")
			ev.ID = "e" + strconv.Itoa(rapid.IntRange(0, 5).Draw(rt, "id"))
			ev.KeyID = rapid.SampledFrom([]string{"", "k1", "k2"}).Draw(rt, "key")
		}
		if field == "all" || field == "model" {
			ev.Model = rapid.SampledFrom([]string{"m1", "m1", "m1", "m2", "m2", "m2", "m3"}).Draw(rt, "model")
		}
		if field == "all" || field == "ts" {
			ev.Timestamp = now.Add(-time.Duration(rapid.IntRange(0, 5*60).Draw(rt, "minutes ago")) * time.Minute)
		}
		if field == "all" || field == "tokens" {
			in := rapid.SampledFrom([]int64{0, 10, 1_000, 123_457, 4_000_000}).Draw(rt, "input")
			out := rapid.SampledFrom([]int64{0, 7, 5_000, 2_000_000}).Draw(rt, "output")
			ev.Usage = pricing.Usage{Input: in, CachedInput: rapid.SampledFrom([]int64{0, 0, in / 2, in / 2, in, in + 1}).Draw(rt, "cached"),
				CacheWrite: rapid.SampledFrom([]int64{0, 0, 99}).Draw(rt, "cache write"), Output: out, Reasoning: rapid.SampledFrom([]int64{0, out / 3}).Draw(rt, "reasoning")}
		}
		if field == "all" || field == "labels" {
			ev.Project = rapid.SampledFrom([]string{"", "p1"}).Draw(rt, "project")
			ev.Member = rapid.SampledFrom([]string{"", "alice"}).Draw(rt, "member")
		}
		if field == "all" || field == "metadata" {
			ev.Metadata = []byte(rapid.SampledFrom(propMetadata).Draw(rt, "metadata").raw)
			if len(ev.Metadata) == 0 {
				ev.Metadata = nil
			}
		}
	}
	if kind == "fresh" && rapid.Bool().Draw(rt, "beside a hold") { // the wallet of an open hold, if any
		var open []string
		for id, h := range m.holds {
			if h.open {
				open = append(open, id)
			}
		}
		if len(open) > 0 {
			slices.Sort(open)
			ev.WorkspaceID = m.holds[rapid.SampledFrom(open).Draw(rt, "open hold")].ws
		}
	}
	return ev
}

// ingest applies a batch to the model and returns the result the service must give.
func (m *propModel) ingest(rt *rapid.T, batch []metering.Event, now time.Time) metering.IngestResult {
	res := metering.IngestResult{Rejected: []metering.Rejection{}}
	reject := func(i int, code string) {
		res.Rejected = append(res.Rejected, metering.Rejection{Index: i, ID: batch[i].ID, Code: code})
	}
	type applied struct {
		i     int
		exact pricing.Exact
	}
	var reached []applied // valid, priced events, in batch order
	for i, ev := range batch {
		p, priced := propPrices[ev.Model]
		switch {
		case ev.Usage.CachedInput > ev.Usage.Input:
			reject(i, "cached_exceeds_input")
			m.stats.invalid++
			continue
		case !priced:
			reject(i, "unknown_model")
			m.stats.invalid++
			continue
		}
		q, err := p.Quote(ev.Usage)
		if err != nil {
			rt.Fatal(err)
		}
		reached = append(reached, applied{i, q.Cost})
	}
	var accepted []applied // charged below, in (workspace, id) order
	for _, a := range reached {
		ev := batch[a.i]
		k := ev.WorkspaceID + "/" + ev.ID
		content := propContent(ev, propCanonicalMeta(ev.Metadata))
		stored, seen := m.events[k]
		switch {
		case !slices.Contains(m.wss, ev.WorkspaceID):
			reject(a.i, "workspace_not_found")
			m.stats.unknownWS++
			continue
		case seen && stored.content == content:
			res.Duplicates++
			m.stats.duplicates++
		case seen:
			reject(a.i, "idempotency_conflict")
			m.stats.conflicts++
		default:
			res.Accepted++
			m.stats.accepted++
			m.events[k] = propEvent{content: content, Event: ev}
			accepted = append(accepted, a)
		}
		if m.held(ev.WorkspaceID) > 0 {
			m.stats.besideHolds++ // and the holds stay as they are
		}
	}
	// Each accepted event is charged floor(carry + exact), in (workspace, id) order.
	slices.SortFunc(accepted, func(a, b applied) int {
		x, y := batch[a.i], batch[b.i]
		return cmp.Or(strings.Compare(x.WorkspaceID, y.WorkspaceID), strings.Compare(x.ID, y.ID))
	})
	for _, a := range accepted {
		ev := batch[a.i]
		k := ev.WorkspaceID + "/" + ev.ID
		sum := m.carry[ev.WorkspaceID] + a.exact.Frac
		ev.Cost = a.exact.Micro + money.Amount(sum/1_000_000)
		m.carry[ev.WorkspaceID] = sum % 1_000_000
		stored := m.events[k]
		stored.Event = ev
		m.events[k] = stored
		m.balance[ev.WorkspaceID] -= ev.Cost
		hour := ev.Timestamp.UTC().Truncate(time.Hour).Unix()
		for _, g := range []propUsageKey{{hour, ev.Model, ev.KeyID, ev.Project, ev.Member}} {
			tot := m.usage[ev.WorkspaceID][g]
			tot.Add(metering.TotalsOf(ev))
			m.usage[ev.WorkspaceID][g] = tot
		}
	}
	slices.SortStableFunc(res.Rejected, func(a, b metering.Rejection) int { return a.Index - b.Index })
	return res
}

// checkEnd compares the store with the model after a sequence.
func (m *propModel) checkEnd(rt *rapid.T, e *coreEnv, now time.Time) {
	ctx := context.Background()
	rep, err := e.DB.Verify(ctx)
	if err != nil || !rep.OK() {
		rt.Fatalf("verify: %+v %v", rep, err)
	}
	for _, ws := range m.wss {
		var grants, costs money.Amount
		for k, g := range m.grants {
			if g.WorkspaceID == ws && k == ws+"/"+g.IdempotencyKey[len("grant:"+ws+":"):] {
				grants += g.Amount
			}
		}
		for _, ev := range m.events {
			if ev.WorkspaceID == ws {
				costs += ev.Cost
			}
		}
		b, err := e.Ledger.Balance(ctx, ws)
		if err != nil || b.Balance != grants-costs || b.Held != m.held(ws) {
			rt.Fatalf("%s: %+v, %v; want grants %s − costs %s, held %s", ws, b, err, grants, costs, m.held(ws))
		}
		buckets, err := e.Meter.Usage(ctx, metering.UsageQuery{WorkspaceID: ws, Start: now.Add(-6 * time.Hour), End: now.Add(time.Hour),
			Bucket: time.Hour, GroupBy: []string{metering.DimModel, metering.DimKey, metering.DimProject, metering.DimMember}})
		if err != nil {
			rt.Fatal(err)
		}
		got := map[propUsageKey]metering.Totals{}
		for _, bk := range buckets {
			for _, r := range bk.Results {
				got[propUsageKey{bk.Start.Unix(), *r.Model, *r.KeyID, *r.Project, *r.Member}] = r.Totals
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(m.usage[ws]) {
			rt.Fatalf("%s usage:\n got %v\nwant %v", ws, got, m.usage[ws])
		}
		// Grouped by each dimension alone (answered from rollups_hourly_dim), and filtered.
		for _, c := range []struct {
			groupBy []string
			filter  metering.Filter
			keep    func(propUsageKey) bool
		}{
			{[]string{metering.DimModel}, metering.Filter{}, nil},
			{[]string{metering.DimKey}, metering.Filter{}, nil},
			{[]string{metering.DimProject}, metering.Filter{}, nil},
			{[]string{metering.DimMember}, metering.Filter{}, nil},
			{[]string{metering.DimModel}, metering.Filter{Models: []string{"m2"}}, func(k propUsageKey) bool { return k.model == "m2" }},
			{nil, metering.Filter{Members: []string{"alice"}}, func(k propUsageKey) bool { return k.member == "alice" }},
			{nil, metering.Filter{Keys: []string{"k1", ""}}, func(k propUsageKey) bool { return k.keyID == "k1" || k.keyID == "" }},
			{[]string{metering.DimProject}, metering.Filter{Members: []string{"alice"}}, func(k propUsageKey) bool { return k.member == "alice" }},
		} {
			want := map[propUsageKey]metering.Totals{}
			for k, tot := range m.usage[ws] {
				if c.keep != nil && !c.keep(k) {
					continue
				}
				g := propUsageKey{hour: k.hour}
				for _, d := range c.groupBy {
					switch d {
					case metering.DimModel:
						g.model = k.model
					case metering.DimKey:
						g.keyID = k.keyID
					case metering.DimProject:
						g.project = k.project
					case metering.DimMember:
						g.member = k.member
					}
				}
				sum := want[g]
				sum.Add(tot)
				want[g] = sum
			}
			buckets, err := e.Meter.Usage(ctx, metering.UsageQuery{WorkspaceID: ws, Start: now.Add(-6 * time.Hour), End: now.Add(time.Hour),
				Bucket: time.Hour, GroupBy: c.groupBy, Filter: c.filter})
			if err != nil {
				rt.Fatal(err)
			}
			got := map[propUsageKey]metering.Totals{}
			for _, bk := range buckets {
				for _, r := range bk.Results {
					g := propUsageKey{hour: bk.Start.Unix()}
					for p, f := range map[*string]*string{r.Model: &g.model, r.KeyID: &g.keyID, r.Project: &g.project, r.Member: &g.member} {
						if p != nil {
							*f = *p
						}
					}
					got[g] = r.Totals
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				rt.Fatalf("%s usage by %v, filter %+v:\n got %v\nwant %v", ws, c.groupBy, c.filter, got, want)
			}
		}
		// The ungrouped daily total agrees too.
		day, err := e.Meter.Usage(ctx, metering.UsageQuery{WorkspaceID: ws, Start: now.Add(-6 * time.Hour), End: now.Add(time.Hour), Bucket: 24 * time.Hour})
		if err != nil {
			rt.Fatal(err)
		}
		var sum, want metering.Totals
		for _, bk := range day {
			for _, r := range bk.Results {
				sum.Add(r.Totals)
			}
		}
		for _, tot := range m.usage[ws] {
			want.Add(tot)
		}
		if sum != want || want.Cost != costs {
			rt.Fatalf("%s daily usage %+v; want %+v (costs %s)", ws, sum, want, costs)
		}
	}
}
