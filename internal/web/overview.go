package web

import (
	"context"
	"net/http"
	"sync"
	"time"

	"spectra/internal/budget"
	"spectra/internal/ledger"
	"spectra/internal/metering"
)

// tile is one headline figure with its change against the previous period.
type tile struct {
	Label  string
	Value  int64
	Money  bool
	Change Change
	Prev   int64
	Hint   string
	// Refused, on the Requests tile, is the period's refused and failed requests.
	Refused *refusalLine
}

// periodLink is one option of the period picker.
type periodLink struct {
	Key, Label, URL string
	Current         bool
}

// overviewData is what the overview shows.
type overviewData struct {
	pageBase
	Period   Period
	Periods  []periodLink
	Tiles    []tile
	Totals   metering.Totals
	Chart    chartData
	Days     []bucketRow
	Models   []breakdownRow
	Keys     []breakdownRow
	Members  []breakdownRow
	Projects []breakdownRow
	Activity []ledger.Entry
	Forecast *budget.Forecast // nil without budgets
	Alerts   []alertRow       // the last week's alerts, newest first (at most 3)
	Month    string           // the forecast's month, e.g. "June"
	Empty    bool
	UsageURL string
}

// periodLinks builds the picker for page (a path of this workspace).
func (rq *request) periodLinks(page string, p Period) []periodLink {
	var out []periodLink
	for _, c := range periodChoices {
		out = append(out, periodLink{Key: c.Key, Label: c.Label, URL: rq.URL(page) + "?period=" + c.Key, Current: p.Key == c.Key})
	}
	return out
}

// overview is the workspace's front page: headline tiles, spend per day by model, the
// breakdowns and recent billing activity, for the chosen period.
func (s *Server) overview(w http.ResponseWriter, r *http.Request, rq *request) error {
	p, err := parsePeriod(r.URL.Query(), "7d", rq.Now, rq.Loc)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var (
		wg             sync.WaitGroup
		byModel        []metering.Bucket
		byOwner        [3][]metering.Bucket // by key, member, project
		ownerErr       [3]error
		prev           metering.Totals
		names          labeler
		entries        []ledger.Entry
		forecast       *budget.Forecast
		alerts         []budget.Alert
		e1, e3, e4, e5 error
		e6             error
		refused        *refusalLine
		e7             error
	)
	owners := [3]string{metering.DimKey, metering.DimMember, metering.DimProject}
	wg.Add(4 + len(owners))
	go func() {
		defer wg.Done()
		byModel, e1 = rq.usage(ctx, p.Start, p.End, p.Step, []string{metering.DimModel}, metering.Filter{})
	}()
	// One query per dimension: each reads the per-dimension rollups (a few rows per hour)
	// instead of every key × member × project combination.
	for i, dim := range owners {
		go func() {
			defer wg.Done()
			byOwner[i], ownerErr[i] = rq.usage(ctx, p.Start, p.End, 24*time.Hour, []string{dim}, metering.Filter{})
		}()
	}
	go func() { defer wg.Done(); prev, e3 = rq.totalsBetween(ctx, p.PrevStart, p.PrevEnd, metering.Filter{}) }()
	go func() { defer wg.Done(); names, e4 = rq.labels(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); refused, e7 = s.refusals(ctx, rq, p) }()
	go func() { defer wg.Done(); entries, e5 = s.billingActivity(ctx, rq.Workspace.ID, 6) }()
	if s.budget != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := s.budget.Forecast(ctx, rq.Workspace.ID)
			if err == nil {
				forecast = &f
				alerts, err = s.budget.Alerts(ctx, rq.Workspace.ID, 3)
			}
			e6 = err
		}()
	}
	wg.Wait()
	for _, err := range []error{e1, ownerErr[0], ownerErr[1], ownerErr[2], e3, e4, e5, e6, e7} {
		if err != nil {
			return err
		}
	}
	d := overviewData{pageBase: rq.base("Overview", "overview"), Period: p, Periods: rq.periodLinks("", p), Activity: entries, Forecast: forecast}
	if forecast != nil {
		d.Month = forecast.MonthStart.In(rq.Loc).Format("January")
	}
	for _, a := range alertRows(alerts, rq) {
		if rq.Now.Sub(a.CreatedAt) <= 7*24*time.Hour {
			d.Alerts = append(d.Alerts, a)
		}
	}
	d.Totals = sumBuckets(byModel)
	d.Empty = d.Totals.Requests == 0
	cur := d.Totals
	d.Tiles = []tile{
		{Label: "Requests", Value: cur.Requests, Prev: prev.Requests, Refused: refused},
		{Label: "Input tokens", Value: cur.InputTokens, Prev: prev.InputTokens, Hint: "cached included"},
		{Label: "Output tokens", Value: cur.OutputTokens, Prev: prev.OutputTokens, Hint: "reasoning included"},
		{Label: "Cached input tokens", Value: cur.CachedInputTokens, Prev: prev.CachedInputTokens},
		{Label: "Spend", Value: int64(cur.Cost), Prev: int64(prev.Cost), Money: true},
		{Label: "Avg cost per 1k requests", Value: int64(perThousand(cur.Cost, cur.Requests)), Prev: int64(perThousand(prev.Cost, prev.Requests)), Money: true},
	}
	for i := range d.Tiles {
		d.Tiles[i].Change = change(d.Tiles[i].Value, d.Tiles[i].Prev)
	}
	// Every bar, day and breakdown row links to its requests in this period (drill.go).
	drill, ws := drillFilter{Period: p, Loc: rq.Loc}, rq.Workspace.ID
	d.Models = breakdown(byModel, metering.DimModel, names)
	d.Chart = rq.makeChart(byModel, metering.DimModel, d.Models, p.Step)
	d.Chart.linkBuckets(ws, byModel, drill)
	d.Days = rq.bucketRows(byModel, p.Step, drill)
	d.Keys = breakdown(byOwner[0], metering.DimKey, names)
	d.Members = breakdown(byOwner[1], metering.DimMember, names)
	d.Projects = breakdown(byOwner[2], metering.DimProject, names)
	linkRows(ws, d.Models, metering.DimModel, drill)
	linkRows(ws, d.Keys, metering.DimKey, drill)
	linkRows(ws, d.Members, metering.DimMember, drill)
	linkRows(ws, d.Projects, metering.DimProject, drill)
	d.UsageURL = rq.URL("usage") + "?" + p.Query().Encode()
	return s.render(w, r, http.StatusOK, "overview", d)
}

// billingActivity returns up to n of the wallet's latest entries that are not usage
// debits (grants, payments, refunds), looking through at most the latest 1,000 entries
// (the ledger has no filter by kind; usage posts one entry per ingested batch).
func (s *Server) billingActivity(ctx context.Context, workspaceID string, n int) ([]ledger.Entry, error) {
	var out []ledger.Entry
	var before int64
	for page := 0; page < 2 && len(out) < n; page++ {
		es, err := s.ledger.Entries(ctx, workspaceID, before, 500)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.Kind != ledger.KindUsage {
				out = append(out, e)
				if len(out) == n {
					break
				}
			}
		}
		if len(es) < 500 {
			break
		}
		before = es[len(es)-1].Cursor
	}
	return out, nil
}
