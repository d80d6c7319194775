package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/metering"
)

// The /v1/organization endpoints answer in the shape of OpenAI's organization Usage and
// Costs APIs so that existing tooling can read Spectra. Buckets are aligned to UTC.

// orgPage is OpenAI's page of time buckets.
type orgPage[T any] struct {
	Object   string         `json:"object"` // "page"
	Data     []orgBucket[T] `json:"data"`
	HasMore  bool           `json:"has_more"`
	NextPage *string        `json:"next_page"`
}

type orgBucket[T any] struct {
	Object    string `json:"object"` // "bucket"
	StartTime int64  `json:"start_time"`
	EndTime   int64  `json:"end_time"`
	Results   []T    `json:"results"`
}

// orgCompletionsResult is "organization.usage.completions.result". input_tokens
// includes cached tokens; cache writes are counted apart in input_cache_write_tokens.
type orgCompletionsResult struct {
	Object                string  `json:"object"`
	InputTokens           int64   `json:"input_tokens"`
	OutputTokens          int64   `json:"output_tokens"`
	InputCachedTokens     int64   `json:"input_cached_tokens"`
	InputCacheWriteTokens int64   `json:"input_cache_write_tokens"`
	InputAudioTokens      int64   `json:"input_audio_tokens"`
	OutputAudioTokens     int64   `json:"output_audio_tokens"`
	NumModelRequests      int64   `json:"num_model_requests"`
	ProjectID             *string `json:"project_id"`
	UserID                *string `json:"user_id"`
	APIKeyID              *string `json:"api_key_id"`
	Model                 *string `json:"model"`
	Batch                 *bool   `json:"batch"`
}

// orgCostsResult is "organization.costs.result". line_item is the model.
type orgCostsResult struct {
	Object    string    `json:"object"`
	Amount    orgAmount `json:"amount"`
	LineItem  *string   `json:"line_item"`
	ProjectID *string   `json:"project_id"`
	APIKeyID  *string   `json:"api_key_id"`
	UserID    *string   `json:"user_id"`
}

// orgAmount is OpenAI's amount: a JSON number, written exactly from micro-units.
type orgAmount struct {
	Value    json.Number `json:"value"`
	Currency string      `json:"currency"`
}

// orgEndpoint describes one of the two endpoints' parameters.
type orgEndpoint struct {
	widths  map[string]orgWidth // bucket_width values served
	refused []string            // OpenAI's values Spectra does not serve (400 unsupported_bucket_width)
	groups  map[string]string   // group_by value → metering dimension
	filters map[string]string   // list parameter → metering dimension
}

type orgWidth struct {
	d               time.Duration
	defLimit, limit int
}

var (
	completionsEndpoint = orgEndpoint{
		widths:  map[string]orgWidth{"1d": {24 * time.Hour, 7, 31}, "1h": {time.Hour, 24, 168}},
		refused: []string{"1m"},
		groups: map[string]string{"model": metering.DimModel, "api_key_id": metering.DimKey,
			"project_id": metering.DimProject, "user_id": metering.DimMember},
		filters: map[string]string{"models": metering.DimModel, "api_key_ids": metering.DimKey,
			"project_ids": metering.DimProject, "user_ids": metering.DimMember},
	}
	costsEndpoint = orgEndpoint{
		widths:  map[string]orgWidth{"1d": {24 * time.Hour, 7, 180}},
		refused: []string{"1h", "1m"},
		groups: map[string]string{"line_item": metering.DimModel, "api_key_id": metering.DimKey,
			"project_id": metering.DimProject, "user_id": metering.DimMember},
		filters: map[string]string{"line_items": metering.DimModel, "api_key_ids": metering.DimKey,
			"project_ids": metering.DimProject, "user_ids": metering.DimMember},
	}
)

// orgQuery is a parsed request: one page of buckets.
type orgQuery struct {
	usage   metering.UsageQuery // Start and End are this page's
	hasMore bool
	next    *string
}

// parse reads an organization request's parameters into the usage query of one page.
func (ep orgEndpoint) parse(q url.Values, workspaceID string, now time.Time) (orgQuery, error) {
	var oq orgQuery
	v := q.Get("start_time")
	if v == "" {
		return oq, errs.E(errs.Invalid, "missing_start_time", "start_time (Unix seconds) is required")
	}
	start, ok := unixParam(v)
	if !ok {
		return oq, errs.E(errs.Invalid, "invalid_start_time", "start_time must be Unix seconds")
	}
	end := now
	if v := q.Get("end_time"); v != "" {
		if end, ok = unixParam(v); !ok {
			return oq, errs.E(errs.Invalid, "invalid_end_time", "end_time must be Unix seconds")
		}
	}
	if !end.After(start) {
		return oq, errs.E(errs.Invalid, "invalid_range", "end_time must be after start_time")
	}
	bw := q.Get("bucket_width")
	if bw == "" {
		bw = "1d"
	}
	width, ok := ep.widths[bw]
	if !ok {
		for _, r := range ep.refused {
			if bw == r {
				return oq, errs.E(errs.Invalid, "unsupported_bucket_width", "bucket_width %s is not supported here (use %s)", bw, ep.widthNames())
			}
		}
		return oq, errs.E(errs.Invalid, "invalid_bucket_width", "bucket_width must be one of %s", ep.widthNames())
	}
	limit, err := parseLimit(q, width.defLimit, width.limit)
	if err != nil {
		return oq, err
	}
	first := start.Truncate(width.d)
	last := end.Truncate(width.d)
	if last.Before(end) {
		last = last.Add(width.d)
	}
	pageStart := first
	if v := q.Get("page"); v != "" {
		sec, ok := decodeCursor("pg", v)
		t := time.Unix(sec, 0).UTC()
		if !ok || t.Before(first) || !t.Before(last) || !t.Truncate(width.d).Equal(t) {
			return oq, errs.E(errs.Invalid, "invalid_page", "page is not a next_page of this query")
		}
		pageStart = t
	}
	pageEnd := pageStart.Add(time.Duration(limit) * width.d)
	if !pageEnd.Before(last) {
		pageEnd = last
	} else {
		oq.hasMore = true
		c := encodeCursor("pg", pageEnd.Unix())
		oq.next = &c
	}
	oq.usage = metering.UsageQuery{WorkspaceID: workspaceID, Start: pageStart, End: pageEnd, Bucket: width.d, Location: time.UTC}
	for _, g := range listParam(q, "group_by") {
		d, ok := ep.groups[g]
		if !ok {
			return oq, errs.E(errs.Invalid, "invalid_group_by", "cannot group by %q (use %s)", g, names(ep.groups))
		}
		oq.usage.GroupBy = append(oq.usage.GroupBy, d)
	}
	for param, dim := range ep.filters {
		vals := listParam(q, param)
		switch dim {
		case metering.DimModel:
			oq.usage.Models = vals
		case metering.DimKey:
			oq.usage.Keys = vals
		case metering.DimProject:
			oq.usage.Projects = vals
		case metering.DimMember:
			oq.usage.Members = vals
		}
	}
	return oq, nil
}

