package store_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/store/storetest"
)

// BenchmarkCodeBatches measures the list of redemption-code batches (the console's Codes
// page and GET /api/v1/redemption-codes: a page of 51, newest first) over 100,000 codes
// in 1,000 batches of 100, a later page (after the 500th batch) and one batch alone. The
// codes are written by SQL in bulk and their batches' rows by the backfill of migration
// 0025.
//
//	go test ./internal/store -run '^$' -bench BenchmarkCodeBatches -benchtime 10x
func BenchmarkCodeBatches(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			c := storetest.NewClock(consoleBenchNow)
			db := st.open(b, storetest.Options{Now: c.Now})
			ctx := context.Background()
			now := consoleBenchNow.UnixMicro()
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < 100000)
					INSERT INTO billing_codes (id, batch_id, hash, hint, amount, expires_at, note, created_at, redeemed_at, redeemed_by)
					SELECT 'code_' || i, 'batch_' || (i / 100), 'hash_' || i, 'ABCD', 1000000, CAST(? AS BIGINT) + (i / 100) * 1000000, 'bench',
					CAST(? AS BIGINT) - (i / 100) * 1000000, CASE WHEN i % 10 = 0 THEN CAST(? AS BIGINT) END, NULL FROM n`, []any{now, now, now}},
				{`INSERT INTO billing_code_batches (batch_id, amount, expires_at, note, created_at, codes, redeemed, disabled)
					SELECT batch_id, MIN(amount), MIN(expires_at), MIN(note), MIN(created_at), COUNT(*),
					SUM(CASE WHEN redeemed_by IS NOT NULL THEN 1 ELSE 0 END),
					SUM(CASE WHEN redeemed_at IS NOT NULL AND redeemed_by IS NULL THEN 1 ELSE 0 END)
					FROM billing_codes GROUP BY batch_id`, nil},
				{`ANALYZE`, nil},
			} {
				if _, err := db.RawExec(ctx, q.sql, q.args...); err != nil {
					b.Fatal(err)
				}
			}
			at := consoleBenchNow.Add(500 * time.Second)
			for _, f := range []struct {
				name string
				f    billing.CodeBatchFilter
				want int
			}{
				{"first-page", billing.CodeBatchFilter{Limit: 51}, 51},
				{"page-after-500", billing.CodeBatchFilter{Before: "batch_500", Limit: 51}, 51},
				{"one-batch", billing.CodeBatchFilter{BatchID: "batch_7", Limit: 1}, 1},
			} {
				b.Run(f.name, func(b *testing.B) {
					for b.Loop() {
						p, err := db.CodeBatches(ctx, f.f, at)
						if err != nil || len(p) != f.want || p[0].Count != 100 || p[0].Disabled != 10 {
							b.Fatal(len(p), err)
						}
					}
				})
			}
		})
	}
}
