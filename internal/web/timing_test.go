package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"spectra/internal/budget"
	"spectra/internal/demo"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/notify"
	"spectra/internal/store"
	"spectra/internal/team"
)

// TestPageTimings measures each page's server time on a large demo database. It runs
// only with SPECTRA_BENCH_DB=<sqlite file or postgres:// URL>: the first run seeds it
// with SPECTRA_BENCH_EVENTS events (default 1,000,000) through demo.Seed, later runs
// reuse it. Results go to the test log; docs/_bench_dashboard.md has the method.
//
//	SPECTRA_BENCH_DB=/tmp/spectra-10m.db SPECTRA_BENCH_EVENTS=10000000 \
//	  go test ./internal/web -run TestPageTimings -v -timeout 3h
func TestPageTimings(t *testing.T) {
	dsn := os.Getenv("SPECTRA_BENCH_DB")
	if dsn == "" {
		t.Skip("set SPECTRA_BENCH_DB to measure page timings on a large demo database")
	}
	events := 1_000_000
	if v := os.Getenv("SPECTRA_BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		events = n
	}
	ctx := context.Background()
	// The history ends at a fixed moment, so repeated runs read the same data.
	end := time.Date(2025, 6, 15, 15, 30, 0, 0, time.UTC)
	clock := demo.NewClock(func() time.Time { return end })
	db, err := store.Open(ctx, dsn, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ts := team.NewService(db, clock.Now)
	acc := team.NewAccounts(db, clock.Now)
	led := ledger.NewService(db, clock.Now)
	met := metering.NewService(db, db, clock.Now)
	if has, err := acc.HasUsers(ctx); err != nil {
		t.Fatal(err)
	} else if !has {
		start := time.Now()
		res, err := demo.Seed(ctx, demo.Deps{Team: ts, Accounts: acc, Ledger: led, Metering: met, Prices: db, Clock: clock},
			demo.Options{Events: events, Seed: 1, Now: func() time.Time { return end },
				Progress: func(done, total int) {
					if done%500_000 < 2_000 {
						t.Logf("seeded %d of %d events (%s)", done, total, time.Since(start).Round(time.Second))
					}
				}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("seeded %d events in %s", res.Events, time.Since(start).Round(time.Second))
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bud, err := budget.New(budget.Config{Store: db, Metering: met, Ledger: led, Team: ts, Now: clock.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Deps{Team: ts, Accounts: acc, Ledger: led, Metering: met, Prices: db, Now: clock.Now, Log: quiet,
		Budget: bud, Notify: notify.New(notify.Config{Store: db, Now: clock.Now, Log: quiet}),
		Invitations: team.NewInvitations(db, acc, ts, team.InvitationsConfig{BaseURL: "http://spectra.test", Now: clock.Now, Log: quiet})})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Register(mux)
	owner, err := acc.UserByEmail(ctx, demo.OwnerEmail)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := acc.Memberships(ctx, owner.ID)
	if err != nil || len(ms) == 0 {
		t.Fatal("the demo owner has no workspace", err)
	}
	token, _, err := acc.StartSession(ctx, owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	ws := "/w/" + ms[0].WorkspaceID + "/"
	// A database seeded before budgets existed gets the demo's budgets, so the Budgets
	// page and the forecast have something to compute.
	if bs, err := bud.List(ctx, ms[0].WorkspaceID); err != nil {
		t.Fatal(err)
	} else if len(bs) == 0 {
		for _, b := range []budget.Budget{
			{Name: "Team monthly", Scope: budget.ScopeWorkspace, Amount: 1000 * money.Scale, Period: budget.PeriodMonth},
			{Name: "Staging daily cap", Scope: budget.ScopeProject, ScopeID: "staging", Amount: 5 * money.Scale, Period: budget.PeriodDay, HardLimit: true},
		} {
			b.WorkspaceID = ms[0].WorkspaceID
			if _, err := bud.Create(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	pages := []string{"", "?period=today", "?period=30d", "?period=month", "usage", "usage?period=30d&group=key", "usage.csv?period=30d&group=model",
		"requests", "requests?model=gpt-4o", "billing", "keys", "members", "budgets", "settings", "invoices"}
	const runs = 15
	t.Logf("%-40s %8s %8s %8s %10s", "page", "p50", "p90", "max", "CPU/req")
	for _, p := range pages {
		var times []time.Duration
		var cpu time.Duration
		for i := 0; i < runs+2; i++ {
			c0 := processCPU()
			req := httptest.NewRequest("GET", ws+p, nil)
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
			rec := httptest.NewRecorder()
			t0 := time.Now()
			mux.ServeHTTP(rec, req)
			d := time.Since(t0)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", p, rec.Code, rec.Body.String())
			}
			if i >= 2 { // the first two warm the caches
				times = append(times, d)
				cpu += processCPU() - c0
			}
		}
		slices.Sort(times)
		t.Logf("%-40s %8s %8s %8s %10s", "/w/{ws}/"+p, ms1(times[len(times)/2]), ms1(times[len(times)*9/10]), ms1(times[len(times)-1]), ms1(cpu/runs))
	}
}

func ms1(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
