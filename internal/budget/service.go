package budget

import (
	"context"
	"errors"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/refresh"
	"spectra/internal/team"
)

// Config is what New needs. Store, Metering, Ledger and Team are required.
type Config struct {
	Store    Store
	Metering *metering.Service
	Ledger   *ledger.Service
	Team     *team.Service
	Currency string           // the deployment's currency, for alert texts and payloads ("USD" when empty)
	Now      func() time.Time // time.Now when nil
	Log      *slog.Logger     // slog.Default() when nil
	// CacheTTL is how long a workspace's budgets, time zone and low-balance line are
	// cached (default 1 s): a change through this Service applies at once, a change
	// through another node within CacheTTL.
	CacheTTL time.Duration
	// OnAlert is called after this Service stored a new alert (e.g. to wake the
	// notifier, so the alert is delivered at once rather than at its next poll). It
	// must return quickly. Nil: nothing is called.
	OnAlert func()
}

// Service manages budgets, evaluates alerts and forecasts spend. It is safe for
// concurrent use; several Services (one per node) may share one database.
type Service struct {
	store    Store
	metering *metering.Service
	ledger   *ledger.Service
	team     *team.Service
	currency string
	now      func() time.Time
	log      *slog.Logger
	onAlert  func()
	ttl      time.Duration

	mu    sync.Mutex
	cache map[string]*cached // by workspace id

	firedMu sync.Mutex
	fired   map[string]bool // dedupe keys known to be stored (skip the insert); cleared when large

	evalMu   sync.Mutex
	dirty    map[string]bool // workspaces waiting for evaluation
	running  bool
	inflight sync.WaitGroup

	refresh *refresh.Group // loadFast's background reads
}

// cached is a workspace's budgets, time zone and low-balance line.
type cached struct {
	loaded  time.Time
	loc     *time.Location
	budgets []Budget
	low     LowBalance
	hard    bool // some budget has a hard limit
}

// New returns a Service and registers it to evaluate alerts after each ingestion.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Metering == nil || c.Ledger == nil || c.Team == nil {
		return nil, errors.New("budget: Store, Metering, Ledger and Team are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Currency == "" {
		c.Currency = "USD"
	}
	if c.CacheTTL <= 0 {
		c.CacheTTL = time.Second
	}
	s := &Service{store: c.Store, metering: c.Metering, ledger: c.Ledger, team: c.Team, currency: c.Currency,
		now: c.Now, log: c.Log, onAlert: c.OnAlert, ttl: c.CacheTTL, cache: map[string]*cached{}, fired: map[string]bool{}, dirty: map[string]bool{},
		refresh: refresh.New(refreshTimeout)}
	c.Metering.OnIngested(s.ingested)
	return s, nil
}

// alerted tells the OnAlert hook that an alert was stored.
func (s *Service) alerted() {
	if s.onAlert != nil {
		s.onAlert()
	}
}

// Logger is the service's logger, for its transports.
func (s *Service) Logger() *slog.Logger { return s.log }

// Currency is the currency amounts are in.
func (s *Service) Currency() string { return s.currency }

// Create validates and stores a new budget of b.WorkspaceID (which must exist; a key
// scope must name one of its keys: ErrUnknownKey).
func (s *Service) Create(ctx context.Context, b Budget) (Budget, error) {
	if _, err := s.team.Workspace(ctx, b.WorkspaceID); err != nil {
		return Budget{}, err
	}
	if err := b.Validate(); err != nil {
		return Budget{}, err
	}
	if b.Scope == ScopeKey {
		keys, err := s.team.Keys(ctx, b.WorkspaceID)
		if err != nil {
			return Budget{}, err
		}
		if !slices.ContainsFunc(keys, func(k team.APIKey) bool { return k.ID == b.ScopeID }) {
			return Budget{}, ErrUnknownKey
		}
	}
	now := s.now().UTC()
	b.ID, b.CreatedAt, b.UpdatedAt = ids.New("bud"), now, now
	if err := s.store.CreateBudget(ctx, b); err != nil {
		return Budget{}, err
	}
	s.forget(b.WorkspaceID)
	return b, nil
}

// Get returns one budget, or ErrNotFound.
func (s *Service) Get(ctx context.Context, workspaceID, id string) (Budget, error) {
	return s.store.Budget(ctx, workspaceID, id)
}

