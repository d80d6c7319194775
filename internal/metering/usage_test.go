package metering

import (
	"testing"
	"time"

	"spectra/internal/errs"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestUsageQueryValidate(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		q    UsageQuery
		code string
	}{
		{"bad bucket", UsageQuery{Start: start, End: start.Add(time.Hour), Bucket: time.Minute}, "invalid_bucket"},
		{"no bucket", UsageQuery{Start: start, End: start.Add(time.Hour)}, "invalid_bucket"},
		{"no start", UsageQuery{End: start, Bucket: time.Hour}, "invalid_range"},
		{"no end", UsageQuery{Start: start, Bucket: time.Hour}, "invalid_range"},
		{"end before start", UsageQuery{Start: start, End: start.Add(-time.Hour), Bucket: time.Hour}, "invalid_range"},
		{"empty range", UsageQuery{Start: start, End: start, Bucket: time.Hour}, "invalid_range"},
		{"unknown dimension", UsageQuery{Start: start, End: start.Add(time.Hour), Bucket: time.Hour, GroupBy: []string{"colour"}}, "invalid_group_by"},
		{"dimension twice", UsageQuery{Start: start, End: start.Add(time.Hour), Bucket: time.Hour, GroupBy: []string{"model", "model"}}, "invalid_group_by"},
		{"too many hours", UsageQuery{Start: start, End: start.Add((MaxBuckets + 1) * time.Hour), Bucket: time.Hour}, "too_many_buckets"},
		{"too many days", UsageQuery{Start: start, End: start.AddDate(0, 0, MaxBuckets+1), Bucket: 24 * time.Hour}, "too_many_buckets"},
	}
	for _, tt := range tests {
		err := tt.q.Validate()
		if !errs.Is(err, tt.code) || errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: Validate = %v; want %s", tt.name, err, tt.code)
		}
	}
	ok := UsageQuery{Start: start, End: start.Add(MaxBuckets * time.Hour), Bucket: time.Hour, GroupBy: []string{"member", "model", "key", "project"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("the largest range: %v", err)
	}
}

func TestUsageQueryRounding(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	q := UsageQuery{Start: time.Date(2025, 1, 10, 15, 30, 0, 0, time.UTC), End: time.Date(2025, 1, 12, 3, 0, 0, 0, time.UTC), Bucket: 24 * time.Hour, Location: ny}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	// 15:30Z is 10:30 in New York: the day starts at 05:00Z. 03:00Z on the 12th is 22:00 on the 11th: the range ends at the 12th's midnight.
	if !q.Start.Equal(time.Date(2025, 1, 10, 5, 0, 0, 0, time.UTC)) || !q.End.Equal(time.Date(2025, 1, 12, 5, 0, 0, 0, time.UTC)) {
		t.Errorf("range = %s – %s", q.Start.UTC(), q.End.UTC())
	}
	r := q.Rollup()
	if !r.Start.Equal(q.Start) || !r.End.Equal(q.End) || r.Start.Location() != time.UTC {
		t.Errorf("rollup range = %s – %s", r.Start, r.End)
	}
	h := UsageQuery{Start: time.Date(2025, 1, 10, 15, 30, 0, 0, time.UTC), End: time.Date(2025, 1, 10, 17, 0, 0, 0, time.UTC), Bucket: time.Hour}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if !h.Start.Equal(time.Date(2025, 1, 10, 15, 0, 0, 0, time.UTC)) || !h.End.Equal(time.Date(2025, 1, 10, 17, 0, 0, 0, time.UTC)) {
		t.Errorf("hour range = %s – %s (an end on a boundary stays)", h.Start, h.End)
	}
	if h.Location != time.UTC {
		t.Errorf("no location means UTC, got %v", h.Location)
	}
}

// TestBucketizeDST: New York's day of the spring change has 23 hours and the autumn one
// 25; every hour lands in the local day that holds its start.
func TestBucketizeDST(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	for _, tt := range []struct {
		day   time.Time // local midnight of the change day
		hours int
	}{
		{time.Date(2024, 3, 10, 0, 0, 0, 0, ny), 23},
		{time.Date(2024, 11, 3, 0, 0, 0, 0, ny), 25},
	} {
		q := UsageQuery{Start: tt.day.AddDate(0, 0, -1), End: tt.day.AddDate(0, 0, 2), Bucket: 24 * time.Hour, Location: ny}
		if err := q.Validate(); err != nil {
			t.Fatal(err)
		}
		var rows []RollupRow
		for h := q.Start.UTC(); h.Before(q.End); h = h.Add(time.Hour) {
			rows = append(rows, RollupRow{Hour: h, Model: "m", Totals: Totals{Requests: 1}})
		}
		b := q.Bucketize(rows)
		if len(b) != 3 {
			t.Fatalf("%s: %d buckets", tt.day, len(b))
		}
		want := []int{24, tt.hours, 24}
		for i, bk := range b {
			if got := bk.End.Sub(bk.Start); got != time.Duration(want[i])*time.Hour {
				t.Errorf("%s bucket %d is %s long; want %dh", tt.day.Format("Jan 2"), i, got, want[i])
			}
			if len(bk.Results) != 1 || bk.Results[0].Requests != int64(want[i]) {
				t.Errorf("%s bucket %d: %+v; want %d requests", tt.day.Format("Jan 2"), i, bk.Results, want[i])
			}
			if bk.Results[0].Model != nil {
				t.Errorf("ungrouped results carry no model")
			}
			if h, m, _ := bk.Start.Clock(); h != 0 || m != 0 || bk.Start.Location() != ny {
				t.Errorf("bucket starts at %s; want local midnight", bk.Start)
			}
		}
	}
}

func TestBucketizeGroupsAndEmptyBuckets(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	q := UsageQuery{Start: start, End: start.Add(4 * time.Hour), Bucket: time.Hour, GroupBy: []string{DimProject, DimModel}}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	rows := []RollupRow{
		{Hour: start, Model: "b", Project: "p", Totals: Totals{Requests: 1, Cost: 5}},
		{Hour: start, Model: "a", Project: "q", Totals: Totals{Requests: 2, Cost: 7}},
		{Hour: start, Model: "a", Project: "p", Totals: Totals{Requests: 3}},
		{Hour: start.Add(2 * time.Hour), Model: "a", Project: "p", Totals: Totals{Requests: 4}},
		{Hour: start.Add(2 * time.Hour), Model: "a", Project: "p", Totals: Totals{Requests: 5, OutputTokens: 9}},
		{Hour: start.Add(-time.Hour), Model: "z", Totals: Totals{Requests: 100}}, // outside the range
		{Hour: start.Add(4 * time.Hour), Model: "z", Totals: Totals{Requests: 100}},
	}
	b := q.Bucketize(rows)
	if len(b) != 4 {
		t.Fatalf("%d buckets; want 4 (empty ones included)", len(b))
	}
	if len(b[1].Results) != 0 || b[1].Results == nil || len(b[3].Results) != 0 {
		t.Errorf("empty buckets: %+v %+v", b[1], b[3])
	}
	r := b[0].Results
	if len(r) != 3 || *r[0].Model != "a" || *r[0].Project != "p" || *r[1].Model != "a" || *r[1].Project != "q" || *r[2].Model != "b" {
		t.Errorf("results sorted by model, then project: %+v", r)
	}
	if r[0].KeyID != nil || r[0].Member != nil {
		t.Error("dimensions not grouped are left out")
	}
	if len(b[2].Results) != 1 || b[2].Results[0].Requests != 9 || b[2].Results[0].OutputTokens != 9 {
		t.Errorf("rows of one group and hour are summed: %+v", b[2].Results)
	}
}
