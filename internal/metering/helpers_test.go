package metering_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

var clockStart = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// env is one store with the services the tests drive.
type env struct {
	db     *store.DB
	clock  *storetest.Clock
	ledger *ledger.Service
	meter  *metering.Service
}

// each runs fn on SQLite and PostgreSQL with a fresh store and services on a test clock.
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	c := storetest.NewClock(clockStart)
	storetest.Each(t, storetest.Options{Now: c.Now}, func(t *testing.T, db *store.DB) {
		c.Set(clockStart) // each store starts at the same time
		fn(t, &env{db: db, clock: c, ledger: ledger.NewService(db, c.Now), meter: metering.NewService(db, db, c.Now)})
	})
}

// workspace creates a workspace with the given overdraft limit and returns its id.
func (e *env) workspace(t *testing.T, limit money.Amount) string {
	t.Helper()
	id := ids.New("ws")
	if err := e.db.CreateWorkspace(context.Background(), team.Workspace{ID: id, Name: "test", Timezone: "UTC", OverdraftLimit: limit, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) grant(t *testing.T, ws string, amount money.Amount) {
	t.Helper()
	if _, _, err := e.ledger.Grant(context.Background(), ws, amount, ids.New("g"), ""); err != nil {
		t.Fatal(err)
	}
}

func (e *env) balance(t *testing.T, ws string) ledger.Balance {
	t.Helper()
	b, err := e.ledger.Balance(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verify fails the test when the store's own recomputation finds a difference.
func (e *env) verify(t *testing.T) {
	t.Helper()
	rep, err := e.db.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %+v", rep)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error; want %s", code)
	}
	if got := errs.CodeOf(err); got != code {
		t.Fatalf("got %v; want %s", err, code)
	}
}

// Prices of the test catalog, per million tokens.
var (
	priceX = pricing.Price{Model: "gpt-x", Input: 2_000_000, CachedInput: 1_000_000, CacheWrite: 3_000_000, Output: 8_000_000, Request: 100,
		EffectiveFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	priceY = pricing.Price{Model: "gpt-y", Input: 150_000, Output: 600_000, EffectiveFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
)

// catalog adds the test prices.
func (e *env) catalog(t *testing.T) {
	t.Helper()
	for _, p := range []pricing.Price{priceX, priceY} {
		p.CreatedAt = e.clock.Now()
		if err := e.db.AddPrice(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
}

// costOf is the expected cost of an event under the test prices.
func costOf(t *testing.T, ev metering.Event) money.Amount {
	t.Helper()
	p := priceX
	if ev.Model == "gpt-y" {
		p = priceY
	}
	c, err := pricing.Cost(p, ev.Usage)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ingest runs one batch and fails the test on an error.
func (e *env) ingest(t *testing.T, events []metering.Event) metering.IngestResult {
	t.Helper()
	res, err := e.meter.Ingest(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func wantCodeErr(err error) string { return errs.CodeOf(err) }
