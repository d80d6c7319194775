package billing_test

import (
	"context"
	"strings"
	"testing"

	"spectra/internal/billing"
	"spectra/internal/billing/billingtest"
	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/store/storetest"
)

func TestCheckoutSendsTheSessionToStripe(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		ws := e.Workspace(t, "Acme", "")
		sess, err := e.Service.Checkout(ctx, ws.ID, billingtest.Amount("50.00"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sess.URL, "https://checkout.stripe.test/") || !strings.HasPrefix(sess.ID, "cs_test_") {
			t.Fatalf("session = %+v", sess)
		}
		reqs := e.Stripe.Requests("/v1/checkout/sessions")
		if len(reqs) != 1 {
			t.Fatalf("%d requests to Stripe, want 1", len(reqs))
		}
		r := reqs[0]
		if r.Method != "POST" || r.Authorization != "Bearer "+billingtest.SecretKey {
			t.Errorf("request %s with Authorization %q", r.Method, r.Authorization)
		}
		want := map[string]string{
			"mode":                                           "payment",
			"client_reference_id":                            ws.ID,
			"line_items[0][quantity]":                        "1",
			"line_items[0][price_data][unit_amount]":         "5000",
			"line_items[0][price_data][currency]":            "usd",
			"line_items[0][price_data][product_data][name]":  "Prepaid balance for Acme",
			"metadata[workspace_id]":                         ws.ID,
			"metadata[spectra_purpose]":                      "checkout",
			"payment_intent_data[setup_future_usage]":        "off_session",
			"payment_intent_data[metadata][workspace_id]":    ws.ID,
			"payment_intent_data[metadata][spectra_purpose]": "checkout",
			"customer_creation":                              "always",
			"adaptive_pricing[enabled]":                      "false",
			"success_url":                                    "https://spectra.example.com/w/" + ws.ID + "/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}",
			"cancel_url":                                     "https://spectra.example.com/w/" + ws.ID + "/billing?checkout=cancelled",
		}
		for k, v := range want {
			if got := r.Form.Get(k); got != v {
				t.Errorf("form %s = %q, want %q", k, got, v)
			}
		}
		if r.Form.Has("customer") {
			t.Errorf("customer sent for a workspace without one: %q", r.Form.Get("customer"))
		}

		// Once a checkout saved a customer, the next session reuses it.
		if err := e.DB.SetStripeCustomer(ctx, ws.ID, "cus_acme", e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Service.Checkout(ctx, ws.ID, billingtest.Amount("10")); err != nil {
			t.Fatal(err)
		}
		r = e.Stripe.Requests("/v1/checkout/sessions")[1]
		if r.Form.Get("customer") != "cus_acme" || r.Form.Has("customer_creation") || r.Form.Get("line_items[0][price_data][unit_amount]") != "1000" {
			t.Errorf("second session form: customer=%q customer_creation=%q unit_amount=%q", r.Form.Get("customer"),
				r.Form.Get("customer_creation"), r.Form.Get("line_items[0][price_data][unit_amount]"))
		}
	})
}

func TestCheckoutZeroDecimalCurrency(t *testing.T) {
	billingtest.Each(t, billingtest.Options{Configure: func(c *billing.Config) {
		c.Currency, c.MinRecharge, c.MaxRecharge, c.Presets = "JPY", billingtest.Amount("500"), billingtest.Amount("1000000"), nil
	}}, func(t *testing.T, e *billingtest.Env) {
		ws := e.Workspace(t, "Tokyo", "Asia/Tokyo")
		if _, err := e.Service.Checkout(context.Background(), ws.ID, billingtest.Amount("5000")); err != nil {
			t.Fatal(err)
		}
		f := e.Stripe.Requests("/v1/checkout/sessions")[0].Form
		if f.Get("line_items[0][price_data][unit_amount]") != "5000" || f.Get("line_items[0][price_data][currency]") != "jpy" {
			t.Errorf("JPY session: unit_amount=%q currency=%q", f.Get("line_items[0][price_data][unit_amount]"), f.Get("line_items[0][price_data][currency]"))
		}
		_, err := e.Service.Checkout(context.Background(), ws.ID, billingtest.Amount("5000.5"))
		storetest.WantCode(t, err, "invalid_amount")
	})
}

func TestCheckoutRefusals(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		ws := e.Workspace(t, "Acme", "")
		for _, c := range []struct {
			amount money.Amount
			code   string
		}{
			{billingtest.Amount("4.99"), "amount_below_minimum"},
			{billingtest.Amount("10000.01"), "amount_above_maximum"},
			{billingtest.Amount("10.005"), "invalid_amount"},
			{0, "invalid_amount"},
		} {
			_, err := e.Service.Checkout(ctx, ws.ID, c.amount)
			storetest.WantCode(t, err, c.code)
		}
		_, err := e.Service.Checkout(ctx, "ws_missing", billingtest.Amount("50"))
		storetest.WantCode(t, err, "workspace_not_found")
		if n := len(e.Stripe.Requests("/")); n != 0 {
			t.Errorf("%d requests reached Stripe for refused checkouts", n)
		}
	})
}

func TestCheckoutWithoutStripe(t *testing.T) {
	billingtest.Each(t, billingtest.Options{NoStripe: true}, func(t *testing.T, e *billingtest.Env) {
		ws := e.Workspace(t, "Acme", "")
		_, err := e.Service.Checkout(context.Background(), ws.ID, billingtest.Amount("50"))
		storetest.WantCode(t, err, "stripe_not_configured")
		if errs.KindOf(err) != errs.Unavailable || !strings.Contains(err.Error(), "SPECTRA_STRIPE_SECRET_KEY") {
			t.Errorf("error %v should be unavailable and name SPECTRA_STRIPE_SECRET_KEY", err)
		}
		o := e.Service.Options()
		if o.StripeReady || !strings.Contains(o.StripeReason, "SPECTRA_STRIPE_SECRET_KEY") {
			t.Errorf("Options = %+v; want the card button absent with the reason", o)
		}
	})
}

func TestStripeErrorIsUnavailable(t *testing.T) {
	billingtest.Each(t, billingtest.Options{Configure: func(c *billing.Config) { c.StripeAPIURL = "http://127.0.0.1:1" }},
		func(t *testing.T, e *billingtest.Env) {
			ws := e.Workspace(t, "Acme", "")
			_, err := e.Service.Checkout(context.Background(), ws.ID, billingtest.Amount("50"))
			storetest.WantCode(t, err, "stripe_unavailable")
			if len(e.Logs.Lines("Stripe refused to create a Checkout session", ws.ID)) == 0 {
				t.Errorf("no log line for the failed call:\n%s", e.Logs)
			}
		})
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, c := range map[string]billing.Config{
		"currency":         {Currency: "dollars"},
		"bounds":           {MinRecharge: billingtest.Amount("10"), MaxRecharge: billingtest.Amount("5")},
		"preset":           {Presets: []money.Amount{billingtest.Amount("1")}},
		"cents":            {MinRecharge: billingtest.Amount("5.001")},
		"tax":              {TaxRateBasisPoints: 10_001},
		"public url":       {StripeSecretKey: "sk_test", PublicURL: "spectra.example.com"},
		"seller country":   {Seller: billing.Party{Country: "Britain"}},
		"prefix with path": {NumberPrefix: "A/B"},
	} {
		if _, err := billing.New(c, nil, nil, nil, nil); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
}
