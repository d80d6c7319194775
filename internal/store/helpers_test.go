package store_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

var coreT0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// coreEnv is storetest's shared environment (a fresh store, the core services, one test
// clock), plus the store tests' helpers.
type coreEnv struct{ *storetest.Env }

// coreEach runs fn on SQLite and PostgreSQL with a fresh store and services on a test clock.
func coreEach(t *testing.T, fn func(t *testing.T, e *coreEnv)) {
	storetest.EachAt(t, coreT0, func(t *testing.T, db *store.DB, c *storetest.Clock) { fn(t, &coreEnv{storetest.NewEnv(db, c)}) })
}

// addPrice adds model at the given output price per million tokens, in effect since 2020.
func (e *coreEnv) addPrice(t testing.TB, model string, output money.Amount) {
	t.Helper()
	if err := e.DB.AddPrice(context.Background(), pricing.Price{Model: model, Input: output / 4, CachedInput: output / 8, CacheWrite: output / 2, Output: output,
		WebSearchCall: output / 100, // a unit an event counts must be priced (unknown_unit)
		EffectiveFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), CreatedAt: e.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
}

func (e *coreEnv) report(t storetest.Fataler) store.VerifyReport {
	t.Helper()
	rep, err := e.DB.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
