package demo_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"spectra/internal/demo"
	"spectra/internal/store/storetest"
)

// TestSeedAtScale seeds SPECTRA_DEMO_EVENTS events (e.g. 10000000) and logs the rate; it
// is skipped unless that is set. SPECTRA_DEMO_POSTGRES=1 seeds PostgreSQL instead of SQLite.
// It measures, it does not time-assert: the numbers go to docs/benchmarks.md.
func TestSeedAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SPECTRA_DEMO_EVENTS"))
	if n == 0 {
		t.Skip("set SPECTRA_DEMO_EVENTS to seed at scale")
	}
	open := storetest.SQLite
	if os.Getenv("SPECTRA_DEMO_POSTGRES") == "1" {
		open = storetest.Postgres
	}
	e := newEnv(t, open, true)
	start, last := time.Now(), time.Now()
	res, err := demo.Seed(context.Background(), e.deps, demo.Options{Events: n, Now: func() time.Time { return now },
		Progress: func(done, total int) {
			if time.Since(last) > 10*time.Second {
				last = time.Now()
				t.Logf("%d/%d events, %.0f a second", done, total, float64(done)/time.Since(start).Seconds())
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	days := daily(t, e, res)
	burn := sum(days[83:90]).Cost / 7
	t.Logf("%d events in %v (%.0f a second); spend %v, balance %v, burn %v a day, runway %d days",
		res.Events, took.Round(time.Second), float64(res.Events)/took.Seconds(), res.Spend, res.Balance, burn, res.Balance/burn)
	rep, err := e.db.Verify(context.Background())
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}
