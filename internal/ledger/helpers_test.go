package ledger_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/pricing"
	"spectra/internal/store/storetest"
)

// env is storetest's shared environment (a fresh store, the core services, one test
// clock), plus this package's helpers.
type env struct{ *storetest.Env }

// each runs fn on SQLite and PostgreSQL with a fresh store and services on a test clock.
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.EachEnv(t, func(t *testing.T, se *storetest.Env) { fn(t, &env{se}) })
}

// price adds model at one micro-unit per output token (1.00 per million), effective long ago.
func (e *env) price(t *testing.T, model string) {
	t.Helper()
	if err := e.DB.AddPrice(context.Background(), pricing.Price{Model: model, Output: 1_000_000,
		EffectiveFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), CreatedAt: e.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
}

// charge ingests one event costing cost micro-units (see price).
func (e *env) charge(t *testing.T, ws, id string, cost int64) metering.IngestResult {
	t.Helper()
	res, err := e.Meter.Ingest(context.Background(), []metering.Event{{ID: id, WorkspaceID: ws, Model: "unit",
		Timestamp: e.Clock.Now().Add(-time.Minute), Usage: pricing.Usage{Output: cost}}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}
