package store_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// benchStores opens a fresh store of each kind for a benchmark; PostgreSQL needs
// SPECTRA_TEST_POSTGRES_URL, like the tests.
var benchStores = []struct {
	name string
	open func(testing.TB, storetest.Options) *store.DB
}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}}

var benchStored = flag.Int("ingest-stored", 1_000_000, "events stored before BenchmarkIngest's …-stored case")

// benchCount writes n as 1M, 250k or 17.
func benchCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprint(n/1_000_000, "M")
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprint(n/1000, "k")
	}
	return fmt.Sprint(n)
}

var benchModels = []string{"gpt-4o", "gpt-4o-mini", "o3", "claude-sonnet"}

// benchEnv is a store with prices and workspaces for the benchmarks.
func benchEnv(b *testing.B, open func(testing.TB, storetest.Options) *store.DB, workspaces int) (*coreEnv, []string) {
	b.Helper()
	c := storetest.NewClock(coreT0)
	db := open(b, storetest.Options{Now: c.Now})
	e := &coreEnv{&storetest.Env{DB: db, Clock: c, Meter: metering.NewService(db, db, c.Now)}}
	for i, m := range benchModels {
		e.addPrice(b, m, money.Amount(600_000*(i+1)))
	}
	var wss []string
	for range workspaces {
		wss = append(wss, e.Workspace(b, 0))
	}
	return e, wss
}

// benchID is the n-th event id: random-looking like the UUIDv4 most clients send (the
// worst case for the primary key index), or time-ordered like a UUIDv7 or ULID.
func benchID(n int64, ordered bool) string {
	x := uint64(n)
	if !ordered {
		x = benchMix(x)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], x)
	binary.BigEndian.PutUint64(b[8:], benchMix(x^0x9e3779b97f4a7c15))
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func benchMix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// benchEvent is the n-th event of a workspace: a team of 10 members, each on their own key
// and project, spread over 4 models.
func benchEvent(ws string, n int64, ts time.Time, orderedIDs bool) metering.Event {
	member := n % 10
	return metering.Event{ID: benchID(n, orderedIDs), WorkspaceID: ws, Model: benchModels[(n/10)%4], Timestamp: ts,
		KeyID: fmt.Sprint("key_", member%5), Project: fmt.Sprint("project-", member%3), Member: fmt.Sprint("member-", member),
		Usage: pricing.Usage{Input: 1000 + n%977, CachedInput: n % 500, Output: 200 + n%313, Reasoning: n % 50}}
}

// BenchmarkIngest measures events applied per second through metering.Service.Ingest
// (validation, pricing, hashing and the store's transaction), in batches of 1 and 500,
// from one client at a time (serial) and from 16 concurrent clients (parallel), each
// batch for one of 16 workspaces. Event ids are random (UUIDv4-like); the last case
// repeats the parallel batches of 500 with time-ordered ids (UUIDv7- or ULID-like).
func BenchmarkIngest(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmarks are skipped under -short")
	}
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			for _, size := range []int{1, 500} {
				for _, mode := range []string{"serial", "parallel"} {
					b.Run(fmt.Sprintf("batch=%d/%s", size, mode), func(b *testing.B) {
						benchIngest(b, s.open, size, mode == "parallel", false)
					})
				}
			}
			b.Run("batch=500/parallel/ordered-ids", func(b *testing.B) {
				benchIngest(b, s.open, 500, true, true)
			})
			// The same into a database that holds 1,000,000 events already (or
			// -ingest-stored): the dedupe index is then far larger than a group's keys.
			b.Run(fmt.Sprintf("batch=500/parallel/%s-stored", benchCount(*benchStored)), func(b *testing.B) {
				benchIngestStored(b, s.open, 500, *benchStored)
			})
		})
	}
}

func benchIngest(b *testing.B, open func(testing.TB, storetest.Options) *store.DB, size int, parallel, orderedIDs bool) {
	const workspaces = 16
	e, wss := benchEnv(b, open, workspaces)
	benchIngestInto(b, e, wss, size, parallel, orderedIDs)
}

// benchIngestStored is benchIngest (16 clients, random ids) into a store that already
// holds stored events, of a 17th workspace.
func benchIngestStored(b *testing.B, open func(testing.TB, storetest.Options) *store.DB, size, stored int) {
	const workspaces = 16
	e, wss := benchEnv(b, open, workspaces+1)
	seedUsage(b, e, wss[workspaces], stored, 30)
	benchIngestInto(b, e, wss[:workspaces], size, true, false)
}

func benchIngestInto(b *testing.B, e *coreEnv, wss []string, size int, parallel, orderedIDs bool) {
	workspaces := int64(len(wss))
	ctx := context.Background()
	var seq atomic.Int64
	ts := coreT0.Add(-30 * time.Minute)
	ingest := func() {
		n := seq.Add(int64(size))
		ws := wss[(n/int64(size))%workspaces]
		events := make([]metering.Event, size)
		for i := range events {
			events[i] = benchEvent(ws, n-int64(size)+int64(i), ts, orderedIDs)
		}
		res, err := e.Meter.Ingest(ctx, events)
		if err != nil || res.Accepted != size {
			b.Errorf("ingest: %+v %v", res.Rejected, err)
		}
	}
	b.ResetTimer()
	start, cpu := time.Now(), benchCPUTime()
	if parallel {
		b.SetParallelism(8) // 8 × GOMAXPROCS clients
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ingest()
			}
		})
	} else {
		for b.Loop() {
			ingest()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "events/s")
	// CPU time of the whole process (and so not of PostgreSQL's server) per event: less
	// sensitive than events/s to other work on a shared machine.
	b.ReportMetric(float64((benchCPUTime()-cpu).Microseconds())/float64(b.N*size), "cpu-µs/event")
}

