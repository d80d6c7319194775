// Package budget holds budgets (an amount of spend per day, week, month or for all time,
// on a workspace, a project, a member or a key, with alert thresholds and an optional
// hard limit the gateway enforces), alerts (a threshold crossed, a balance fallen below
// its low-balance line, each recorded exactly once) and the spend forecast.
//
// Periods are derived from time in the workspace's time zone; nothing is ever reset.
// Spend is read from metering's hourly rollups, never from raw events.
package budget

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/text"
)

// Scope is what a budget counts the spend of.
type Scope string

// Scopes.
const (
	ScopeWorkspace Scope = "workspace" // the whole workspace; ScopeID is empty
	ScopeProject   Scope = "project"   // ScopeID is a project name
	ScopeMember    Scope = "member"    // ScopeID is a member's user id
	ScopeKey       Scope = "key"       // ScopeID is an API key id
)

// Period is the span a budget's amount is for.
type Period string

// Periods, in the workspace's time zone. Weeks start on Monday.
const (
	PeriodDay     Period = "day"
	PeriodWeek    Period = "week"
	PeriodMonth   Period = "month"
	PeriodAllTime Period = "all_time"
)

// DefaultThresholds are the alert thresholds of a budget that names none.
var DefaultThresholds = []int{50, 80, 100}

// Limits on a budget.
const (
	MaxThreshold  = 1000 // percent
	MaxThresholds = 20
	MaxNameLength = 200
)

// Budget is an amount of spend a scope may reach per period.
type Budget struct {
	ID          string       `json:"id"` // "bud_…"
	WorkspaceID string       `json:"workspace_id"`
	Name        string       `json:"name"`
	Scope       Scope        `json:"scope"`
	ScopeID     string       `json:"scope_id"`
	Amount      money.Amount `json:"amount"`
	Period      Period       `json:"period"`
	Thresholds  []int        `json:"thresholds"` // percent of Amount, sorted, distinct
	HardLimit   bool         `json:"hard_limit"` // the gateway refuses requests that would pass Amount
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

// Errors of budgets. Match them with errs.Is(err, code).
var (
	ErrInvalidName       = errs.E(errs.Invalid, "invalid_budget_name", "a budget needs a name of at most %d characters", MaxNameLength)
	ErrInvalidScope      = errs.E(errs.Invalid, "invalid_scope", "scope must be workspace, project, member or key")
	ErrInvalidScopeID    = errs.E(errs.Invalid, "invalid_scope_id", "scope_id names the project, member or key (and is empty for scope workspace)")
	ErrInvalidAmount     = errs.E(errs.Invalid, "invalid_amount", "a budget's amount must be greater than zero")
	ErrInvalidPeriod     = errs.E(errs.Invalid, "invalid_period", "period must be day, week, month or all_time")
	ErrInvalidThresholds = errs.E(errs.Invalid, "invalid_thresholds", "thresholds are 1 to %d percent, at most %d of them", MaxThreshold, MaxThresholds)
	ErrNotFound          = errs.E(errs.NotFound, "budget_not_found", "no such budget")
	ErrUnknownKey        = errs.E(errs.Invalid, "unknown_scope_key", "scope_id names no API key of this workspace")
	ErrInvalidLine       = errs.E(errs.Invalid, "invalid_low_balance_line", "the low-balance line must not be negative")
	ErrInvalidLimit      = errs.E(errs.Invalid, "invalid_limit", "limit must be between 1 and 1000")
)

// Validate checks and normalises b: the name is trimmed, thresholds are sorted and
// deduplicated (DefaultThresholds when none). It returns one of the errors above.
func (b *Budget) Validate() error {
	b.Name = strings.TrimSpace(b.Name)
	if b.Name == "" || utf8.RuneCountInString(b.Name) > MaxNameLength {
		return ErrInvalidName
	}
	if err := text.Line("name", b.Name, 0); err != nil {
		return err
	}
	b.ScopeID = strings.TrimSpace(b.ScopeID)
	if err := text.Line("scope_id", b.ScopeID, 0); err != nil {
		return err
	}
	switch b.Scope {
	case ScopeWorkspace:
		if b.ScopeID != "" {
			return ErrInvalidScopeID
		}
	case ScopeProject, ScopeMember, ScopeKey:
		if b.ScopeID == "" || len(b.ScopeID) > 255 {
			return ErrInvalidScopeID
		}
	default:
		return ErrInvalidScope
	}
	if b.Amount <= 0 {
		return ErrInvalidAmount
	}
	switch b.Period {
	case PeriodDay, PeriodWeek, PeriodMonth, PeriodAllTime:
	default:
		return ErrInvalidPeriod
	}
	if b.Thresholds == nil {
		b.Thresholds = slices.Clone(DefaultThresholds)
	}
	t := slices.Clone(b.Thresholds)
	slices.Sort(t)
	t = slices.Compact(t)
	if len(t) > MaxThresholds || (len(t) > 0 && (t[0] < 1 || t[len(t)-1] > MaxThreshold)) {
		return ErrInvalidThresholds
	}
	b.Thresholds = t
	return nil
}

// Applies reports whether b counts the spend of a request made with key keyID, of
// project and member.
func (b *Budget) Applies(keyID, project, member string) bool {
	switch b.Scope {
	case ScopeWorkspace:
		return true
	case ScopeProject:
		return b.ScopeID == project
	case ScopeMember:
		return b.ScopeID == member
	case ScopeKey:
		return b.ScopeID == keyID
	}
	return false
}

// Window is a budget's period around a time: [Start, End). End is zero for all_time.
type Window struct {
	Start time.Time
	End   time.Time
}

// allTimeStart is the start of every all_time window.
var allTimeStart = time.Unix(0, 0).UTC()

// PeriodAt returns the period of b that holds t, in the time zone loc: days start at
// local midnight, weeks on Monday at local midnight, months on the 1st. It is derived
// from t alone, so a budget "resets" at its boundary without any job.
func (b *Budget) PeriodAt(t time.Time, loc *time.Location) Window {
	return windowAt(b.Period, t, loc)
}

func windowAt(p Period, t time.Time, loc *time.Location) Window {
	if loc == nil {
		loc = time.UTC
	}
	l := t.In(loc)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, loc).UTC() }
	switch p {
	case PeriodDay:
		return Window{day(l.Year(), l.Month(), l.Day()), day(l.Year(), l.Month(), l.Day()+1)}
	case PeriodWeek:
		back := (int(l.Weekday()) + 6) % 7 // days since Monday
		return Window{day(l.Year(), l.Month(), l.Day()-back), day(l.Year(), l.Month(), l.Day()-back+7)}
	case PeriodMonth:
		return Window{day(l.Year(), l.Month(), 1), day(l.Year(), l.Month()+1, 1)}
	}
	return Window{Start: allTimeStart}
}

