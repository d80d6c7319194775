package store_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

var coreT0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// coreEnv is one store with the services the tests drive.
type coreEnv struct {
	db     *store.DB
	clock  *storetest.Clock
	ledger *ledger.Service
	meter  *metering.Service
}

// coreEach runs fn on SQLite and PostgreSQL with a fresh store and services on a test clock.
func coreEach(t *testing.T, fn func(t *testing.T, e *coreEnv)) {
	storetest.EachAt(t, coreT0, func(t *testing.T, db *store.DB, c *storetest.Clock) {
		fn(t, &coreEnv{db: db, clock: c, ledger: ledger.NewService(db, c.Now), meter: metering.NewService(db, db, c.Now)})
	})
}

// coreFataler is what helpers need of a *testing.T or *rapid.T.
type coreFataler interface {
	Helper()
	Fatal(args ...any)
}

func (e *coreEnv) workspace(t coreFataler, limit money.Amount) string {
	t.Helper()
	id := ids.New("ws")
	if err := e.db.CreateWorkspace(context.Background(), team.Workspace{ID: id, Name: "test", Timezone: "UTC", OverdraftLimit: limit, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	return id
}

// addPrice adds model at the given output price per million tokens, in effect since 2020.
func (e *coreEnv) addPrice(t testing.TB, model string, output money.Amount) {
	t.Helper()
	if err := e.db.AddPrice(context.Background(), pricing.Price{Model: model, Input: output / 4, CachedInput: output / 8, CacheWrite: output / 2, Output: output,
		EffectiveFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
}

func (e *coreEnv) report(t coreFataler) store.VerifyReport {
	t.Helper()
	rep, err := e.db.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
