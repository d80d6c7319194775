package billinghttp_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/billing/billingtest"
	"spectra/internal/billing/stripestub"
)

// Every route refuses callers without the right: no credentials, a reader on a billing
// action, another workspace's caller, and a workspace caller on an operator route.
func TestAccess(t *testing.T) {
	each(t, billingtest.Options{}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		other := s.Workspace(t, "Other", "").ID
		type route struct{ method, path, body string }
		reader := []route{
			{"GET", "/api/v1/workspaces/%s/billing", ""},
			{"GET", "/api/v1/workspaces/%s/invoices", ""},
			{"GET", "/api/v1/workspaces/%s/invoices/inv_x.pdf", ""},
			{"GET", "/api/v1/workspaces/%s/auto-recharge", ""},
			{"GET", "/api/v1/workspaces/%s/billing-details", ""},
		}
		payer := []route{
			{"POST", "/api/v1/workspaces/%s/checkout", `{"amount":"50.00"}`},
			{"POST", "/api/v1/workspaces/%s/checkout/cs_x/confirm", ""},
			{"POST", "/api/v1/workspaces/%s/redeem", `{"code":"AAAA-AAAA-AAAA-AAAA"}`},
			{"PUT", "/api/v1/workspaces/%s/auto-recharge", `{"enabled":false}`},
			{"PUT", "/api/v1/workspaces/%s/billing-details", `{"name":"X"}`},
			{"POST", "/api/v1/workspaces/%s/notices/ntc_x/dismiss", ""},
		}
		operator := []route{
			{"POST", "/api/v1/workspaces/%s/payments", `{"amount":"1","reference":"r"}`},
			{"POST", "/api/v1/redemption-codes", `{"amount":"1","count":1,"expires_at":"2030-01-01T00:00:00Z"}`},
			{"POST", "/api/v1/workspaces/%s/statements", `{"month":"2026-02"}`},
			{"POST", "/api/v1/statements", `{"month":"2026-02"}`},
			{"POST", "/api/v1/workspaces/%s/invoices/inv_x/credit-note", `{"reason":"x"}`},
		}
		path := func(r route) string {
			if strings.Contains(r.path, "%s") {
				return fmt.Sprintf(r.path, ws)
			}
			return r.path
		}
		for _, r := range append(append(reader, payer...), operator...) {
			want(t, s.do(t, r.method, path(r), "", r.body), http.StatusUnauthorized, "unauthorized")
		}
		for _, r := range append(reader, payer...) {
			want(t, s.do(t, r.method, path(r), "billing:"+other, r.body), http.StatusNotFound, "workspace_not_found")
		}
		for _, r := range payer {
			want(t, s.do(t, r.method, path(r), "read:"+ws, r.body), http.StatusForbidden, "billing_role_required")
		}
		for _, r := range operator {
			want(t, s.do(t, r.method, path(r), "billing:"+ws, r.body), http.StatusForbidden, "operator_required")
		}
		// Nothing above reached Stripe or moved money.
		if n := len(s.Stripe.Requests("/")); n != 0 || s.Balance(t, ws).Balance != 0 {
			t.Fatalf("refused requests had effects: %d Stripe calls, balance %s", n, s.Balance(t, ws).Balance)
		}
	})
}