// Update changes a budget; nil fields stay as they are.
type Update struct {
	Name       *string
	Amount     *money.Amount
	Period     *Period
	Thresholds *[]int
	HardLimit  *bool
}

// Store keeps budgets, alerts and low-balance lines. Implemented by internal/store.
type Store interface {
	// CreateBudget stores a new, validated budget.
	CreateBudget(ctx context.Context, b Budget) error
	// Budget returns one budget of a workspace, or ErrNotFound.
	Budget(ctx context.Context, workspaceID, id string) (Budget, error)
	// Budgets returns a workspace's budgets, oldest first.
	Budgets(ctx context.Context, workspaceID string) ([]Budget, error)
	// UpdateBudget replaces a budget's name, amount, period, thresholds, hard limit and
	// updated_at; ErrNotFound when it does not exist.
	UpdateBudget(ctx context.Context, b Budget) error
	// DeleteBudget removes a budget (its alerts stay); ErrNotFound when it does not exist.
	DeleteBudget(ctx context.Context, workspaceID, id string) error
	// WatchedWorkspaces returns the workspaces that have a budget or a low-balance line.
	WatchedWorkspaces(ctx context.Context) ([]string, error)

	// InsertAlert stores a unless an alert with its dedupe key exists (INSERT … ON
	// CONFLICT (dedupe_key) DO NOTHING), and reports whether it was stored.
	InsertAlert(ctx context.Context, a Alert) (bool, error)
	// WorkspaceAlerts returns a workspace's alerts, newest first, at most limit.
	WorkspaceAlerts(ctx context.Context, workspaceID string, limit int) ([]Alert, error)

	// LowBalance returns a workspace's low-balance state (the zero state, armed, when unset).
	LowBalance(ctx context.Context, workspaceID string) (LowBalance, error)
	// SetLowBalanceLine sets a workspace's line (0 turns it off) and re-arms it.
	SetLowBalanceLine(ctx context.Context, workspaceID string, line money.Amount, now time.Time) error
	// CrossLowBalance, in one transaction, disarms the workspace's line if it is armed and
	// set (a guarded update that also counts the crossing) and stores the alert that
	// build returns for the crossing's number. It reports whether it did.
	CrossLowBalance(ctx context.Context, workspaceID string, now time.Time, build func(crossing int64) Alert) (bool, error)
	// RearmLowBalance arms the workspace's line again if it is disarmed.
	RearmLowBalance(ctx context.Context, workspaceID string, now time.Time) error
}
