package web

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/metering"
	"spectra/internal/requestlog"
)

// usageQuery is what the usage page's filters ask for.
type usageQuery struct {
	Period  Period
	Group   string // "" or a metering dimension
	Filter  metering.Filter
	Model   string
	Key     string
	Member  string
	Project string
}

// groupChoices are the group-by options.
var groupChoices = []struct{ Value, Label string }{
	{"", "Nothing (totals)"}, {metering.DimModel, "Model"}, {metering.DimKey, "Key"}, {metering.DimMember, "Member"}, {metering.DimProject, "Project"},
}

// parseUsageQuery reads the usage page's parameters. Errors: invalid_period, invalid_group_by.
func (rq *request) parseUsageQuery(q url.Values) (usageQuery, error) {
	p, err := parsePeriod(q, "7d", rq.Now, rq.Loc)
	if err != nil {
		return usageQuery{}, err
	}
	u := usageQuery{Period: p, Group: q.Get("group"), Model: strings.TrimSpace(q.Get("model")), Key: strings.TrimSpace(q.Get("key")),
		Member: strings.TrimSpace(q.Get("member")), Project: q.Get("project")}
	if !q.Has("group") {
		u.Group = metering.DimModel
	}
	if u.Group != "" && !slices.Contains(metering.Dimensions, u.Group) {
		return usageQuery{}, errs.E(errs.Invalid, "invalid_group_by", "group must be model, key, member or project")
	}
	one := requestlog.FilterValues // "-" asks for usage without a value (no key, member or project)
	u.Filter = metering.Filter{Models: one(u.Model), Keys: one(u.Key), Members: one(u.Member), Projects: one(u.Project)}
	return u, nil
}

// groupBy returns the query's group-by list for the metering service.
func (u usageQuery) groupBy() []string {
	if u.Group == "" {
		return nil
	}
	return []string{u.Group}
}

// values returns the URL parameters that choose u again.
func (u usageQuery) values() url.Values {
	v := u.Period.Query()
	v.Set("group", u.Group)
	for name, val := range map[string]string{"model": u.Model, "key": u.Key, "member": u.Member, "project": u.Project} {
		if val != "" {
			v.Set(name, val)
		}
	}
	return v
}

// drill is the request log's filter for what u shows.
func (u usageQuery) drill(loc *time.Location) drillFilter {
	return drillFilter{Period: u.Period, Loc: loc, Model: u.Model, Key: u.Key, Member: u.Member, Project: u.Project}
}

// usageRow is one line of the usage table (and of its CSV): one group in one bucket.
type usageRow struct {
	Start, End time.Time
	Bucket     string
	Value      string // the group's raw value ("" when not grouped)
	Label      string
	Color      int
	Link       string // the request log of this group in this bucket
	metering.Totals
}

// option is one entry of a filter's select.
type option struct {
	Value, Label string
	Selected     bool
}

// usageData is what the usage page shows.
type usageData struct {
	pageBase
	Q           usageQuery
	Periods     []periodLink
	Groups      []option
	Models      []option
	Keys        []option
	Members     []option
	Projects    []string
	Rows        []usageRow
	Groups2     []breakdownRow // totals per group over the whole period
	Totals      metering.Totals
	Chart       chartData
	GroupName   string
	CSVURL      string
	APIURL      string
	RequestsURL string // the request log with this page's period and filters
	Filtered    bool
}

