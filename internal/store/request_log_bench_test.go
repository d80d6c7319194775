package store_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// BenchmarkRequestLogScale times request log pages (50 events) of one workspace holding
// SPECTRA_BENCH_LOG_EVENTS events (default 20,000) over 30 days, on SQLite and
// PostgreSQL: every filter (none, model, key, member, project, a member with 100 in
// 10 M events, a key used only in the first days, a member and a project no event has,
// a model and member that never meet, periods, request ids) in every sort (time, cost,
// tokens, latency), each on its first page, a page deep in the middle (a cursor at the
// median) and the last page (a cursor at the 51st event from the end of the order,
// unfiltered).
//
// Seeding 10 M events takes long; SPECTRA_BENCH_LOG_SQLITE (a file) and
// SPECTRA_BENCH_LOG_PG_SCHEMA (a schema of SPECTRA_TEST_POSTGRES_URL) keep the databases
// between runs, seeded once. Each case reports its median and slowest page (ms-p50,
// ms-max) besides ns/op, and the events of the page (-1: metering.ErrSortTooDeep).
//
// SPECTRA_BENCH_LOG_SPARSE (e.g. "150,1000,5000", opt-in) adds, once, a member with that
// many events each in its own block, spread evenly over the period, and times its first,
// second, middle and last pages in every order (logBenchSparse; cases sparse-member-N).
func BenchmarkRequestLogScale(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmarks are skipped under -short")
	}
	n := 20_000
	if v := os.Getenv("SPECTRA_BENCH_LOG_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	for _, s := range []string{"sqlite", "postgres"} {
		b.Run(s, func(b *testing.B) {
			db := logBenchOpen(b, s)
			ws := logBenchSeed(b, db, s, n)
			sparse := logBenchSparse(b, db, n)
			logBenchIndex(b, db, s)
			if os.Getenv("SPECTRA_BENCH_LOG_FIRST_FROM_BLOCKS") == "1" {
				defer store.SetIndexFirstPages(false)()
			}
			meter := metering.NewService(db, db, time.Now)
			benchLogSparseCases(b, meter, ws, sparse, n)
			benchLogCases(b, meter, ws, n)
		})
	}
}

