package billing_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/billing/billingtest"
	"spectra/internal/billing/stripestub"
	"spectra/internal/ids"
	"spectra/internal/store/storetest"
)

// deliver signs a Stripe event with the webhook secret at the test clock's time and
// hands it to the service.
func deliver(t *testing.T, e *billingtest.Env, typ string, object any) billing.WebhookResult {
	t.Helper()
	payload := stripestub.Event("evt_"+ids.Random(8), typ, object)
	res, err := e.Service.HandleStripeWebhook(context.Background(), payload, stripestub.Sign(payload, billingtest.WebhookSecret, e.Clock.Now()))
	if err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	return res
}

// saveCard delivers the payment_intent.succeeded of a Checkout payment, which saves the card.
func saveCard(t *testing.T, e *billingtest.Env, workspaceID string) {
	t.Helper()
	res := deliver(t, e, "payment_intent.succeeded", stripestub.PaymentIntent("pi_checkout_"+workspaceID, 1000, "usd", "succeeded",
		map[string]string{"workspace_id": workspaceID, "spectra_purpose": "checkout"}))
	if res.Outcome != billing.OutcomeRecorded {
		t.Fatalf("saving the card: %+v", res)
	}
}

// seed credits a workspace by a manual payment.
func seed(t *testing.T, e *billingtest.Env, ws, amount string) {
	t.Helper()
	if _, _, err := e.Service.RecordManualPayment(context.Background(), ws, billing.ManualPayment{Amount: billingtest.Amount(amount), Reference: "seed-" + ids.Random(4)}); err != nil {
		t.Fatal(err)
	}
}

func enableAutoRecharge(t *testing.T, e *billingtest.Env, ws, threshold, amount, monthlyCap string) billing.AutoRecharge {
	t.Helper()
	ar, err := e.Service.SetAutoRecharge(context.Background(), ws, billing.AutoRechargeSettings{Enabled: true,
		Threshold: billingtest.Amount(threshold), Amount: billingtest.Amount(amount), MonthlyCap: billingtest.Amount(monthlyCap)})
	if err != nil {
		t.Fatal(err)
	}
	return ar
}

// checkConcurrently runs CheckAutoRecharge from n goroutines at once.
func checkConcurrently(t *testing.T, e *billingtest.Env, ws string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.Service.CheckAutoRecharge(context.Background(), ws)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestAutoRechargeOncePerCrossingWithinTheCap(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		ws := e.Workspace(t, "Acme", "Europe/Paris").ID
		saveCard(t, e, ws)
		seed(t, e, ws, "30")
		ar := enableAutoRecharge(t, e, ws, "10", "50", "120")
		if !ar.Enabled || !ar.Armed || !ar.PaymentMethodSaved {
			t.Fatalf("after enabling: %+v", ar)
		}
		intents := func() []stripestub.Request { return e.Stripe.Requests("/v1/payment_intents") }
		if n := len(intents()); n != 0 {
			t.Fatalf("%d charges while above the threshold", n)
		}

		// First crossing: twenty concurrent checks, one charge.
		e.Spend(t, ws, billingtest.Amount("25"))
		checkConcurrently(t, e, ws, 20)
		if n := len(intents()); n != 1 {
			t.Fatalf("%d charges for one crossing, want 1", n)
		}
		r := intents()[0]
		want := map[string]string{"amount": "5000", "currency": "usd", "customer": "cus_" + ws, "payment_method": "pm_card_" + ws,
			"off_session": "true", "confirm": "true", "metadata[workspace_id]": ws, "metadata[spectra_purpose]": "auto_recharge"}
		for k, v := range want {
			if r.Form.Get(k) != v {
				t.Errorf("PaymentIntent %s = %q, want %q", k, r.Form.Get(k), v)
			}
		}
		if r.IdempotencyKey != "spectra-auto-recharge-"+ws+"-1" {
			t.Errorf("Idempotency-Key = %q", r.IdempotencyKey)
		}
		if b := e.Balance(t, ws).Available; b != billingtest.Amount("55") {
			t.Fatalf("available %s after the charge, want 55", b)
		}
		ar, _ = e.Service.AutoRecharge(ctx, ws)
		if !ar.Armed || ar.ChargedThisMonth != billingtest.Amount("50") {
			t.Fatalf("after the first charge: %+v", ar)
		}
		// The webhook for the same charge credits nothing more.
		pi := stripestub.PaymentIntent("pi_test_000001", 5000, "usd", "succeeded",
			map[string]string{"workspace_id": ws, "spectra_purpose": "auto_recharge", "spectra_charge": r.Form.Get("metadata[spectra_charge]")})
		if res := deliver(t, e, "payment_intent.succeeded", pi); res.Outcome != billing.OutcomeDuplicate {
			t.Fatalf("webhook for the charged intent: %+v", res)
		}

		// Second crossing: one more charge.
		e.Spend(t, ws, billingtest.Amount("50"))
		checkConcurrently(t, e, ws, 10)
		if n := len(intents()); n != 2 || intents()[1].IdempotencyKey != "spectra-auto-recharge-"+ws+"-2" {
			t.Fatalf("%d charges after the second crossing, want 2", n)
		}

		// Third crossing: 100 charged + 50 would pass the cap of 120. No charge, one notice, paused.
		e.Spend(t, ws, billingtest.Amount("50"))
		checkConcurrently(t, e, ws, 10)
		if n := len(intents()); n != 2 {
			t.Fatalf("%d charges past the cap, want 2", n)
		}
		notices, _ := e.Service.Notices(ctx, ws)
		if len(notices) != 1 || notices[0].Kind != billing.NoticeAutoRechargeCap {
			t.Fatalf("notices = %+v", notices)
		}
		ar, _ = e.Service.AutoRecharge(ctx, ws)
		paris, _ := time.LoadLocation("Europe/Paris")
		if ar.PausedUntil == nil || !ar.PausedUntil.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, paris)) || !ar.Enabled {
			t.Fatalf("after the cap: %+v", ar)
		}
		if len(e.Logs.Lines("monthly cap", ws)) == 0 {
			t.Errorf("no log line for the cap")
		}

		// In April (Paris time) the pause is over: the next check charges.
		e.Clock.Set(time.Date(2026, 3, 31, 22, 30, 0, 0, time.UTC)) // 00:30 on 1 April in Paris
		checkConcurrently(t, e, ws, 5)
		if n := len(intents()); n != 3 {
			t.Fatalf("%d charges after the month turned, want 3", n)
		}
		if b := e.Balance(t, ws).Available; b != billingtest.Amount("55") {
			t.Fatalf("available %s, want 55", b)
		}
		ar, _ = e.Service.AutoRecharge(ctx, ws)
		if ar.ChargedThisMonth != billingtest.Amount("50") {
			t.Fatalf("charged this month %s, want 50", ar.ChargedThisMonth)
		}
		receipts, _ := e.Service.Invoices(ctx, billing.InvoiceFilter{WorkspaceID: ws, Kind: billing.KindReceipt})
		auto := 0
		for _, r := range receipts {
			if r.PaymentMethod == billing.MethodAutoRecharge {
				auto++
			}
		}
		if auto != 3 {
			t.Fatalf("%d auto-recharge receipts, want 3", auto)
		}
		e.Verify(t)
	})
}