// List returns a workspace's budgets, oldest first.
func (s *Service) List(ctx context.Context, workspaceID string) ([]Budget, error) {
	return s.store.Budgets(ctx, workspaceID)
}

// Update changes a budget: the fields of u that are set. Scope cannot change (delete
// and create instead). It returns ErrNotFound or a validation error.
func (s *Service) Update(ctx context.Context, workspaceID, id string, u Update) (Budget, error) {
	b, err := s.store.Budget(ctx, workspaceID, id)
	if err != nil {
		return Budget{}, err
	}
	if u.Name != nil {
		b.Name = *u.Name
	}
	if u.Amount != nil {
		b.Amount = *u.Amount
	}
	if u.Period != nil {
		b.Period = *u.Period
	}
	if u.Thresholds != nil {
		b.Thresholds = *u.Thresholds
		if b.Thresholds == nil {
			b.Thresholds = []int{}
		}
	}
	if u.HardLimit != nil {
		b.HardLimit = *u.HardLimit
	}
	if err := b.Validate(); err != nil {
		return Budget{}, err
	}
	b.UpdatedAt = s.now().UTC()
	if err := s.store.UpdateBudget(ctx, b); err != nil {
		return Budget{}, err
	}
	s.forget(workspaceID)
	return b, nil
}

// Delete removes a budget; its alerts stay. ErrNotFound when there is none.
func (s *Service) Delete(ctx context.Context, workspaceID, id string) error {
	if err := s.store.DeleteBudget(ctx, workspaceID, id); err != nil {
		return err
	}
	s.forget(workspaceID)
	return nil
}

// Status is a budget with its current period and spend.
type Status struct {
	Budget
	PeriodStart time.Time    `json:"period_start"`
	PeriodEnd   *time.Time   `json:"period_end"` // nil for all_time
	Spent       money.Amount `json:"spent"`
	Remaining   money.Amount `json:"remaining"` // Amount − Spent, never below zero
	Percent     int64        `json:"percent"`   // Spent as a whole percent of Amount (rounded down)
	// Projected is the spend expected at the period's end at the recent burn rate (the
	// last day for daily budgets, the last 7 days otherwise); Spent for all_time.
	Projected money.Amount `json:"projected"`
	Exceeded  bool         `json:"exceeded"` // Spent ≥ Amount
}

// Status returns one budget with its status now.
func (s *Service) Status(ctx context.Context, workspaceID, id string) (Status, error) {
	b, err := s.store.Budget(ctx, workspaceID, id)
	if err != nil {
		return Status{}, err
	}
	loc, err := s.location(ctx, workspaceID)
	if err != nil {
		return Status{}, err
	}
	return s.status(ctx, b, loc, s.now())
}

