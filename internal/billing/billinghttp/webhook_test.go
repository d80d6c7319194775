package billinghttp_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/billing/billingtest"
	"spectra/internal/billing/stripestub"
)

func TestWebhookCreditsOnce(t *testing.T) {
	each(t, billingtest.Options{}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		payload := event("checkout.session.completed", stripestub.CheckoutSession("cs_test_a1", ws, 5000, "usd", "paid"))
		r := s.postEvent(t, payload, billingtest.WebhookSecret)
		want(t, r, http.StatusOK, "")
		if m := r.JSON(t); m["outcome"] != "credited" || m["received"] != true {
			t.Fatalf("response %s", r.Body)
		}
		if b := s.Balance(t, ws).Balance; b != billingtest.Amount("50") {
			t.Fatalf("balance %s, want 50", b)
		}
		rec := s.receipts(t, ws)
		if len(rec) != 1 || rec[0].Total != billingtest.Amount("50") || rec[0].PaymentReference != "cs_test_a1" || rec[0].PaymentMethod != billing.MethodCheckout {
			t.Fatalf("receipts = %+v", rec)
		}
		// The same event again (Stripe retries): 200, nothing more.
		r = s.postEvent(t, payload, billingtest.WebhookSecret)
		if m := r.JSON(t); r.Status != 200 || m["outcome"] != "duplicate" {
			t.Fatalf("replay: %d %s", r.Status, r.Body)
		}
		if b := s.Balance(t, ws).Balance; b != billingtest.Amount("50") {
			t.Fatalf("balance %s after the replay", b)
		}
		if len(s.Logs.Lines("Stripe payment credited", "cs_test_a1", ws)) != 1 {
			t.Errorf("want one log line for the credit:\n%s", s.Logs)
		}
	})
}

func TestWebhookSameEventTenTimesConcurrently(t *testing.T) {
	each(t, billingtest.Options{}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		payload := event("checkout.session.completed", stripestub.CheckoutSession("cs_test_c10", ws, 12345, "usd", "paid"))
		sig := stripestub.Sign(payload, billingtest.WebhookSecret, s.Clock.Now())
		sigs := make([]string, 10)
		for i := range sigs {
			sigs[i] = sig
		}
		res := s.postAtOnce(t, payload, sigs)
		credited := 0
		for _, r := range res {
			if r.Status != 200 {
				t.Fatalf("status %d %s", r.Status, r.Body)
			}
			if r.JSON(t)["outcome"] == "credited" {
				credited++
			}
		}
		if credited != 1 {
			t.Fatalf("%d deliveries credited, want 1", credited)
		}
		if b := s.Balance(t, ws).Balance; b != billingtest.Amount("123.45") {
			t.Fatalf("balance %s, want 123.45", b)
		}
		if n := len(s.receipts(t, ws)); n != 1 {
			t.Fatalf("%d receipts, want 1", n)
		}
		if got := s.nextNumber(t, ws); got != "SPEC-2026-000002" {
			t.Fatalf("next number %s: a number was used twice or skipped", got)
		}
		s.Verify(t)
	})
}

