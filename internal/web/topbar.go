package web

import (
	"context"
	"math/big"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
)

// topBar is the balance strip on every page of a workspace.
type topBar struct {
	Balance, Held, Available money.Amount
	OverdraftLimit           money.Amount
	Burn                     money.Amount // spend over the burn window
	Runway                   string       // "about 12 days at the last 7 days' burn"
	Level                    string       // "ok", "low" or "out"
	Banner                   string       // shown when Level is not "ok"
}

// Runway thresholds.
const (
	burnDays      = 7 // the burn rate is the spend of the last burnDays × 24 hours
	lowRunwayDays = 3 // a runway shorter than this is a low balance
)

// topBar reads the wallet and the last days' spend (from rollups) and says how long the
// balance lasts.
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
	switch bar.Level {
	case "out":
		bar.Banner = "Your balance is used up: new requests are refused (402) until credit is added."
		if b.Balance < 0 {
			bar.Banner = "Your balance is negative: new requests are refused (402) until credit is added."
		}
	case "low":
		bar.Banner = "Your balance is low: " + bar.Runway + ". Add credit to avoid interruptions."
	}
	return bar, nil
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
