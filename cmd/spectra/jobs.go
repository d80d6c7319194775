package main

import (
	"context"
	"fmt"
	"time"

	"spectra/internal/background"
	"spectra/internal/billing"
	"spectra/internal/notify"
)

// jobs are the background loops serve runs until shutdown: one entry each, every one
// a service's one-pass method run by background.Loop (a pass at start, then every
// interval; see package background). To add a job, give its service a one-pass method
// and add it here.
func jobs(d deps) []background.Job {
	return []background.Job{
		{Name: "hold-sweeper", Every: sweepInterval, Run: func(ctx context.Context) error { return releaseExpired(ctx, d) }},
		{Name: "key-usage", Every: flushInterval, Run: d.team.FlushUsage, AtStop: true}, // buffered last-used times are written at shutdown too
		{Name: "notify", Every: notify.DefaultPoll, Wake: d.notify.Nudged(), Run: d.notify.Work},
		{Name: "budgets", Every: budgetSweepInterval, Run: d.budgets.Sweep},
		{Name: "statements", Every: statementInterval, Run: func(ctx context.Context) error { return issueStatements(ctx, d) }},
		{Name: "auto-recharge", Every: autoRechargeInterval, Run: d.billing.CheckAutoRecharges},
	}
}

// releaseExpired runs one pass of the hold sweeper and logs how many holds it released.
func releaseExpired(ctx context.Context, d deps) error {
	n, err := d.ledger.ReleaseExpired(ctx)
	if n > 0 {
		d.log.Info("released expired holds", "loop", "hold-sweeper", "count", n)
	}
	return err
}

// issueStatements issues last month's usage statements. It is idempotent, and only
// issues a workspace's statement once the month has ended in the workspace's timezone.
func issueStatements(ctx context.Context, d deps) error {
	month := billing.MonthOf(d.now(), time.UTC).Prev()
	run, err := d.billing.IssueStatements(ctx, month)
	if err != nil {
		return fmt.Errorf("issue statements for %s: %w", month, err)
	}
	d.log.Debug("statements", "month", month, "run", run)
	return nil
}