// Checkout.session.completed and async_payment_succeeded for one session credit once,
// in either order; a completed-but-unpaid session credits nothing until its payment succeeds.
func TestWebhookCompletedAndAsyncSucceededCreditOnce(t *testing.T) {
	each(t, billingtest.Options{}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		check := func(payload []byte, outcome string) {
			t.Helper()
			r := s.postEvent(t, payload, billingtest.WebhookSecret)
			if r.Status != 200 || r.JSON(t)["outcome"] != outcome {
				t.Fatalf("got %d %s, want outcome %s", r.Status, r.Body, outcome)
			}
		}
		// Paid at once: completed, then the async event as well.
		check(event("checkout.session.completed", stripestub.CheckoutSession("cs_1", ws, 1000, "usd", "paid")), "credited")
		check(event("checkout.session.async_payment_succeeded", stripestub.CheckoutSession("cs_1", ws, 1000, "usd", "paid")), "duplicate")
		// Reordered: the async success arrives before completed.
		check(event("checkout.session.async_payment_succeeded", stripestub.CheckoutSession("cs_2", ws, 2000, "usd", "paid")), "credited")
		check(event("checkout.session.completed", stripestub.CheckoutSession("cs_2", ws, 2000, "usd", "paid")), "duplicate")
		// A bank debit: completed unpaid, then succeeded.
		check(event("checkout.session.completed", stripestub.CheckoutSession("cs_3", ws, 4000, "usd", "unpaid")), "ignored")
		if b := s.Balance(t, ws).Balance; b != billingtest.Amount("30") {
			t.Fatalf("balance %s before the delayed payment, want 30", b)
		}
		check(event("checkout.session.async_payment_succeeded", stripestub.CheckoutSession("cs_3", ws, 4000, "usd", "paid")), "credited")
		if b := s.Balance(t, ws).Balance; b != billingtest.Amount("70") {
			t.Fatalf("balance %s, want 70", b)
		}
		if n := len(s.receipts(t, ws)); n != 3 {
			t.Fatalf("%d receipts, want 3", n)
		}
	})
}

func TestWebhookRefusals(t *testing.T) {
	each(t, billingtest.Options{}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		good := event("checkout.session.completed", stripestub.CheckoutSession("cs_ref", ws, 5000, "usd", "paid"))
		cases := []struct {
			name      string
			payload   []byte
			signature string
			status    int
			code      string
			outcome   string
			log       []string
		}{
			{"bad signature", good, stripestub.Sign(good, "whsec_wrong", s.Clock.Now()), 400, "invalid_signature", "",
				[]string{`"level":"WARN"`, "Stripe webhook refused: bad signature"}},
			{"no signature", good, "", 400, "invalid_signature", "", []string{"bad signature"}},
			{"tampered payload", []byte(strings.Replace(string(good), "5000", "500000", 1)), stripestub.Sign(good, billingtest.WebhookSecret, s.Clock.Now()),
				400, "invalid_signature", "", []string{"bad signature"}},
			{"old timestamp", good, stripestub.Sign(good, billingtest.WebhookSecret, s.Clock.Now().Add(-6*time.Minute)), 400, "signature_too_old", "",
				[]string{`"level":"WARN"`, "signature timestamp outside the tolerance"}},
			{"unknown workspace", event("checkout.session.completed", stripestub.CheckoutSession("cs_unknown", "ws_nobody", 5000, "usd", "paid")), "",
				200, "", "refused", []string{`"level":"ERROR"`, "nothing credited: unknown workspace", "ws_nobody", "cs_unknown"}},
			{"mismatched currency", event("checkout.session.completed", stripestub.CheckoutSession("cs_eur", ws, 5000, "eur", "paid")), "",
				200, "", "refused", []string{`"level":"ERROR"`, "nothing credited: its currency is not the deployment's", "cs_eur", `"currency":"EUR"`, `"deployment_currency":"USD"`}},
			{"two workspaces named", event("checkout.session.completed", func() map[string]any {
				o := stripestub.CheckoutSession("cs_two", ws, 5000, "usd", "paid")
				o["metadata"] = map[string]string{"workspace_id": "ws_other"}
				return o
			}()), "", 200, "", "refused", []string{`"level":"ERROR"`, "names two different workspaces", "cs_two"}},
			{"no workspace (another system's session)", event("checkout.session.completed", func() map[string]any {
				o := stripestub.CheckoutSession("cs_foreign", "", 5000, "usd", "paid")
				o["metadata"] = map[string]string{}
				return o
			}()), "", 200, "", "ignored", []string{`"level":"INFO"`, "not Spectra's", "cs_foreign"}},
		}
		for _, c := range cases {
			sig := c.signature
			if sig == "" && c.status == 200 {
				sig = stripestub.Sign(c.payload, billingtest.WebhookSecret, s.Clock.Now())
			}
			before := len(s.Logs.Lines(c.log...))
			r := s.postSigned(t, c.payload, sig)
			if r.Status != c.status || r.Code() != c.code {
				t.Errorf("%s: got %d %s, want %d %q", c.name, r.Status, r.Body, c.status, c.code)
				continue
			}
			if c.outcome != "" && r.JSON(t)["outcome"] != c.outcome {
				t.Errorf("%s: outcome %s", c.name, r.Body)
			}
			if got := len(s.Logs.Lines(c.log...)); got != before+1 {
				t.Errorf("%s: want one new log line with %q; log:\n%s", c.name, c.log, s.Logs)
			}
		}
		if b := s.Balance(t, ws).Balance; b != 0 {
			t.Fatalf("balance %s: a refused event credited", b)
		}
		if got := s.nextNumber(t, ws); got != "SPEC-2026-000001" {
			t.Fatalf("a refused event issued a document: next number %s", got)
		}
		s.Verify(t)
	})
}

