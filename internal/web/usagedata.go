package web

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/team"
)

// usage asks the metering service (rollups) for q in the workspace of rq.
func (rq *request) usage(ctx context.Context, start, end time.Time, bucket time.Duration, groupBy []string, f metering.Filter) ([]metering.Bucket, error) {
	return rq.s.metering.Usage(ctx, metering.UsageQuery{WorkspaceID: rq.Workspace.ID, Start: start, End: end,
		Bucket: bucket, Location: rq.Loc, GroupBy: groupBy, Filter: f})
}

// totalsBetween sums usage in [start, end) (the hours that start in it): whole days of
// the workspace come from the daily rollups, the hours at the edges from the hourly ones.
func (rq *request) totalsBetween(ctx context.Context, start, end time.Time, f metering.Filter) (metering.Totals, error) {
	if !end.After(start) {
		return metering.Totals{}, nil
	}
	rs, err := rq.s.metering.Total(ctx, metering.UsageQuery{WorkspaceID: rq.Workspace.ID, Start: start, End: end, Location: rq.Loc, Filter: f})
	if err != nil {
		return metering.Totals{}, err
	}
	var t metering.Totals
	for _, r := range rs {
		t.Add(r.Totals)
	}
	return t, nil
}

// sumBuckets adds every result of every bucket.
func sumBuckets(bs []metering.Bucket) metering.Totals {
	var t metering.Totals
	for _, b := range bs {
		for _, r := range b.Results {
			t.Add(r.Totals)
		}
	}
	return t
}

// dimValue returns the value of dimension d in a result ("" when not grouped by it).
func dimValue(r metering.Result, d string) string {
	var p *string
	switch d {
	case metering.DimModel:
		p = r.Model
	case metering.DimKey:
		p = r.KeyID
	case metering.DimProject:
		p = r.Project
	case metering.DimMember:
		p = r.Member
	}
	if p == nil {
		return ""
	}
	return *p
}

// breakdownRow is one value of a dimension with its totals.
type breakdownRow struct {
	Value string // the raw value (model name, key id, project, member label)
	Label string // what people read
	Sub   string // a second line (a key's prefix, a member's email)
	Color int    // palette index, for rows that appear in a chart
	Share int64  // tenths of a percent of the total spend
	Link  string // the request log of this row's slice ("" when it cannot be asked for)
	metering.Totals
}

// SharePct formats the share: "12.3%".
func (b breakdownRow) SharePct() string {
	return formatInt(b.Share/10) + "." + string(rune('0'+b.Share%10)) + "%"
}

// breakdown sums buckets by dimension d, biggest spend first (then most requests, then name).
func breakdown(bs []metering.Bucket, d string, names labeler) []breakdownRow {
	idx := map[string]int{}
	var rows []breakdownRow
	for _, b := range bs {
		for _, r := range b.Results {
			v := dimValue(r, d)
			i, ok := idx[v]
			if !ok {
				i = len(rows)
				idx[v] = i
				rows = append(rows, breakdownRow{Value: v})
			}
			rows[i].Totals.Add(r.Totals)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Cost != b.Cost {
			return a.Cost > b.Cost
		}
		if a.Requests != b.Requests {
			return a.Requests > b.Requests
		}
		return a.Value < b.Value
	})
	var total money.Amount
	for _, r := range rows {
		total += r.Cost
	}
	for i := range rows {
		rows[i].Label, rows[i].Sub = names.label(d, rows[i].Value)
		rows[i].Color = min(i, paletteSize-1) // rows past the chart's own series are its grey "Other"
		if total > 0 {
			rows[i].Share = int64(rows[i].Cost) * 1000 / int64(total)
		}
	}
	return rows
}

// paletteSize is the number of series colours (app.css .c0–.c7, app.js palette).
const paletteSize = 8

// labeler turns dimension values into names people recognise.
type labeler struct {
	keys       map[string]team.APIKey
	members    map[string]team.Member // by user id and by email
	keyList    []team.APIKey          // newest first
	memberList []team.Member          // oldest membership first
}

// labels loads the workspace's keys and members for naming breakdown rows.
func (rq *request) labels(ctx context.Context) (labeler, error) {
	l := labeler{keys: map[string]team.APIKey{}, members: map[string]team.Member{}}
	var wg sync.WaitGroup
	var kerr, merr error
	var keys []team.APIKey
	var members []team.Member
	wg.Add(2)
	go func() { defer wg.Done(); keys, kerr = rq.s.team.Keys(ctx, rq.Workspace.ID) }()
	go func() { defer wg.Done(); members, merr = rq.s.accounts.Members(ctx, rq.Workspace.ID) }()
	wg.Wait()
	if kerr != nil {
		return l, kerr
	}
	if merr != nil {
		return l, merr
	}
	l.keyList, l.memberList = keys, members
	for _, k := range keys {
		l.keys[k.ID] = k
	}
	for _, m := range members {
		l.members[m.UserID] = m
		l.members[m.Email] = m
	}
	return l, nil
}

