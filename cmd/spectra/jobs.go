package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"spectra/internal/background"
	"spectra/internal/console"
	"spectra/internal/notify"
	"spectra/internal/store"
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
		{Name: "statements", Every: statementInterval, Run: issueStatements(d)},
		{Name: "auto-recharge", Every: autoRechargeInterval, Run: d.billing.CheckAutoRecharges},
		{Name: "refusals", Every: refusalFlushInterval, Wake: d.refusals.Nudged(), Run: d.refusals.Flush, AtStop: true}, // the gateway's refused requests, buffered
		{Name: "refusals-prune", Every: refusalPruneInterval, Run: d.refusals.Prune},
		{Name: "console-snapshot", Every: console.SnapshotEvery, Run: d.console.Refresh}, // the console's cross-workspace figures
		{Name: "credit-expiry", Every: creditExpiryInterval, Run: func(ctx context.Context) error { return expireCredits(ctx, d) }},
		{Name: "request-log-index", Every: store.RequestLogIndexEvery, Run: d.db.IndexRequestLog}, // the request log's value index, off the ingest path (every node; idempotent)
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

// creditExpiryInterval is how often credit lots past their expiry are expired and lots
// within 7 days of it alerted.
const creditExpiryInterval = time.Minute

// expireCredits runs one pass of the credit-expiry job: every credit lot whose expiry has
// passed gives its remaining credit up, as one expiry transfer per lot (ledger.Store's
// ExpireLots, keyed by the lot: once, however many nodes run it at once), then each lot
// that expires within 7 days gets its credit.expiring alert, once per lot
// (budget.AlertExpiringCredit; the notifier emails and posts it).
func expireCredits(ctx context.Context, d deps) error {
	expired, err := d.ledger.ExpireLots(ctx)
	if err != nil {
		err = fmt.Errorf("expire credit lots: %w", err)
	}
	if len(expired) > 0 {
		var total int64
		for _, t := range expired {
			total += int64(t.Amount)
		}
		d.log.Info("expired credit lots", "loop", "credit-expiry", "count", len(expired), "amount_micros", total)
	}
	alerted, aerr := d.budgets.AlertExpiringCredit(ctx, d.ledger)
	if alerted > 0 {
		d.log.Info("expiring credit alerted", "loop", "credit-expiry", "count", alerted)
	}
	return errors.Join(err, aerr)
}

// issueStatements issues the usage statements that are due: on its first pass every
// ended month's since the oldest workspace was made, then last month's (see
// billing.StatementSchedule). It is idempotent, and only issues a workspace's statement
// once the month has ended in the workspace's timezone.
func issueStatements(d deps) func(ctx context.Context) error {
	schedule := d.billing.StatementSchedule()
	return func(ctx context.Context) error {
		runs, err := schedule.Run(ctx)
		if err != nil {
			return fmt.Errorf("issue statements: %w", err)
		}
		d.log.Debug("statements", "runs", runs)
		return nil
	}
}
