package budget

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"spectra/internal/ids"
	"spectra/internal/metering"
	"spectra/internal/money"
)

// ingested is metering's OnIngested callback: it marks the events' workspaces for
// evaluation, and one goroutine per Service evaluates them (coalescing bursts).
func (s *Service) ingested(_ context.Context, events []metering.Event) {
	s.evalMu.Lock()
	for _, e := range events {
		s.dirty[e.WorkspaceID] = true
	}
	start := !s.running && len(s.dirty) > 0
	if start {
		s.running = true
		s.inflight.Add(1)
	}
	s.evalMu.Unlock()
	if start {
		go s.drain()
	}
}

// evalLinger is how long ingestion's evaluations wait for company: a busy workspace is
// evaluated at most about this often, however many batches it ingests.
const evalLinger = 50 * time.Millisecond

func (s *Service) drain() {
	defer s.inflight.Done()
	for {
		time.Sleep(evalLinger)
		s.evalMu.Lock()
		if len(s.dirty) == 0 {
			s.running = false
			s.evalMu.Unlock()
			return
		}
		batch := s.dirty
		s.dirty = map[string]bool{}
		s.evalMu.Unlock()
		for ws := range batch {
			if err := s.Evaluate(context.Background(), ws); err != nil {
				s.log.Error("budget alerts not evaluated", "workspace", ws, "err", err)
			}
		}
	}
}

// Wait blocks until the evaluations started by ingestion so far have finished (tests
// and shutdown).
func (s *Service) Wait() { s.inflight.Wait() }

// Close stops the service's background work at shutdown: it cancels the cache's
// background refreshes and waits for them (refreshes asked for later run on a
// cancelled context), then waits for the evaluations started by ingestion (Wait).
func (s *Service) Close() {
	s.refresh.Close()
	s.Wait()
}

// Evaluate records an alert for every threshold a budget of the workspace has reached in
// its current period, and for a crossing of the low-balance line. Each alert is stored
// exactly once, whichever node (or the sweep) sees the crossing first: budget alerts by
// their dedupe key budget:<id>:<period start µs>:<threshold>, low-balance alerts by a
// guarded update of the line's state. A workspace without budgets or a line costs a
// cache lookup.
func (s *Service) Evaluate(ctx context.Context, workspaceID string) error {
	c, err := s.load(ctx, workspaceID)
	if err != nil {
		return err
	}
	now := s.now()
	for _, b := range c.budgets {
		if len(b.Thresholds) == 0 {
			continue
		}
		if err := s.evaluateBudget(ctx, b, c.loc, now); err != nil {
			return err
		}
	}
	if c.low.Line > 0 {
		return s.evaluateLowBalance(ctx, c, workspaceID, now)
	}
	return nil
}

func (s *Service) evaluateBudget(ctx context.Context, b Budget, loc *time.Location, now time.Time) error {
	w := b.PeriodAt(now, loc)
	spent, err := s.Spent(ctx, b, w)
	if err != nil {
		return err
	}
	for _, t := range b.Thresholds {
		if mulDiv(int64(b.Amount), int64(t), 100) > int64(spent) {
			break // thresholds are sorted
		}
		key := fmt.Sprintf("budget:%s:%d:%d", b.ID, w.Start.UnixMicro(), t)
		if s.known(key) {
			continue
		}
		a := s.thresholdAlert(b, w, t, spent, now)
		a.DedupeKey = key
		stored, err := s.store.InsertAlert(ctx, a)
		if err != nil {
			return err
		}
		if stored {
			s.alerted()
		}
		s.remember(key)
	}
	return nil
}

// maxFired bounds the memory of stored dedupe keys; past it the set starts again (an
// insert of a forgotten key is a no-op in the database).
const maxFired = 100_000

func (s *Service) known(key string) bool {
	s.firedMu.Lock()
	defer s.firedMu.Unlock()
	return s.fired[key]
}

func (s *Service) remember(key string) {
	s.firedMu.Lock()
	defer s.firedMu.Unlock()
	if len(s.fired) >= maxFired {
		clear(s.fired)
	}
	s.fired[key] = true
}

// rearmLevel is the available balance at which a crossed low-balance line arms again:
// the line plus a tenth.
func rearmLevel(line money.Amount) money.Amount { return line + line/10 }

