package requestlog

import (
	"context"
	"slices"
	"time"

	"spectra/internal/budget"
	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/text"
)

// Statuses lists the status filter's values ("" is every request).
var Statuses = []string{StatusAnswered, StatusRefused, StatusUpstreamError}

// Page sizes of the request log.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Query asks for one page of a workspace's request log.
type Query struct {
	WorkspaceID string
	Start, End  time.Time // optional; End exclusive
	metering.Filter
	// Status is "" (every request), StatusAnswered, StatusRefused or StatusUpstreamError.
	Status string
	Sort   metering.Sort
	// ID, when set, selects the request with this id only.
	ID string
	// Cursor continues after the last entry of an earlier page of the same Sort
	// (Page.NextCursor); "" is the first page.
	Cursor string
	Limit  int // DefaultLimit when 0; at most MaxLimit
}

// Entry is one request of the log: an answered request (a usage event) or a refused or
// failed one, at no cost.
type Entry struct {
	ID         string       `json:"id"`
	Timestamp  time.Time    `json:"timestamp"`
	Status     string       `json:"status"`      // StatusAnswered, StatusRefused or StatusUpstreamError
	HTTPStatus int          `json:"http_status"` // 0 for events sent through POST /api/v1/events
	Code       string       `json:"code,omitempty"`
	Message    string       `json:"message,omitempty"`
	BudgetID   string       `json:"budget_id,omitempty"`
	Source     string       `json:"source"` // "gateway" or "api"
	Model      string       `json:"model"`
	KeyID      string       `json:"key_id"`
	Member     string       `json:"member"`
	Project    string       `json:"project"`
	Endpoint   string       `json:"endpoint,omitempty"`
	Upstream   string       `json:"upstream,omitempty"`
	Tokens     Tokens       `json:"tokens"`
	Cost       money.Amount `json:"cost"`
	Held       money.Amount `json:"held"`
	LatencyMS  int64        `json:"latency_ms"`
	Stream     bool         `json:"stream"`
	Estimated  bool         `json:"estimated"`
	usage      pricing.Usage
}

// Tokens are the token counts of a request, of every kind, and its units.
type Tokens struct {
	Input          int64 `json:"input"`
	CachedInput    int64 `json:"cached_input"`
	CacheWrite     int64 `json:"cache_write"`
	CacheWrite1h   int64 `json:"cache_write_1h"`
	Output         int64 `json:"output"`
	Reasoning      int64 `json:"reasoning"`
	WebSearchCalls int64 `json:"web_search_calls"`
	// The audio and image parts of Input (uncached) and of Output.
	AudioInput  int64 `json:"audio_input"`
	AudioOutput int64 `json:"audio_output"`
	ImageInput  int64 `json:"image_input"`
	ImageOutput int64 `json:"image_output"`
	// Units counts the request's named units other than web search calls.
	Units map[string]int64 `json:"units,omitempty"`
}

// Usage is e's usage (zero for a refusal).
func (e Entry) Usage() pricing.Usage { return e.usage }

// Answered reports whether e was answered and metered.
func (e Entry) Answered() bool { return e.Status == StatusAnswered }

// Page is one page of the request log.
type Page struct {
	Entries []Entry `json:"data"`
	// NextCursor continues after the last entry; "" on the last page.
	NextCursor string `json:"next_cursor"`
}

