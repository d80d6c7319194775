// Package console computes the operator console's deployment-wide figures: the list of
// every workspace with its balance, held amount, spend this month, last activity and
// owner, and the deployment's activity (spend, requests and refusals per day, top
// workspaces and models, credit outstanding). Every figure comes from indexed
// aggregates — wallet balances, the daily and hourly rollups, the refusal log's time
// index — in a bounded number of queries, never a query per workspace; a page of the
// list is cut in SQL.
package console

import (
	"context"
	"strings"
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
}

// Service serves the console's figures.
type Service struct {
	store Store
	now   func() time.Time
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

// Workspaces returns a page of the list. Errors: errs.Invalid invalid_sort,
// invalid_limit, invalid_offset, invalid_search.
func (s *Service) Workspaces(ctx context.Context, q ListQuery) (WorkspacePage, error) {
	if q.Sort == "" {
		q.Sort = SortName
	}
	ok := false
	for _, k := range Sorts {
		ok = ok || k == q.Sort
	}
	if !ok {
		return WorkspacePage{}, errs.E(errs.Invalid, "invalid_sort", "sort must be one of %s", strings.Join(Sorts, ", "))
	}
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		return WorkspacePage{}, errs.E(errs.Invalid, "invalid_limit", "limit must be between 1 and %d", MaxLimit)
	}
	if q.Offset < 0 {
		return WorkspacePage{}, errs.E(errs.Invalid, "invalid_offset", "offset must not be negative")
	}
	q.Search = strings.TrimSpace(q.Search)
	if len(q.Search) > maxSearch {
		return WorkspacePage{}, errs.E(errs.Invalid, "invalid_search", "search is at most %d bytes", maxSearch)
	}
	zones, err := s.store.WorkspaceTimezones(ctx)
	if err != nil {
		return WorkspacePage{}, err
	}
	now := s.now()
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
	return s.store.ConsoleWorkspaces(ctx, q)
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
}

// Activity returns the deployment's last days days (1–366). Spend and requests are
// counted by each workspace's own calendar days (the daily rollups); refusals by UTC
// day (the refusal log keeps instants). Errors: errs.Invalid invalid_days.
func (s *Service) Activity(ctx context.Context, days int) (Activity, error) {
	if days < 1 || days > 366 {
		return Activity{}, errs.E(errs.Invalid, "invalid_days", "days must be between 1 and 366")
	}
	now := s.now().UTC()
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
