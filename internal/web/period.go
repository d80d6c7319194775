package web

import (
	"net/url"
	"strings"
	"time"

	"spectra/internal/errs"
)

// Period is a span of time chosen with the period picker, in the workspace's timezone.
type Period struct {
	Key    string // today, 7d, 30d, month, custom
	Label  string // "Last 7 days"
	Phrase string // the period inside a sentence: "today", "the last 7 days", "June 2025"
	From   string // first day, YYYY-MM-DD (for the custom form)
	To     string // last day, YYYY-MM-DD, inclusive
	Start  time.Time
	End    time.Time     // exclusive; a day boundary in the location
	Cut    time.Time     // min(End, now rounded up to the hour): where the data can end
	Step   time.Duration // chart bucket: time.Hour for a day or less, else a day

	// PrevStart and PrevEnd are the period just before, cut at the same point (so today
	// until 14:00 compares with yesterday until 14:00).
	PrevStart, PrevEnd time.Time
	PrevLabel          string
}

// periodChoices are the picker's options in order.
var periodChoices = []struct{ Key, Label string }{
	{"today", "Today"}, {"7d", "7 days"}, {"30d", "30 days"}, {"month", "This month"},
}

// maxCustomDays bounds a custom period.
const maxCustomDays = 400

const dateLayout = "2006-01-02"

// dayStart is the first instant of the calendar day y-m-d (normalised, so d may be out
// of range) in loc. Where the clocks skip midnight (a DST change at 00:00, as in
// America/Havana), time.Date answers 23:00 of the day before, and stepping a day from
// there lands on the same instant again; the day then starts when the clocks jump.
func dayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	want := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if t.Year() != want.Year() || t.YearDay() != want.YearDay() {
		if _, end := t.ZoneBounds(); end.After(t) {
			t = end
		}
	}
	return t
}

// midnight is the start of t's day in loc.
func midnight(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return dayStart(t.Year(), t.Month(), t.Day(), loc)
}

// addDays is the start of the day n days after t's day, in t's location.
func addDays(t time.Time, n int) time.Time {
	return dayStart(t.Year(), t.Month(), t.Day()+n, t.Location())
}

func ceilHour(t time.Time) time.Time {
	if f := t.Truncate(time.Hour); !f.Equal(t) {
		return f.Add(time.Hour)
	}
	return t
}

// parsePeriod reads ?period= (and ?from=&to= for custom) at time now in loc. An empty
// period is def. Errors: invalid_period.
func parsePeriod(q url.Values, def string, now time.Time, loc *time.Location) (Period, error) {
	key := q.Get("period")
	if key == "" {
		key = def
		if q.Get("from") != "" || q.Get("to") != "" {
			key = "custom"
		}
	}
	today := midnight(now, loc)
	var p Period
	switch key {
	case "today":
		p = Period{Key: key, Label: "Today", Start: today, End: addDays(today, 1), PrevLabel: "same time yesterday"}
	case "7d":
		p = Period{Key: key, Label: "Last 7 days", Start: addDays(today, -6), End: addDays(today, 1), PrevLabel: "previous 7 days"}
	case "30d":
		p = Period{Key: key, Label: "Last 30 days", Start: addDays(today, -29), End: addDays(today, 1), PrevLabel: "previous 30 days"}
	case "month":
		first := dayStart(today.Year(), today.Month(), 1, loc)
		p = Period{Key: key, Label: today.Format("January 2006"), Start: first, End: dayStart(today.Year(), today.Month()+1, 1, loc),
			PrevLabel: "same point last month"}
		p.PrevStart = dayStart(today.Year(), today.Month()-1, 1, loc)
	case "custom":
		// The dates are read as dates, then placed at the start of that day in loc.
		fromDate, err1 := time.Parse(dateLayout, q.Get("from"))
		toDate, err2 := time.Parse(dateLayout, q.Get("to"))
		if err1 != nil || err2 != nil {
			return Period{}, errs.E(errs.Invalid, "invalid_period", "a custom period needs from and to dates as YYYY-MM-DD")
		}
		from := dayStart(fromDate.Year(), fromDate.Month(), fromDate.Day(), loc)
		to := dayStart(toDate.Year(), toDate.Month(), toDate.Day(), loc)
		if to.Before(from) {
			return Period{}, errs.E(errs.Invalid, "invalid_period", "the period ends before it starts")
		}
		end := addDays(to, 1)
		if end.Sub(from) > maxCustomDays*24*time.Hour {
			return Period{}, errs.E(errs.Invalid, "invalid_period", "a custom period is at most %d days", maxCustomDays)
		}
		p = Period{Key: key, Start: from, End: end, PrevLabel: "previous period"}
		p.Label = from.Format(layoutDate) + " – " + to.Format(layoutDate)
	default:
		return Period{}, errs.E(errs.Invalid, "invalid_period", "period must be today, 7d, 30d, month or custom")
	}
	p.Phrase = p.Label
	switch p.Key {
	case "today":
		p.Phrase = "today"
	case "7d", "30d":
		p.Phrase = "the " + strings.ToLower(p.Label)
	}
	p.From = p.Start.Format(dateLayout)
	p.To = addDays(p.End, -1).Format(dateLayout)
	p.Step = 24 * time.Hour
	if p.End.Sub(p.Start) <= 25*time.Hour {
		p.Step = time.Hour
	}
	p.Cut = p.End
	if c := ceilHour(now); c.Before(p.End) {
		p.Cut = c
	}
	if p.Cut.Before(p.Start) {
		p.Cut = p.Start
	}
	if p.PrevStart.IsZero() {
		days := 0
		for d := p.Start; d.Before(p.End); d = addDays(d, 1) {
			days++
		}
		p.PrevStart = addDays(p.Start, -days)
	}
	p.PrevEnd = p.PrevStart.Add(p.Cut.Sub(p.Start))
	if p.Key == "month" {
		// Cut at the same day and hour of last month, at most at its end.
		if prevMonthEnd := p.Start; p.PrevEnd.After(prevMonthEnd) {
			p.PrevEnd = prevMonthEnd
		}
	}
	return p, nil
}

// Query returns the URL parameters that choose p again.
func (p Period) Query() url.Values {
	v := url.Values{"period": {p.Key}}
	if p.Key == "custom" {
		v.Set("from", p.From)
		v.Set("to", p.To)
	}
	return v
}

// monthStart is the first moment of t's month in loc.
func monthStart(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return dayStart(t.Year(), t.Month(), 1, loc)
}