// usageRows runs the usage query and flattens it into table rows: every non-empty
// group of every bucket, in bucket order and then by the group's total spend.
func (s *Server) usageRows(ctx context.Context, rq *request, u usageQuery) ([]metering.Bucket, labeler, []breakdownRow, []usageRow, error) {
	var bs []metering.Bucket
	var names labeler
	err := parallel(
		func() (err error) { names, err = rq.labels(ctx); return err },
		func() (err error) {
			bs, err = rq.usage(ctx, u.Period.Start, u.Period.End, u.Period.Step, u.groupBy(), u.Filter)
			return err
		})
	if err != nil {
		return nil, names, nil, nil, err
	}
	groups := breakdown(bs, u.Group, names)
	order := map[string]int{}
	for i, g := range groups {
		order[g.Value] = i
	}
	var rows []usageRow
	for _, b := range bs {
		start := len(rows)
		for _, res := range b.Results {
			v := dimValue(res, u.Group)
			label := ""
			if u.Group != "" {
				label, _ = names.label(u.Group, v)
			}
			rows = append(rows, usageRow{Start: b.Start, End: b.End, Value: v, Label: label, Color: groups[order[v]].Color, Totals: res.Totals})
		}
		part := rows[start:]
		sort.SliceStable(part, func(i, j int) bool { return order[part[i].Value] < order[part[j].Value] })
	}
	for i := range rows {
		rows[i].Bucket = bucketLabel(rows[i].Start, rows[i].End, u.Period.Step, rq.Loc)
	}
	return bs, names, groups, rows, nil
}

func bucketLabel(start, end time.Time, step time.Duration, loc *time.Location) string {
	if step == time.Hour {
		return start.In(loc).Format("Mon 2 Jan 15:04") + "–" + end.In(loc).Format(layoutHour)
	}
	return start.In(loc).Format(layoutDay + " 2006")
}

// usage is the usage explorer: filters, group-by, a chart and the exact table, with
// CSV export of the same rows.
func (s *Server) usage(w http.ResponseWriter, r *http.Request, rq *request) error {
	u, err := rq.parseUsageQuery(r.URL.Query())
	if err != nil {
		return err
	}
	ctx := r.Context()
	bs, names, groups, rows, err := s.usageRows(ctx, rq, u)
	if err != nil {
		return err
	}
	cat, err := s.metering.Catalog(ctx) // cached by the service
	if err != nil {
		return err
	}
	models := cat.Models()
	d := usageData{pageBase: rq.base("Usage", "usage"), Q: u, Rows: rows, Totals: sumBuckets(bs)}
	d.Filtered = u.Model != "" || u.Key != "" || u.Member != "" || u.Project != ""
	for _, g := range groupChoices {
		d.Groups = append(d.Groups, option{Value: g.Value, Label: g.Label, Selected: g.Value == u.Group})
		if g.Value == u.Group {
			d.GroupName = g.Label
		}
	}
	d.Groups2 = groups
	if u.Group == "" {
		groups = []breakdownRow{{Label: "Spend", Totals: d.Totals}}
	}
	d.Chart = rq.makeChart(bs, u.Group, groups, u.Period.Step)
	// The chart's buckets, the group rows and the table's rows link to their requests,
	// keeping this page's filters (drill.go).
	drill, ws := u.drill(rq.Loc), rq.Workspace.ID
	d.Chart.linkBuckets(ws, bs, drill)
	linkRows(ws, d.Groups2, u.Group, drill)
	for i, row := range d.Rows {
		if g, ok := drill.with(u.Group, row.Value); ok || u.Group == "" {
			d.Rows[i].Link = requestsLink(ws, g.bucket(row.Start, row.End))
		}
	}
	d.RequestsURL = requestsLink(ws, drill)
	d.Models, d.Keys, d.Members, d.Projects = filterOptions(models, names, u)
	d.Periods = rq.periodLinks("usage", u.Period)
	for i := range d.Periods {
		v := u.values()
		v.Del("from")
		v.Del("to")
		v.Set("period", d.Periods[i].Key)
		d.Periods[i].URL = rq.URL("usage") + "?" + v.Encode()
	}
	d.CSVURL = rq.URL("usage.csv") + "?" + u.values().Encode()
	api := url.Values{"start": {u.Period.Start.Format(time.RFC3339)}, "end": {u.Period.End.Format(time.RFC3339)},
		"bucket": {bucketParam(u.Period.Step)}, "tz": {rq.Workspace.Timezone}}
	if u.Group != "" {
		api.Set("group_by", u.Group)
	}
	for name, val := range map[string]string{"models": u.Model, "key_ids": u.Key, "members": u.Member, "projects": u.Project} {
		if val != "" {
			api.Set(name, val)
		}
	}
	d.APIURL = "/api/v1/workspaces/" + url.PathEscape(rq.Workspace.ID) + "/usage?" + api.Encode()
	return s.render(w, r, http.StatusOK, "usage", d)
}