func TestCheckoutRoute(t *testing.T) {
	each(t, billingtest.Options{}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		tok := "billing:" + ws
		r := s.do(t, "POST", "/api/v1/workspaces/"+ws+"/checkout", tok, `{"amount":"50.00"}`)
		want(t, r, 200, "")
		url, _ := r.JSON(t)["url"].(string)
		if !strings.HasPrefix(url, "https://checkout.stripe.test/") {
			t.Fatalf("url %q", url)
		}
		for body, code := range map[string]string{
			`{"amount":"1.00"}`:     "amount_below_minimum",
			`{"amount":50}`:         "invalid_field_type",
			`{"amount":"abc"}`:      "invalid_amount",
			`{}`:                    "invalid_amount",
			`{"amount":"50","x":1}`: "unknown_field",
			``:                      "invalid_json",
		} {
			want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/checkout", tok, body), 400, code)
		}
		// The return page confirms the session: unpaid, then paid and credited (once).
		id := strings.TrimPrefix(url, "https://checkout.stripe.test/c/pay/")
		r = s.do(t, "POST", "/api/v1/workspaces/"+ws+"/checkout/"+id+"/confirm", tok, "")
		if m := r.JSON(t); r.Status != 200 || m["paid"] != false || m["credited"] != false {
			t.Fatalf("confirm unpaid: %d %s", r.Status, r.Body)
		}
		sess := s.Stripe.CompleteSession(id, "cus_acme")
		r = s.do(t, "POST", "/api/v1/workspaces/"+ws+"/checkout/"+id+"/confirm", tok, "")
		if m := r.JSON(t); r.Status != 200 || m["paid"] != true || m["credited"] != true {
			t.Fatalf("confirm paid: %d %s", r.Status, r.Body)
		}
		// The webhook for the same session afterwards credits nothing more.
		r = s.postEvent(t, stripestub.Event("evt_1", "checkout.session.completed", sess), billingtest.WebhookSecret)
		if r.JSON(t)["outcome"] != "duplicate" {
			t.Fatalf("webhook after confirm: %s", r.Body)
		}
		if b := s.Balance(t, ws).Balance; b != billingtest.Amount("50") {
			t.Fatalf("balance %s, want 50", b)
		}
		if ar, _ := s.Service.AutoRecharge(context.Background(), ws); ar.StripeCustomer != "cus_acme" {
			t.Fatalf("customer not saved: %+v", ar)
		}
		// Another workspace cannot confirm this session.
		other := s.Workspace(t, "Other", "").ID
		want(t, s.do(t, "POST", "/api/v1/workspaces/"+other+"/checkout/"+id+"/confirm", "billing:"+other, ""), 404, "checkout_not_found")
		want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/checkout/cs_missing/confirm", tok, ""), 404, "checkout_not_found")
	})
	each(t, billingtest.Options{NoStripe: true}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		r := s.do(t, "POST", "/api/v1/workspaces/"+ws+"/checkout", "billing:"+ws, `{"amount":"50.00"}`)
		want(t, r, 503, "stripe_not_configured")
		r = s.do(t, "GET", "/api/v1/workspaces/"+ws+"/billing", "read:"+ws, "")
		rech, _ := r.JSON(t)["recharge"].(map[string]any)
		if rech["stripe_enabled"] != false || !strings.Contains(fmt.Sprint(rech["stripe_disabled_reason"]), "SPECTRA_STRIPE_SECRET_KEY") {
			t.Fatalf("overview: %s", r.Body)
		}
	})
}

