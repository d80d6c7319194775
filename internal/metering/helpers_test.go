package metering_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/metering"
	"spectra/internal/money"
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
		p.CreatedAt = e.Clock.Now()
		if err := e.DB.AddPrice(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
}

// exactOf is the exact cost of an event under the test prices.
func exactOf(t *testing.T, ev metering.Event) pricing.Exact {
	t.Helper()
	p := priceX
	if ev.Model == "gpt-y" {
		p = priceY
	}
	q, err := p.Quote(ev.Usage)
	if err != nil {
		t.Fatal(err)
	}
	return q.Cost
}

// sumCost is what a wallet with no carry yet is charged for the events: the exact sum
// of their costs rounded down (whatever their order: Batch.Charge).
func sumCost(t *testing.T, events []metering.Event) money.Amount {
	t.Helper()
	var s pricing.Exact
	for _, ev := range events {
		var err error
		if s, err = pricing.AddExact(s, exactOf(t, ev)); err != nil {
			t.Fatal(err)
		}
	}
	return s.Micro
}

// charged reports whether cost is a charge of ev: its exact cost rounded down or up
// (which, depends on its wallet's carry), and its exact cost is recorded with it when
// ev is an event as stored (recorded true).
func charged(t *testing.T, ev metering.Event, cost money.Amount, recorded bool) bool {
	t.Helper()
	x := exactOf(t, ev)
	return (cost == x.Micro || cost == x.Ceil()) && (!recorded || ev.CostExact == x)
}

// ingest runs one batch and fails the test on an error.
func (e *env) ingest(t *testing.T, events []metering.Event) metering.IngestResult {
	t.Helper()
	res, err := e.Meter.Ingest(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func wantCodeErr(err error) string { return errs.CodeOf(err) }
