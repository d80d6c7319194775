package web

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

func TestRangeLabel(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, ny)
	at := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, ny) }
	back := time.Date(2025, 11, 2, 5, 0, 0, 0, time.UTC) // 01:00 EDT; an hour later 01:00 EST
	for _, c := range []struct {
		start, end time.Time
		want       string
	}{
		{at(2025, 6, 2, 0), at(2025, 6, 3, 0), "Mon 2 Jun 00:00 – Tue 3 Jun 00:00 EDT"},
		{at(2025, 6, 2, 9), time.Time{}, "from Mon 2 Jun 09:00 EDT"},
		{time.Time{}, at(2025, 6, 3, 18), "until Tue 3 Jun 18:00 EDT"},
		{time.Time{}, time.Time{}, "any time"},
		{at(2024, 12, 31, 0), at(2025, 1, 1, 0), "Tue 31 Dec 2024 00:00 – Wed 1 Jan 00:00 EST"},
		{back, back.Add(time.Hour), "Sun 2 Nov 01:00 EDT – Sun 2 Nov 01:00 EST"},
	} {
		if got := rangeLabel(c.start, c.end, ny, now); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if got := rangeLabel(time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC), time.UTC, now); got != "Mon 2 Jun 00:00 – Tue 3 Jun 00:00 UTC" {
		t.Errorf("UTC: %q", got)
	}
}

// TestRequestsRangeHeading: the request log's heading says a range as the tables do,
// not as the URL writes it.
func TestRequestsRangeHeading(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	c := e.signedIn(f.users[team.RoleMember].Email)
	_, body := c.get("/w/" + f.ws + "/requests?start=2025-06-02T00:00&end=2025-06-03T00:00")
	i := strings.Index(body, `<span class="period-label">`)
	if i < 0 {
		t.Fatal("no heading")
	}
	head := body[i:]
	head = head[:strings.Index(head, "</span>")]
	if !strings.Contains(head, "Mon 2 Jun 00:00 – Tue 3 Jun 00:00 EDT") || strings.Contains(head, "2025-06-02T00:00") {
		t.Errorf("heading: %s", head)
	}
}

// TestRangeParamsKeepTheRange: the request log's links (next page, first page, other
// orders) write the range so that it reads back as the same instants: a start at the
// repeated hour keeps its offset, a start with seconds keeps them. Before, the links
// wrote the inputs' local minute, so the next page of 01:30 EST read 01:30 EDT.
func TestRangeParamsKeepTheRange(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	rq := &request{Loc: ny, Now: time.Date(2025, 11, 10, 12, 0, 0, 0, ny)}
	for _, c := range []struct{ start, end string }{
		{"2025-11-02T01:30:00-05:00", "2025-11-02T03:00"}, // the second 01:30 (EST)
		{"2025-06-02T09:00:30", "2025-06-02T10:00"},       // with seconds
		{"2025-06-02T09:00", ""},
	} {
		q := url.Values{"start": {c.start}}
		if c.end != "" {
			q.Set("end", c.end)
		}
		l, err := rq.parseLogQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		start, end := l.rangeParams(ny)
		back, err := rq.parseLogQuery(url.Values{"period": {"range"}, "start": {start}, "end": {end}})
		if err != nil {
			t.Fatal(err)
		}
		if !back.Start.Equal(l.Start) || !back.End.Equal(l.End) {
			t.Errorf("%v: links write %q, %q, which read [%v, %v), want [%v, %v)", c, start, end, back.Start, back.End, l.Start, l.End)
		}
	}
}