func TestWebhookWithoutSecret(t *testing.T) {
	each(t, billingtest.Options{NoStripe: true}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		r := s.postEvent(t, event("checkout.session.completed", stripestub.CheckoutSession("cs_x", ws, 5000, "usd", "paid")), "whsec_any")
		want(t, r, http.StatusServiceUnavailable, "stripe_not_configured")
		if !strings.Contains(string(r.Body), "SPECTRA_STRIPE_WEBHOOK_SECRET") || len(s.Logs.Lines("SPECTRA_STRIPE_WEBHOOK_SECRET is not set")) != 1 {
			t.Errorf("body %s / log %s", r.Body, s.Logs)
		}
		if b := s.Balance(t, ws).Balance; b != 0 {
			t.Fatal("credited without a webhook secret")
		}
	})
}

func TestWebhookZeroDecimalCurrency(t *testing.T) {
	each(t, billingtest.Options{Configure: func(c *billing.Config) {
		c.Currency, c.MinRecharge, c.MaxRecharge, c.Presets = "JPY", billingtest.Amount("500"), billingtest.Amount("1000000"), nil
	}}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Tokyo", "Asia/Tokyo").ID
		r := s.postEvent(t, event("checkout.session.completed", stripestub.CheckoutSession("cs_jpy", ws, 5000, "jpy", "paid")), billingtest.WebhookSecret)
		want(t, r, 200, "")
		if b := s.Balance(t, ws).Balance; b != billingtest.Amount("5000") {
			t.Fatalf("balance %s, want 5000 (yen have no minor unit)", b)
		}
	})
}

func TestWebhookAsyncPaymentFailedTellsTheWorkspace(t *testing.T) {
	each(t, billingtest.Options{}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		r := s.postEvent(t, event("checkout.session.async_payment_failed", stripestub.CheckoutSession("cs_f", ws, 5000, "usd", "unpaid")), billingtest.WebhookSecret)
		want(t, r, 200, "")
		if s.Balance(t, ws).Balance != 0 || len(s.Logs.Lines("Checkout payment failed", "cs_f")) != 1 {
			t.Fatalf("balance %s, log:\n%s", s.Balance(t, ws).Balance, s.Logs)
		}
		r = s.do(t, "GET", "/api/v1/workspaces/"+ws+"/billing", "read:"+ws, "")
		want(t, r, 200, "")
		if !strings.Contains(string(r.Body), "USD 50.00 did not go through") {
			t.Fatalf("overview without the notice: %s", r.Body)
		}
		// Events Spectra does not use are acknowledged.
		r = s.postEvent(t, event("customer.created", map[string]any{"id": "cus_1", "object": "customer"}), billingtest.WebhookSecret)
		if r.Status != 200 || r.JSON(t)["outcome"] != "ignored" {
			t.Fatalf("unused event: %d %s", r.Status, r.Body)
		}
	})
}

