package web

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/requestlog"
)

// requestData is what the request detail page shows.
type requestData struct {
	pageBase
	D         requestlog.Detail
	Time      string // local, to the second
	KeyLabel  string
	KeySub    string
	Member    string
	Lines     []costLine
	Released  money.Amount // the part of the hold given back (held − charged), when held
	CostMatch bool         // the arithmetic's exact total is the exact cost recorded with the request
	PriceList string       // "catalog" or the price list's name
	Units     []unitCount  // the request's units other than web search calls, by name
	UsageURL  string       // the Usage page of the request's day, model and key
	AroundURL string       // the request log of the minutes around it
	LogURL    string       // the request log
}

// unitCount is a count of one unit.
type unitCount struct {
	Name  string
	Count int64
}

// costLine is one line of a cost's arithmetic, labelled.
type costLine struct {
	requestlog.CostLine
	Label string
}

// costLabels name the arithmetic's lines.
var costLabels = map[string]string{
	"input": "Text input tokens (not cached)", "cached_input": "Cached input tokens", "cache_write": "Cache writes (5 minutes)",
	"cache_write_1h": "Cache writes (1 hour)", "output": "Text output tokens (reasoning included)", "request": "Per-request fee",
	"web_search_call": "Web search calls", "audio_input": "Audio input tokens", "image_input": "Image input tokens",
	"audio_output": "Audio output tokens", "image_output": "Image output tokens",
}

// request is the detail of one request of the log: GET /w/{ws}/requests/{request_id}.
func (s *Server) request(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	var d requestlog.Detail
	var names labeler
	err := parallel(
		func() (err error) { d, err = s.reqlog.Get(ctx, rq.Workspace.ID, r.PathValue("request_id")); return err },
		func() (err error) { names, err = rq.labels(ctx); return err })
	if err != nil {
		return err
	}
	p := requestData{pageBase: rq.base("Request "+d.ID, "requests"), D: d, Time: d.Timestamp.In(rq.Loc).Format("Mon 2 Jan 2006 15:04:05"),
		LogURL: rq.URL("requests")}
	p.KeyLabel, p.KeySub = names.label(metering.DimKey, d.KeyID)
	p.Member, _ = names.label(metering.DimMember, d.Member)
	if a := d.Arithmetic; a != nil {
		for _, l := range a.Lines {
			label := costLabels[l.Kind]
			if l.Kind == "unit" {
				label = costLabels[l.Unit]
				if label == "" {
					label = "Unit " + l.Unit
				}
			}
			p.Lines = append(p.Lines, costLine{CostLine: l, Label: label})
		}
		p.CostMatch = d.CostExact != nil && a.Exact == d.CostExact.String()
	}
	p.PriceList = "catalog"
	if d.PriceList != "" {
		p.PriceList = d.PriceList
	}
	for _, name := range slices.Sorted(maps.Keys(d.Tokens.Units)) {
		p.Units = append(p.Units, unitCount{name, d.Tokens.Units[name]})
	}
	if d.Held > d.Cost {
		p.Released = d.Held - d.Cost
	}
	day := midnight(d.Timestamp, rq.Loc).Format(dateLayout)
	uv := url.Values{"period": {"custom"}, "from": {day}, "to": {day}}
	if d.Model != "" {
		uv.Set("model", d.Model)
	}
	if d.KeyID != "" {
		uv.Set("key", d.KeyID)
	}
	p.UsageURL = rq.URL("usage") + "?" + uv.Encode()
	start := d.Timestamp.Add(-5 * time.Minute).In(rq.Loc).Truncate(time.Minute)
	av := url.Values{"period": {"range"}, "start": {start.Format(rangeLayout)}, "end": {start.Add(11 * time.Minute).Format(rangeLayout)}}
	if d.KeyID != "" {
		av.Set("key", d.KeyID)
	}
	p.AroundURL = rq.URL("requests") + "?" + av.Encode()
	return s.render(w, r, http.StatusOK, "request", p)
}