// Detail is everything known about one request.
type Detail struct {
	Entry
	// The price that applied, as recorded with the event when it was charged (issue 15):
	// the service tier the provider reported ("" : default) and the one whose prices
	// applied, the price list ("" : the catalog), the version (its effective_from; nil
	// for an event recorded before prices were recorded with events) and the context
	// tier (its threshold; 0 : base rates). Empty for a refusal.
	ServiceTier        string     `json:"service_tier"`
	BilledServiceTier  string     `json:"billed_service_tier,omitempty"`
	PriceList          string     `json:"price_list"`
	PriceEffectiveFrom *time.Time `json:"price_effective_from"`
	ContextTier        int64      `json:"context_tier_above_input_tokens"`
	// CostExact is the request's exact cost (12 decimals); Cost is what it was charged:
	// CostExact rounded down or up by its wallet's carry (nil for a refusal).
	CostExact *pricing.Exact `json:"cost_exact,omitempty"`
	// Price is the price version that applied: the one recorded with the event (a price
	// list's version, or the catalog's as the list adjusted it), or for an older event
	// the catalog's in effect at its time (nil for a refusal, or when none was).
	Price *pricing.Price `json:"price,omitempty"`
	// Arithmetic is how Price and the tokens give the cost (nil without Price).
	Arithmetic *Arithmetic `json:"arithmetic,omitempty"`
	// Transfer is the ledger transfer that charged the request: the usage transfer of the
	// commit group that applied it, shared with the other requests of that group (nil
	// when it cost nothing).
	Transfer *ledger.Transfer `json:"transfer,omitempty"`
	// BudgetName names the hard budget that refused the request (BudgetID), when it
	// still exists.
	BudgetName string `json:"budget_name,omitempty"`
}

// Budgets finds a budget by id (budget.Service).
type Budgets interface {
	Get(ctx context.Context, workspaceID, id string) (budget.Budget, error)
}

// Service reads the request log: usage events (metering) and refusals (Store).
type Service struct {
	metering *metering.Service
	store    Store
	budgets  Budgets
}

// NewService returns the request log over m's events and store's refusals; budgets
// (optional) names the budgets that refused requests. A nil store serves the usage
// events alone.
func NewService(m *metering.Service, store Store, budgets Budgets) *Service {
	return &Service{metering: m, store: store, budgets: budgets}
}

// Validate checks q and fills its defaults; it returns an *errs.Error naming the first
// problem (invalid_status, invalid_sort, invalid_range, invalid_limit, invalid_cursor,
// too_many_values, invalid_text).
func (q *Query) Validate() error {
	if q.Status != "" && q.Status != StatusAnswered && q.Status != StatusRefused && q.Status != StatusUpstreamError {
		return errs.E(errs.Invalid, "invalid_status", "status must be answered, refused or upstream_error")
	}
	s, err := metering.ParseSort(string(q.Sort))
	if err != nil {
		return err
	}
	q.Sort = s
	if !q.Start.IsZero() && !q.End.IsZero() && !q.End.After(q.Start) {
		return errs.E(errs.Invalid, "invalid_range", "end must be after start")
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		return errs.E(errs.Invalid, "invalid_limit", "limit must be from 1 to %d", MaxLimit)
	}
	if err := q.Filter.Validate(); err != nil {
		return err
	}
	if err := text.Line("id", q.ID, metering.MaxIDLength); err != nil {
		return err
	}
	if q.Cursor != "" {
		c, err := metering.ParseCursor(q.Cursor)
		if err != nil {
			return err
		}
		if c.Sort != q.Sort {
			return errs.E(errs.Invalid, "invalid_cursor", "the page cursor belongs to another sort; start from the first page")
		}
	}
	return nil
}

