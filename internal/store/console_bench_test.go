package store_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/console"
	"spectra/internal/store/storetest"
)

// consoleBenchNow is the benchmark's clock: the 28th of the month, so "this month" holds
// 27 days of rollups.
var consoleBenchNow = time.Date(2025, 3, 28, 12, 0, 0, 0, time.UTC)

// seedConsole writes workspaces workspaces (a third each in UTC, Berlin and New York),
// each with a wallet, an owner and, for each of days days before consoleBenchNow and
// each of models models, a daily rollup row by model (the rows the daily rollups keep
// for a workspace that sends those models every day, whatever its number of events), and
// its last hourly rollup. Rows are written by SQL in bulk: the benchmark measures reads.
func seedConsole(b *testing.B, e *storetest.Env, workspaces, days, models int) {
	b.Helper()
	ctx := context.Background()
	now := consoleBenchNow.UnixMicro()
	day0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	n := `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) `
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{n + `INSERT INTO workspaces (id, name, timezone, created_at) SELECT 'wsb' || i, 'Workspace ' || i,
			CASE i % 3 WHEN 0 THEN 'UTC' WHEN 1 THEN 'Europe/Berlin' ELSE 'America/New_York' END, ? FROM n`, []any{workspaces, now}},
		{n + `INSERT INTO accounts (id, workspace_id, kind, balance, held, overdraft_limit, created_at) SELECT 'wallet:wsb' || i, 'wsb' || i, 'wallet', i * 1000, 0, 0, ? FROM n`, []any{workspaces, now}},
		{n + `INSERT INTO users (id, email, name, password_hash, operator, created_at) SELECT 'ub' || i, 'owner' || i || '@bench.test', 'Owner ' || i, '', 0, ? FROM n`, []any{workspaces, now}},
		{n + `INSERT INTO members (workspace_id, user_id, role, created_at) SELECT 'wsb' || i, 'ub' || i, 'owner', ? FROM n`, []any{workspaces, now}},
		{n + `, d(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM d WHERE j + 1 < ?), m(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM m WHERE k + 1 < ?)
			INSERT INTO rollups_daily_dim (workspace_id, dim, day, value, requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost)
			SELECT 'wsb' || i, 'model', ? + j * 86400000000, 'model-' || k, 40, 40000, 0, 0, 8000, 0, 1000 * (i % 97 + 1) FROM n, d, m`, []any{workspaces, days, models, day0}},
		{n + `INSERT INTO rollups_hourly (workspace_id, hour, project, key_id, member, model, requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost)
			SELECT 'wsb' || i, ? - (i % 500) * 3600000000, '', '', '', 'model-0', 1, 1, 0, 0, 1, 0, 1 FROM n`, []any{workspaces, now - now%3_600_000_000}},
	} {
		if _, err := e.DB.RawExec(ctx, q.sql, q.args...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsoleWorkspaces measures a page (50 rows) of the console's workspace list
// over 10,000 workspaces with 27 days × 4 models of daily rollups each this month
// (1.08 M rollup rows, what 10 M events a month or far more leave), by name (the
// default), sorted by spend (the snapshot's figures, sorted in memory), and a search by
// owner email; the Activity page's figures over 30 days (the snapshot's); the background
// pass that reads the snapshot; and, for comparison, the live queries it replaces.
//
//	go test ./internal/store -run '^$' -bench BenchmarkConsole -benchtime 10x
func BenchmarkConsoleWorkspaces(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			c := storetest.NewClock(consoleBenchNow)
			db := st.open(b, storetest.Options{Now: c.Now})
			e := storetest.NewEnv(db, c)
			seedConsole(b, e, 10_000, 27, 4)
			svc := console.New(db, c.Now)
			ctx := context.Background()
			// The background pass that reads the snapshot (every console.SnapshotEvery),
			// then the pages, which read it.
			b.Run("snapshot-refresh", func(b *testing.B) {
				for b.Loop() {
					if err := svc.Refresh(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
			for _, q := range []struct {
				name string
				q    console.ListQuery
			}{
				{"by-name", console.ListQuery{}},
				{"by-name-page-100", console.ListQuery{Offset: 4950}},
				{"by-spend", console.ListQuery{Sort: console.SortSpend, Desc: true}},
				{"by-activity", console.ListQuery{Sort: console.SortActivity, Desc: true}},
				{"by-owner", console.ListQuery{Sort: console.SortOwner}},
				{"search-owner", console.ListQuery{Search: "owner777@"}},
				{"search-by-spend", console.ListQuery{Search: "Workspace 7", Sort: console.SortSpend, Desc: true}},
			} {
				b.Run(q.name, func(b *testing.B) {
					for b.Loop() {
						p, err := svc.Workspaces(ctx, q.q)
						if err != nil || p.Total == 0 || len(p.Rows) == 0 {
							b.Fatal(p.Total, err)
						}
					}
				})
			}
			b.Run("activity-30d", func(b *testing.B) {
				for b.Loop() {
					a, err := svc.Activity(ctx, 30)
					if err != nil || a.Spend == 0 || a.AsOf.IsZero() {
						b.Fatal(a.Spend, err)
					}
				}
			})
			// The live queries the snapshot replaces, for comparison.
			b.Run("live-by-spend", func(b *testing.B) {
				for b.Loop() {
					if p, err := svc.LiveWorkspaces(ctx, console.ListQuery{Sort: console.SortSpend, Desc: true}); err != nil || len(p.Rows) == 0 {
						b.Fatal(err)
					}
				}
			})
			b.Run("live-activity-30d", func(b *testing.B) {
				for b.Loop() {
					if a, err := svc.LiveActivity(ctx, 30); err != nil || a.Spend == 0 {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