func TestAutoRechargeFailedChargeStopsAndTellsTheOwner(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		ws := e.Workspace(t, "Acme", "").ID
		saveCard(t, e, ws)
		seed(t, e, ws, "30")
		enableAutoRecharge(t, e, ws, "10", "50", "500")
		e.Stripe.SetDecline("Your card has insufficient funds.")
		e.Spend(t, ws, billingtest.Amount("21"))
		checkConcurrently(t, e, ws, 10)
		if n := len(e.Stripe.Requests("/v1/payment_intents")); n != 1 {
			t.Fatalf("%d charge attempts, want 1", n)
		}
		if b := e.Balance(t, ws).Balance; b != billingtest.Amount("9") {
			t.Fatalf("balance %s: a declined charge credited something", b)
		}
		ar, _ := e.Service.AutoRecharge(ctx, ws)
		if ar.Enabled || !strings.Contains(ar.DisabledReason, "insufficient funds") || ar.ChargedThisMonth != 0 {
			t.Fatalf("after the decline: %+v", ar)
		}
		notices, _ := e.Service.Notices(ctx, ws)
		if len(notices) != 1 || notices[0].Kind != billing.NoticeAutoRechargeFailed || !strings.Contains(notices[0].Message, "insufficient funds") {
			t.Fatalf("notices = %+v", notices)
		}
		if len(e.Logs.Lines(`"level":"ERROR"`, "auto-recharge charge failed", ws)) != 1 {
			t.Errorf("want one error log line for the failed charge:\n%s", e.Logs)
		}
		// Stripe's payment_failed event for the same charge changes nothing more.
		charge := e.Stripe.Requests("/v1/payment_intents")[0].Form.Get("metadata[spectra_charge]")
		res := deliver(t, e, "payment_intent.payment_failed", stripestub.PaymentIntent("pi_declined", 5000, "usd", "requires_payment_method",
			map[string]string{"workspace_id": ws, "spectra_purpose": "auto_recharge", "spectra_charge": charge}))
		if res.Outcome != billing.OutcomeRecorded {
			t.Fatalf("payment_failed: %+v", res)
		}
		if notices, _ := e.Service.Notices(ctx, ws); len(notices) != 1 {
			t.Fatalf("%d notices after the repeated failure, want 1", len(notices))
		}
		// Further checks do nothing while it is off; the owner dismisses the notice.
		checkConcurrently(t, e, ws, 3)
		if n := len(e.Stripe.Requests("/v1/payment_intents")); n != 1 {
			t.Fatalf("%d charge attempts while disabled", n)
		}
		if err := e.Service.DismissNotice(ctx, ws, notices[0].ID); err != nil {
			t.Fatal(err)
		}
		if notices, _ := e.Service.Notices(ctx, ws); len(notices) != 0 {
			t.Fatalf("notice still shown after dismissal")
		}
		storetest.WantCode(t, e.Service.DismissNotice(ctx, ws, "ntc_missing"), "notice_not_found")
	})
}