// Issue 11, item 9: the age check read the first t= while stripe-go verified the
// signature against the last one, so an old, genuinely signed event was accepted again
// by putting a fresh t= in front of its header.
func TestWebhookOldSignatureWithAFreshTimestampPrependedIsRefused(t *testing.T) {
	each(t, billingtest.Options{}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		payload := event("checkout.session.completed", stripestub.CheckoutSession("cs_replay", ws, 5000, "usd", "paid"))
		old := stripestub.Sign(payload, billingtest.WebhookSecret, s.Clock.Now().Add(-time.Hour))
		fresh := fmt.Sprintf("t=%d", s.Clock.Now().Unix())

		for name, sig := range map[string]string{
			"fresh t= prepended": fresh + "," + old,
			"fresh t= appended":  old + "," + fresh,
			"the same t= twice":  strings.Replace(old, ",", ","+strings.Split(old, ",")[0]+",", 1),
			"no t= at all":       strings.Split(old, ",")[1],
			"unreadable t=":      "t=soon," + strings.Split(old, ",")[1],
			"a fresh valid t= twice": func() string {
				f := stripestub.Sign(payload, billingtest.WebhookSecret, s.Clock.Now())
				return fresh + "," + f
			}(),
		} {
			r := s.postSigned(t, payload, sig)
			if r.Status != http.StatusBadRequest || r.Code() != "invalid_signature_timestamp" {
				t.Errorf("%s: got %d %s, want 400 invalid_signature_timestamp", name, r.Status, r.Body)
			}
		}
		// The old event on its own header is too old, as before.
		want(t, s.postSigned(t, payload, old), http.StatusBadRequest, "signature_too_old")
		if len(s.Logs.Lines(`"level":"WARN"`, "does not carry exactly one t= timestamp")) != 6 {
			t.Errorf("want six warnings for the refused headers; log:\n%s", s.Logs)
		}
		if b := s.Balance(t, ws).Balance; b != 0 {
			t.Fatalf("balance %s: a replayed event credited", b)
		}

		// A fresh, valid header still credits, once.
		r := s.postEvent(t, payload, billingtest.WebhookSecret)
		if r.Status != 200 || r.JSON(t)["outcome"] != "credited" {
			t.Fatalf("fresh event: %d %s", r.Status, r.Body)
		}
		if b := s.Balance(t, ws).Balance; b != billingtest.Amount("50") {
			t.Fatalf("balance %s, want 50", b)
		}
		s.Verify(t)
	})
}

// Ten concurrent replays of one old event, each with a fresh t= prepended, credit
// nothing; ten concurrent deliveries of the fresh event credit once.
func TestWebhookConcurrentReplaysWithPrependedTimestamps(t *testing.T) {
	each(t, billingtest.Options{}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		payload := event("checkout.session.completed", stripestub.CheckoutSession("cs_conc", ws, 2500, "usd", "paid"))
		replay := fmt.Sprintf("t=%d,", s.Clock.Now().Unix()) + stripestub.Sign(payload, billingtest.WebhookSecret, s.Clock.Now().Add(-24*time.Hour))
		valid := stripestub.Sign(payload, billingtest.WebhookSecret, s.Clock.Now())
		sigs := make([]string, 20)
		for i := range sigs {
			sigs[i] = replay
			if i%2 == 1 {
				sigs[i] = valid
			}
		}
		res := s.postAtOnce(t, payload, sigs)
		credited := 0
		for i, r := range res {
			if i%2 == 0 {
				if r.Status != 400 || r.Code() != "invalid_signature_timestamp" {
					t.Errorf("replay %d: %d %s", i, r.Status, r.Body)
				}
				continue
			}
			if r.Status != 200 {
				t.Fatalf("delivery %d: %d %s", i, r.Status, r.Body)
			}
			if r.JSON(t)["outcome"] == "credited" {
				credited++
			}
		}
		if credited != 1 {
			t.Fatalf("%d deliveries credited, want 1", credited)
		}
		if b := s.Balance(t, ws).Balance; b != billingtest.Amount("25") {
			t.Fatalf("balance %s, want 25", b)
		}
		s.Verify(t)
	})
}
