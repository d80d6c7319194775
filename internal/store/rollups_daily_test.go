package store_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/metering"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/team"

	"pgregory.net/rapid"
	"spectra/internal/store/storetest"
)

// hourlyOnly is the store without its daily rollups: every answer comes from the hourly ones.
type hourlyOnly struct{ *store.DB }

func (hourlyOnly) DailyRollups(context.Context, metering.RollupQuery, string) ([]metering.RollupRow, bool, error) {
	return nil, false, nil
}

// countingDaily counts the daily reads that were answered.
type countingDaily struct {
	*store.DB
	n *atomic.Int64
}

func (c countingDaily) DailyRollups(ctx context.Context, q metering.RollupQuery, zone string) ([]metering.RollupRow, bool, error) {
	rows, ok, err := c.DB.DailyRollups(ctx, q, zone)
	if ok {
		c.n.Add(1)
	}
	return rows, ok, err
}

// Zones with whole-hour, half-hour and 45-minute offsets, DST at 02:00, 03:00 and at
// midnight (America/Santiago's September midnight does not exist, its April one repeats).
var dailyZones = []string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Adelaide",
	"Asia/Kathmandu", "Pacific/Chatham", "America/Santiago", "America/St_Johns", "Europe/Paris"}

// Two stretches of days around DST changes in both hemispheres.
var dailyEras = []time.Time{time.Date(2025, 3, 25, 0, 0, 0, 0, time.UTC), time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)}

