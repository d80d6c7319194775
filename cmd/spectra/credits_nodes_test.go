package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"spectra/internal/background"
	"spectra/internal/ledger"
	"spectra/internal/money"
	"spectra/internal/notify"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// TestCreditExpiryTwoNodes runs the credit-expiry job of two nodes (two services, each
// with its own connection pools, on one database) at the same moments, passes racing:
// each lot expires exactly once (one expiry transfer of its remaining), each lot gets
// one credit.expiring alert 7 days before its expiry, and the notifiers of both nodes
// post each alert once to the workspace's webhook.
func TestCreditExpiryTwoNodes(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		clock := storetest.NewClock(t0)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		node := func() deps {
			db, err := store.Open(ctx, dsn, store.Options{Now: clock.Now, MaxConns: 8})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			cfg := Config{Currency: "USD", Services: ServiceConfig{DataDir: t.TempDir(), WebhookAllowPrivate: true}}
			d, err := newDeps(cfg, db, "", log, clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.gateway.Close(); d.budgets.Close() })
			return d
		}
		nodes := []deps{node(), node()}
		a := nodes[0]
		ws, err := a.team.CreateWorkspace(ctx, team.Workspace{Name: "Acme", Timezone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		receiver := newHookReceiver(t)
		_, secret, err := a.notify.CreateEndpoint(ctx, ws.ID, notify.EndpointInput{URL: &receiver.URL, EventTypes: &[]string{"credit.expiring"}})
		if err != nil {
			t.Fatal(err)
		}
		receiver.setSecret(secret)

		day := 24 * time.Hour
		grant := func(key string, amount money.Amount, kind ledger.CreditKind, exp time.Time) {
			if _, _, err := a.ledger.GrantCredit(ctx, ws.ID, amount, kind, exp, key, key); err != nil {
				t.Fatal(err)
			}
		}
		grant("promo-10d", 5*money.Scale, ledger.CreditPromotional, t0.Add(10*day))
		grant("paid-3d", 3*money.Scale, ledger.CreditPaid, t0.Add(3*day))
		grant("promo-8d", money.Scale, ledger.CreditPromotional, t0.Add(8*day))
		grant("paid-forever", 2*money.Scale, ledger.CreditPaid, time.Time{})

		// pass runs every node's credit-expiry job, four passes each, all at once.
		pass := func() {
			var wg sync.WaitGroup
			for _, d := range nodes {
				job := jobNamed(t, d, "credit-expiry")
				for range 4 {
					wg.Go(func() {
						if err := job.Run(ctx); err != nil {
							t.Error(err)
						}
					})
				}
			}
			wg.Wait()
		}
		count := func(kind ledger.Kind) (n int, total money.Amount) {
			entries, err := a.ledger.Entries(ctx, ws.ID, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Kind == kind {
					n++
					total += e.Amount
				}
			}
			return n, total
		}
		alerts := func() map[string]int {
			as, err := a.budgets.Alerts(ctx, ws.ID, 100)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]int{}
			for _, x := range as {
				out[x.Kind]++
			}
			return out
		}

		pass() // the 3-day lot is within 7 days: alerted; nothing expires
		if n, _ := count(ledger.KindExpiry); n != 0 || alerts()["credit.expiring"] != 1 {
			t.Fatalf("at start: %d expiries, alerts %v; want 0 and 1 credit.expiring", n, alerts())
		}
		clock.Set(t0.Add(3*day + time.Second)) // the 3-day lot expires; the 8- and 10-day lots are within 7 days
		pass()
		if n, total := count(ledger.KindExpiry); n != 1 || total != -3*money.Scale || alerts()["credit.expiring"] != 3 {
			t.Fatalf("after 3 days: %d expiries of %s, alerts %v; want 1 of -3 and 3 credit.expiring", n, total, alerts())
		}
		clock.Set(t0.Add(11 * day))
		pass()
		pass()
		if n, total := count(ledger.KindExpiry); n != 3 || total != -9*money.Scale || alerts()["credit.expiring"] != 3 {
			t.Fatalf("after 11 days: %d expiries of %s, alerts %v; want 3 of -9 and 3 credit.expiring", n, total, alerts())
		}
		lots, err := nodes[1].ledger.Lots(ctx, ws.ID)
		if err != nil {
			t.Fatal(err)
		}
		var expired money.Amount
		for _, l := range lots {
			expired += l.Expired
			if l.Amount != l.Used+l.Expired+l.Remaining {
				t.Errorf("lot %d: amount %s ≠ used %s + expired %s + remaining %s", l.ID, l.Amount, l.Used, l.Expired, l.Remaining)
			}
		}
		bal, err := nodes[1].ledger.Balance(ctx, ws.ID)
		if err != nil {
			t.Fatal(err)
		}
		if expired != 9*money.Scale || bal.Balance != 2*money.Scale || bal.Paid != 2*money.Scale || bal.Promotional != 0 {
			t.Errorf("expired %s, balance %+v; want 9 expired and 2 paid left", expired, bal)
		}

		// Both notifiers at once: one message per alert.
		var wg sync.WaitGroup
		for _, d := range nodes {
			wg.Go(func() {
				if err := d.notify.Work(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got := map[string]bool{}
		for range 3 {
			select {
			case h := <-receiver.got:
				// (Signed at the test clock's time, days off the real one, which the
				// verifier's timestamp tolerance refuses: signing is tested elsewhere.)
				if h.typ != "credit.expiring" || h.data["workspace_id"] != ws.ID || got[h.id] {
					t.Errorf("webhook %+v", h)
				}
				got[h.id] = true
			case <-time.After(10 * time.Second):
				t.Fatalf("%d credit.expiring webhooks arrived, want 3", len(got))
			}
		}
		select {
		case h := <-receiver.got:
			t.Errorf("an extra webhook: %+v", h)
		default:
		}
	})
}

// jobNamed returns d's background job of that name.
func jobNamed(t *testing.T, d deps, name string) background.Job {
	t.Helper()
	for _, j := range jobs(d) {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("no job %q", name)
	return background.Job{}
}
