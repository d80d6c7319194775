package api_test

import (
	"testing"
	"time"
)

// TestUsageDayBucketsInTimezone: day buckets follow the workspace's time zone, or the tz
// asked for, across a daylight-saving change.
func TestUsageDayBucketsInTimezone(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "NY", "timezone": "America/New_York"})
		if ws.Timezone != "America/New_York" {
			t.Fatalf("workspace: %+v", ws)
		}
		e.price("gpt-a", "1.00", "0.50", "2.00")
		key := e.key(ws.ID, map[string]any{"name": "ci"})
		utc := func(s string) time.Time {
			v, err := time.Parse(time.RFC3339, s)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		// 02:00Z on 11 March is 22:00 on 10 March in New York (EDT, UTC−4); 05:00Z is 01:00 on the 11th.
		res := e.send(key.Key,
			ev("a", "gpt-a", utc("2025-03-11T02:00:00Z"), 1_000_000, 0, 0),
			ev("b", "gpt-a", utc("2025-03-11T05:00:00Z"), 2_000_000, 0, 0),
			ev("c", "gpt-a", utc("2025-03-09T04:30:00Z"), 3_000_000, 0, 0), // 23:30 on 8 March, EST
		)
		if res.Accepted != 3 {
			t.Fatalf("ingest: %+v", res)
		}

		ny, _ := time.LoadLocation("America/New_York")
		u := e.usage(ws.ID, "start=2025-03-08T00:00:00-05:00&end=2025-03-12T00:00:00-04:00")
		if u.Timezone != "America/New_York" || len(u.Buckets) != 4 {
			t.Fatalf("usage: %+v", u)
		}
		want := []struct {
			day      int
			hours    time.Duration
			requests int64
			cost     string
		}{{8, 24, 1, "3.000000"}, {9, 23, 0, ""}, {10, 24, 1, "1.000000"}, {11, 24, 1, "2.000000"}}
		for i, w := range want {
			b := u.Buckets[i]
			if !b.Start.Equal(time.Date(2025, 3, w.day, 0, 0, 0, 0, ny)) || b.End.Sub(b.Start) != w.hours*time.Hour {
				t.Errorf("bucket %d: %s – %s", i, b.Start, b.End)
			}
			if _, off := b.Start.Zone(); off != map[bool]int{true: -5 * 3600, false: -4 * 3600}[w.day <= 9] {
				t.Errorf("bucket %d starts at offset %d", i, off)
			}
			var n int64
			var cost string
			for _, r := range b.Results {
				n, cost = n+r.Requests, r.Cost
			}
			if n != w.requests || cost != w.cost {
				t.Errorf("bucket %d (%d March): %d requests costing %q, want %d costing %q", i, w.day, n, cost, w.requests, w.cost)
			}
		}

		// The same range in UTC puts both events of the 11th in one bucket.
		u = e.usage(ws.ID, "start=2025-03-11T00:00:00Z&end=2025-03-12T00:00:00Z&tz=UTC")
		if u.Timezone != "UTC" || len(u.Buckets) != 1 || len(u.Buckets[0].Results) != 1 || u.Buckets[0].Results[0].Requests != 2 {
			t.Fatalf("UTC: %+v", u)
		}
		// Unix seconds work too, and hourly buckets.
		u = e.usage(ws.ID, "start=1741658400&end=1741669200&bucket=1h") // 02:00Z–05:00Z on the 11th
		if len(u.Buckets) != 3 || len(u.Buckets[0].Results) != 1 || len(u.Buckets[1].Results) != 0 {
			t.Fatalf("hourly: %+v", u)
		}
		// Filters narrow the result.
		u = e.usage(ws.ID, "start=2025-03-11T00:00:00Z&end=2025-03-12T00:00:00Z&tz=UTC&models=gpt-b")
		if len(u.Buckets[0].Results) != 0 {
			t.Fatalf("filtered: %+v", u)
		}
		u = e.usage(ws.ID, "start=2025-03-11T00:00:00Z&end=2025-03-12T00:00:00Z&tz=UTC&models=gpt-b,gpt-a&key_ids="+key.ID)
		if len(u.Buckets[0].Results) != 1 {
			t.Fatalf("filtered: %+v", u)
		}
	})
}
