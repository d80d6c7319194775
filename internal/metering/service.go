package metering

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"spectra/internal/errs"
	"spectra/internal/pricing"
	"spectra/internal/text"
)

// Rejection says why one event of a batch was not applied.
type Rejection struct {
	Index int    `json:"index"`
	ID    string `json:"id"`
	Code  string `json:"code"`
	Error string `json:"error"`
}

// IngestResult reports what a batch did.
type IngestResult struct {
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Rejected   []Rejection `json:"rejected"`
	// Outcomes has one entry per event of the batch; rejected events are Conflict.
	Outcomes []Outcome `json:"-"`
	// Events are the events as applied (prepared and priced), in batch order.
	Events []Event `json:"-"`
}

// MaxBatch is the most events one Ingest call takes.
const MaxBatch = 10_000

// Service ingests events and answers usage queries.
type Service struct {
	store  Store
	prices pricing.Store
	now    func() time.Time

	mu      sync.Mutex
	catalog *pricing.Catalog

	observers observerList // OnIngested callbacks
}

// NewService returns a metering service over store and the price catalog in prices.
// now is the clock (time.Now in production).
func NewService(store Store, prices pricing.Store, now func() time.Time) *Service {
	return &Service{store: store, prices: prices, now: now}
}

// Catalog returns the cached price catalog, loading it when needed.
func (s *Service) Catalog(ctx context.Context) (*pricing.Catalog, error) {
	s.mu.Lock()
	c := s.catalog
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	return s.reload(ctx)
}

func (s *Service) reload(ctx context.Context) (*pricing.Catalog, error) {
	c, err := s.prices.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.catalog = c
	s.mu.Unlock()
	return c, nil
}

// Invalidate drops the cached catalog; the next ingest reloads it.
func (s *Service) Invalidate() {
	s.mu.Lock()
	s.catalog = nil
	s.mu.Unlock()
}

// Ingest validates, prices and applies a batch. A malformed event, an unpriced model or
// an id reused with different contents is rejected with its index while the rest of the
// batch is applied. The error is non-nil only when nothing could be applied at all.
func (s *Service) Ingest(ctx context.Context, events []Event) (IngestResult, error) {
	if len(events) > MaxBatch {
		return IngestResult{}, errs.E(errs.Invalid, "batch_too_large", "a batch holds at most %d events", MaxBatch)
	}
	now := s.now()
	res := IngestResult{Rejected: []Rejection{}, Outcomes: make([]Outcome, len(events)), Events: events}
	cat, err := s.Catalog(ctx)
	if err != nil {
		return IngestResult{}, err
	}
	reloaded := false // whether cat was read from the store by this call
	for attempt := 0; ; attempt++ {
		res.Rejected = res.Rejected[:0]
		valid := make([]Event, 0, len(events))
		index := make([]int, 0, len(events))
		unpriced := false
		for i := range events {
			e := &events[i]
			e.IngestedAt = now
			if err := s.price(e, cat, now); err != nil {
				unpriced = unpriced || errs.Is(err, "unknown_model") || errs.Is(err, "no_price_in_effect")
				res.Rejected = append(res.Rejected, Rejection{Index: i, ID: e.ID, Code: errs.CodeOf(err), Error: message(err)})
				res.Outcomes[i] = Conflict
				continue
			}
			valid = append(valid, *e)
			index = append(index, i)
		}
		if unpriced && !reloaded {
			// The cached catalog may predate a price added through another node (which
			// the store cannot tell when no event of the batch reaches it): look once more.
			reloaded = true
			fresh, err := s.reload(ctx)
			if err != nil {
				return IngestResult{}, err
			}
			if fresh.Version != cat.Version {
				cat = fresh
				continue
			}
		}
		if len(valid) == 0 {
			return res, nil
		}
		outcomes, err := s.store.ApplyEvents(ctx, cat.Version, valid)
		if errs.Is(err, ErrCatalogChanged.Code) && attempt < 5 {
			if cat, err = s.reload(ctx); err != nil {
				return IngestResult{}, err
			}
			reloaded = true
			continue
		}
		if err != nil {
			return IngestResult{}, err
		}
		for j, o := range outcomes {
			i := index[j]
			res.Outcomes[i] = o
			events[i].Cost = valid[j].Cost // what the store charged it
			switch o {
			case Accepted:
				res.Accepted++
			case Duplicate:
				res.Duplicates++
			case Conflict:
				res.Rejected = append(res.Rejected, Rejection{Index: i, ID: events[i].ID, Code: "idempotency_conflict",
					Error: "an event with this id was already recorded with different contents"})
			case UnknownWorkspace:
				res.Rejected = append(res.Rejected, Rejection{Index: i, ID: events[i].ID, Code: "workspace_not_found",
					Error: "no workspace " + strconv.Quote(events[i].WorkspaceID)})
			case BalanceOutOfRange:
				res.Rejected = append(res.Rejected, Rejection{Index: i, ID: events[i].ID, Code: "balance_out_of_range",
					Error: "the cost of this event would take the wallet's balance below " + MinBalance.String()})
			}
		}
		s.notifyIngested(ctx, valid, outcomes)
		sortRejections(res.Rejected)
		return res, nil
	}
}

