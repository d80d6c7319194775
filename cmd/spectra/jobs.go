package main

import (
	"context"
	"time"

	"spectra/internal/billing"
)

// every runs job at once and then every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, job func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		job(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// issueStatements issues last month's usage statements. It is idempotent, and only
// issues a workspace's statement once the month has ended in the workspace's timezone.
func issueStatements(ctx context.Context, d deps) {
	month := billing.MonthOf(d.now(), time.UTC).Prev()
	run, err := d.billing.IssueStatements(ctx, month)
	if err != nil {
		d.log.Error("issue statements", "month", month, "err", err)
		return
	}
	d.log.Debug("statements", "month", month, "run", run)
}

// checkAutoRecharge charges, once per crossing, each workspace whose available balance
// fell below its auto-recharge threshold. A workspace without auto-recharge costs one
// indexed read.
func checkAutoRecharge(ctx context.Context, d deps) {
	wss, err := d.team.Workspaces(ctx)
	if err != nil {
		d.log.Error("auto-recharge: list workspaces", "err", err)
		return
	}
	for _, ws := range wss {
		if err := d.billing.CheckAutoRecharge(ctx, ws.ID); err != nil {
			d.log.Error("auto-recharge", "workspace", ws.ID, "err", err)
		}
	}
}
