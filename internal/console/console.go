// Package console computes the operator console's deployment-wide figures: the list of
// every workspace with its balance, held amount, spend this month, last activity and
// owner, and the deployment's activity (spend, requests and refusals per day, top
// workspaces and models, credit outstanding). Every figure comes from indexed
// aggregates — wallet balances, the daily and hourly rollups, the refusal log's time
// index — in a bounded number of queries, never a query per workspace; a page of the
// list is cut in SQL. The figures that sum every workspace's month (spend this month,
// and Activity) are read by one background pass into an in-memory Snapshot that pages
// read, with its time.
package console

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
)

// WorkspaceRow is one workspace in the operator's list.
type WorkspaceRow struct {
	ID, Name, Timezone string
	Owner              string       // the first owner's email ("" when it has none)
	Balance, Held      money.Amount // the wallet's balance, and held as shown
	SpendThisMonth     money.Amount // cost in the workspace's current calendar month, in its zone
	LastActivity       time.Time    // the start of the last hour with usage; zero for none
	CreatedAt          time.Time
}

// Sort keys of the list.
const (
	SortName     = "name"
	SortBalance  = "balance"
	SortHeld     = "held"
	SortSpend    = "spend"
	SortActivity = "activity"
	SortOwner    = "owner"
	SortCreated  = "created"
)

// Sorts are the list's sort keys.
var Sorts = []string{SortName, SortBalance, SortHeld, SortSpend, SortActivity, SortOwner, SortCreated}

// ListQuery selects a page of the list.
type ListQuery struct {
	Search string // part of the name, the id or the owner's email, any case
	Sort   string // one of Sorts; "" is name
	Desc   bool
	Offset int
	Limit  int // 1–200; 0 means 50
	// MonthStarts is, by time zone, the start of the current month there (set by the
	// service for every zone in use); Since is the earliest of them.
	MonthStarts map[string]time.Time
	Since       time.Time
}

// WorkspacePage is a page of the list and the number of workspaces the search matches.
type WorkspacePage struct {
	Rows  []WorkspaceRow
	Total int
	// SpendAsOf is when the rows' SpendThisMonth (and the order by spend) was read: the
	// snapshot's time (see Snapshot); zero when the spend was read with the page.
	SpendAsOf time.Time
}

// DayRow is the deployment's usage on the days that start at one instant, as the daily
// rollups keep them: Day is a local midnight (of one or more zones in use).
type DayRow struct {
	Day      time.Time
	Spend    money.Amount
	Requests int64
}

// Ranked is a workspace or a model with its spend over the period.
type Ranked struct {
	ID, Label string
	Spend     money.Amount
	Requests  int64
}

// RawActivity is what the store reads for Activity.
type RawActivity struct {
	Days          []DayRow
	RefusalsByDay map[string]int64 // by UTC date ("2006-01-02")
	TopWorkspaces []Ranked
	TopModels     []Ranked
	Outstanding   money.Amount // Σ wallet balances
	Overdrawn     money.Amount // Σ of the negative balances (≤ 0)
	Wallets       int
}

// Store reads the aggregates.
type Store interface {
	// WorkspaceTimezones returns every distinct time zone of the workspaces.
	WorkspaceTimezones(ctx context.Context) ([]string, error)
	// ConsoleWorkspaces returns the page q selects and the search's total.
	ConsoleWorkspaces(ctx context.Context, q ListQuery) (WorkspacePage, error)
	// ConsoleActivity reads the deployment's figures since since (top: how many
	// workspaces and models to rank).
	ConsoleActivity(ctx context.Context, since time.Time, top int) (RawActivity, error)
	// ConsoleMonthSpend returns every workspace's spend this month (from its zone's
	// MonthStarts[timezone] of q; Since the earliest), by workspace id; a workspace
	// without spend may be absent.
	ConsoleMonthSpend(ctx context.Context, q ListQuery) (map[string]money.Amount, error)
	// ConsoleWorkspaceIDs returns the ids of every workspace the search matches ("":
	// all), as ConsoleWorkspaces matches them.
	ConsoleWorkspaceIDs(ctx context.Context, search string) ([]string, error)
	// ConsoleWorkspacesByID returns the rows of the workspaces ids (in no order), their
	// spend this month from q.MonthStarts as ConsoleWorkspaces computes it.
	ConsoleWorkspacesByID(ctx context.Context, ids []string, q ListQuery) ([]WorkspaceRow, error)
}

// Service serves the console's figures. The deployment-wide aggregates — each
// workspace's spend this month, and Activity — are read by one pass (Refresh) into an
// in-memory Snapshot, run in the background every SnapshotEvery; a page reads the
// snapshot and shows its time. The first read without a snapshot makes one.
type Service struct {
	store Store
	now   func() time.Time

	snap      atomic.Pointer[Snapshot]
	refreshMu sync.Mutex // one pass at a time
}

// SnapshotEvery is how often the background pass refreshes the snapshot.
const SnapshotEvery = time.Minute

// ActivityPeriods are the periods, in days, whose Activity the snapshot holds.
var ActivityPeriods = []int{7, 30, 90}