// label returns the name and second line of a value of dimension d.
func (l labeler) label(d, v string) (string, string) {
	if v == "" {
		switch d {
		case metering.DimKey:
			return "(no key)", ""
		case metering.DimMember:
			return "(no member)", ""
		case metering.DimProject:
			return "(no project)", ""
		}
		return "(none)", ""
	}
	switch d {
	case metering.DimKey:
		if k, ok := l.keys[v]; ok {
			sub := k.Prefix + "…"
			if k.RevokedAt != nil {
				sub += " · revoked"
			}
			return k.Name, sub
		}
	case metering.DimMember:
		if m, ok := l.members[v]; ok {
			return m.Name, m.Email
		}
	}
	return v, ""
}

// chartData is the JSON a chart is drawn from: micro-units and counts as integers (a
// JavaScript number holds them exactly up to 2^53), formatted exactly by app.js.
type chartData struct {
	X        []int64       `json:"x"`      // bucket starts, Unix seconds
	Labels   []string      `json:"labels"` // each bucket as the tables name it: "Mon 30 Nov", "Mon 30 Nov 15:00–16:00"
	Ticks    []string      `json:"ticks"`  // each bucket's short axis label: "30 Nov", "15:00"
	Links    []string      `json:"links"`  // each bucket's request log (drill.go)
	All      string        `json:"all"`    // the request log of the whole chart
	Step     string        `json:"step"`
	TZ       string        `json:"tz"`
	Currency string        `json:"currency"`
	Symbol   string        `json:"symbol"`
	Series   []chartSeries `json:"series"`
	Requests []int64       `json:"requests"`
	Tokens   []int64       `json:"tokens"`
}

type chartSeries struct {
	Label string  `json:"label"`
	Color int     `json:"color"`
	Cost  []int64 `json:"cost"`
}

// maxSeries is how many groups a chart stacks; the rest are summed as "Other".
const maxSeries = 7

// makeChart builds stacked spend series by dimension d (ordered as rows) over buckets.
func (rq *request) makeChart(bs []metering.Bucket, d string, rows []breakdownRow, step time.Duration) chartData {
	// Series is never null in the JSON: an empty chart has no series, and app.js draws
	// its empty state.
	c := chartData{Step: "day", TZ: rq.Workspace.Timezone, Currency: rq.s.currency, Symbol: money.Symbol(rq.s.currency), Series: []chartSeries{}}
	if step == time.Hour {
		c.Step = "hour"
	}
	pos := map[string]int{}
	for i, r := range rows {
		if i >= maxSeries && len(rows) > maxSeries+1 {
			pos[r.Value] = maxSeries
			continue
		}
		pos[r.Value] = i
	}
	n := min(len(rows), maxSeries+1)
	for i := 0; i < n; i++ {
		label := rows[i].Label
		if i == maxSeries && len(rows) > maxSeries+1 {
			label = "Other"
		}
		c.Series = append(c.Series, chartSeries{Label: label, Color: i % paletteSize, Cost: make([]int64, len(bs))})
	}
	c.X = make([]int64, len(bs))
	c.Labels = make([]string, len(bs))
	c.Ticks = make([]string, len(bs))
	c.Links = []string{}
	c.Requests = make([]int64, len(bs))
	c.Tokens = make([]int64, len(bs))
	for i, b := range bs {
		c.X[i] = b.Start.Unix()
		c.Labels[i], c.Ticks[i] = chartLabels(b.Start.In(rq.Loc), b.End.In(rq.Loc), step)
		for _, r := range b.Results {
			c.Requests[i] += r.Requests
			c.Tokens[i] += r.InputTokens + r.OutputTokens
			if len(c.Series) > 0 {
				c.Series[pos[dimValue(r, d)]].Cost[i] += int64(r.Cost)
			}
		}
	}
	return c
}

// chartLabels names a bucket [start, end) in the tables' formats: the legend's label
// and the axis's short one.
func chartLabels(start, end time.Time, step time.Duration) (label, tick string) {
	if step == time.Hour {
		return start.Format(layoutDay) + " " + start.Format(layoutHour) + "–" + end.Format(layoutHour), start.Format(layoutHour)
	}
	return start.Format(layoutDay), start.Format("2 Jan")
}

// JSON returns the chart data for the chart's data-chart attribute (html/template
// escapes it for the attribute).
func (c chartData) JSON() (string, error) {
	b, err := json.Marshal(c)
	return string(b), err
}

// bucketRow is one bucket of a chart's table of exact values.
type bucketRow struct {
	Label string
	Link  string // the request log of this bucket
	metering.Totals
}

// bucketRows sums each bucket, labelled in the workspace's timezone and linked to its
// request log within f.
func (rq *request) bucketRows(bs []metering.Bucket, step time.Duration, f drillFilter) []bucketRow {
	out := make([]bucketRow, 0, len(bs))
	for _, b := range bs {
		r := bucketRow{Label: b.Start.In(rq.Loc).Format(layoutDay), Link: requestsLink(rq.Workspace.ID, f.bucket(b.Start, b.End))}
		if step == time.Hour {
			r.Label = b.Start.In(rq.Loc).Format(layoutHour) + "–" + b.End.In(rq.Loc).Format(layoutHour)
		}
		for _, res := range b.Results {
			r.Totals.Add(res.Totals)
		}
		out = append(out, r)
	}
	return out
}

// parallel runs fns concurrently and returns the first error.
func parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