func TestRedeemRoute(t *testing.T) {
	each(t, billingtest.Options{Configure: func(c *billing.Config) { c.RedeemWindow = 5 * time.Minute }}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		r := s.do(t, "POST", "/api/v1/redemption-codes", "operator", `{"amount":"20.00","count":3,"expires_at":"2026-12-31T00:00:00Z","note":"promo"}`)
		want(t, r, 201, "")
		m := r.JSON(t)
		codes, _ := m["codes"].([]any)
		if len(codes) != 3 || m["amount"] != "20.000000" || m["currency"] != "USD" {
			t.Fatalf("batch %s", r.Body)
		}
		tok := "billing:" + ws
		r = s.do(t, "POST", "/api/v1/workspaces/"+ws+"/redeem", tok, fmt.Sprintf(`{"code":%q}`, codes[0]))
		want(t, r, 201, "")
		if m := r.JSON(t); m["amount"] != "20.000000" || !strings.HasPrefix(fmt.Sprint(m["receipt_number"]), "SPEC-2026-") {
			t.Fatalf("redeem: %s", r.Body)
		}
		want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/redeem", tok, fmt.Sprintf(`{"code":%q}`, codes[0])), 409, "code_already_redeemed")
		want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/redeem", tok, `{"code":""}`), 400, "invalid_code")
		for range 9 { // with the already-redeemed attempt: ten failures
			want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/redeem", tok, `{"code":"0000-0000-0000-0000"}`), 404, "code_not_found")
		}
		r = s.do(t, "POST", "/api/v1/workspaces/"+ws+"/redeem", tok, fmt.Sprintf(`{"code":%q}`, codes[1]))
		want(t, r, 429, "too_many_attempts")
		if got := r.Header.Get("Retry-After"); got != "300" { // the 5-minute window; was always 900
			t.Errorf("429 with Retry-After %q, want 300", got)
		}
		for body, code := range map[string]string{
			`{"amount":"0","count":1,"expires_at":"2030-01-01T00:00:00Z"}`: "invalid_amount",
			`{"amount":"1","count":0,"expires_at":"2030-01-01T00:00:00Z"}`: "invalid_count",
			`{"amount":"1","count":1,"expires_at":"tomorrow"}`:             "invalid_expiry",
			`{"amount":"1","count":1,"expires_at":"2020-01-01T00:00:00Z"}`: "invalid_expiry",
		} {
			want(t, s.do(t, "POST", "/api/v1/redemption-codes", "operator", body), 400, code)
		}
	})
}