// List returns one page of the request log: answered requests and refusals merged in
// q.Sort's order (refusals count as a cost and tokens of zero).
func (s *Service) List(ctx context.Context, q Query) (Page, error) {
	if err := q.Validate(); err != nil {
		return Page{}, err
	}
	var after *metering.Cursor
	if q.Cursor != "" {
		c, _ := metering.ParseCursor(q.Cursor)
		after = &c
	}
	var entries []Entry
	if q.Status == "" || q.Status == StatusAnswered {
		evs, err := s.metering.Events(ctx, metering.EventFilter{WorkspaceID: q.WorkspaceID, Start: q.Start, End: q.End,
			Filter: q.Filter, ID: q.ID, Sort: q.Sort, Cursor: after, Limit: q.Limit + 1})
		if err != nil {
			return Page{}, err
		}
		for _, e := range evs {
			entries = append(entries, FromEvent(e))
		}
	}
	if q.Status != StatusAnswered && s.store != nil {
		f := RefusalFilter{WorkspaceID: q.WorkspaceID, Start: q.Start, End: q.End, Filter: q.Filter, ID: q.ID,
			ByLatency: q.Sort == metering.SortLatency, Limit: q.Limit + 1}
		if q.Status != "" {
			f.Kind = q.Status
		}
		if after != nil {
			f.After = after
		}
		rs, err := s.store.Refusals(ctx, f)
		if err != nil {
			return Page{}, err
		}
		for _, r := range rs {
			entries = append(entries, FromRefusal(r))
		}
	}
	sortEntries(q.Sort, entries)
	p := Page{Entries: entries}
	if len(entries) > q.Limit {
		p.Entries = entries[:q.Limit]
		p.NextCursor = cursorOf(q.Sort, p.Entries[q.Limit-1]).String()
	}
	if p.Entries == nil {
		p.Entries = []Entry{}
	}
	return p, nil
}

// Get returns the detail of request id of the workspace: its event, or its refusal, or
// ErrNotFound (also for another workspace's request).
func (s *Service) Get(ctx context.Context, workspaceID, id string) (Detail, error) {
	if id == "" || text.Line("id", id, metering.MaxIDLength) != nil {
		return Detail{}, ErrNotFound
	}
	e, err := s.metering.Event(ctx, workspaceID, id)
	if errs.KindOf(err) == errs.NotFound {
		if s.store == nil {
			return Detail{}, ErrNotFound
		}
		r, err := s.store.Refusal(ctx, workspaceID, id)
		if err != nil {
			return Detail{}, err
		}
		d := Detail{Entry: FromRefusal(r)}
		if r.BudgetID != "" && s.budgets != nil {
			if b, err := s.budgets.Get(ctx, workspaceID, r.BudgetID); err == nil {
				d.BudgetName = b.Name
			}
		}
		return d, nil
	}
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Entry: FromEvent(e), ServiceTier: e.ServiceTier, BilledServiceTier: e.BilledTier, PriceList: e.PriceList,
		ContextTier: e.ContextTier, CostExact: &e.CostExact}
	if !e.PriceFrom.IsZero() {
		t := e.PriceFrom
		d.PriceEffectiveFrom = &t
	}
	cat, err := s.metering.Catalog(ctx)
	if err != nil {
		return Detail{}, err
	}
	if p, ok := appliedPrice(cat, e); ok {
		a := Explain(p, e.Usage)
		d.Price, d.Arithmetic = &p, &a
	}
	if e.Cost > 0 && s.store != nil {
		t, ok, err := s.store.UsageTransfer(ctx, workspaceID, id, e.Timestamp)
		if err != nil {
			return Detail{}, err
		}
		if ok {
			d.Transfer = &t
		}
	}
	return d, nil
}

// appliedPrice returns the price version recorded with e: its price list's own version
// with that effective_from, or else the catalog's (adjusted by the list); for an event
// recorded before prices were, the catalog's version in effect at its time.
func appliedPrice(cat *pricing.Catalog, e metering.Event) (pricing.Price, bool) {
	if e.PriceFrom.IsZero() {
		p, err := cat.At(e.Model, e.Timestamp)
		return p, err == nil
	}
	var list pricing.PriceList
	if e.PriceList != "" {
		l, ok := cat.List(e.PriceList)
		if !ok {
			return pricing.Price{}, false
		}
		list = l
		for _, p := range l.Prices {
			if p.Model == e.Model && p.EffectiveFrom.Equal(e.PriceFrom) {
				return p, true
			}
		}
	}
	p, err := cat.At(e.Model, e.PriceFrom)
	if err != nil || !p.EffectiveFrom.Equal(e.PriceFrom) {
		return pricing.Price{}, false
	}
	return list.Adjusted(p), true
}

