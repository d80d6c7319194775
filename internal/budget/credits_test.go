package budget_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"spectra/internal/budget"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

// fakeLots answers LotsExpiringBetween from a fixed list, as the store does: open lots
// whose expiry is in [from, to).
type fakeLots []ledger.Lot

func (f fakeLots) LotsExpiringBetween(_ context.Context, from, to time.Time) ([]ledger.Lot, error) {
	var out []ledger.Lot
	for _, l := range f {
		if l.Remaining > 0 && l.ExpiresAt != nil && !l.ExpiresAt.Before(from) && l.ExpiresAt.Before(to) {
			out = append(out, l)
		}
	}
	return out, nil
}

// A lot is alerted once, 7 days before its expiry (not earlier), with its remaining
// amount and expiry, however many nodes and passes see it; a lot without credit left
// or without expiry is never alerted.
func TestAlertExpiringCreditOncePerLot(t *testing.T) {
	each(t, "Europe/Paris", func(t *testing.T, e *env) {
		ctx := context.Background()
		at := func(d time.Duration) *time.Time { x := t0.Add(d); return &x }
		lots := fakeLots{
			{ID: 1, WorkspaceID: e.ws.ID, Kind: ledger.CreditPromotional, Source: ledger.KindGrant, Amount: 50 * money.Scale,
				Remaining: 12_345_678, Used: 50*money.Scale - 12_345_678, ExpiresAt: at(10 * 24 * time.Hour), CreatedAt: t0},
			{ID: 2, WorkspaceID: e.ws.ID, Kind: ledger.CreditPaid, Source: ledger.KindPayment, Amount: 5 * money.Scale,
				Remaining: 0, Used: 5 * money.Scale, ExpiresAt: at(8 * 24 * time.Hour), CreatedAt: t0},
			{ID: 3, WorkspaceID: e.ws.ID, Kind: ledger.CreditPaid, Source: ledger.KindPayment, Amount: 5 * money.Scale,
				Remaining: 5 * money.Scale, CreatedAt: t0},
		}
		nodes := []node{e.node, e.newNode(), e.newNode()}
		pass := func() int {
			var wg sync.WaitGroup
			var mu sync.Mutex
			total := 0
			for _, n := range nodes {
				wg.Go(func() {
					k, err := n.budgets.AlertExpiringCredit(ctx, lots)
					must(t, err)
					mu.Lock()
					total += k
					mu.Unlock()
				})
			}
			wg.Wait()
			return total
		}
		if n := pass(); n != 0 {
			t.Fatalf("10 days before expiry: %d alerts stored, want 0", n)
		}
		e.clock.Set(t0.Add(3*24*time.Hour - time.Second))
		if n := pass(); n != 0 {
			t.Fatalf("7 days and 1 s before expiry: %d alerts stored, want 0", n)
		}
		e.clock.Set(t0.Add(3 * 24 * time.Hour))
		if n := pass(); n != 1 {
			t.Fatalf("7 days before expiry: %d alerts stored by 3 nodes, want 1", n)
		}
		e.clock.Advance(time.Hour)
		if n := pass(); n != 0 {
			t.Fatalf("a later pass stored %d alerts, want 0", n)
		}
		alerts, err := e.budgets.Alerts(ctx, e.ws.ID, 10)
		must(t, err)
		if len(alerts) != 1 {
			t.Fatalf("alerts = %d, want 1", len(alerts))
		}
		a := alerts[0]
		if a.Kind != "credit.expiring" || budget.KindCreditExpiring != "credit.expiring" || !a.PeriodStart.Equal(*lots[0].ExpiresAt) {
			t.Errorf("alert = %s at %v, want credit.expiring at the lot's expiry", a.Kind, a.PeriodStart)
		}
		var p struct {
			WorkspaceID string `json:"workspace_id"`
			ExpiresAt   string `json:"expires_at"`
			Remaining   struct {
				Amount   string `json:"amount"`
				Currency string `json:"currency"`
			} `json:"remaining"`
			Lot struct {
				ID     int64  `json:"id"`
				Kind   string `json:"kind"`
				Amount struct {
					Amount string `json:"amount"`
				} `json:"amount"`
			} `json:"lot"`
		}
		must(t, json.Unmarshal(a.Payload, &p))
		if p.WorkspaceID != e.ws.ID || p.ExpiresAt != "2026-03-21T15:00:00Z" || p.Remaining.Amount != "12.345678" ||
			p.Remaining.Currency != "USD" || p.Lot.ID != 1 || p.Lot.Kind != "promotional" || p.Lot.Amount.Amount != "50.000000" {
			t.Errorf("payload = %s", a.Payload)
		}
		for _, want := range []string{"$12.35", "promotional", "21 Mar 2026"} {
			if !strings.Contains(a.Subject, want) {
				t.Errorf("subject %q lacks %q", a.Subject, want)
			}
		}
		for _, want := range []string{"12.345678 USD", "Sat 21 Mar 2026 16:00 CET", "2026-03-21T15:00:00Z"} {
			if !strings.Contains(a.Body, want) {
				t.Errorf("body lacks %q:\n%s", want, a.Body)
			}
		}
		if e.alerted.Load() == 0 {
			t.Error("the notifier was not woken")
		}
	})
}