func TestPaymentsAndInvoicesRoutes(t *testing.T) {
	each(t, billingtest.Options{Configure: func(c *billing.Config) { c.TaxRateBasisPoints, c.TaxName = 2000, "VAT" }}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		body := `{"amount":"1234.567891","reference":"WIRE-77","note":"invoice 12"}`
		r := s.do(t, "POST", "/api/v1/workspaces/"+ws+"/payments", "operator", body)
		want(t, r, 201, "")
		first := r.JSON(t)
		r = s.do(t, "POST", "/api/v1/workspaces/"+ws+"/payments", "operator", body)
		want(t, r, 200, "")
		if r.JSON(t)["receipt_id"] != first["receipt_id"] {
			t.Fatalf("replay returned another receipt: %s", r.Body)
		}
		want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/payments", "operator", `{"amount":"1","reference":"WIRE-77","note":"invoice 12"}`), 409, "idempotency_conflict")
		want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/payments", "operator", `{"amount":"1","reference":""}`), 400, "invalid_reference")
		want(t, s.do(t, "POST", "/api/v1/workspaces/ws_missing/payments", "operator", `{"amount":"1","reference":"x"}`), 404, "workspace_not_found")
		if b := s.Balance(t, ws).Balance; b != billingtest.Amount("1234.567891") {
			t.Fatalf("balance %s", b)
		}

		// More documents, then page through them newest first.
		for i := range 3 {
			s.Clock.Set(s.Clock.Now().Add(time.Minute))
			want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/payments", "operator", fmt.Sprintf(`{"amount":"1","reference":"R%d"}`, i)), 201, "")
		}
		var numbers []string
		cursor := ""
		for {
			r := s.do(t, "GET", "/api/v1/workspaces/"+ws+"/invoices?limit=3&cursor="+cursor, "read:"+ws, "")
			want(t, r, 200, "")
			m := r.JSON(t)
			for _, inv := range m["invoices"].([]any) {
				numbers = append(numbers, inv.(map[string]any)["number"].(string))
			}
			c, _ := m["next_cursor"].(string)
			if c == "" {
				break
			}
			cursor = c
		}
		if strings.Join(numbers, ",") != "SPEC-2026-000004,SPEC-2026-000003,SPEC-2026-000002,SPEC-2026-000001" {
			t.Fatalf("pages: %v", numbers)
		}
		want(t, s.do(t, "GET", "/api/v1/workspaces/"+ws+"/invoices?cursor=zzz", "read:"+ws, ""), 400, "invalid_cursor")
		want(t, s.do(t, "GET", "/api/v1/workspaces/"+ws+"/invoices?kind=bill", "read:"+ws, ""), 400, "invalid_kind")

		// The receipt as JSON and as a PDF whose total reads back exactly.
		id := first["receipt_id"].(string)
		r = s.do(t, "GET", "/api/v1/workspaces/"+ws+"/invoices/"+id, "read:"+ws, "")
		want(t, r, 200, "")
		inv := r.JSON(t)
		if inv["total"] != "1234.567891" || inv["tax"] != "205.761315" || inv["subtotal"] != "1028.806576" || inv["pdf_url"] != "/api/v1/workspaces/"+ws+"/invoices/"+id+".pdf" {
			t.Fatalf("invoice %s", r.Body)
		}
		r = s.do(t, "GET", "/api/v1/workspaces/"+ws+"/invoices/"+id+".pdf", "read:"+ws, "")
		want(t, r, 200, "")
		if r.Header.Get("Content-Type") != "application/pdf" || !strings.Contains(r.Header.Get("Content-Disposition"), "SPEC-2026-000001.pdf") {
			t.Fatalf("headers %v", r.Header)
		}
		path := filepath.Join(t.TempDir(), "r.pdf")
		os.WriteFile(path, r.Body, 0o600)
		out, err := exec.Command("pdftotext", "-layout", path, "-").CombinedOutput()
		if err != nil {
			t.Fatalf("pdftotext: %v %s", err, out)
		}
		if !regexp.MustCompile(`(?m)Total paid\s+USD 1,234\.567891\s*$`).Match(out) {
			t.Fatalf("PDF text:\n%s", out)
		}
		want(t, s.do(t, "GET", "/api/v1/workspaces/"+ws+"/invoices/inv_missing.pdf", "read:"+ws, ""), 404, "invoice_not_found")
		other := s.Workspace(t, "Other", "").ID
		want(t, s.do(t, "GET", "/api/v1/workspaces/"+other+"/invoices/"+id+".pdf", "read:"+other, ""), 404, "invoice_not_found")

		// A credit note, by the operator.
		r = s.do(t, "POST", "/api/v1/workspaces/"+ws+"/invoices/"+id+"/credit-note", "operator", `{"amount":"34.567891","reason":"overpaid","idempotency_key":"c1"}`)
		want(t, r, 201, "")
		if m := r.JSON(t); m["kind"] != "credit_note" || m["original_number"] != "SPEC-2026-000001" || m["total"] != "34.567891" {
			t.Fatalf("credit note %s", r.Body)
		}
		want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/invoices/"+id+"/credit-note", "operator", `{"amount":"34.567891","reason":"overpaid","idempotency_key":"c1"}`), 200, "")
		want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/invoices/"+id+"/credit-note", "operator", `{"amount":"1200.000001","reason":"too much"}`), 409, "credit_exceeds_invoice")
	})
}

func TestStatementRoutes(t *testing.T) {
	each(t, billingtest.Options{}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/statements", "operator", `{"month":"2026-03"}`), 400, "month_not_ended")
		want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/statements", "operator", `{"month":"March"}`), 400, "invalid_month")
		s.Clock.Set(time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC))
		r := s.do(t, "POST", "/api/v1/workspaces/"+ws+"/statements", "operator", `{"month":"2026-03"}`)
		want(t, r, 201, "")
		if m := r.JSON(t); m["kind"] != "statement" || m["period"] != "2026-03" || m["total"] != "0.000000" {
			t.Fatalf("statement %s", r.Body)
		}
		want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/statements", "operator", `{"month":"2026-03"}`), 200, "")
		r = s.do(t, "POST", "/api/v1/statements", "operator", `{"month":"2026-03"}`)
		want(t, r, 200, "")
		if m := r.JSON(t); m["month"] != "2026-03" || m["already_issued"] != float64(1) {
			t.Fatalf("run %s", r.Body)
		}
	})
}

