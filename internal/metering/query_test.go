package metering_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/pricing"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// dayCounts runs a 1d usage query in tz and returns requests per local day ("2006-01-02").
func (e *env) dayCounts(t *testing.T, ws, tz string, from, to string) map[string]int64 {
	t.Helper()
	loc := mustLoadLoc(t, tz)
	start, _ := time.ParseInLocation("2006-01-02", from, loc)
	end, _ := time.ParseInLocation("2006-01-02", to, loc)
	buckets, err := e.Meter.Usage(context.Background(), metering.UsageQuery{WorkspaceID: ws, Start: start, End: end, Bucket: 24 * time.Hour, Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for i, b := range buckets {
		if h, m, s := b.Start.Clock(); h != 0 || m != 0 || s != 0 || b.Start.Location().String() != tz {
			t.Errorf("%s bucket starts at %s", tz, b.Start)
		}
		if !b.End.Equal(b.Start.AddDate(0, 0, 1)) || i > 0 && !b.Start.Equal(buckets[i-1].End) {
			t.Errorf("%s bucket %s – %s", tz, b.Start, b.End)
		}
		for _, r := range b.Results {
			out[b.Start.Format("2006-01-02")] += r.Requests
		}
	}
	return out
}

func mustLoadLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestUsageDaysInTimezones(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.catalog(t)
		ws := e.Workspace(t, 0)
		var events []metering.Event
		for i, ts := range []string{
			"2025-01-14T23:30:00Z", // NY 14th 18:30 · Tokyo 15th 08:30
			"2025-01-15T04:30:00Z", // NY 14th 23:30 · Tokyo 15th 13:30
			"2025-01-15T05:30:00Z", // NY 15th 00:30
			"2025-01-15T14:59:59Z", // Tokyo 15th 23:59:59
			"2025-01-15T15:00:00Z", // Tokyo 16th 00:00
			// New York's spring change (2024-03-10 has 23 hours).
			"2024-03-10T04:30:00Z", // 9th 23:30 EST
			"2024-03-10T05:30:00Z", // 10th 00:30 EST
			"2024-03-11T03:30:00Z", // 10th 23:30 EDT
			"2024-03-11T04:30:00Z", // 11th 00:30 EDT
			// and its autumn change (2024-11-03 has 25 hours).
			"2024-11-03T04:30:00Z", // 3rd 00:30 EDT
			"2024-11-04T04:30:00Z", // 3rd 23:30 EST
			"2024-11-04T05:30:00Z", // 4th 00:30 EST
		} {
			events = append(events, metering.Event{ID: fmt.Sprint("e", i), WorkspaceID: ws, Model: "gpt-x", Timestamp: at(ts), Usage: pricing.Usage{Output: 1}})
		}
		if res := e.ingest(t, events); res.Accepted != len(events) {
			t.Fatal(res)
		}
		tests := []struct {
			tz, from, to string
			want         map[string]int64
		}{
			{"UTC", "2025-01-14", "2025-01-17", map[string]int64{"2025-01-14": 1, "2025-01-15": 4}},
			{"America/New_York", "2025-01-14", "2025-01-17", map[string]int64{"2025-01-14": 2, "2025-01-15": 3}},
			{"Asia/Tokyo", "2025-01-14", "2025-01-17", map[string]int64{"2025-01-15": 4, "2025-01-16": 1}},
			{"America/New_York", "2024-03-09", "2024-03-12", map[string]int64{"2024-03-09": 1, "2024-03-10": 2, "2024-03-11": 1}},
			{"America/New_York", "2024-11-02", "2024-11-05", map[string]int64{"2024-11-03": 2, "2024-11-04": 1}},
		}
		for _, tt := range tests {
			got := e.dayCounts(t, ws, tt.tz, tt.from, tt.to)
			for d, n := range got {
				if n == 0 {
					delete(got, d)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("%s %s – %s: %v; want %v", tt.tz, tt.from, tt.to, got, tt.want)
			}
		}
		// The DST days themselves are 23 and 25 hours long.
		ny := mustLoadLoc(t, "America/New_York")
		for day, hours := range map[string]int{"2024-03-10": 23, "2024-11-03": 25} {
			start, _ := time.ParseInLocation("2006-01-02", day, ny)
			b, err := e.Meter.Usage(context.Background(), metering.UsageQuery{WorkspaceID: ws, Start: start, End: start.Add(time.Hour), Bucket: 24 * time.Hour, Location: ny})
			if err != nil || len(b) != 1 || b[0].End.Sub(b[0].Start) != time.Duration(hours)*time.Hour {
				t.Errorf("%s: %+v, %v; want one %d-hour bucket", day, b, err, hours)
			}
		}
	})
}

// group is a usage result's dimensions as one comparable string.
func group(r metering.Result) string {
	s := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	return strings.Join([]string{s(r.Model), s(r.KeyID), s(r.Project), s(r.Member)}, "|")
}

func TestUsageFiltersAndGroups(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.catalog(t)
		ws := e.Workspace(t, 0)
		other := e.Workspace(t, 0)
		events := batch(ws, "e", 120, e.Clock.Now())
		res := e.ingest(t, slices.Clone(events))
		if res.Accepted != len(events) {
			t.Fatal(res)
		}
		if r := e.ingest(t, batch(other, "e", 30, e.Clock.Now())); r.Accepted != 30 { // never counted for ws
			t.Fatal(r)
		}
		applied := res.Events
		dim := func(ev metering.Event, d string) string {
			return map[string]string{metering.DimModel: ev.Model, metering.DimKey: ev.KeyID, metering.DimProject: ev.Project, metering.DimMember: ev.Member}[d]
		}
		tests := []struct {
			groupBy []string
			filter  metering.Filter
		}{
			{nil, metering.Filter{}},
			{[]string{"model"}, metering.Filter{}},
			{[]string{"key"}, metering.Filter{}},
			{[]string{"project", "member"}, metering.Filter{}},
			{[]string{"member", "model", "key", "project"}, metering.Filter{}},
			{[]string{"model"}, metering.Filter{Models: []string{"gpt-y"}}},
			{[]string{"key"}, metering.Filter{Projects: []string{"p2", "p0"}}},
			{nil, metering.Filter{Members: []string{"m3"}, Keys: []string{"key_1"}}},
			{[]string{"project"}, metering.Filter{Models: []string{"gpt-x"}, Members: []string{"m1", "m2"}}},
			{[]string{"model"}, metering.Filter{Models: []string{"nope"}}},
		}
		for _, tt := range tests {
			want := map[string]metering.Totals{}
			for _, ev := range applied {
				f := tt.filter
				if len(f.Models) > 0 && !slices.Contains(f.Models, ev.Model) || len(f.Keys) > 0 && !slices.Contains(f.Keys, ev.KeyID) ||
					len(f.Projects) > 0 && !slices.Contains(f.Projects, ev.Project) || len(f.Members) > 0 && !slices.Contains(f.Members, ev.Member) {
					continue
				}
				parts := []string{"-", "-", "-", "-"}
				for i, d := range metering.Dimensions {
					if slices.Contains(tt.groupBy, d) {
						parts[i] = dim(ev, d)
					}
				}
				k := strings.Join(parts, "|")
				tot := want[k]
				tot.Add(metering.TotalsOf(ev))
				want[k] = tot
			}
			// Hourly buckets over the last 8 hours: every event's hour, summed per group.
			buckets, err := e.Meter.Usage(context.Background(), metering.UsageQuery{WorkspaceID: ws, Start: e.Clock.Now().Add(-8 * time.Hour),
				End: e.Clock.Now().Add(time.Hour), Bucket: time.Hour, GroupBy: tt.groupBy, Filter: tt.filter})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]metering.Totals{}
			for _, b := range buckets {
				for i, r := range b.Results {
					if i > 0 && group(b.Results[i-1]) >= group(r) {
						t.Errorf("results not sorted: %s before %s", group(b.Results[i-1]), group(r))
					}
					tot := got[group(r)]
					tot.Add(r.Totals)
					got[group(r)] = tot
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("group by %v, filter %+v:\n got %v\nwant %v", tt.groupBy, tt.filter, got, want)
			}
		}
	})
}

