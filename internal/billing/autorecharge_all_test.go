package billing_test

import (
	"context"
	"testing"

	"spectra/internal/billing/billingtest"
)

// TestCheckAutoRechargesChargesEachWorkspaceBelowItsThreshold: the background pass
// charges every workspace whose balance fell below its threshold, once, and no other:
// not one above its threshold, not one without auto-recharge.
func TestCheckAutoRechargesChargesEachWorkspaceBelowItsThreshold(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		below := e.Workspace(t, "Below", "Europe/Paris").ID
		above := e.Workspace(t, "Above", "UTC").ID
		off := e.Workspace(t, "Off", "UTC").ID
		for _, ws := range []string{below, above} {
			saveCard(t, e, ws)
			seed(t, e, ws, "30")
			enableAutoRecharge(t, e, ws, "10", "50", "120")
		}
		seed(t, e, off, "30")
		e.Spend(t, below, billingtest.Amount("25"))
		e.Spend(t, off, billingtest.Amount("25"))
		e.Spend(t, above, billingtest.Amount("5"))

		for range 2 { // a second pass finds nothing more to do
			if err := e.Service.CheckAutoRecharges(ctx); err != nil {
				t.Fatal(err)
			}
		}
		intents := e.Stripe.Requests("/v1/payment_intents")
		if len(intents) != 1 {
			t.Fatalf("%d charges, want 1 (for the workspace below its threshold)", len(intents))
		}
		if got := intents[0].Form.Get("metadata[workspace_id]"); got != below {
			t.Fatalf("charged workspace %s, want %s", got, below)
		}
		for ws, want := range map[string]string{below: "55", above: "25", off: "5"} {
			if b := e.Balance(t, ws).Available; b != billingtest.Amount(want) {
				t.Errorf("workspace %s: available %s, want %s", ws, b, want)
			}
		}
	})
}