func bucketParam(step time.Duration) string {
	if step == time.Hour {
		return "1h"
	}
	return "1d"
}

// options builds a select's options from values (sorted by label), marking selected. The
// selected value is kept even when it is not among values, so a filter never vanishes.
func options(values []string, selected string, label func(string) string) []option {
	if selected != "" && !slices.Contains(values, selected) {
		values = append(values, selected)
	}
	out := make([]option, 0, len(values))
	for _, v := range values {
		l := v
		if label != nil {
			l = label(v)
		}
		out = append(out, option{Value: v, Label: l, Selected: v == selected})
	}
	sort.SliceStable(out, func(i, j int) bool { return strings.ToLower(out[i].Label) < strings.ToLower(out[j].Label) })
	return out
}

// csvHeader is the usage export's header; the group columns come after the bucket.
var csvCounters = []string{"requests", "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens", "cost", "currency"}

// usageCSV exports exactly the rows the usage page shows for the same parameters, with
// exact decimal costs.
func (s *Server) usageCSV(w http.ResponseWriter, r *http.Request, rq *request) error {
	u, err := rq.parseUsageQuery(r.URL.Query())
	if err != nil {
		return err
	}
	_, _, _, rows, err := s.usageRows(r.Context(), rq, u)
	if err != nil {
		return err
	}
	header := []string{"bucket_start", "bucket_end"}
	switch u.Group {
	case metering.DimKey:
		header = append(header, "key_id", "key_name")
	case metering.DimMember:
		header = append(header, "member", "member_name")
	case metering.DimModel, metering.DimProject:
		header = append(header, u.Group)
	}
	header = append(header, csvCounters...)
	name := "spectra-usage-" + rq.Workspace.ID + "-" + u.Period.From + "-to-" + u.Period.To + ".csv"
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write(header)
	for _, row := range rows {
		rec := []string{row.Start.In(rq.Loc).Format(time.RFC3339), row.End.In(rq.Loc).Format(time.RFC3339)}
		switch u.Group {
		case metering.DimKey, metering.DimMember:
			rec = append(rec, csvSafe(row.Value), csvSafe(row.Label))
		case metering.DimModel, metering.DimProject:
			rec = append(rec, csvSafe(row.Value))
		}
		t := row.Totals
		rec = append(rec, itoa64(t.Requests), itoa64(t.InputTokens), itoa64(t.CachedInputTokens), itoa64(t.CacheWriteTokens),
			itoa64(t.OutputTokens), itoa64(t.ReasoningTokens), t.Cost.String(), s.currency)
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses a cell that a spreadsheet would run as a formula.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// filterOptions builds the model, key and member selects and the project suggestions
// of a filter form.
func filterOptions(models []string, names labeler, u usageQuery) (ms, keys, members []option, projects []string) {
	ms = options(models, u.Model, nil)
	var keyIDs, memberIDs []string
	seen := map[string]bool{}
	for _, k := range names.keyList {
		keyIDs = append(keyIDs, k.ID)
		if k.Project != "" && !seen[k.Project] {
			seen[k.Project] = true
			projects = append(projects, k.Project)
		}
	}
	for _, m := range names.memberList {
		memberIDs = append(memberIDs, m.UserID)
	}
	keys = options(keyIDs, u.Key, func(v string) string {
		if v == requestlog.None {
			return "(no key)"
		}
		l, sub := names.label(metering.DimKey, v)
		return l + " (" + sub + ")"
	})
	members = options(memberIDs, u.Member, func(v string) string {
		if v == requestlog.None {
			v = "" // "(no member)"
		}
		l, _ := names.label(metering.DimMember, v)
		return l
	})
	sort.Strings(projects)
	return ms, keys, members, projects
}
