package metering

import (
	"context"
	"sync"
	"time"
)

// Daily rollups. Besides the hourly rows, the store keeps the same counters summed per
// workspace-local day: the day row of a workspace in zone W that starts at s (DayOf)
// holds exactly the hourly rows whose hour starts in [s, NextDay(s)) — the rule by which
// Bucketize puts hours into day buckets. So a range made of whole days of W can be read
// from the daily rows, and only its partial days at the edges from the hourly ones,
// with the same answer to the micro-unit.

// DayOf returns the start of the day of loc that holds t: the largest local midnight
// (as time.Date gives it, which is also how day buckets start) not after t.
func DayOf(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	s := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	for back := 1; s.After(t); back++ { // a midnight that does not exist may be placed after t
		s = time.Date(l.Year(), l.Month(), l.Day()-back, 0, 0, 0, 0, loc)
	}
	for n := NextDay(s, loc); !n.After(t); n = NextDay(s, loc) {
		s = n
	}
	return s
}

// NextDay returns the start of the day after the one that starts at s (s from DayOf).
// Where a midnight does not exist, time.Date may place a day's start in the hour before
// it, on the previous date (America/Santiago's 7 September 2025 starts at 23:00 on the
// 6th), so the date a start stands for is the one twelve hours later; and a date that
// does not exist at all (Pacific/Apia's 30 December 2011) is no day.
func NextDay(s time.Time, loc *time.Location) time.Time {
	l := s.Add(12 * time.Hour).In(loc)
	for k := 1; ; k++ {
		if n := time.Date(l.Year(), l.Month(), l.Day()+k, 0, 0, 0, 0, loc); n.After(s) {
			return n
		}
	}
}

// dayCeil returns the first day start of loc at or after t.
func dayCeil(t time.Time, loc *time.Location) time.Time {
	d := DayOf(t, loc)
	if d.Equal(t) {
		return d
	}
	return NextDay(d, loc)
}

// zones caches loaded time zones by name (a *time.Location is immutable).
var zones sync.Map

// LoadZone returns the IANA zone name, cached.
func LoadZone(name string) (*time.Location, error) {
	if v, ok := zones.Load(name); ok {
		return v.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// sameDays reports whether the days of a and b start at the same instants throughout
// [from, to) (both day starts of a): then a's whole days are b's daily rows.
func sameDays(a, b *time.Location, from, to time.Time) bool {
	if a.String() == b.String() {
		return true
	}
	for s := from; s.Before(to); s = NextDay(s, a) {
		if !DayOf(s, b).Equal(s) || !NextDay(s, b).Equal(NextDay(s, a)) {
			return false
		}
	}
	return true
}

// rows returns the rollup rows of the hours that start in [start, end), for the groups
// and filter of base, each row dated inside the period it counts: whole days of loc come
// from the daily rollups when the workspace's days are loc's days over them, the rest
// from the hourly rollups. Rows of the daily part are dated at their day's start.
func (s *Service) rows(ctx context.Context, base RollupQuery, start, end time.Time, loc *time.Location, useDays bool) ([]RollupRow, error) {
	hourly := func(from, to time.Time) ([]RollupRow, error) {
		if !from.Before(to) {
			return nil, nil
		}
		q := base
		q.Start, q.End = from, to
		return s.store.Rollups(ctx, q)
	}
	hs, he := ceilHour(start.UTC()), ceilHour(end.UTC())
	a, b := dayCeil(start, loc), DayOf(end, loc)
	if !useDays || !a.Before(b) {
		return hourly(hs, he)
	}
	zone, err := s.store.RollupZone(ctx, base.WorkspaceID)
	if err != nil {
		return nil, err
	}
	w, err := LoadZone(zone)
	if err != nil || !sameDays(loc, w, a, b) {
		return hourly(hs, he)
	}
	q := base
	q.Start, q.End = a.UTC(), b.UTC()
	days, ok, err := s.store.DailyRollups(ctx, q, zone)
	if err != nil {
		return nil, err
	}
	if !ok { // the workspace's timezone changed meanwhile
		return hourly(hs, he)
	}
	head, err := hourly(hs, ceilHour(a.UTC()))
	if err != nil {
		return nil, err
	}
	tail, err := hourly(ceilHour(b.UTC()), he)
	if err != nil {
		return nil, err
	}
	return append(append(days, head...), tail...), nil
}