// Statuses returns every budget of a workspace with its status now, oldest first: what
// a budgets page shows.
func (s *Service) Statuses(ctx context.Context, workspaceID string) ([]Status, error) {
	bs, err := s.store.Budgets(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	loc, err := s.location(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]Status, 0, len(bs))
	for _, b := range bs {
		st, err := s.status(ctx, b, loc, now)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (s *Service) status(ctx context.Context, b Budget, loc *time.Location, now time.Time) (Status, error) {
	w := b.PeriodAt(now, loc)
	spent, err := s.Spent(ctx, b, w)
	if err != nil {
		return Status{}, err
	}
	st := Status{Budget: b, PeriodStart: w.Start, Spent: spent, Projected: spent, Exceeded: spent >= b.Amount}
	if !w.End.IsZero() {
		end := w.End
		st.PeriodEnd = &end
		span := 7 * 24 * time.Hour
		if b.Period == PeriodDay {
			span = 24 * time.Hour
		}
		recent, err := s.recent(ctx, b.WorkspaceID, span, now, b.filter())
		if err != nil {
			return Status{}, err
		}
		st.Projected = spent + scale(recent, end.Sub(now), span)
	}
	st.Remaining = max(b.Amount-spent, 0)
	st.Percent = int64(mulDiv(int64(spent), 100, int64(b.Amount)))
	return st, nil
}

// Spent returns the spend counted by b in window w, from the rollups (every hour that
// overlaps the window; whole days of the workspace's time zone from the daily rollups).
func (s *Service) Spent(ctx context.Context, b Budget, w Window) (money.Amount, error) {
	end := w.End
	if end.IsZero() {
		end = s.now().Add(time.Hour)
	}
	loc, err := s.location(ctx, b.WorkspaceID)
	if err != nil {
		return 0, err
	}
	return s.metering.Cost(ctx, b.WorkspaceID, w.Start, end, loc, b.filter())
}

// recent returns the spend matching f in the span of whole hours that ends with the
// current hour (the current hour included).
func (s *Service) recent(ctx context.Context, workspaceID string, span time.Duration, now time.Time, f metering.Filter) (money.Amount, error) {
	end := now.UTC().Truncate(time.Hour).Add(time.Hour)
	return s.metering.Cost(ctx, workspaceID, end.Add(-span), end, nil, f)
}

// filter is the rollup filter of b's scope.
func (b *Budget) filter() metering.Filter {
	switch b.Scope {
	case ScopeProject:
		return metering.Filter{Projects: []string{b.ScopeID}}
	case ScopeMember:
		return metering.Filter{Members: []string{b.ScopeID}}
	case ScopeKey:
		return metering.Filter{Keys: []string{b.ScopeID}}
	}
	return metering.Filter{}
}

// scale returns a × num / den exactly (rounded down), saturating at money.Max; den > 0.
func scale(a money.Amount, num, den time.Duration) money.Amount {
	if num <= 0 || a <= 0 {
		return 0
	}
	return money.Amount(mulDiv(int64(a), int64(num), int64(den)))
}

// mulDiv returns a × b / c in 128 bits, rounded toward zero, saturating at MaxInt64.
func mulDiv(a, b, c int64) int64 {
	r := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	r.Quo(r, big.NewInt(c))
	if !r.IsInt64() {
		if r.Sign() < 0 {
			return -int64(money.Max)
		}
		return int64(money.Max)
	}
	return r.Int64()
}

// Alerts returns a workspace's alerts, newest first (limit 1..1000; 0 means 100).
func (s *Service) Alerts(ctx context.Context, workspaceID string, limit int) ([]Alert, error) {
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > 1000 {
		return nil, ErrInvalidLimit
	}
	return s.store.WorkspaceAlerts(ctx, workspaceID, limit)
}

// LowBalance returns a workspace's low-balance line and its state (Line 0: off).
func (s *Service) LowBalance(ctx context.Context, workspaceID string) (LowBalance, error) {
	if _, err := s.team.Workspace(ctx, workspaceID); err != nil {
		return LowBalance{}, err
	}
	return s.store.LowBalance(ctx, workspaceID)
}

// SetLowBalanceLine sets the available balance below which the workspace is alerted
// (0 turns it off); the line is re-armed.
func (s *Service) SetLowBalanceLine(ctx context.Context, workspaceID string, line money.Amount) (LowBalance, error) {
	if line < 0 {
		return LowBalance{}, ErrInvalidLine
	}
	if _, err := s.team.Workspace(ctx, workspaceID); err != nil {
		return LowBalance{}, err
	}
	if err := s.store.SetLowBalanceLine(ctx, workspaceID, line, s.now().UTC()); err != nil {
		return LowBalance{}, err
	}
	s.forget(workspaceID)
	return s.store.LowBalance(ctx, workspaceID)
}

// Forecast is a workspace's runway and the month's projected spend.
type Forecast struct {
	WorkspaceID string       `json:"workspace_id"`
	Available   money.Amount `json:"available"`
	BurnPerDay  money.Amount `json:"burn_per_day"` // the last 7 days' spend / 7
	// RunwayDays is how many whole days the available balance lasts at BurnPerDay; nil
	// when nothing is being spent.
	RunwayDays     *int64       `json:"runway_days"`
	MonthStart     time.Time    `json:"month_start"` // in the workspace's time zone
	MonthEnd       time.Time    `json:"month_end"`
	MonthToDate    money.Amount `json:"month_to_date"`
	MonthProjected money.Amount `json:"month_projected"` // month to date + BurnPerDay for the rest of the month
	Timezone       string       `json:"timezone"`
}

// Forecast returns the workspace's forecast now.
func (s *Service) Forecast(ctx context.Context, workspaceID string) (Forecast, error) {
	ws, err := s.team.Workspace(ctx, workspaceID)
	if err != nil {
		return Forecast{}, err
	}
	loc, err := time.LoadLocation(ws.Timezone)
	if err != nil {
		loc = time.UTC
	}
	bal, err := s.ledger.Balance(ctx, workspaceID)
	if err != nil {
		return Forecast{}, err
	}
	now := s.now()
	week := 7 * 24 * time.Hour
	last7, err := s.recent(ctx, workspaceID, week, now, metering.Filter{})
	if err != nil {
		return Forecast{}, err
	}
	m := windowAt(PeriodMonth, now, loc)
	mtd, err := s.metering.Cost(ctx, workspaceID, m.Start, m.End, loc, metering.Filter{})
	if err != nil {
		return Forecast{}, err
	}
	f := Forecast{WorkspaceID: workspaceID, Available: bal.Available, BurnPerDay: last7 / 7,
		MonthStart: m.Start, MonthEnd: m.End, MonthToDate: mtd, Timezone: loc.String()}
	f.MonthProjected = mtd + scale(last7, m.End.Sub(now), week)
	if last7 > 0 {
		days := mulDiv(int64(max(bal.Available, 0)), int64(week/time.Microsecond), int64(last7)*int64(24*time.Hour/time.Microsecond))
		f.RunwayDays = &days
	}
	return f, nil
}

// location returns the workspace's time zone (cached).
func (s *Service) location(ctx context.Context, workspaceID string) (*time.Location, error) {
	c, err := s.load(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	return c.loc, nil
}

// load returns the workspace's cached budgets, time zone and line, reading them when
// the cache is older than the TTL.
func (s *Service) load(ctx context.Context, workspaceID string) (*cached, error) {
	now := s.now()
	s.mu.Lock()
	c := s.cache[workspaceID]
	s.mu.Unlock()
	if c != nil && now.Sub(c.loaded) < s.ttl && now.Sub(c.loaded) >= 0 {
		return c, nil
	}
	ws, err := s.team.Workspace(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(ws.Timezone)
	if err != nil {
		loc = time.UTC
	}
	bs, err := s.store.Budgets(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	low, err := s.store.LowBalance(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	c = &cached{loaded: now, loc: loc, budgets: bs, low: low}
	for _, b := range bs {
		c.hard = c.hard || b.HardLimit
	}
	s.mu.Lock()
	s.cache[workspaceID] = c
	s.mu.Unlock()
	return c, nil
}

// refreshTimeout bounds one background read of a workspace's cache entry.
const refreshTimeout = 10 * time.Second

// loadFast is load that answers a stale entry at once and refreshes it in the
// background (one read at a time per workspace).
func (s *Service) loadFast(ctx context.Context, workspaceID string) (*cached, error) {
	now := s.now()
	s.mu.Lock()
	c := s.cache[workspaceID]
	s.mu.Unlock()
	if c == nil {
		return s.load(ctx, workspaceID)
	}
	if now.Sub(c.loaded) >= s.ttl || now.Sub(c.loaded) < 0 {
		s.refresh.Go(workspaceID, func(ctx context.Context) {
			if _, err := s.load(ctx, workspaceID); err != nil {
				s.log.Warn("budget cache refresh", "workspace", workspaceID, "err", err)
			}
		})
	}
	return c, nil
}

// forget drops a workspace's cache entry.
func (s *Service) forget(workspaceID string) {
	s.mu.Lock()
	delete(s.cache, workspaceID)
	s.mu.Unlock()
}

// HardBudgets returns the hard-limit budgets of a workspace that apply to a request of
// key keyID (project, member), and the workspace's time zone. It reads the cache, so a
// key without hard budgets costs a map lookup.
//
// An entry older than the TTL is still used once while it is refreshed in the
// background, so the request path never waits for the refresh; a change made through
// another node applies within about the TTL plus one read.
func (s *Service) HardBudgets(ctx context.Context, workspaceID, keyID, project, member string) ([]Budget, *time.Location, error) {
	c, err := s.loadFast(ctx, workspaceID)
	if err != nil {
		return nil, nil, err
	}
	if !c.hard {
		return nil, c.loc, nil
	}
	var out []Budget
	for _, b := range c.budgets {
		if b.HardLimit && b.Applies(keyID, project, member) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b Budget) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out, c.loc, nil
}

// ErrExceeded returns the error of a request refused by hard budget b.
func ErrExceeded(b Budget) *errs.Error {
	return errs.E(errs.PaymentRequired, "budget_exceeded", "The budget %q (%s) does not cover this request: its hard limit of %s per %s is reached.",
		b.Name, b.ID, b.Amount, periodWord(b.Period))
}

func periodWord(p Period) string {
	if p == PeriodAllTime {
		return "all time"
	}
	return string(p)
}
