package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// TestRequestLogIndexJob: serve's request-log-index job indexes the events ingested
// before its pass, which spectra verify then finds in the request log's value index.
func TestRequestLogIndexJob(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		clock := storetest.NewClock(t0)
		db, err := store.Open(ctx, dsn, store.Options{Now: clock.Now, MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		cfg := Config{Currency: "USD", Services: ServiceConfig{DataDir: t.TempDir()}}
		d, err := newDeps(cfg, db, "", slog.New(slog.NewTextHandler(io.Discard, nil)), clock.Now)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.gateway.Close(); d.budgets.Close() })
		if err := db.AddPrice(ctx, pricing.Price{Model: "m", Input: money.Scale, Output: 2 * money.Scale,
			EffectiveFrom: t0.AddDate(-1, 0, 0), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		ws, err := d.team.CreateWorkspace(ctx, team.Workspace{Name: "Acme", Timezone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		var evs []metering.Event
		for i := range 40 {
			evs = append(evs, metering.Event{ID: fmt.Sprint("req-", i), WorkspaceID: ws.ID, Model: "m", Timestamp: t0.Add(-time.Duration(i) * time.Minute),
				Usage: pricing.Usage{Input: int64(100 * (i%7 + 1)), Output: 10}, LatencyMS: int64(i)})
		}
		if res, err := d.metering.Ingest(ctx, evs); err != nil || res.Accepted != len(evs) {
			t.Fatalf("ingest: %+v %v", res, err)
		}
		if err := jobNamed(t, d, "request-log-index").Run(ctx); err != nil {
			t.Fatal(err)
		}
		rep, err := db.Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rep.Checks {
			if c.Name == "every indexed event has its rows in the request log's value index" {
				if c.Checked != int64(len(evs)) || len(c.Problems) != 0 {
					t.Fatalf("%+v; want %d events indexed, no problem", c, len(evs))
				}
				return
			}
		}
		t.Fatal("verify has no check of the request log's value index")
	})
}