// Snapshot is the deployment-wide figures as one pass read them at At: summing every
// workspace's month of daily rollups takes seconds at 10,000 workspaces, too long for
// a page, so pages read these and say how old they are.
type Snapshot struct {
	At time.Time
	// Spend is each workspace's spend this month (in its zone's month at At), by id;
	// a workspace absent had none (or did not exist at At).
	Spend map[string]money.Amount
	// Activity is the Activity of each of ActivityPeriods, by days.
	Activity map[int]Activity
}

// New returns a Service over st; now defaults to time.Now.
func New(st Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: st, now: now}
}

// MaxLimit is the largest page of the list.
const MaxLimit = 200

// maxSearch bounds the search text.
const maxSearch = 200

// Snapshot returns the current snapshot, making one first when there is none yet.
func (s *Service) Snapshot(ctx context.Context) (*Snapshot, error) {
	if sn := s.snap.Load(); sn != nil {
		return sn, nil
	}
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if sn := s.snap.Load(); sn != nil {
		return sn, nil
	}
	return s.refreshLocked(ctx)
}

// Refresh reads a new snapshot (one pass: every workspace's spend this month, then
// Activity for each of ActivityPeriods) and serves it from then on. Its time is the
// pass's start: the figures include at least everything recorded before it.
func (s *Service) Refresh(ctx context.Context) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	_, err := s.refreshLocked(ctx)
	return err
}

func (s *Service) refreshLocked(ctx context.Context) (*Snapshot, error) {
	at := s.now()
	q, err := s.monthStarts(ctx, ListQuery{}, at)
	if err != nil {
		return nil, err
	}
	spend, err := s.store.ConsoleMonthSpend(ctx, q)
	if err != nil {
		return nil, err
	}
	sn := &Snapshot{At: at, Spend: spend, Activity: make(map[int]Activity, len(ActivityPeriods))}
	for _, days := range ActivityPeriods {
		a, err := s.activityAt(ctx, days, at)
		if err != nil {
			return nil, err
		}
		a.AsOf = at
		sn.Activity[days] = a
	}
	s.snap.Store(sn)
	return sn, nil
}

// monthStarts sets q.MonthStarts and q.Since for the zones in use at now.
func (s *Service) monthStarts(ctx context.Context, q ListQuery, now time.Time) (ListQuery, error) {
	zones, err := s.store.WorkspaceTimezones(ctx)
	if err != nil {
		return q, err
	}
	q.MonthStarts = make(map[string]time.Time, len(zones))
	q.Since = now
	for _, z := range zones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			loc = time.UTC
		}
		l := now.In(loc)
		start := time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, loc)
		q.MonthStarts[z] = start
		if start.Before(q.Since) {
			q.Since = start
		}
	}
	return q, nil
}

// Workspaces returns a page of the list. Balance, held, owner and last activity are
// read with the page; spend this month (and the order by it) is the snapshot's, as of
// the page's SpendAsOf. Errors: errs.Invalid invalid_sort, invalid_limit,
// invalid_offset, invalid_search.
func (s *Service) Workspaces(ctx context.Context, q ListQuery) (WorkspacePage, error) {
	q, err := s.checkList(ctx, q)
	if err != nil {
		return WorkspacePage{}, err
	}
	sn, err := s.Snapshot(ctx)
	if err != nil {
		return WorkspacePage{}, err
	}
	var page WorkspacePage
	if q.Sort == SortSpend {
		ids, err := s.store.ConsoleWorkspaceIDs(ctx, q.Search)
		if err != nil {
			return WorkspacePage{}, err
		}
		slices.SortFunc(ids, func(a, b string) int {
			c := compareSpend(sn.Spend[a], sn.Spend[b], a, b)
			if q.Desc {
				return -c
			}
			return c
		})
		page.Total = len(ids)
		ids = ids[min(q.Offset, len(ids)):min(q.Offset+q.Limit, len(ids))]
		rows, err := s.store.ConsoleWorkspacesByID(ctx, ids, q)
		if err != nil {
			return WorkspacePage{}, err
		}
		at := make(map[string]int, len(ids))
		for i, id := range ids {
			at[id] = i
		}
		slices.SortFunc(rows, func(a, b WorkspaceRow) int { return at[a.ID] - at[b.ID] })
		page.Rows = rows
	} else {
		page, err = s.store.ConsoleWorkspaces(ctx, q)
		if err != nil {
			return WorkspacePage{}, err
		}
	}
	for i := range page.Rows {
		page.Rows[i].SpendThisMonth = sn.Spend[page.Rows[i].ID]
	}
	page.SpendAsOf = sn.At
	return page, nil
}

// compareSpend orders by spend, then by id.
func compareSpend(a, b money.Amount, idA, idB string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return strings.Compare(idA, idB)
}

// LiveWorkspaces returns a page of the list with every column, spend this month
// included, read by SQL at once (no snapshot): what the snapshot is checked against.
// Ordering by spend sums every workspace's month: seconds at 10,000 workspaces.
func (s *Service) LiveWorkspaces(ctx context.Context, q ListQuery) (WorkspacePage, error) {
	q, err := s.checkList(ctx, q)
	if err != nil {
		return WorkspacePage{}, err
	}
	return s.store.ConsoleWorkspaces(ctx, q)
}

