package billing

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"spectra/internal/metering"
	"spectra/internal/team"
)

// IssueStatement issues a workspace's usage statement for month m, once: a second call
// returns the first statement and false. The month is the workspace's calendar month
// in its time zone, and its usage is the cost of the events timestamped in it, read
// from the hourly rollups (an hour belongs to the month it starts in, which matters only
// for time zones whose offset is not a whole hour). It has a line per model (requests,
// tokens, cost) and a line per project (the same cost cut the other way); its total is
// the sum of the model lines. Then the lines by kind of credit (see creditLines): what
// the ledger charged in the month to paid credit (revenue), to promotional credit, and
// to no credit. Errors: ErrMonthNotEnded, workspace_not_found.
func (s *Service) IssueStatement(ctx context.Context, workspaceID string, m Month) (Invoice, bool, error) {
	ws, err := s.teams.Workspace(ctx, workspaceID)
	if err != nil {
		return Invoice{}, false, err
	}
	if s.now().Before(m.End(location(ws.Timezone))) {
		return Invoice{}, false, ErrMonthNotEnded
	}
	if prev, ok, err := s.store.InvoiceBySource(ctx, statementKey(ws.ID, m)); err != nil || ok {
		return prev, false, err
	}
	inv, _, err := s.draftStatement(ctx, ws, m)
	if err != nil {
		return Invoice{}, false, err
	}
	return s.issue(ctx, inv)
}

// StatementRun reports what IssueStatements did.
type StatementRun struct {
	Month         Month `json:"month"`
	Issued        int   `json:"issued"`         // issued now
	AlreadyIssued int   `json:"already_issued"` // issued by an earlier run
	NoUsage       int   `json:"no_usage"`       // no request in the month: no statement
	NotEnded      int   `json:"not_ended"`      // the month has not ended in the workspace's time zone yet
	Failed        int   `json:"failed"`
}

// IssueStatements issues month m's statement for every workspace with usage in it whose
// month has ended in its own time zone. It is safe to run often and from several nodes
// (each statement is issued once); run it hourly for the previous month so that
// workspaces west of UTC are issued as their month ends. Workspaces that fail are
// logged and counted, and the others still issued; the error joins the failures.
func (s *Service) IssueStatements(ctx context.Context, m Month) (StatementRun, error) {
	run := StatementRun{Month: m}
	all, err := s.teams.Workspaces(ctx)
	if err != nil {
		return run, err
	}
	var failures []error
	for _, ws := range all {
		end := m.End(location(ws.Timezone))
		if s.now().Before(end) {
			run.NotEnded++
			continue
		}
		if !ws.CreatedAt.Before(end) {
			run.NoUsage++
			continue
		}
		if _, ok, err := s.store.InvoiceBySource(ctx, statementKey(ws.ID, m)); err == nil && ok {
			run.AlreadyIssued++
			continue
		}
		inv, requests, err := s.draftStatement(ctx, ws, m)
		if err == nil && requests == 0 {
			run.NoUsage++
			continue
		}
		var created bool
		if err == nil {
			_, created, err = s.issue(ctx, inv)
		}
		switch {
		case err != nil:
			run.Failed++
			failures = append(failures, err)
			s.log.Error("billing: issue statement", "workspace_id", ws.ID, "month", m.String(), "err", err)
		case created:
			run.Issued++
		default:
			run.AlreadyIssued++
		}
	}
	s.log.Info("billing: statements", "month", m.String(), "issued", run.Issued, "already_issued", run.AlreadyIssued,
		"no_usage", run.NoUsage, "not_ended", run.NotEnded, "failed", run.Failed)
	return run, errors.Join(failures...)
}

// StatementSchedule issues every statement that is due, pass after pass: see Run. Its
// first pass catches up every ended month since the oldest workspace was made, so that a
// month is never left without its statement because no pass ran in the month after it
// (a server that was down, or a database filled with history, as the demo's is); later
// passes start from last month, or from the earliest month a pass could not finish.
type StatementSchedule struct {
	s    *Service
	mu   sync.Mutex
	from Month // the first month the next pass issues; zero before the first pass
}

// StatementSchedule returns a schedule for the statements job; one per process.
func (s *Service) StatementSchedule() *StatementSchedule { return &StatementSchedule{s: s} }

// latestZone is the time zone whose months end first (UTC+14): no month has ended
// anywhere before it ends there.
var latestZone = time.FixedZone("UTC+14", 14*60*60)

// Run issues the statements of every month from the schedule's start through the last
// month that has ended in some time zone, for every workspace with usage in it whose
// month has ended in its own time zone (IssueStatements, month by month). It is
// idempotent and safe from several nodes; run it hourly. It returns the runs, oldest
// month first, and the failures joined.
func (j *StatementSchedule) Run(ctx context.Context) ([]StatementRun, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	through := MonthOf(j.s.now(), latestZone).Prev()
	from := j.from
	if from == (Month{}) {
		var err error
		if from, err = j.s.firstMonth(ctx, through); err != nil {
			return nil, err
		}
	}
	next := through
	var runs []StatementRun
	var failures []error
	for m := from; !m.after(through); m = m.Next() {
		run, err := j.s.IssueStatements(ctx, m)
		runs = append(runs, run)
		if err != nil {
			failures = append(failures, err)
		}
		if (err != nil || run.Failed > 0 || run.NotEnded > 0) && m.before(next) {
			next = m // not finished: the next pass tries it again
		}
		if ctx.Err() != nil {
			return runs, ctx.Err()
		}
	}
	j.from = next
	return runs, errors.Join(failures...)
}

