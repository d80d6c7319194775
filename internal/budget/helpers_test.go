package budget_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"spectra/internal/budget"
	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// node is one Spectra node's services over a shared database.
type node struct {
	team     *team.Service
	ledger   *ledger.Service
	metering *metering.Service
	budgets  *budget.Service
}

type env struct {
	t     *testing.T
	db    *store.DB
	clock *storetest.Clock
	node
	ws      team.Workspace
	alerted *atomic.Int64 // OnAlert calls of every node
}

// t0 is a Wednesday.
var t0 = time.Date(2026, 3, 11, 15, 0, 0, 0, time.UTC)

const testModel = "m1"

func each(t *testing.T, tz string, fn func(t *testing.T, e *env)) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, clk *storetest.Clock) {
		e := &env{t: t, db: db, clock: clk, alerted: new(atomic.Int64)}
		e.node = e.newNode()
		ctx := context.Background()
		// $1 per million output tokens: an event's cost in micro-units is its output tokens.
		must(t, db.AddPrice(ctx, pricing.Price{Model: testModel, Output: money.Scale, EffectiveFrom: t0.AddDate(-1, 0, 0)}))
		var err error
		e.ws, err = e.team.CreateWorkspace(ctx, team.Workspace{Name: "Acme", Timezone: tz})
		must(t, err)
		fn(t, e)
	})
}

func (e *env) newNode() node {
	n := node{team: team.NewService(e.db, e.clock.Now), ledger: ledger.NewService(e.db, e.clock.Now),
		metering: metering.NewService(e.db, e.db, e.clock.Now)}
	var err error
	n.budgets, err = budget.New(budget.Config{Store: e.db, Metering: n.metering, Ledger: n.ledger, Team: n.team, Now: e.clock.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), OnAlert: func() { e.alerted.Add(1) }})
	must(e.t, err)
	return n
}

// spend ingests one event of cost micro-units at time at, with the given key, project, member.
func (e *env) spend(m *metering.Service, cost int64, at time.Time, key, project, member string) {
	e.t.Helper()
	res, err := m.Ingest(context.Background(), []metering.Event{{ID: ids.New("ev"), WorkspaceID: e.ws.ID, KeyID: key, Project: project,
		Member: member, Model: testModel, Timestamp: at, Usage: pricing.Usage{Output: cost}}})
	must(e.t, err)
	if res.Accepted != 1 {
		e.t.Fatalf("event not accepted: %+v", res)
	}
}

func (e *env) create(b budget.Budget) budget.Budget {
	e.t.Helper()
	b.WorkspaceID = e.ws.ID
	b, err := e.budgets.Create(context.Background(), b)
	must(e.t, err)
	return b
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
