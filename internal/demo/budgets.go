package demo

import (
	"context"

	"spectra/internal/budget"
	"spectra/internal/metering"
	"spectra/internal/money"
)

// budgets gives the demo workspace what a team that watches its spend would set up: a
// monthly budget a little above its usual month, a hard daily cap on staging half again
// above its usual day, and a low-balance line; then it evaluates them, so the Budgets page shows live progress
// and whatever alerts the history has crossed. Without d.Budgets it does nothing.
func (s *seeder) budgets(ctx context.Context, spend money.Amount) error {
	svc := s.d.Budgets
	if svc == nil {
		return nil
	}
	defer svc.Wait() // the evaluations that ingestion started end before Seed returns
	days := int64(max(s.o.Days, 1))
	month := ceilUnits(money.Amount(int64(spend) * 30 * 5 / (days * 4))) // 125 % of an average month
	staging, err := s.d.Metering.Cost(ctx, s.ws.ID, s.cal.start[0], s.cal.now, s.cal.loc, metering.Filter{Projects: []string{"staging"}})
	if err != nil {
		return err
	}
	dayCap := ceilUnits(money.Amount(int64(staging) * 3 / (days * 2))) // 150 % of an average staging day
	for _, b := range []budget.Budget{
		{Name: "Team monthly", Scope: budget.ScopeWorkspace, Amount: max(month, money.Scale), Period: budget.PeriodMonth},
		{Name: "Staging daily cap", Scope: budget.ScopeProject, ScopeID: "staging", Amount: max(dayCap, money.Scale), Period: budget.PeriodDay,
			Thresholds: []int{80, 100}, HardLimit: true},
	} {
		b.WorkspaceID = s.ws.ID
		if _, err := svc.Create(ctx, b); err != nil {
			return err
		}
	}
	if _, err := svc.SetLowBalanceLine(ctx, s.ws.ID, 5*money.Scale); err != nil {
		return err
	}
	return svc.Evaluate(ctx, s.ws.ID)
}

// ceilUnits rounds a up to whole currency units.
func ceilUnits(a money.Amount) money.Amount {
	return (a + money.Scale - 1) / money.Scale * money.Scale
}
