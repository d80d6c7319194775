package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/metering"
	"spectra/internal/requestlog"
)

// requestsPageSize is how many requests one page of the request log shows.
const requestsPageSize = 50

// logRow is one request of the log, labelled for people.
type logRow struct {
	requestlog.Entry
	Time      string
	KeyLabel  string
	Member    string
	CachedPct string
	Link      string // its detail page
}

// requestsData is what the request log shows.
type requestsData struct {
	pageBase
	Q usageQuery
	L logQuery
	// AllTime is a log not bounded in time (no period, no range).
	AllTime  bool
	Rows     []logRow
	Models   []option
	Keys     []option
	Members  []option
	Projects []string
	Statuses []option
	Sorts    []option
	NextURL  string
	FirstURL string
	UsageURL string // the Usage page of the same filters
	Paged    bool
}

// logQuery is what the request log asks for beyond the usage filters: a range of
// date-times, the status, the order, a request id and the page.
type logQuery struct {
	// Range is a custom range of date-times (start, end), which replaces the period.
	Range      bool
	Start, End time.Time // zero: open on that side
	StartValue string    // the range as the date-time inputs show it (local, to the minute)
	EndValue   string
	// Label is the range as the heading says it, in the tables' format with the zone:
	// "Mon 2 Jun 00:00 – Tue 3 Jun 00:00 EDT", "from …" or "until …".
	Label  string
	Status string
	Sort   metering.Sort
	ID     string
	Cursor string
	// Before is the time-order cursor of earlier links (?before=<unix micros>.<id>).
	BeforeTime time.Time
	BeforeID   string
}

// rangeLayout is how the range is written in the URL and in the date-time inputs: a
// date-time in the workspace's time zone, to the minute (RFC 3339 is read too).
const rangeLayout = "2006-01-02T15:04"

