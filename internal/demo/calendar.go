package demo

import (
	"time"
)

// calendar lays the demo's days out in the workspace's time zone: Days local days
// ending with today (cut at now), and the workspace's creation three days before them.
type calendar struct {
	loc     *time.Location
	days    int
	now     time.Time
	start   []time.Time // start[d] is local midnight of day d; start[days] ends the last day
	created time.Time   // the workspace's creation, before the first day
}

func newCalendar(now time.Time, days int, loc *time.Location) calendar {
	c := calendar{loc: loc, days: days, now: now}
	l := now.In(loc)
	first := time.Date(l.Year(), l.Month(), l.Day()-(days-1), 0, 0, 0, 0, loc)
	for d := 0; d <= days; d++ {
		c.start = append(c.start, time.Date(first.Year(), first.Month(), first.Day()+d, 0, 0, 0, 0, loc))
	}
	c.created = c.local(-3, 10, 2)
	return c
}

// local returns day d's local time hour:minute (d may be negative: before the first day).
func (c calendar) local(d, hour, minute int) time.Time {
	f := c.start[0]
	return time.Date(f.Year(), f.Month(), f.Day()+d, hour, minute, 0, 0, c.loc)
}

// dayOf returns the day a fraction of the period falls on; a negative fraction means the
// workspace's creation day. In a period too short to spread things over, they happen
// in the days between the creation and the first day.
func (c calendar) dayOf(frac float64) int {
	switch {
	case frac < 0:
		return -3
	case c.days < 3 && frac < 0.5:
		return -2
	case c.days < 3:
		return -1
	}
	return min(int(frac*float64(c.days)), c.days-2)
}

// at returns the moment something planned at a fraction of the period happens: on its
// day, at hour:minute local time.
func (c calendar) at(frac float64, hour, minute int) time.Time {
	return c.local(c.dayOf(frac), hour, minute)
}

// weekend reports whether day d is a Saturday or Sunday in the workspace's zone.
func (c calendar) weekend(d int) bool {
	wd := c.start[d].Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// slots returns day d's hours as [lo, hi) windows, the last one cut at now.
func (c calendar) slots(d int) [][2]time.Time {
	var out [][2]time.Time
	end := c.start[d+1]
	if c.now.Before(end) {
		end = c.now
	}
	for lo := c.start[d]; lo.Before(end); lo = lo.Add(time.Hour) {
		hi := lo.Add(time.Hour)
		if hi.After(end) {
			hi = end
		}
		out = append(out, [2]time.Time{lo, hi})
	}
	return out
}