// BenchmarkUsageQuery measures a 30-day usage query (bucket=1d, group_by=model) of a
// workspace with 1,000,000 events, answered from hourly rollups. Seeding takes a while:
// it goes through ApplyEvents like any ingestion, in large batches from several goroutines.
func BenchmarkUsageQuery(b *testing.B) {
	eachSeeded(b, func(b *testing.B, e *coreEnv, ws string) {
		q := metering.UsageQuery{WorkspaceID: ws, Start: coreT0.AddDate(0, 0, -seededDays), End: coreT0, Bucket: 24 * time.Hour,
			GroupBy: []string{metering.DimModel}, Location: time.UTC}
		check := func(buckets []metering.Bucket) {
			var total int64
			for _, bk := range buckets {
				for _, r := range bk.Results {
					total += r.Requests
				}
			}
			if total != seededEvents {
				b.Fatalf("the query counts %d events; want %d", total, seededEvents)
			}
		}
		for _, tz := range []string{"UTC", "America/New_York"} {
			loc, err := time.LoadLocation(tz)
			if err != nil {
				b.Fatal(err)
			}
			q := q
			q.Location = loc
			b.Run("30d/1d/model/"+tz, func(b *testing.B) {
				for b.Loop() {
					buckets, err := e.Meter.Usage(context.Background(), q)
					if err != nil {
						b.Fatal(err)
					}
					check(buckets)
				}
			})
		}
	})
}

// The benchmarks' seeded workspace: seededEvents over the seededDays before the clock.
const seededEvents, seededDays = 1_000_000, 30

// eachSeeded runs fn as a sub-benchmark on each store, with a workspace seeded with
// seededEvents over seededDays (seedUsage). It skips under -short.
func eachSeeded(b *testing.B, fn func(b *testing.B, e *coreEnv, ws string)) {
	if testing.Short() {
		b.Skip("benchmarks are skipped under -short")
	}
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			e, wss := benchEnv(b, s.open, 2)
			seedUsage(b, e, wss[0], seededEvents, seededDays)
			fn(b, e, wss[0])
		})
	}
}

// seedUsage applies n events spread evenly over the days before the test clock, through
// ApplyEvents in batches of 5,000 from 4 goroutines, and logs how long it took.
func seedUsage(b *testing.B, e *coreEnv, ws string, n, days int) {
	start := time.Now()
	defer func() { b.Logf("seeded %d events in %s", n, time.Since(start).Round(time.Millisecond)) }()
	ctx := context.Background()
	cat, err := e.DB.Catalog(ctx)
	if err != nil {
		b.Fatal(err)
	}
	span := time.Duration(days) * 24 * time.Hour
	const per = 5000
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				first := next.Add(per) - per
				if first >= int64(n) {
					return
				}
				batch := make([]metering.Event, 0, per)
				for i := first; i < min(first+per, int64(n)); i++ {
					ts := coreT0.Add(-span + time.Duration(i)*(span/time.Duration(n)))
					ev := benchEvent(ws, i, ts, false)
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
					batch = append(batch, ev)
				}
				if _, err := e.DB.ApplyEvents(ctx, cat.Version, batch); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// benchCPUTime is the user and system CPU time this process has used.
func benchCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRequestLog measures request log pages (50 events, newest first) of a workspace
// with 1,000,000 events over 30 days, read from event blocks: the newest page, a page 15
// days back, the newest page filtered by model (a quarter of the events) and by a member
// with no events at all (every block of the workspace is read).
func BenchmarkRequestLog(b *testing.B) {
	eachSeeded(b, func(b *testing.B, e *coreEnv, ws string) {
		ctx := context.Background()
		for _, c := range []struct {
			name string
			f    metering.EventFilter
			want int
		}{
			{"newest", metering.EventFilter{WorkspaceID: ws, Limit: 50}, 50},
			{"15-days-back", metering.EventFilter{WorkspaceID: ws, Limit: 50, BeforeTime: coreT0.AddDate(0, 0, -15), BeforeID: "~"}, 50},
			{"model", metering.EventFilter{WorkspaceID: ws, Limit: 50, Filter: metering.Filter{Models: []string{benchModels[1]}}}, 50},
			{"no-match", metering.EventFilter{WorkspaceID: ws, Limit: 50, Filter: metering.Filter{Members: []string{"nobody"}}}, 0},
		} {
			b.Run(c.name, func(b *testing.B) {
				for b.Loop() {
					got, err := e.Meter.Events(ctx, c.f)
					if err != nil || len(got) != c.want {
						b.Fatalf("%d events, %v; want %d", len(got), err, c.want)
					}
				}
			})
		}
	})
}