func newWorkspace(t storetest.Fataler, db *store.DB, tz string, now time.Time) string {
	t.Helper()
	id := ids.New("ws")
	if err := db.CreateWorkspace(context.Background(), team.Workspace{ID: id, Name: "test", Timezone: tz, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestDailyRollupsMatchHourly: for random events in random zones (the timezone changed
// or not in between), random ranges, buckets, zones, groups and filters, usage planned
// over the daily rollups equals, to the micro-unit, usage from the hourly rollups alone
// — and the daily path was taken; Verify agrees with the events.
func TestDailyRollupsMatchHourly(t *testing.T) {
	propChecks(t, 40)
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		e.Clock.Set(now)
		for _, m := range []string{"m1", "m2", "m3"} {
			e.addPrice(t, m, 1_234_567)
		}
		var used atomic.Int64
		planned := metering.NewService(countingDaily{e.DB, &used}, e.DB, e.Clock.Now)
		plain := metering.NewService(hourlyOnly{e.DB}, e.DB, e.Clock.Now)
		rapid.Check(t, func(rt *rapid.T) {
			zone := rapid.SampledFrom(dailyZones).Draw(rt, "zone")
			ws := newWorkspace(rt, e.DB, zone, now)
			era := rapid.SampledFrom(dailyEras).Draw(rt, "era")
			ingest := func(label string) {
				n := rapid.IntRange(1, 150).Draw(rt, label+" events")
				events := make([]metering.Event, n)
				for i := range events {
					events[i] = metering.Event{ID: fmt.Sprint(label, i), WorkspaceID: ws,
						Model:     rapid.SampledFrom([]string{"m1", "m2", "m3"}).Draw(rt, "model"),
						Timestamp: era.Add(time.Duration(rapid.Int64Range(0, int64(14*24*time.Hour)).Draw(rt, "at"))),
						KeyID:     rapid.SampledFrom([]string{"", "k1", "k2"}).Draw(rt, "key"),
						Project:   rapid.SampledFrom([]string{"", "p1", "p2"}).Draw(rt, "project"),
						Member:    rapid.SampledFrom([]string{"", "u1", "u2", "u3"}).Draw(rt, "member"),
						Usage:     pricing.Usage{Input: rapid.Int64Range(0, 5000).Draw(rt, "in"), Output: rapid.Int64Range(0, 5000).Draw(rt, "out")}}
				}
				if res, err := e.Meter.Ingest(ctx, events); err != nil || res.Accepted != n {
					rt.Fatalf("ingest: %+v %v", res, err)
				}
			}
			ingest("a")
			if rapid.Bool().Draw(rt, "change timezone") {
				zone = rapid.SampledFrom(dailyZones).Draw(rt, "new zone")
				if err := e.DB.SetWorkspaceTimezone(ctx, ws, zone); err != nil {
					rt.Fatal(err)
				}
				ingest("b")
			}
			for range 6 {
				qz := zone
				if rapid.IntRange(0, 3).Draw(rt, "other zone") == 0 {
					qz = rapid.SampledFrom(dailyZones).Draw(rt, "query zone")
				}
				loc, _ := time.LoadLocation(qz)
				start := era.Add(time.Duration(rapid.Int64Range(-2*24, 15*24).Draw(rt, "start h")) * time.Hour).
					Add(time.Duration(rapid.SampledFrom([]int{0, 0, 15, 30, 45}).Draw(rt, "start min")) * time.Minute)
				end := start.Add(time.Duration(rapid.Int64Range(1, 16*24).Draw(rt, "hours")) * time.Hour)
				var groups []string
				for _, d := range metering.Dimensions {
					if rapid.IntRange(0, 2).Draw(rt, "group "+d) == 0 {
						groups = append(groups, d)
					}
				}
				var f metering.Filter
				switch rapid.IntRange(0, 5).Draw(rt, "filter") {
				case 1:
					f.Models = []string{"m1"}
				case 2:
					f.Keys = []string{"k2", ""}
				case 3:
					f.Members = []string{"u1"}
				case 4:
					f.Projects, f.Models = []string{"p1"}, []string{"m2", "m3"}
				}
				q := metering.UsageQuery{WorkspaceID: ws, Start: start, End: end, Location: loc, GroupBy: groups, Filter: f,
					Bucket: rapid.SampledFrom([]time.Duration{24 * time.Hour, 24 * time.Hour, time.Hour}).Draw(rt, "bucket")}
				got, err1 := planned.Usage(ctx, q)
				want, err2 := plain.Usage(ctx, q)
				if err1 != nil || err2 != nil {
					if fmt.Sprint(err1) != fmt.Sprint(err2) {
						rt.Fatalf("errors differ: %v / %v", err1, err2)
					}
				} else if !reflect.DeepEqual(got, want) {
					rt.Fatalf("usage %+v in %s: daily plan differs from hourly\n got %s\nwant %s", q, qz, bucketsString(got), bucketsString(want))
				}
				gotT, err1 := planned.Total(ctx, q)
				wantT, err2 := plain.Total(ctx, q)
				if err1 != nil || err2 != nil {
					rt.Fatalf("total: %v / %v", err1, err2)
				}
				if !reflect.DeepEqual(gotT, wantT) {
					rt.Fatalf("total %+v in %s: daily plan %s, hourly %s", q, qz, resultsString(gotT), resultsString(wantT))
				}
			}
			if rep := e.report(rt); !rep.OK() {
				rt.Fatalf("verify: %+v", rep)
			}
		})
		if used.Load() == 0 {
			t.Error("no query was answered from the daily rollups")
		}
	})
}

func bucketsString(bs []metering.Bucket) string {
	s := ""
	for _, b := range bs {
		if len(b.Results) > 0 {
			s += fmt.Sprintf("\n  %s %s", b.Start.Format(time.RFC3339), resultsString(b.Results))
		}
	}
	return s
}

func resultsString(rs []metering.Result) string {
	s := ""
	for _, r := range rs {
		s += fmt.Sprintf("[%s %s %s %s %+v]", deref(r.Model), deref(r.KeyID), deref(r.Project), deref(r.Member), r.Totals)
	}
	return s
}

func deref(p *string) string {
	if p == nil {
		return "-"
	}
	return *p
}

// juneScene sets e's clock to 20 June 2025, 00:00 UTC, the time of the timezone tests,
// prices model "m" (addPrice) and returns the time.
func juneScene(t *testing.T, e *coreEnv) time.Time {
	t.Helper()
	now := time.Date(2025, 6, 20, 0, 0, 0, 0, time.UTC)
	e.Clock.Set(now)
	e.addPrice(t, "m", 1_000_000)
	return now
}

// TestSetWorkspaceTimezoneRebuildsDays: after a timezone change, the day rows are the
// new zone's days (read for day buckets in it), the old zone's days are answered from the
// hourly rows, both equal the hourly-only answer, and Verify agrees. Bad zones and
// unknown workspaces are refused.
func TestSetWorkspaceTimezoneRebuildsDays(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		now := juneScene(t, e)
		ws := newWorkspace(t, e.DB, "UTC", now)
		var events []metering.Event
		for i := range 48 { // one event at hh:10 every hour of June 10 and 11 (UTC)
			events = append(events, metering.Event{ID: fmt.Sprint("e", i), WorkspaceID: ws, Model: "m",
				Timestamp: time.Date(2025, 6, 10, i, 10, 0, 0, time.UTC), Usage: pricing.Usage{Output: int64(1000 * (i + 1))}})
		}
		if _, err := e.Meter.Ingest(ctx, events); err != nil {
			t.Fatal(err)
		}
		var used atomic.Int64
		planned := metering.NewService(countingDaily{e.DB, &used}, e.DB, e.Clock.Now)
		plain := metering.NewService(hourlyOnly{e.DB}, e.DB, e.Clock.Now)
		kolkata, _ := time.LoadLocation("Asia/Kolkata")
		days := func(loc *time.Location) []metering.Bucket {
			t.Helper()
			q := metering.UsageQuery{WorkspaceID: ws, Start: time.Date(2025, 6, 9, 0, 0, 0, 0, loc), End: time.Date(2025, 6, 13, 0, 0, 0, 0, loc),
				Bucket: 24 * time.Hour, Location: loc}
			got, err := planned.Usage(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want, err := plain.Usage(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("in %s: daily plan %s, hourly %s", loc, bucketsString(got), bucketsString(want))
			}
			return got
		}
		requests := func(bs []metering.Bucket) []int64 {
			var out []int64
			for _, b := range bs {
				var n int64
				for _, r := range b.Results {
					n += r.Requests
				}
				out = append(out, n)
			}
			return out
		}
		if got := requests(days(time.UTC)); !slices.Equal(got, []int64{0, 24, 24, 0}) || used.Load() != 1 {
			t.Fatalf("UTC days: %v requests, %d daily reads", got, used.Load())
		}
		// Kolkata is UTC+5:30: its June 10 starts at 18:30 UTC on June 9, so it holds the
		// hours that start from 19:00 UTC on June 9 to 18:00 UTC on June 10.
		if got := requests(days(kolkata)); !slices.Equal(got, []int64{0, 19, 24, 5}) || used.Load() != 1 {
			t.Fatalf("Kolkata days before the change: %v requests, %d daily reads (want none)", got, used.Load())
		}
		if err := e.DB.SetWorkspaceTimezone(ctx, ws, "Asia/Kolkata"); err != nil {
			t.Fatal(err)
		}
		if got := requests(days(kolkata)); !slices.Equal(got, []int64{0, 19, 24, 5}) || used.Load() != 2 {
			t.Fatalf("Kolkata days after the change: %v requests, %d daily reads", got, used.Load())
		}
		if got := requests(days(time.UTC)); !slices.Equal(got, []int64{0, 24, 24, 0}) || used.Load() != 2 {
			t.Fatalf("UTC days after the change: %v requests, %d daily reads (want none)", got, used.Load())
		}
		var rows int64
		if err := e.DB.RawQueryRow(ctx, `SELECT COUNT(*) FROM rollups_daily WHERE workspace_id = ? AND day = ?`, ws,
			time.Date(2025, 6, 10, 0, 0, 0, 0, kolkata).UnixMicro()).Scan(&rows); err != nil || rows != 1 {
			t.Fatalf("Kolkata's June 10 row: %d, %v", rows, err)
		}
		if rep := e.report(t); !rep.OK() {
			t.Fatalf("verify: %+v", rep)
		}
		// Later events go to the new zone's days. 18:45 UTC on June 10 is 00:15 on June 11
		// in Kolkata, but its hour starts at 18:00 UTC, 23:30 on June 10: it counts on June 10.
		if _, err := e.Meter.Ingest(ctx, []metering.Event{{ID: "late", WorkspaceID: ws, Model: "m", Timestamp: time.Date(2025, 6, 10, 18, 45, 0, 0, time.UTC)}}); err != nil {
			t.Fatal(err)
		}
		if got := requests(days(kolkata)); !slices.Equal(got, []int64{0, 20, 24, 5}) {
			t.Fatalf("Kolkata days after a late event: %v", got)
		}
		if rep := e.report(t); !rep.OK() {
			t.Fatalf("verify: %+v", rep)
		}
		for _, tc := range []struct{ ws, tz, code string }{{ws, "Mars/Olympus", "invalid_timezone"}, {ws, "", "invalid_timezone"}, {"ws_nobody", "UTC", "workspace_not_found"}} {
			if err := e.DB.SetWorkspaceTimezone(ctx, tc.ws, tc.tz); errs.CodeOf(err) != tc.code {
				t.Errorf("SetWorkspaceTimezone(%q, %q): %v; want %s", tc.ws, tc.tz, err, tc.code)
			}
		}
	})
}

// TestMigrationBackfillsDaily: a database migrated before 0006 gets its daily rows from
// its hourly ones, by each workspace's timezone, when 0006 runs.
func TestMigrationBackfillsDaily(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		now := juneScene(t, e)
		var events []metering.Event
		for _, tz := range []string{"UTC", "Asia/Kathmandu", "America/Los_Angeles"} {
			ws := newWorkspace(t, e.DB, tz, now)
			for i := range 60 {
				events = append(events, metering.Event{ID: fmt.Sprint("e", i), WorkspaceID: ws, Model: "m", Project: fmt.Sprint("p", i%3),
					Timestamp: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 97 * time.Minute), Usage: pricing.Usage{Output: int64(i + 1)}})
			}
		}
		if _, err := e.Meter.Ingest(ctx, events); err != nil {
			t.Fatal(err)
		}
		count := func() (n int64) {
			t.Helper()
			if err := e.DB.RawQueryRow(ctx, `SELECT (SELECT COUNT(*) FROM rollups_daily) + (SELECT COUNT(*) FROM rollups_daily_dim)`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := count()
		for _, q := range []string{`DROP TABLE rollups_daily`, `DROP TABLE rollups_daily_dim`, `DELETE FROM schema_migrations WHERE version = 6`} {
			if _, err := e.DB.RawExec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		done, err := e.DB.Migrate(ctx)
		if err != nil || !slices.Equal(done, []string{"0006_rollups_daily"}) {
			t.Fatalf("migrate: %v %v", done, err)
		}
		if after := count(); after != before || after == 0 {
			t.Errorf("daily rows: %d after the backfill, %d written at ingest", after, before)
		}
		if rep := e.report(t); !rep.OK() {
			t.Fatalf("verify: %+v", rep)
		}
	})
}

// TestTimezoneChangeDuringIngest: timezone changes racing with concurrent ingest leave
// every daily row equal to its events in the zone the workspace ends in.
func TestTimezoneChangeDuringIngest(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		now := juneScene(t, e)
		ws := newWorkspace(t, e.DB, "UTC", now)
		errc := make(chan error, 5)
		for g := range 4 {
			go func() {
				for b := range 15 {
					var events []metering.Event
					for i := range 40 {
						n := (g*15+b)*40 + i
						events = append(events, metering.Event{ID: fmt.Sprint("e", n), WorkspaceID: ws, Model: "m", Member: fmt.Sprint("u", n%3),
							Timestamp: time.Date(2025, 6, 10, 0, 0, 0, 0, time.UTC).Add(time.Duration(n*7919%(72*60)) * time.Minute)})
					}
					if res, err := e.Meter.Ingest(ctx, events); err != nil || res.Accepted != len(events) {
						errc <- fmt.Errorf("ingest: %+v %v", res, err)
						return
					}
				}
				errc <- nil
			}()
		}
		go func() {
			for i := range 12 {
				if err := e.DB.SetWorkspaceTimezone(ctx, ws, []string{"Asia/Kolkata", "America/New_York", "UTC", "Pacific/Chatham"}[i%4]); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		for range 5 {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		if rep := e.report(t); !rep.OK() {
			t.Fatalf("verify: %+v", rep)
		}
	})
}