// firstMonth is the month the oldest workspace was made in, in its own time zone, or
// through when there is no workspace.
func (s *Service) firstMonth(ctx context.Context, through Month) (Month, error) {
	all, err := s.teams.Workspaces(ctx)
	if err != nil {
		return Month{}, err
	}
	first := through
	for _, ws := range all {
		if m := MonthOf(ws.CreatedAt, location(ws.Timezone)); m.before(first) {
			first = m
		}
	}
	return first, nil
}

// draftStatement builds a workspace's statement for m from the rollups, and returns it
// with the month's request count.
func (s *Service) draftStatement(ctx context.Context, ws team.Workspace, m Month) (Invoice, int64, error) {
	loc := location(ws.Timezone)
	start, end := m.Start(loc), m.End(loc)
	// After the workspace's time zone changed, the month begins where the previous
	// month's statement (issued in the old zone) ended, read by the hour since that is
	// not a day of the new zone: no hour is billed twice or missed.
	bucket := 24 * time.Hour
	if prev, ok, err := s.store.InvoiceBySource(ctx, statementKey(ws.ID, m.Prev())); err != nil {
		return Invoice{}, 0, err
	} else if ok && prev.PeriodEnd != nil && !prev.PeriodEnd.Equal(start) && prev.PeriodEnd.Before(end) {
		start, bucket = prev.PeriodEnd.In(loc), time.Hour
	}
	buckets, err := s.meter.Usage(ctx, metering.UsageQuery{WorkspaceID: ws.ID, Start: start, End: end, Bucket: bucket,
		Location: loc, GroupBy: []string{metering.DimModel, metering.DimProject}})
	if err != nil {
		return Invoice{}, 0, err
	}
	models, projects := map[string]*metering.Totals{}, map[string]*metering.Totals{}
	var total metering.Totals
	add := func(m map[string]*metering.Totals, k string, t metering.Totals) {
		if m[k] == nil {
			m[k] = &metering.Totals{}
		}
		m[k].Add(t)
	}
	for _, b := range buckets {
		for _, r := range b.Results {
			add(models, deref(r.Model), r.Totals)
			add(projects, deref(r.Project), r.Totals)
			total.Add(r.Totals)
		}
	}
	credit, err := s.creditLines(ctx, ws.ID, start, end)
	if err != nil {
		return Invoice{}, 0, err
	}
	buyer, err := s.buyer(ctx, ws)
	if err != nil {
		return Invoice{}, 0, err
	}
	now := s.issuedNow()
	startUTC, endUTC := start.UTC(), end.UTC()
	inv := Invoice{Kind: KindStatement, WorkspaceID: ws.ID, Currency: s.cfg.Currency, Total: total.Cost, Subtotal: total.Cost,
		Seller: s.cfg.Seller, Buyer: buyer, Timezone: ws.Timezone, Period: m.String(), PeriodStart: &startUTC, PeriodEnd: &endUTC,
		Note: "Usage of " + m.String() + " (" + ws.Timezone + "): the cost of the requests timestamped in the month, " +
			"already paid from the prepaid balance. Tax, where charged, is on the top-up receipts. " +
			"Paid from: the usage charged to the balance in the month, by the credit it was drawn on; " +
			"promotional credit is not revenue.",
		IssuedAt: now, Series: s.series(now), SourceKey: statementKey(ws.ID, m)}
	inv.Lines = append(inv.Lines, lines(models, LineModel, "(unnamed model)")...)
	inv.Lines = append(inv.Lines, lines(projects, LineProject, "(no project)")...)
	inv.Lines = append(inv.Lines, credit...)
	return inv, total.Requests, nil
}

// creditLines are a statement's lines by kind of credit: the usage charged to the
// workspace's balance in [start, end), as the ledger drew it on paid and promotional
// credit lots, and what no lot covered (an overdraft), to the micro-unit. They are the
// ledger's charges of the period, so they sum to the statement's total only when every
// request of the month was charged in the month (usage recorded late, or early, moves
// between the two). None when nothing was charged; the uncovered line only when some was.
func (s *Service) creditLines(ctx context.Context, workspaceID string, start, end time.Time) ([]Line, error) {
	paid, promotional, uncovered, err := s.ledger.UsageByCredit(ctx, workspaceID, start, end)
	if err != nil || paid == 0 && promotional == 0 && uncovered == 0 {
		return nil, err
	}
	out := []Line{{Kind: LineUsagePaid, Description: "Paid credit", Amount: paid},
		{Kind: LineUsagePromotional, Description: "Promotional credit", Amount: promotional}}
	if uncovered != 0 {
		out = append(out, Line{Kind: LineUsageUncovered, Description: "Not covered by credit (overdraft)", Amount: uncovered})
	}
	return out, nil
}

// statementKey is the source key of a workspace's statement for a month: one, ever.
func statementKey(workspaceID string, m Month) string {
	return "statement:" + workspaceID + ":" + m.String()
}

// lines turns per-name totals into document lines, sorted by name.
func lines(by map[string]*metering.Totals, kind LineKind, empty string) []Line {
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]Line, 0, len(names))
	for _, n := range names {
		t := by[n]
		d := n
		if d == "" {
			d = empty
		}
		out = append(out, Line{Kind: kind, Description: d, Requests: t.Requests, InputTokens: t.InputTokens,
			CachedInputTokens: t.CachedInputTokens, CacheWriteTokens: t.CacheWriteTokens, OutputTokens: t.OutputTokens,
			ReasoningTokens: t.ReasoningTokens, Amount: t.Cost})
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// issue stores a drafted document and logs it when it was issued now.
func (s *Service) issue(ctx context.Context, inv Invoice) (Invoice, bool, error) {
	out, created, err := s.store.IssueInvoice(ctx, inv)
	if err == nil && created {
		s.log.Info("billing: document issued", "number", out.Number, "kind", out.Kind, "workspace_id", out.WorkspaceID, "total", out.Total.String())
	}
	return out, created, err
}
