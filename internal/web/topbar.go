package web

import (
	"context"
	"math/big"
	"strings"
	"time"

	"spectra/internal/budget"
	"spectra/internal/metering"
	"spectra/internal/money"
)

// topBar is the balance strip on every page of a workspace, with the banners that say
// when requests are (or are about to be) refused and what to do.
type topBar struct {
	Balance, Held, Available money.Amount
	OverdraftLimit           money.Amount
	Burn                     money.Amount // spend over the burn window
	Runway                   string       // "about 12 days at the last 7 days' burn"
	Level                    string       // "ok", "low", "out", or "new": never had credit (see NeverFunded)
	Banner                   string       // shown when Level is not "ok"
	// LowLine is the workspace's low-balance line when the available balance is below
	// it (the balance.low alert's condition), else 0.
	LowLine money.Amount
	// Stopped lists the workspace's hard budgets whose amount is reached: the gateway
	// refuses every request (402 budget_exceeded) until one resets or is raised.
	Stopped []stoppedBudget
}

// stoppedBudget is a reached workspace hard budget, as the banner names it.
type stoppedBudget struct {
	ID, Name string
	Amount   money.Amount
	Per      string // "day", "week", "month", or "all time"
	Resets   string // when its period ends, in the workspace's time zone; "" for all time
}

// Runway thresholds.
const (
	burnDays      = 7 // the burn rate is the spend of the last burnDays × 24 hours
	lowRunwayDays = 3 // a runway shorter than this is a low balance
)

// topBar reads the wallet and the last days' spend (from rollups) and says how long the
// balance lasts; and, with budgets, the workspace's low-balance line and whether a
// workspace hard budget is refusing requests.
func (s *Server) topBar(ctx context.Context, rq *request) (topBar, error) {
	b, err := s.ledger.Balance(ctx, rq.Workspace.ID)
	if err != nil {
		return topBar{}, err
	}
	// The burn window is the one the forecast API uses (budget.Service.Forecast): the
	// burnDays × 24 hours that end with the current hour, so both give the same runway.
	window := burnDays * 24 * time.Hour
	end := rq.Now.UTC().Truncate(time.Hour).Add(time.Hour)
	burn, err := rq.totalsBetween(ctx, end.Add(-window), end, metering.Filter{})
	if err != nil {
		return topBar{}, err
	}
	spend := burn.Cost
	bar := topBar{Balance: b.Balance, Held: b.Held, Available: b.Available, OverdraftLimit: b.OverdraftLimit, Burn: spend}
	bar.Runway, bar.Level = runway(b.Available, b.OverdraftLimit, spend, window)
	if s.budget != nil {
		low, err := s.budget.LowBalance(ctx, rq.Workspace.ID)
		if err != nil {
			return topBar{}, err
		}
		if low.Line > 0 && b.Available < low.Line {
			bar.LowLine = low.Line
		}
		if bar.Stopped, err = s.stoppedBudgets(ctx, rq); err != nil {
			return topBar{}, err
		}
	}
	if bar.Level == "out" && b.Balance == 0 && b.Held == 0 {
		// A workspace that never had credit is new, not out of it: the banner says
		// who can add credit and how instead of "Out of credit".
		funded, err := s.everFunded(ctx, rq.Workspace.ID)
		if err != nil {
			return topBar{}, err
		}
		if !funded {
			bar.Level, bar.Runway = "new", "no credit yet"
		}
	}
	switch {
	case bar.Level == "new":
		bar.Banner = "Requests are refused (402) until credit is added."
	case bar.Level == "out":
		bar.Banner = "Your balance is used up: new requests are refused (402) until credit is added."
		if b.Balance < 0 {
			bar.Banner = "Your balance is negative: new requests are refused (402) until credit is added."
		}
	case bar.LowLine > 0:
		// The user's own line: the balance is not "ok" whatever the runway says.
		bar.Level = "low"
		bar.Banner = "Your available balance is below the low-balance line of " + money.Format(bar.LowLine, s.currency) +
			" set for this workspace"
		if !strings.HasPrefix(bar.Runway, "no recent spend") {
			bar.Banner += " (" + bar.Runway + ")"
		}
		bar.Banner += ". Add credit to avoid interruptions."
	case bar.Level == "low":
		bar.Banner = "Your balance is low: " + bar.Runway + ". Add credit to avoid interruptions."
	}
	if len(bar.Stopped) > 0 {
		// Whatever the balance, no request gets through: a runway would mislead.
		bar.Runway = "requests refused: the budget “" + bar.Stopped[0].Name + "” is reached"
	}
	return bar, nil
}