// parseLocalTime reads a date-time of the range: local to loc ("2026-03-01T14:00", with
// or without seconds), or RFC 3339.
func parseLocalTime(v string, loc *time.Location) (time.Time, bool) {
	for _, layout := range []string{rangeLayout, "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, true
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// rangeParams are the range's start and end as the page's links write them (drillTime):
// local to the minute when that reads back as the same instant, else RFC 3339 with the
// offset (a time at the repeated hour when the clocks go back, or with seconds), so that
// the next page, the first page and the other orders keep the range asked for. "" for an
// open side.
func (l logQuery) rangeParams(loc *time.Location) (start, end string) {
	if !l.Start.IsZero() {
		start = drillTime(l.Start, loc)
	}
	if !l.End.IsZero() {
		end = drillTime(l.End, loc)
	}
	return start, end
}

// parseLogQuery reads the request log's own parameters. Errors: invalid_start,
// invalid_end, invalid_range, invalid_status, invalid_sort, invalid_cursor, invalid_text.
func (rq *request) parseLogQuery(q url.Values) (logQuery, error) {
	l := logQuery{Status: q.Get("status"), ID: strings.TrimSpace(q.Get("id")), Cursor: q.Get("cursor")}
	period := q.Get("period")
	l.Range = period == "range" || (period == "" && (q.Get("start") != "" || q.Get("end") != ""))
	if l.Range {
		for _, p := range []struct {
			name, code string
			t          *time.Time
			v          *string
		}{{"start", "invalid_start", &l.Start, &l.StartValue}, {"end", "invalid_end", &l.End, &l.EndValue}} {
			v := strings.TrimSpace(q.Get(p.name))
			if v == "" {
				continue
			}
			t, ok := parseLocalTime(v, rq.Loc)
			if !ok {
				return l, errs.E(errs.Invalid, p.code, "%s must be a date and time such as 2026-03-01T14:00 (in %s), or RFC 3339", p.name, rq.Loc)
			}
			*p.t, *p.v = t, t.In(rq.Loc).Format(rangeLayout)
		}
		if !l.Start.IsZero() && !l.End.IsZero() && !l.End.After(l.Start) {
			return l, errs.E(errs.Invalid, "invalid_range", "the range ends before it starts")
		}
		l.Label = rangeLabel(l.Start, l.End, rq.Loc, rq.Now)
	}
	sort, err := metering.ParseSort(q.Get("sort"))
	if err != nil {
		return l, err
	}
	l.Sort = sort
	if l.BeforeTime, l.BeforeID, err = parseCursor(q.Get("before")); err != nil {
		return l, err
	}
	return l, nil
}

// rangeLabel says the range [start, end) in loc as the tables write times ("Mon 2 Jun
// 00:00"), with the year when it is not now's and the zone's abbreviation: once at the
// end, or after each time when they differ (the range crosses a change of the clocks).
// Either side may be zero (open), or both ("any time").
func rangeLabel(start, end time.Time, loc *time.Location, now time.Time) string {
	year := now.In(loc).Year()
	at := func(t time.Time) string {
		t = t.In(loc)
		if t.Year() != year {
			return t.Format(layoutDay + " 2006 " + layoutHour)
		}
		return t.Format(layoutDay + " " + layoutHour)
	}
	zone := func(t time.Time) string { return t.In(loc).Format("MST") }
	switch {
	case start.IsZero() && end.IsZero():
		return "any time"
	case end.IsZero():
		return "from " + at(start) + " " + zone(start)
	case start.IsZero():
		return "until " + at(end) + " " + zone(end)
	case zone(start) != zone(end):
		return at(start) + " " + zone(start) + " – " + at(end) + " " + zone(end)
	}
	return at(start) + " – " + at(end) + " " + zone(end)
}

// parseCursor reads the older cursor ?before=<unix micros>.<event id> (time order).
func parseCursor(s string) (time.Time, string, error) {
	if s == "" {
		return time.Time{}, "", nil
	}
	ts, id, ok := strings.Cut(s, ".")
	n, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", errs.E(errs.Invalid, "invalid_cursor", "the page cursor is not valid; start from the first page")
	}
	return time.UnixMicro(n).UTC(), id, nil
}

// requests is the request log: answered, refused and failed requests, filtered by
// period or a range of date-times, model, key, member, project, status and request id,
// sorted by time, cost, tokens or latency, keyset-paginated. Every filter is in the URL.
func (s *Server) requests(w http.ResponseWriter, r *http.Request, rq *request) error {
	q := r.URL.Query()
	if !q.Has("key") && q.Get("key_id") != "" {
		q.Set("key", q.Get("key_id"))
	}
	l, err := rq.parseLogQuery(q)
	if err != nil {
		return err
	}
	allTime := !l.Range && q.Get("period") == "" && q.Get("from") == "" && q.Get("to") == ""
	pq := q
	if allTime || l.Range {
		pq = url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		pq.Set("period", "30d") // parsed only for the filters; the log is bounded by the range, or not at all
		pq.Del("from")
		pq.Del("to")
	}
	u, err := rq.parseUsageQuery(pq)
	if err != nil {
		return err
	}
	lq := requestlog.Query{WorkspaceID: rq.Workspace.ID, Filter: u.Filter, Status: l.Status, Sort: l.Sort, ID: l.ID,
		Cursor: l.Cursor, Limit: requestsPageSize}
	switch {
	case l.Range:
		lq.Start, lq.End = l.Start, l.End
	case !allTime:
		lq.Start, lq.End = u.Period.Start, u.Period.End
	}
	if l.Cursor == "" && !l.BeforeTime.IsZero() && l.Sort == metering.SortTime {
		lq.Cursor = metering.Cursor{Sort: metering.SortTime, Time: l.BeforeTime, ID: l.BeforeID}.String()
	}
	ctx := r.Context()
	var page requestlog.Page
	var names labeler
	err = parallel(
		func() (err error) { page, err = s.reqlog.List(ctx, lq); return err },
		func() (err error) { names, err = rq.labels(ctx); return err })
	if err != nil {
		return err
	}
	d := requestsData{pageBase: rq.base("Requests", "requests"), Q: u, L: l, AllTime: allTime && !l.Range, Paged: lq.Cursor != ""}
	for _, e := range page.Entries {
		d.Rows = append(d.Rows, rq.logRow(e, names))
	}
	base := url.Values{}
	for _, k := range []string{"model", "key", "member", "project", "status", "id"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			base.Set(k, v)
		}
	}
	if l.Sort != metering.SortTime {
		base.Set("sort", string(l.Sort))
	}
	switch {
	case l.Range:
		base.Set("period", "range")
		start, end := l.rangeParams(rq.Loc)
		if start != "" {
			base.Set("start", start)
		}
		if end != "" {
			base.Set("end", end)
		}
	case !allTime:
		for k, v := range u.Period.Query() {
			base[k] = v
		}
	}
	d.FirstURL = rq.URL("requests") + "?" + base.Encode()
	if page.NextCursor != "" {
		next := url.Values{}
		for k, v := range base {
			next[k] = v
		}
		next.Set("cursor", page.NextCursor)
		d.NextURL = rq.URL("requests") + "?" + next.Encode()
	}
	d.UsageURL = rq.usageLink(u, l, allTime)
	cat, err := s.metering.Catalog(ctx)
	if err != nil {
		return err
	}
	d.Models, d.Keys, d.Members, d.Projects = filterOptions(cat.Models(), names, u)
	d.Statuses = []option{{Value: "", Label: "All requests"}, {Value: requestlog.StatusAnswered, Label: "Answered"},
		{Value: requestlog.StatusRefused, Label: "Refused"}, {Value: requestlog.StatusUpstreamError, Label: "Upstream error"}}
	d.Sorts = []option{{Value: "time", Label: "Newest first"}, {Value: "cost", Label: "Cost, highest first"},
		{Value: "tokens", Label: "Tokens, most first"}, {Value: "latency", Label: "Latency, slowest first"}}
	for i := range d.Statuses {
		d.Statuses[i].Selected = d.Statuses[i].Value == l.Status
	}
	for i := range d.Sorts {
		d.Sorts[i].Selected = d.Sorts[i].Value == string(l.Sort)
	}
	return s.render(w, r, http.StatusOK, "requests", d)
}