// checkList validates q and sets its defaults and month starts.
func (s *Service) checkList(ctx context.Context, q ListQuery) (ListQuery, error) {
	if q.Sort == "" {
		q.Sort = SortName
	}
	ok := false
	for _, k := range Sorts {
		ok = ok || k == q.Sort
	}
	if !ok {
		return q, errs.E(errs.Invalid, "invalid_sort", "sort must be one of %s", strings.Join(Sorts, ", "))
	}
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		return q, errs.E(errs.Invalid, "invalid_limit", "limit must be between 1 and %d", MaxLimit)
	}
	if q.Offset < 0 {
		return q, errs.E(errs.Invalid, "invalid_offset", "offset must not be negative")
	}
	q.Search = strings.TrimSpace(q.Search)
	if len(q.Search) > maxSearch {
		return q, errs.E(errs.Invalid, "invalid_search", "search is at most %d bytes", maxSearch)
	}
	return s.monthStarts(ctx, q, s.now())
}

// Day is the deployment's usage on one calendar date.
type Day struct {
	Date     string // "2006-01-02"
	Spend    money.Amount
	Requests int64
	Refusals int64
}

// Activity is the deployment's activity over the last Days days.
type Activity struct {
	Days          []Day // oldest first, every date of the period
	Spend         money.Amount
	Requests      int64
	Refusals      int64
	TopWorkspaces []Ranked
	TopModels     []Ranked
	// Outstanding is Σ wallet balances: the credit the operator owes in service.
	Outstanding money.Amount
	Overdrawn   money.Amount
	Wallets     int
	// AsOf is when these figures were read (the snapshot's time); zero when read live.
	AsOf time.Time
}

// Activity returns the deployment's last days days (1–366): the snapshot's for
// ActivityPeriods (as of its AsOf), read at once for others. Spend and requests are
// counted by each workspace's own calendar days (the daily rollups); refusals by UTC
// day (the refusal log keeps instants). Errors: errs.Invalid invalid_days.
func (s *Service) Activity(ctx context.Context, days int) (Activity, error) {
	if days < 1 || days > 366 {
		return Activity{}, errs.E(errs.Invalid, "invalid_days", "days must be between 1 and 366")
	}
	if slices.Contains(ActivityPeriods, days) {
		sn, err := s.Snapshot(ctx)
		if err != nil {
			return Activity{}, err
		}
		return sn.Activity[days], nil
	}
	return s.activityAt(ctx, days, s.now())
}

// LiveActivity returns Activity read at once (no snapshot): what the snapshot is
// checked against. Errors: as Activity's.
func (s *Service) LiveActivity(ctx context.Context, days int) (Activity, error) {
	if days < 1 || days > 366 {
		return Activity{}, errs.E(errs.Invalid, "invalid_days", "days must be between 1 and 366")
	}
	return s.activityAt(ctx, days, s.now())
}

// activityAt reads the last days days' Activity as of now.
func (s *Service) activityAt(ctx context.Context, days int, now time.Time) (Activity, error) {
	now = now.UTC()
	first := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(days - 1))
	// Local days start up to 14 hours before the UTC date and up to 12 after: read a day
	// more and keep those whose local date is in the period.
	raw, err := s.store.ConsoleActivity(ctx, first.Add(-14*time.Hour), 10)
	if err != nil {
		return Activity{}, err
	}
	zones, err := s.store.WorkspaceTimezones(ctx)
	if err != nil {
		return Activity{}, err
	}
	locs := make([]*time.Location, 0, len(zones))
	for _, z := range zones {
		if loc, err := time.LoadLocation(z); err == nil {
			locs = append(locs, loc)
		}
	}
	a := Activity{TopWorkspaces: raw.TopWorkspaces, TopModels: raw.TopModels, Outstanding: raw.Outstanding, Overdrawn: raw.Overdrawn, Wallets: raw.Wallets}
	index := map[string]int{}
	for d := first; !d.After(now); d = d.AddDate(0, 0, 1) {
		k := d.Format(time.DateOnly)
		index[k] = len(a.Days)
		a.Days = append(a.Days, Day{Date: k, Refusals: raw.RefusalsByDay[k]})
		a.Refusals += raw.RefusalsByDay[k]
	}
	for _, r := range raw.Days {
		i, ok := index[localDate(r.Day, locs)]
		if !ok {
			continue
		}
		a.Days[i].Spend += r.Spend
		a.Days[i].Requests += r.Requests
		a.Spend += r.Spend
		a.Requests += r.Requests
	}
	return a, nil
}

// localDate is the date whose midnight t is, in the first of locs where t is a local
// midnight (the zones in use); the UTC date 12 hours on when it is none's.
func localDate(t time.Time, locs []*time.Location) string {
	for _, loc := range locs {
		if l := t.In(loc); l.Hour() == 0 && l.Minute() == 0 && l.Second() == 0 {
			return l.Format(time.DateOnly)
		}
	}
	return t.UTC().Add(12 * time.Hour).Format(time.DateOnly)
}