func (s *Service) evaluateLowBalance(ctx context.Context, c *cached, workspaceID string, now time.Time) error {
	bal, err := s.ledger.Balance(ctx, workspaceID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	armed, line := c.low.Armed, c.low.Line
	s.mu.Unlock()
	// The cached state saves a write per ingestion; the store's guarded updates decide.
	// A crossed line re-arms only once the balance is back a tenth above it, so an
	// available balance hovering at the line (holds of in-flight requests come and go)
	// does not alert on every wobble.
	switch {
	case bal.Available >= rearmLevel(line) && !armed:
		if err := s.store.RearmLowBalance(ctx, workspaceID, now.UTC()); err != nil {
			return err
		}
	case bal.Available < line && armed:
		crossed, err := s.store.CrossLowBalance(ctx, workspaceID, now.UTC(), func(n int64) Alert {
			a := s.lowBalanceAlert(workspaceID, bal.Available, line, now)
			a.DedupeKey = "low_balance:" + workspaceID + ":" + strconv.FormatInt(n, 10)
			return a
		})
		if err != nil {
			return err
		}
		if crossed {
			s.alerted()
		}
	default:
		return nil
	}
	s.mu.Lock()
	c.low.Armed = bal.Available >= line
	s.mu.Unlock()
	return nil
}

// amountJSON is an amount as the API writes it.
type amountJSON struct {
	Amount   money.Amount `json:"amount"`
	Currency string       `json:"currency"`
}

func (s *Service) thresholdAlert(b Budget, w Window, t int, spent money.Amount, now time.Time) Alert {
	var end *string
	if !w.End.IsZero() {
		e := w.End.Format(time.RFC3339)
		end = &e
	}
	payload, _ := json.Marshal(map[string]any{
		"workspace_id": b.WorkspaceID,
		"budget":       map[string]any{"id": b.ID, "name": b.Name, "scope": b.Scope, "scope_id": b.ScopeID, "period": b.Period, "hard_limit": b.HardLimit},
		"threshold":    t,
		"spent":        amountJSON{spent, s.currency},
		"limit":        amountJSON{b.Amount, s.currency},
		"period_start": w.Start.Format(time.RFC3339),
		"period_end":   end,
	})
	// For people: rounded to cents in the subject; the body adds the exact amounts.
	subject := fmt.Sprintf("Budget %q reached %d%% (%s of %s)", b.Name, t, money.Format(spent, s.currency), money.Format(b.Amount, s.currency))
	body := fmt.Sprintf("The budget %q (%s, %s %s, per %s) has reached %d%% of its amount.\n\nSpent this period: %s (%s %s)\nLimit: %s (%s %s)\nPeriod: %s to %s\n",
		b.Name, b.ID, b.Scope, b.ScopeID, periodWord(b.Period), t, money.Format(spent, s.currency), spent, s.currency,
		money.Format(b.Amount, s.currency), b.Amount, s.currency, w.Start.Format(time.RFC3339), endText(end))
	if b.HardLimit && t >= 100 {
		body += "\nThis is a hard limit: the gateway refuses requests that it does not cover until the period ends or the budget is raised.\n"
	}
	return Alert{ID: ids.New("alt"), WorkspaceID: b.WorkspaceID, Kind: KindThreshold, BudgetID: b.ID, Threshold: t,
		PeriodStart: w.Start, Subject: subject, Body: body, Payload: payload, CreatedAt: now.UTC()}
}

func endText(end *string) string {
	if end == nil {
		return "(all time)"
	}
	return *end
}

func (s *Service) lowBalanceAlert(workspaceID string, available, line money.Amount, now time.Time) Alert {
	payload, _ := json.Marshal(map[string]any{
		"workspace_id": workspaceID,
		"available":    amountJSON{available, s.currency},
		"line":         amountJSON{line, s.currency},
		"at":           now.UTC().Format(time.RFC3339),
	})
	return Alert{ID: ids.New("alt"), WorkspaceID: workspaceID, Kind: KindLowBalance, PeriodStart: now.UTC(),
		Subject: fmt.Sprintf("Available balance %s is below %s", money.Format(available, s.currency), money.Format(line, s.currency)),
		Body: fmt.Sprintf("The workspace %s has %s available (%s %s), below its low-balance line of %s (%s %s).\n\nRecharge to keep requests flowing.\n",
			workspaceID, money.Format(available, s.currency), available, s.currency, money.Format(line, s.currency), line, s.currency),
		Payload: payload, CreatedAt: now.UTC()}
}

// Sweep evaluates every workspace with a budget or a low-balance line, so that a
// crossing whose ingestion-time evaluation was lost (a crash) still alerts.
func (s *Service) Sweep(ctx context.Context) error {
	wss, err := s.store.WatchedWorkspaces(ctx)
	if err != nil {
		return err
	}
	for _, ws := range wss {
		if err := s.Evaluate(ctx, ws); err != nil {
			return err
		}
	}
	return nil
}