// logBenchIndex brings the request log's value index up to date, as serve's
// request-log-index job does (on a database seeded before, it indexes every event: the
// time is logged); SPECTRA_BENCH_LOG_NO_INDEX=1 leaves it as it is (the pages past the
// first of a value order are then answered from the blocks alone while it is behind).
func logBenchIndex(b *testing.B, db *store.DB, dialect string) {
	if os.Getenv("SPECTRA_BENCH_LOG_NO_INDEX") == "1" {
		return
	}
	ctx := context.Background()
	start := time.Now()
	before, _ := db.RawInt(ctx, `SELECT COUNT(*) FROM request_log_index`)
	if err := db.IndexRequestLog(ctx); err != nil {
		b.Fatal(err)
	}
	after, _ := db.RawInt(ctx, `SELECT COUNT(*) FROM request_log_index`)
	if after > before+1_000_000 {
		if dialect == "postgres" {
			if _, err := db.RawExec(ctx, `VACUUM ANALYZE request_log_index`); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("indexed %d rows in %s", after-before, time.Since(start).Round(time.Second))
	}
}

// logBenchWorkspace is the benchmark's workspace.
const logBenchWorkspace = "ws_bench_request_log"

func logBenchOpen(b *testing.B, dialect string) *store.DB {
	opts := storetest.Options{Now: func() time.Time { return coreT0 }}
	if dialect == "sqlite" {
		if path := os.Getenv("SPECTRA_BENCH_LOG_SQLITE"); path != "" {
			return storetest.SQLiteAt(b, path, opts)
		}
		return storetest.SQLite(b, opts)
	}
	base, schema := os.Getenv("SPECTRA_TEST_POSTGRES_URL"), os.Getenv("SPECTRA_BENCH_LOG_PG_SCHEMA")
	if base == "" || schema == "" {
		return storetest.Postgres(b, opts)
	}
	ctx := context.Background()
	admin, err := store.Open(ctx, base, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := admin.RawExec(ctx, `CREATE SCHEMA IF NOT EXISTS `+schema); err != nil {
		b.Fatal(err)
	}
	admin.Close()
	db, err := store.Open(ctx, base+"&search_path="+schema, store.Options{Now: opts.Now, MaxConns: 8})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return db
}

var logBenchModels = []string{"gpt-4o", "gpt-4o-mini", "o3", "claude-sonnet"}

// logBenchPrice is the price of a benchmark model: 0.60 per million output tokens times
// its place in logBenchModels, input a quarter of that.
func logBenchPrice(model string) pricing.Price {
	out := money.Amount(600_000 * (slices.Index(logBenchModels, model) + 1))
	return pricing.Price{Model: model, Input: out / 4, CachedInput: out / 8, CacheWrite: out / 2, Output: out,
		EffectiveFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), CreatedAt: coreT0}
}

// logBenchEvent is the i-th of n events: 20 members, skewed (member-0 sends the most), on
// 8 keys and 4 projects; o3 only for members 0–4; member-rare sends one event in 100,000;
// key_revoked sends a third of the events of the first 2 % of the period; tokens and
// latency spread over two orders of magnitude.
func logBenchEvent(i, n int) metering.Event {
	span := 30 * 24 * time.Hour
	x := benchMix(uint64(i))
	m := int((x % 400) * (x % 400) / 8000) // 0–19, skewed to 0
	member := fmt.Sprint("member-", m)
	model := logBenchModels[(x>>12)%4]
	if model == "o3" && m > 4 {
		model = "gpt-4o"
	}
	key := fmt.Sprint("key_", m%8)
	if i%100_000 == 7 {
		member = "member-rare"
	}
	if i < n/50 && (x>>20)%3 == 0 {
		key = "key_revoked"
	}
	in := int64(200 + ((x>>24)%20_000)*((x>>40)%20)/20)
	return metering.Event{ID: benchID(int64(i), false), WorkspaceID: logBenchWorkspace, Model: model, Member: member, KeyID: key,
		Project: fmt.Sprint("project-", m%4), Timestamp: coreT0.Add(-span + time.Duration(i)*(span/time.Duration(n))),
		Usage:     pricing.Usage{Input: in, CachedInput: in / 4, Output: int64(10 + (x>>30)%4000)},
		LatencyMS: int64(100 + (x>>44)%60_000*((x>>50)%8)/8), Source: "gateway", Status: 200}
}

// logBenchSeed stores n events in the benchmark's workspace, unless the database holds
// them already, and returns the workspace.
func logBenchSeed(b *testing.B, db *store.DB, dialect string, n int) string {
	ctx := context.Background()
	if got, err := db.RawInt(ctx, `SELECT COUNT(*) FROM settings WHERE name = 'bench_request_log' AND value = ?`, strconv.Itoa(n)); err == nil && got == 1 {
		return logBenchWorkspace
	}
	start := time.Now()
	for _, m := range logBenchModels {
		if err := db.AddPrice(ctx, logBenchPrice(m)); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.CreateWorkspace(ctx, team.Workspace{ID: logBenchWorkspace, Name: "bench", Timezone: "UTC", CreatedAt: coreT0}); err != nil {
		b.Fatal(err)
	}
	cat, err := db.Catalog(ctx)
	if err != nil {
		b.Fatal(err)
	}
	const per = 5000
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				first := int(next.Add(per) - per)
				if first >= n {
					return
				}
				batch := make([]metering.Event, 0, per)
				for i := first; i < min(first+per, n); i++ {
					ev := logBenchEvent(i, n)
					if err := ev.Prepare(coreT0); err != nil {
						b.Error(err)
						return
					}
					p, err := cat.At(ev.Model, ev.Timestamp)
					if err != nil {
						b.Error(err)
						return
					}
					if ev.Cost, err = pricing.Cost(p, ev.Usage); err != nil {
						b.Error(err)
						return
					}
					ev.Held = ev.Cost + 1000
					batch = append(batch, ev)
				}
				if _, err := db.ApplyEvents(ctx, cat.Version, batch); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	if err := db.IndexEventKeys(ctx); err != nil {
		b.Fatal(err)
	}
	if dialect == "postgres" { // autovacuum would, a little later; SQLite's store never analyzes
		if _, err := db.RawExec(ctx, `ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.RawExec(ctx, `INSERT INTO settings (name, value) VALUES ('bench_request_log', ?)`, strconv.Itoa(n)); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d events in %s", n, time.Since(start).Round(time.Second))
	return logBenchWorkspace
}

// logBenchCursors are cursors of each value sort at the median (from a sample of the
// events, every 997th) and at the 51st event from the end (from all of them: the page
// after it is the order's last).
func logBenchCursors(n int) map[metering.Sort][2]metering.Cursor {
	var sample []metering.Event
	tails := map[metering.Sort][]metering.Event{}
	for i := range n {
		ev := logBenchEvent(i, n)
		ev.Cost, _ = pricing.Cost(logBenchPrice(ev.Model), ev.Usage)
		if i%997 == 0 {
			sample = append(sample, ev)
		}
		for _, s := range metering.Sorts[1:] {
			tail := tails[s]
			if len(tail) == 51 && s.Compare(&ev, &tail[0]) < 0 {
				continue
			}
			j, _ := slices.BinarySearchFunc(tail, &ev, func(a metering.Event, b *metering.Event) int { return s.Compare(&a, b) })
			tail = slices.Insert(tail, j, ev)
			if len(tail) > 51 {
				tail = tail[1:]
			}
			tails[s] = tail
		}
	}
	out := map[metering.Sort][2]metering.Cursor{}
	for _, s := range metering.Sorts[1:] {
		slices.SortFunc(sample, func(a, b metering.Event) int { return s.Compare(&a, &b) })
		out[s] = [2]metering.Cursor{metering.CursorOf(s, sample[len(sample)/2]), metering.CursorOf(s, tails[s][0])}
	}
	return out
}

func benchLogCases(b *testing.B, meter *metering.Service, ws string, n int) {
	ctx := context.Background()
	span := 30 * 24 * time.Hour
	first := coreT0.Add(-span)
	f := func(fl metering.Filter) metering.EventFilter {
		return metering.EventFilter{WorkspaceID: ws, Filter: fl}
	}
	period := func(from, to time.Time, fl metering.Filter) metering.EventFilter {
		return metering.EventFilter{WorkspaceID: ws, Start: from, End: to, Filter: fl}
	}
	someID := logBenchEvent(n/3, n).ID
	cases := []struct {
		name string
		f    metering.EventFilter
	}{
		{"all", f(metering.Filter{})},
		{"model", f(metering.Filter{Models: []string{"gpt-4o-mini"}})},
		{"key", f(metering.Filter{Keys: []string{"key_3"}})},
		{"member", f(metering.Filter{Members: []string{"member-9"}})},
		{"project", f(metering.Filter{Projects: []string{"project-2"}})},
		{"rare-member", f(metering.Filter{Members: []string{"member-rare"}})},
		{"revoked-key", f(metering.Filter{Keys: []string{"key_revoked"}})},
		{"no-member", f(metering.Filter{Members: []string{"nobody"}})},
		{"no-project", f(metering.Filter{Projects: []string{"project-unknown"}})},
		{"model-and-member-never-meet", f(metering.Filter{Models: []string{"o3"}, Members: []string{"member-9"}})},
		{"last-24h", period(coreT0.Add(-24*time.Hour), coreT0, metering.Filter{})},
		{"1h-15-days-back", period(coreT0.Add(-15*24*time.Hour), coreT0.Add(-15*24*time.Hour+time.Hour), metering.Filter{})},
		{"7d-member", period(coreT0.Add(-7*24*time.Hour), coreT0, metering.Filter{Members: []string{"member-3"}})},
		{"first-day-revoked-key", period(first, first.Add(24*time.Hour), metering.Filter{Keys: []string{"key_revoked"}})},
		{"id", metering.EventFilter{WorkspaceID: ws, ID: someID}},
		{"unknown-id", metering.EventFilter{WorkspaceID: ws, ID: "no-such-request"}},
	}
	// SPECTRA_BENCH_LOG_PERIODS=1 (opt-in) adds custom periods of 1, 2, 3, 6 and 24 hours
	// starting 2, 15 and 28 days back (cases period-<h>h-<d>d-back), and
	// SPECTRA_BENCH_LOG_READ_ALL=N reads up to N blocks whole instead of 64,
	// SPECTRA_BENCH_LOG_PERIOD_FACTOR=1 a SQLite period's up to 64 (as before periodBlocks).
	if os.Getenv("SPECTRA_BENCH_LOG_PERIODS") == "1" {
		for _, h := range []int{1, 2, 3, 6, 24} {
			for _, d := range []int{2, 15, 28} {
				from := coreT0.Add(-time.Duration(d) * 24 * time.Hour)
				cases = append(cases, struct {
					name string
					f    metering.EventFilter
				}{fmt.Sprintf("period-%dh-%dd-back", h, d), period(from, from.Add(time.Duration(h)*time.Hour), metering.Filter{})})
			}
		}
	}
	if v := os.Getenv("SPECTRA_BENCH_LOG_READ_ALL"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		defer store.SetReadAllBlocks(k)()
	}
	if v := os.Getenv("SPECTRA_BENCH_LOG_PERIOD_FACTOR"); v != "" { // 1: as before the SQLite period limit
		k, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		defer store.SetSQLitePeriodFactor(k)()
	}
	cursors := logBenchCursors(n)
	for _, c := range cases {
		for _, s := range metering.Sorts {
			pages := []struct {
				name   string
				cursor *metering.Cursor
			}{{"first", nil}}
			if c.f.ID == "" {
				mid, last := cursors[s][0], cursors[s][1]
				if s == metering.SortTime {
					mid = metering.Cursor{Sort: s, Time: coreT0.Add(-span / 2), ID: "~"}
					last = metering.CursorOf(s, logBenchEvent(50, n)) // the 51st oldest
				}
				pages = append(pages, struct {
					name   string
					cursor *metering.Cursor
				}{"middle", &mid}, struct {
					name   string
					cursor *metering.Cursor
				}{"last", &last})
			}
			for _, p := range pages {
				q := c.f
				q.Sort, q.Cursor, q.Limit = s, p.cursor, 50
				b.Run(c.name+"/"+string(s)+"/"+p.name, func(b *testing.B) {
					var times []time.Duration
					var got int
					for b.Loop() {
						t0 := time.Now()
						evs, err := meter.Events(ctx, q)
						times = append(times, time.Since(t0))
						if errs.CodeOf(err) == metering.ErrSortTooDeep.Code {
							got = -1 // reported as -1 events
							continue
						}
						if err != nil {
							b.Fatal(err)
						}
						got = len(evs)
					}
					slices.Sort(times)
					b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-p50")
					b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "ms-max")
					b.ReportMetric(float64(got), "events")
				})
			}
		}
	}
}

// logBenchSparse seeds and times the case the benchmark's own data leaves out: a member
// with k events (SPECTRA_BENCH_LOG_SPARSE, e.g. "150,1000,5000": one member
// "member-sparse-<k>" per count) spread evenly over the seeded 30 days, each in its own
// block among SPECTRA_BENCH_LOG_SPARSE_BLOCK-1 ordinary events (default 226: the seeded
// blocks' average of 227), ingested through ApplyEvents one block per time point. Seeded
// once per count (a setting marks it). Returns the counts, or nil when not asked for.
func logBenchSparse(b *testing.B, db *store.DB, n int) []int {
	spec := os.Getenv("SPECTRA_BENCH_LOG_SPARSE")
	if spec == "" {
		return nil
	}
	per := 227
	if v := os.Getenv("SPECTRA_BENCH_LOG_SPARSE_BLOCK"); v != "" {
		var err error
		if per, err = strconv.Atoi(v); err != nil || per < 1 {
			b.Fatalf("SPECTRA_BENCH_LOG_SPARSE_BLOCK=%q", v)
		}
	}
	ctx := context.Background()
	var ks []int
	for _, f := range strings.Split(spec, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 1 {
			b.Fatalf("SPECTRA_BENCH_LOG_SPARSE=%q", spec)
		}
		ks = append(ks, k)
		mark := fmt.Sprint("bench_request_log_sparse_", k)
		if got, err := db.RawInt(ctx, `SELECT COUNT(*) FROM settings WHERE name = ?`, mark); err == nil && got == 1 {
			continue
		}
		cat, err := db.Catalog(ctx)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for j := range k {
			batch := make([]metering.Event, 0, per)
			for f := range per {
				ev := logBenchSparseEvent(k, j, f, n)
				if err := ev.Prepare(coreT0); err != nil {
					b.Fatal(err)
				}
				p, err := cat.At(ev.Model, ev.Timestamp)
				if err != nil {
					b.Fatal(err)
				}
				if ev.Cost, err = pricing.Cost(p, ev.Usage); err != nil {
					b.Fatal(err)
				}
				ev.Held = ev.Cost + 1000
				batch = append(batch, ev)
			}
			// One call at a time: concurrent calls may share a transaction and a block.
			if _, err := db.ApplyEvents(ctx, cat.Version, batch); err != nil {
				b.Fatal(err)
			}
		}
		if err := db.IndexEventKeys(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := db.RawExec(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)`, mark, strconv.Itoa(per)); err != nil {
			b.Fatal(err)
		}
		b.Logf("seeded member-sparse-%d: %d blocks of %d events in %s", k, k, per, time.Since(start).Round(time.Second))
	}
	return ks
}

// logBenchSparseEvent is the f-th event of the j-th block of the sparse member with k
// events: f = 0 is the member's event, the others ordinary events (as logBenchEvent's),
// all at the j-th of k even steps over the seeded period.
func logBenchSparseEvent(k, j, f, n int) metering.Event {
	span := 30 * 24 * time.Hour
	x := benchMix(uint64(k)<<40 ^ uint64(j)<<16 ^ uint64(f))
	ev := logBenchEvent(int(x%uint64(n)), n)
	ev.ID = fmt.Sprintf("sparse-%d-%d-%d", k, j, f)
	ev.Timestamp = coreT0.Add(-span + time.Duration(2*j+1)*(span/time.Duration(2*k)))
	if f == 0 {
		ev.Member = fmt.Sprint("member-sparse-", k)
	} else if ev.Member == "member-rare" {
		ev.Member = "member-0"
	}
	return ev
}

// benchLogSparseCases times the sparse members' pages in every order: the first, the
// second, the middle and the last page (cursors from the member's events, made here).
func benchLogSparseCases(b *testing.B, meter *metering.Service, ws string, ks []int, n int) {
	ctx := context.Background()
	for _, k := range ks {
		evs := make([]metering.Event, k)
		for j := range k {
			evs[j] = logBenchSparseEvent(k, j, 0, n)
			evs[j].Cost, _ = pricing.Cost(logBenchPrice(evs[j].Model), evs[j].Usage)
		}
		member := fmt.Sprint("member-sparse-", k)
		for _, s := range metering.Sorts {
			slices.SortFunc(evs, func(a, c metering.Event) int { return s.Compare(&a, &c) })
			pageAt := func(p int) *metering.Cursor { // the cursor before page p (0-based)
				if p <= 0 {
					return nil
				}
				c := metering.CursorOf(s, evs[p*50-1])
				return &c
			}
			pages := (k + 49) / 50
			for _, p := range []struct {
				name string
				at   int
			}{{"first", 0}, {"second", 1}, {"middle", pages / 2}, {"last", pages - 1}} {
				if p.at >= pages || (p.at == 1 && pages < 2) {
					continue
				}
				q := metering.EventFilter{WorkspaceID: ws, Filter: metering.Filter{Members: []string{member}},
					Sort: s, Cursor: pageAt(p.at), Limit: 50}
				want := min(50, k-p.at*50)
				b.Run(fmt.Sprint("sparse-member-", k, "/", s, "/", p.name), func(b *testing.B) {
					var times []time.Duration
					var got int
					for b.Loop() {
						t0 := time.Now()
						page, err := meter.Events(ctx, q)
						times = append(times, time.Since(t0))
						if errs.CodeOf(err) == metering.ErrSortTooDeep.Code {
							got = -1
							continue
						}
						if err != nil {
							b.Fatal(err)
						}
						got = len(page)
						if got != want || page[0].ID != evs[p.at*50].ID {
							b.Fatalf("page %d: %d events, first %s; want %d, first %s", p.at, got, page[0].ID, want, evs[p.at*50].ID)
						}
					}
					slices.Sort(times)
					b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-p50")
					b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "ms-max")
					b.ReportMetric(float64(got), "events")
				})
			}
		}
	}
}
