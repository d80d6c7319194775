package web

import (
	"net/url"
	"time"

	"spectra/internal/metering"
	"spectra/internal/requestlog"
)

// Drill-down: every chart bucket and every breakdown row of the dashboard links to the
// request log, filtered to the same slice and period. The links are built here, and
// only here, from the parameters the Requests page reads: period, from and to (the
// page's period), start and end (one chart bucket, as local date-times of the workspace),
// model, key, member, project, status and sort.

// drillTimeLayout is how start and end are written: a date-time in the workspace's
// time zone, to the minute.
const drillTimeLayout = "2006-01-02T15:04"

// drillFilter is the slice of usage that a link to the request log asks for.
type drillFilter struct {
	// Period is the page's period, carried as the page chose it (a preset stays a
	// preset, so a shared link means "the last 7 days" as it did on the page). It is
	// used when Start is zero.
	Period Period
	// Start and End bound one chart bucket, [Start, End); they are written as local
	// times of Loc (UTC when nil) and replace Period.
	Start, End time.Time
	Loc        *time.Location

	Model, Key, Member, Project string
	Status                      string // answered, refused or upstream_error
	Sort                        string // time, cost, tokens or latency
}

// requestsLink returns the path and query of workspace ws's request log showing f.
func requestsLink(ws string, f drillFilter) string {
	v := url.Values{}
	if !f.Start.IsZero() {
		loc := f.Loc
		if loc == nil {
			loc = time.UTC
		}
		v.Set("start", drillTime(f.Start, loc))
		v.Set("end", drillTime(f.End, loc))
	} else if f.Period.Key != "" {
		for k, vs := range f.Period.Query() {
			v[k] = vs
		}
	}
	for _, p := range [...]struct{ name, value string }{
		{"model", f.Model}, {"key", f.Key}, {"member", f.Member}, {"project", f.Project}, {"status", f.Status}, {"sort", f.Sort},
	} {
		if p.value != "" {
			v.Set(p.name, p.value)
		}
	}
	link := "/w/" + url.PathEscape(ws) + "/requests"
	if len(v) > 0 {
		link += "?" + v.Encode()
	}
	return link
}

// drillTime writes t as a local date-time of loc, or in RFC 3339 (which the request log
// reads too) when the local time does not name t alone: the repeated hour when the
// clocks go back, where "01:00" is read as the first of the two.
func drillTime(t time.Time, loc *time.Location) string {
	local := t.In(loc).Format(drillTimeLayout)
	if back, err := time.ParseInLocation(drillTimeLayout, local, loc); err != nil || !back.Equal(t) {
		return t.In(loc).Format(time.RFC3339)
	}
	return local
}

// bucket returns f narrowed to the chart bucket [start, end).
func (f drillFilter) bucket(start, end time.Time) drillFilter {
	f.Start, f.End = start, end
	return f
}

// with returns f narrowed to value of dimension dim, and false when that slice cannot be
// asked for. Usage without a value (no key, no member, no project) is asked for as
// requestlog.None; a model always has one.
func (f drillFilter) with(dim, value string) (drillFilter, bool) {
	if value == "" {
		if dim == metering.DimModel {
			return f, false
		}
		value = requestlog.None
	}
	switch dim {
	case metering.DimModel:
		f.Model = value
	case metering.DimKey:
		f.Key = value
	case metering.DimMember:
		f.Member = value
	case metering.DimProject:
		f.Project = value
	default:
		return f, false
	}
	return f, true
}

// linkRows sets the Link of each breakdown row of dimension dim to the request log of
// that row's value within f.
func linkRows(ws string, rows []breakdownRow, dim string, f drillFilter) {
	for i := range rows {
		if g, ok := f.with(dim, rows[i].Value); ok {
			rows[i].Link = requestsLink(ws, g)
		}
	}
}

// linkBuckets sets the chart's links: one per bucket of bs (the same buckets as c.X),
// each to the request log of that bucket within f, and All to the whole of f.
func (c *chartData) linkBuckets(ws string, bs []metering.Bucket, f drillFilter) {
	c.All = requestsLink(ws, f)
	c.Links = make([]string, len(bs))
	for i, b := range bs {
		c.Links[i] = requestsLink(ws, f.bucket(b.Start, b.End))
	}
}