// A charge Stripe leaves processing is credited by its webhook, once.
func TestAutoRechargeProcessingCreditedByWebhook(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ws := e.Workspace(t, "Acme", "").ID
		saveCard(t, e, ws)
		seed(t, e, ws, "30")
		enableAutoRecharge(t, e, ws, "10", "50", "500")
		e.Stripe.IntentStatus = "processing"
		e.Spend(t, ws, billingtest.Amount("22"))
		checkConcurrently(t, e, ws, 5)
		if b := e.Balance(t, ws).Balance; b != billingtest.Amount("8") {
			t.Fatalf("balance %s before the webhook", b)
		}
		r := e.Stripe.Requests("/v1/payment_intents")
		if len(r) != 1 {
			t.Fatalf("%d charges", len(r))
		}
		meta := map[string]string{"workspace_id": ws, "spectra_purpose": "auto_recharge", "spectra_charge": r[0].Form.Get("metadata[spectra_charge]")}
		for i := range 3 {
			res := deliver(t, e, "payment_intent.succeeded", stripestub.PaymentIntent("pi_test_000001", 5000, "usd", "succeeded", meta))
			want := billing.OutcomeDuplicate
			if i == 0 {
				want = billing.OutcomeCredited
			}
			if res.Outcome != want {
				t.Fatalf("delivery %d: %+v", i, res)
			}
		}
		if b := e.Balance(t, ws).Balance; b != billingtest.Amount("58") {
			t.Fatalf("balance %s after the webhook, want 48", b)
		}
		if ar, _ := e.Service.AutoRecharge(context.Background(), ws); !ar.Armed {
			t.Fatalf("not re-armed after the credit: %+v", ar)
		}
	})
}

func TestSetAutoRechargeRefusals(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		ws := e.Workspace(t, "Acme", "").ID
		on := func(th, amount, cap string) error {
			_, err := e.Service.SetAutoRecharge(ctx, ws, billing.AutoRechargeSettings{Enabled: true, Threshold: billingtest.Amount(th),
				Amount: billingtest.Amount(amount), MonthlyCap: billingtest.Amount(cap)})
			return err
		}
		storetest.WantCode(t, on("10", "50", "500"), "no_saved_payment_method")
		saveCard(t, e, ws)
		storetest.WantCode(t, on("-1", "50", "500"), "invalid_threshold")
		storetest.WantCode(t, on("10", "1", "500"), "amount_below_minimum")
		storetest.WantCode(t, on("10", "50.001", "500"), "invalid_amount")
		storetest.WantCode(t, on("10", "50", "40"), "invalid_monthly_cap")
		if err := on("10", "50", "50"); err != nil {
			t.Fatal(err)
		}
		// Turning it off needs nothing.
		if _, err := e.Service.SetAutoRecharge(ctx, ws, billing.AutoRechargeSettings{}); err != nil {
			t.Fatal(err)
		}
		_, err := e.Service.SetAutoRecharge(ctx, "ws_missing", billing.AutoRechargeSettings{})
		storetest.WantCode(t, err, "workspace_not_found")
		// A new Stripe customer forgets the old customer's card.
		if err := e.DB.SetStripeCustomer(ctx, ws, "cus_other", e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		storetest.WantCode(t, on("10", "50", "500"), "no_saved_payment_method")
	})
	billingtest.Each(t, billingtest.Options{NoStripe: true}, func(t *testing.T, e *billingtest.Env) {
		ws := e.Workspace(t, "Acme", "").ID
		_, err := e.Service.SetAutoRecharge(context.Background(), ws, billing.AutoRechargeSettings{Enabled: true, Amount: billingtest.Amount("50"), MonthlyCap: billingtest.Amount("50")})
		storetest.WantCode(t, err, "stripe_not_configured")
	})
}

// Enabling auto-recharge while already below the threshold charges at once.
func TestEnablingBelowThresholdChargesAtOnce(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ws := e.Workspace(t, "Acme", "").ID
		saveCard(t, e, ws)
		ar := enableAutoRecharge(t, e, ws, "10", "50", "500")
		if n := len(e.Stripe.Requests("/v1/payment_intents")); n != 1 || e.Balance(t, ws).Balance != billingtest.Amount("50") || !ar.Armed {
			t.Fatalf("%d charges, balance %s, state %+v", n, e.Balance(t, ws).Balance, ar)
		}
	})
}