// stoppedBudgets returns the workspace's hard budgets (scope workspace: they apply to
// every request) whose spend in their current period has reached their amount, so the
// gateway refuses every request with budget_exceeded. The list comes from the budget
// service's cache, the spend from the rollups.
func (s *Server) stoppedBudgets(ctx context.Context, rq *request) ([]stoppedBudget, error) {
	// A request with no key, project or member is counted only by the workspace's own
	// budgets: these are the hard budgets that stop every request.
	hard, loc, err := s.budget.HardBudgets(ctx, rq.Workspace.ID, "", "", "")
	if err != nil {
		return nil, err
	}
	var out []stoppedBudget
	for _, b := range hard {
		if b.Scope != budget.ScopeWorkspace {
			continue
		}
		w := b.PeriodAt(rq.Now, loc)
		spent, err := s.budget.Spent(ctx, b, w)
		if err != nil {
			return nil, err
		}
		if spent < b.Amount {
			continue
		}
		sb := stoppedBudget{ID: b.ID, Name: b.Name, Amount: b.Amount, Per: string(b.Period)}
		if b.Period == budget.PeriodAllTime {
			sb.Per = "all time"
		}
		if !w.End.IsZero() {
			sb.Resets = w.End.In(rq.Loc).Format(layoutDateTime)
		}
		out = append(out, sb)
	}
	return out, nil
}

// runway says how long available lasts at the rate of spend per elapsed, and whether
// that is fine, low or exhausted. It works in integers: days = available × elapsed ÷
// (spend × 24 h).
func runway(available, overdraft, spend money.Amount, elapsed time.Duration) (text, level string) {
	if available <= -overdraft {
		return "no balance left", "out"
	}
	if spend <= 0 || elapsed <= 0 {
		if available <= 0 {
			return "running on the overdraft allowance", "low"
		}
		return "no recent spend", "ok"
	}
	num := new(big.Int).Mul(big.NewInt(int64(available)), big.NewInt(int64(elapsed)))
	den := new(big.Int).Mul(big.NewInt(int64(spend)), big.NewInt(int64(24*time.Hour)))
	days := new(big.Int).Quo(num, den)
	level = "ok"
	if days.Cmp(big.NewInt(lowRunwayDays)) < 0 {
		level = "low"
	}
	const suffix = " at the last 7 days' burn"
	switch {
	case available <= 0:
		return "running on the overdraft allowance", "low"
	case days.Sign() == 0:
		hours := new(big.Int).Quo(new(big.Int).Mul(num, big.NewInt(24)), den).Int64()
		if hours < 1 {
			return "less than an hour" + suffix, level
		}
		return "about " + formatInt(hours) + " hours" + suffix, level
	case days.Cmp(big.NewInt(1)) == 0:
		return "about 1 day" + suffix, level
	case days.Cmp(big.NewInt(730)) > 0:
		return "more than 2 years" + suffix, level
	}
	return "about " + formatInt(days.Int64()) + " days" + suffix, level
}

// CardPayments reports whether members may recharge by card here (Stripe is set up).
func (rq *request) CardPayments() bool {
	return rq.s.bill != nil && rq.s.bill.Options().StripeReady
}