func TestEventsPages(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.catalog(t)
		ws := e.Workspace(t, 0)
		r := rand.New(rand.NewPCG(1, 2))
		var events []metering.Event
		for i := range 83 {
			model := "gpt-x"
			if i%4 == 0 {
				model = "gpt-y"
			}
			// Ten distinct times, so many events share a timestamp and the id breaks the tie.
			ts := e.Clock.Now().Add(-time.Duration(r.IntN(10)) * time.Minute)
			events = append(events, metering.Event{ID: fmt.Sprintf("id-%03d", r.IntN(1000)*1000+i), WorkspaceID: ws, Model: model, Timestamp: ts,
				KeyID: "key_a", Project: "p", Member: "m", Usage: pricing.Usage{Input: int64(i), Output: 1}, Metadata: []byte(`{"i":` + fmt.Sprint(i) + `}`)})
		}
		if res := e.ingest(t, slices.Clone(events)); res.Accepted != len(events) {
			t.Fatal(res)
		}
		other := e.Workspace(t, 0)
		if res := e.ingest(t, batch(other, "o", 10, e.Clock.Now())); res.Accepted != 10 {
			t.Fatal(res)
		}
		page := func(f metering.EventFilter, size int) []metering.Event {
			t.Helper()
			var all []metering.Event
			f.WorkspaceID, f.Limit = ws, size
			for {
				got, err := e.Meter.Events(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, got...)
				if len(got) < size {
					return all
				}
				f.BeforeTime, f.BeforeID = got[len(got)-1].Timestamp, got[len(got)-1].ID
			}
		}
		want := slices.Clone(events)
		slices.SortFunc(want, func(a, b metering.Event) int {
			if c := b.Timestamp.Compare(a.Timestamp); c != 0 {
				return c
			}
			return strings.Compare(b.ID, a.ID)
		})
		ids := func(evs []metering.Event) []string {
			var out []string
			for _, ev := range evs {
				out = append(out, ev.ID)
			}
			return out
		}
		for _, size := range []int{1, 7, 83, 100} {
			if got := page(metering.EventFilter{}, size); !slices.Equal(ids(got), ids(want)) {
				t.Errorf("pages of %d: %v\nwant %v", size, ids(got), ids(want))
			}
		}
		// Filters and a time range, paged too.
		var wantY []metering.Event
		from, to := e.Clock.Now().Add(-7*time.Minute), e.Clock.Now().Add(-2*time.Minute)
		for _, ev := range want {
			if ev.Model == "gpt-y" && !ev.Timestamp.Before(from) && ev.Timestamp.Before(to) {
				wantY = append(wantY, ev)
			}
		}
		if got := page(metering.EventFilter{Filter: metering.Filter{Models: []string{"gpt-y"}}, Start: from, End: to}, 3); !slices.Equal(ids(got), ids(wantY)) || len(wantY) == 0 {
			t.Errorf("filtered pages: %v\nwant %v", ids(got), ids(wantY))
		}
		// What comes back is what was applied.
		got := page(metering.EventFilter{}, 100)
		for i, ev := range got {
			w := want[i]
			if ev.WorkspaceID != ws || !ev.Timestamp.Equal(w.Timestamp) || !reflect.DeepEqual(ev.Usage, w.Usage) || ev.Model != w.Model || ev.KeyID != "key_a" ||
				ev.Project != "p" || ev.Member != "m" || ev.Source != "api" || !charged(t, ev, ev.Cost, true) || string(ev.Metadata) != string(w.Metadata) ||
				!ev.IngestedAt.Equal(e.Clock.Now()) || len(ev.Hash) != 32 {
				t.Fatalf("event %d: %+v; want %+v", i, ev, w)
			}
		}
		// The service bounds the page size.
		if got, _ := e.Meter.Events(ctx, metering.EventFilter{WorkspaceID: ws}); len(got) != len(events) {
			t.Errorf("default page: %d events", len(got))
		}
	})
}