func (ep orgEndpoint) widthNames() string { return names(ep.widths) }

// names lists a map's keys, sorted, for messages.
func names[V any](m map[string]V) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// unixParam reads whole non-negative Unix seconds.
func unixParam(v string) (time.Time, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > 253402300799 {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// orgWorkspace is the workspace an organization request reads: an admin key's own, or
// for the operator the workspace_id query parameter.
func (s *Server) orgWorkspace(r *http.Request) (string, error) {
	p := principalOf(r.Context())
	asked := r.URL.Query().Get("workspace_id")
	if !p.operator {
		if asked != "" && asked != p.key.WorkspaceID {
			return "", errForbiddenWS
		}
		return p.key.WorkspaceID, nil
	}
	if asked == "" {
		return "", errs.E(errs.Invalid, "missing_workspace_id", "with the operator token, workspace_id names the workspace to read")
	}
	ws, err := s.team.Workspace(r.Context(), asked)
	return ws.ID, err
}

// orgUsage runs the page's usage query.
func (s *Server) orgUsage(r *http.Request, ep orgEndpoint) (orgQuery, []metering.Bucket, error) {
	ws, err := s.orgWorkspace(r)
	if err != nil {
		return orgQuery{}, nil, err
	}
	oq, err := ep.parse(r.URL.Query(), ws, s.now())
	if err != nil {
		return oq, nil, err
	}
	buckets, err := s.metering.Usage(r.Context(), oq.usage)
	return oq, buckets, err
}

// nullable returns nil for an ungrouped or empty dimension, so JSON says null.
func nullable(p *string) *string {
	if p == nil || *p == "" {
		return nil
	}
	return p
}

// orgCompletions serves GET /v1/organization/usage/completions.
func (s *Server) orgCompletions(w http.ResponseWriter, r *http.Request) error {
	oq, buckets, err := s.orgUsage(r, completionsEndpoint)
	if err != nil {
		return err
	}
	page := orgPage[orgCompletionsResult]{Object: "page", Data: []orgBucket[orgCompletionsResult]{}, HasMore: oq.hasMore, NextPage: oq.next}
	for _, b := range buckets {
		ob := orgBucket[orgCompletionsResult]{Object: "bucket", StartTime: b.Start.Unix(), EndTime: b.End.Unix(), Results: []orgCompletionsResult{}}
		for _, res := range b.Results {
			ob.Results = append(ob.Results, orgCompletionsResult{Object: "organization.usage.completions.result",
				InputTokens: res.InputTokens, OutputTokens: res.OutputTokens, InputCachedTokens: res.CachedInputTokens,
				InputCacheWriteTokens: res.CacheWriteTokens, NumModelRequests: res.Requests,
				ProjectID: nullable(res.Project), UserID: nullable(res.Member), APIKeyID: nullable(res.KeyID), Model: nullable(res.Model)})
		}
		page.Data = append(page.Data, ob)
	}
	WriteJSON(w, http.StatusOK, page)
	return nil
}

// orgCosts serves GET /v1/organization/costs.
func (s *Server) orgCosts(w http.ResponseWriter, r *http.Request) error {
	oq, buckets, err := s.orgUsage(r, costsEndpoint)
	if err != nil {
		return err
	}
	currency := strings.ToLower(s.currency)
	page := orgPage[orgCostsResult]{Object: "page", Data: []orgBucket[orgCostsResult]{}, HasMore: oq.hasMore, NextPage: oq.next}
	for _, b := range buckets {
		ob := orgBucket[orgCostsResult]{Object: "bucket", StartTime: b.Start.Unix(), EndTime: b.End.Unix(), Results: []orgCostsResult{}}
		for _, res := range b.Results {
			ob.Results = append(ob.Results, orgCostsResult{Object: "organization.costs.result",
				Amount:   orgAmount{Value: json.Number(res.Cost.String()), Currency: currency},
				LineItem: nullable(res.Model), ProjectID: nullable(res.Project), APIKeyID: nullable(res.KeyID), UserID: nullable(res.Member)})
		}
		page.Data = append(page.Data, ob)
	}
	WriteJSON(w, http.StatusOK, page)
	return nil
}