// logRow labels one entry of the log.
func (rq *request) logRow(e requestlog.Entry, names labeler) logRow {
	row := logRow{Entry: e, Time: e.Timestamp.In(rq.Loc).Format("2 Jan 15:04:05"), Link: rq.URL("requests/" + url.PathEscape(e.ID))}
	row.KeyLabel, _ = names.label(metering.DimKey, e.KeyID)
	row.Member, _ = names.label(metering.DimMember, e.Member)
	if e.Tokens.Input > 0 && e.Tokens.CachedInput > 0 {
		row.CachedPct = strconv.FormatInt(e.Tokens.CachedInput*100/e.Tokens.Input, 10) + "% cached"
	}
	return row
}

// usageLink is the Usage page of the log's filters: the same period (a range becomes the
// days it covers), model, key, member and project.
func (rq *request) usageLink(u usageQuery, l logQuery, allTime bool) string {
	v := url.Values{}
	switch {
	case l.Range && !l.Start.IsZero():
		end := l.End
		if end.IsZero() {
			end = rq.Now
		}
		v.Set("period", "custom")
		v.Set("from", l.Start.In(rq.Loc).Format(dateLayout))
		v.Set("to", end.Add(-time.Nanosecond).In(rq.Loc).Format(dateLayout))
	case !allTime && !l.Range:
		v = u.Period.Query()
	}
	for name, val := range map[string]string{"model": u.Model, "key": u.Key, "member": u.Member, "project": u.Project} {
		if val != "" {
			v.Set(name, val)
		}
	}
	if len(v) == 0 {
		return rq.URL("usage")
	}
	return rq.URL("usage") + "?" + v.Encode()
}