func TestSettingsRoutes(t *testing.T) {
	each(t, billingtest.Options{}, func(t *testing.T, s *server) {
		ws := s.Workspace(t, "Acme", "").ID
		tok := "billing:" + ws
		r := s.do(t, "GET", "/api/v1/workspaces/"+ws+"/billing-details", "read:"+ws, "")
		want(t, r, 200, "")
		r = s.do(t, "PUT", "/api/v1/workspaces/"+ws+"/billing-details", tok,
			`{"name":"Acme GmbH","email":"ap@acme.example","line1":"Hauptstr. 1","city":"Berlin","postal_code":"10115","country":"de","tax_id":"DE123"}`)
		want(t, r, 200, "")
		if m := r.JSON(t); m["country"] != "DE" || m["name"] != "Acme GmbH" {
			t.Fatalf("details %s", r.Body)
		}
		want(t, s.do(t, "PUT", "/api/v1/workspaces/"+ws+"/billing-details", tok, `{"country":"Germany"}`), 400, "invalid_billing_details")
		want(t, s.do(t, "PUT", "/api/v1/workspaces/"+ws+"/billing-details", tok, `{"email":"not an email"}`), 400, "invalid_billing_details")

		// Auto-recharge: refused without a saved card; accepted once the checkout saved one.
		want(t, s.do(t, "PUT", "/api/v1/workspaces/"+ws+"/auto-recharge", tok, `{"enabled":true,"threshold":"10.00","amount":"50.00","monthly_cap":"500.00"}`), 400, "no_saved_payment_method")
		r = s.postEvent(t, stripestub.Event("evt_pi", "payment_intent.succeeded", stripestub.PaymentIntent("pi_co", 5000, "usd", "succeeded",
			map[string]string{"workspace_id": ws, "spectra_purpose": "checkout"})), billingtest.WebhookSecret)
		if r.JSON(t)["outcome"] != "recorded" {
			t.Fatalf("card: %s", r.Body)
		}
		want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/payments", "operator", `{"amount":"100","reference":"seed"}`), 201, "")
		r = s.do(t, "PUT", "/api/v1/workspaces/"+ws+"/auto-recharge", tok, `{"enabled":true,"threshold":"10.00","amount":"50.00","monthly_cap":"500.00"}`)
		want(t, r, 200, "")
		if m := r.JSON(t); m["enabled"] != true || m["threshold"] != "10.000000" || m["payment_method_saved"] != true || m["currency"] != "USD" {
			t.Fatalf("auto-recharge %s", r.Body)
		}
		// A partial update keeps the other fields.
		r = s.do(t, "PUT", "/api/v1/workspaces/"+ws+"/auto-recharge", tok, `{"threshold":"20"}`)
		want(t, r, 200, "")
		if m := r.JSON(t); m["enabled"] != true || m["threshold"] != "20.000000" || m["amount"] != "50.000000" {
			t.Fatalf("partial update %s", r.Body)
		}
		want(t, s.do(t, "PUT", "/api/v1/workspaces/"+ws+"/auto-recharge", tok, `{"threshold":"-1"}`), 400, "invalid_amount")
		want(t, s.do(t, "PUT", "/api/v1/workspaces/"+ws+"/auto-recharge", tok, `{"monthly_cap":"10"}`), 400, "invalid_monthly_cap")
		r = s.do(t, "GET", "/api/v1/workspaces/"+ws+"/auto-recharge", "read:"+ws, "")
		if m := r.JSON(t); r.Status != 200 || m["monthly_cap"] != "500.000000" {
			t.Fatalf("get %s", r.Body)
		}
		want(t, s.do(t, "POST", "/api/v1/workspaces/"+ws+"/notices/ntc_missing/dismiss", tok, ""), 404, "notice_not_found")
	})
}