// price prepares e and prices it at the price that applies to its workspace at its time
// (the workspace's price list's, or the catalog's), recording that price with it: its
// exact cost, and its cost rounded half-up until the store charges it (Batch.Charge).
// A unit the applied prices do not know rejects the event (unknown_unit).
func (s *Service) price(e *Event, cat *pricing.Catalog, now time.Time) error {
	if err := e.Prepare(now); err != nil {
		return err
	}
	p, list, err := cat.ForWorkspace(e.WorkspaceID, e.Model, e.Timestamp)
	if err != nil {
		return err
	}
	q, err := p.Quote(e.Usage)
	if err != nil {
		return err
	}
	e.CostExact, e.Cost = q.Cost, q.Cost.Round()
	e.BilledTier, e.PriceList, e.PriceFrom, e.ContextTier = q.ServiceTier, list, p.EffectiveFrom, q.AboveInputTokens
	return nil
}

func sortRejections(r []Rejection) {
	slices.SortFunc(r, func(a, b Rejection) int { return a.Index - b.Index })
}

func message(err error) string {
	if e, ok := err.(*errs.Error); ok {
		return e.Message
	}
	return err.Error()
}

// Usage answers q from rollups: day buckets from the daily rollups when they are the
// workspace's days, everything else from the hourly ones.
func (s *Service) Usage(ctx context.Context, q UsageQuery) ([]Bucket, error) {
	if err := q.Filter.Validate(); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.rows(ctx, q.Rollup(), q.Start, q.End, q.Location, q.Bucket == 24*time.Hour)
	if err != nil {
		return nil, err
	}
	return q.Bucketize(rows), nil
}

// Total sums the usage of the hours that start in [q.Start, q.End), grouped by
// q.GroupBy, with no buckets (q.Bucket is ignored): the whole days of q.Location inside
// the range are read from the daily rollups, the hours at its edges from the hourly
// ones. Results are sorted by their dimensions, as in a bucket.
func (s *Service) Total(ctx context.Context, q UsageQuery) ([]Result, error) {
	if q.Location == nil {
		q.Location = time.UTC
	}
	if q.Start.IsZero() || q.End.IsZero() {
		return nil, errs.E(errs.Invalid, "invalid_range", "start and end are required")
	}
	if !q.End.After(q.Start) {
		return nil, errs.E(errs.Invalid, "invalid_range", "end must be after start")
	}
	if err := validGroups(q.GroupBy); err != nil {
		return nil, err
	}
	if err := q.Filter.Validate(); err != nil {
		return nil, err
	}
	base := RollupQuery{WorkspaceID: q.WorkspaceID, GroupBy: q.GroupBy, Filter: q.Filter}
	rows, err := s.rows(ctx, base, q.Start, q.End, q.Location, true)
	if err != nil {
		return nil, err
	}
	return sumResults(rows, q.GroupBy), nil
}

// MaxFilterValues bounds each list of a Filter: a query names at most this many models,
// keys, projects or members.
const MaxFilterValues = 100

// Validate checks a filter: at most MaxFilterValues values in each list (else
// too_many_values), each a single line of at most MaxLabelLength bytes under the text
// rule (else invalid_text).
func (f Filter) Validate() error {
	for _, l := range []struct {
		name string
		v    []string
	}{{"models", f.Models}, {"key_ids", f.Keys}, {"projects", f.Projects}, {"members", f.Members}} {
		if len(l.v) > MaxFilterValues {
			return errs.E(errs.Invalid, "too_many_values", "%s names %d values; at most %d are allowed", l.name, len(l.v), MaxFilterValues)
		}
		for _, v := range l.v {
			if err := text.Line(l.name, v, MaxLabelLength); err != nil {
				return err
			}
		}
	}
	return nil
}

// Events returns the request log page f asks for: at most f.Limit events (100 when it
// is not in 1..1000) in f.Sort's order after f's cursor. A cursor of another sort is
// invalid_cursor; an unknown sort invalid_sort.
func (s *Service) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	if err := f.Filter.Validate(); err != nil {
		return nil, err
	}
	sort, err := ParseSort(string(f.Sort))
	if err != nil {
		return nil, err
	}
	f.Sort = sort
	if err := text.Line("before", f.BeforeID, MaxIDLength); err != nil {
		return nil, err
	}
	if err := text.Line("id", f.ID, MaxIDLength); err != nil {
		return nil, err
	}
	if c := f.After(); c != nil {
		if c.Sort.Norm() != sort {
			return nil, errs.E(errs.Invalid, "invalid_cursor", "the page cursor belongs to another sort; start from the first page")
		}
		if err := text.Line("cursor", c.ID, MaxIDLength); err != nil {
			return nil, errInvalidCursor
		}
	}
	return s.store.Events(ctx, f)
}

// Event returns the event id of the workspace: not_found (request_not_found) when the
// workspace has no event with this id.
func (s *Service) Event(ctx context.Context, workspaceID, id string) (Event, error) {
	if id == "" || len(id) > MaxIDLength || text.Line("id", id, MaxIDLength) != nil {
		return Event{}, errs.E(errs.NotFound, "request_not_found", "no request with this id")
	}
	return s.store.Event(ctx, workspaceID, id)
}