// Refusals summarises the refusals of a workspace in [start, end).
type Refusals struct {
	Total int64       `json:"total"`
	Codes []CodeCount `json:"codes"` // most first
	// Capped says that there were more than MaxCounted: Total and Codes count the
	// newest MaxCounted.
	Capped bool `json:"capped"`
}

// Main is the most frequent refusal code, or "".
func (r Refusals) Main() string {
	if len(r.Codes) == 0 {
		return ""
	}
	return r.Codes[0].Code
}

// RefusalSummary counts a workspace's refused and failed requests in [start, end) by
// code: the newest MaxCounted of them (Capped when there were more).
func (s *Service) RefusalSummary(ctx context.Context, workspaceID string, start, end time.Time) (Refusals, error) {
	if s.store == nil {
		return Refusals{Codes: []CodeCount{}}, nil
	}
	cs, err := s.store.RefusalCounts(ctx, workspaceID, start, end, MaxCounted+1)
	if err != nil {
		return Refusals{}, err
	}
	r := Refusals{Codes: cs}
	for _, c := range cs {
		r.Total += c.Count
	}
	if r.Total > MaxCounted { // one too many was counted: take it from the least frequent
		r.Capped, r.Total = true, MaxCounted
		r.Codes[len(r.Codes)-1].Count--
		if r.Codes[len(r.Codes)-1].Count == 0 {
			r.Codes = r.Codes[:len(r.Codes)-1]
		}
	}
	return r, nil
}

// FromEvent is the log entry of a usage event.
func FromEvent(e metering.Event) Entry {
	u := e.Usage
	src := e.Source
	if src == "" {
		src = "api"
	}
	return Entry{ID: e.ID, Timestamp: e.Timestamp, Status: StatusAnswered, HTTPStatus: e.Status, Source: src,
		Model: e.Model, KeyID: e.KeyID, Member: e.Member, Project: e.Project, Endpoint: e.Endpoint,
		Tokens: Tokens{Input: u.Input, CachedInput: u.CachedInput, CacheWrite: u.CacheWrite, CacheWrite1h: u.CacheWrite1h,
			Output: u.Output, Reasoning: u.Reasoning, WebSearchCalls: u.WebSearchCalls, AudioInput: u.AudioInput,
			AudioOutput: u.AudioOutput, ImageInput: u.ImageInput, ImageOutput: u.ImageOutput, Units: u.Units},
		Cost: e.Cost, Held: e.Held, LatencyMS: e.LatencyMS, Stream: e.Stream, Estimated: e.Estimated, usage: u}
}

// FromRefusal is the log entry of a refusal.
func FromRefusal(r Refusal) Entry {
	return Entry{ID: r.ID, Timestamp: r.Timestamp, Status: r.Kind, HTTPStatus: r.HTTPStatus, Code: r.Code, Message: r.Message,
		BudgetID: r.BudgetID, Source: "gateway", Model: r.Model, KeyID: r.KeyID, Member: r.Member, Project: r.Project,
		Endpoint: r.Endpoint, Upstream: r.Upstream, LatencyMS: r.LatencyMS, Stream: r.Stream}
}

// asEvent is the part of e that orders it.
func (e Entry) asEvent() metering.Event {
	return metering.Event{ID: e.ID, Timestamp: e.Timestamp, Cost: e.Cost, LatencyMS: e.LatencyMS, Usage: e.usage}
}

func cursorOf(s metering.Sort, e Entry) metering.Cursor { return metering.CursorOf(s, e.asEvent()) }

func sortEntries(s metering.Sort, es []Entry) {
	slices.SortStableFunc(es, func(x, y Entry) int {
		a, b := x.asEvent(), y.asEvent()
		return s.Compare(&a, &b)
	})
}
