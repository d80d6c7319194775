package metering_test

import (
	"testing"
	"time"

	"spectra/internal/metering"
)

// TestDaysTileTime: in every zone, over two years, DayOf and NextDay cut time into
// consecutive days that each hold their instants — also where a midnight does not exist
// (America/Santiago, America/Havana, Asia/Beirut) or a day has 23 or 25 hours.
func TestDaysTileTime(t *testing.T) {
	for _, z := range []string{"UTC", "America/Santiago", "America/Havana", "Asia/Beirut", "Asia/Kolkata", "Pacific/Chatham",
		"Australia/Lord_Howe", "Europe/London", "America/New_York", "Pacific/Apia"} {
		loc, err := time.LoadLocation(z)
		if err != nil {
			t.Fatal(err)
		}
		s := metering.DayOf(time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC), loc)
		for i := 0; i < 2*366; i++ {
			n := metering.NextDay(s, loc)
			if !n.After(s) || n.Sub(s) > 48*time.Hour {
				t.Fatalf("%s: the day after %s is %s", z, s, n)
			}
			for at := s; at.Before(n); at = at.Add(30 * time.Minute) {
				if d := metering.DayOf(at, loc); !d.Equal(s) {
					t.Fatalf("%s: DayOf(%s) = %s; want %s", z, at, d, s)
				}
			}
			s = n
		}
	}
}

// TestDayBucketsPastAMissingMidnight: a day-bucket query over America/Santiago's
// 7 September 2025, whose midnight does not exist, ends and has one bucket per date.
func TestDayBucketsPastAMissingMidnight(t *testing.T) {
	loc, _ := time.LoadLocation("America/Santiago")
	q := metering.UsageQuery{WorkspaceID: "ws", Start: time.Date(2025, 9, 5, 0, 0, 0, 0, loc), End: time.Date(2025, 9, 10, 0, 0, 0, 0, loc),
		Bucket: 24 * time.Hour, Location: loc}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	bs := q.Bucketize(nil)
	if len(bs) != 5 {
		t.Fatalf("%d buckets: %+v", len(bs), bs)
	}
	for i := 1; i < len(bs); i++ {
		if !bs[i].Start.Equal(bs[i-1].End) {
			t.Errorf("bucket %d starts at %s, the one before ends at %s", i, bs[i].Start, bs[i-1].End)
		}
	}
}
