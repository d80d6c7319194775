package web

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/billing/stripestub"
	"spectra/internal/invoicepdf"
	"spectra/internal/money"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// billEnv is a dashboard with billing, over a Stripe stand-in.
type billEnv struct {
	*env
	bill   *billing.Service
	stripe *stripestub.Server
}

// redeemLimit is the failed redemptions allowed per window in these tests.
const redeemLimit = 4

func newBillEnv(t testing.TB, db func(testing.TB, storetest.Options) *store.DB, stripeOn bool) *billEnv {
	t.Helper()
	return newBillEnvAPI(t, db, stripeOn, nil)
}

// newBillEnvAPI is newBillEnv with Stripe's API at api(stand-in) (nil: the stand-in).
func newBillEnvAPI(t testing.TB, db func(testing.TB, storetest.Options) *store.DB, stripeOn bool, api func(*stripestub.Server) string) *billEnv {
	t.Helper()
	be := &billEnv{stripe: stripestub.New(t)}
	apiURL := be.stripe.URL
	if api != nil {
		apiURL = api(be.stripe)
	}
	be.env = newEnvWith(t, db, func(e *env, d *Deps) {
		cfg := billing.Config{RenderPDF: invoicepdf.Render, Currency: "USD", PublicURL: "https://spectra.example.com",
			Seller: billing.Party{Name: "Spectra Operator Ltd", Country: "GB"}, RedeemFailureLimit: redeemLimit,
			Now: e.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if stripeOn {
			cfg.StripeSecretKey, cfg.StripeWebhookSecret, cfg.StripeAPIURL = "sk_test_web", "whsec_test_web", apiURL
		}
		svc, err := billing.New(cfg, e.db, e.ledger, e.team, e.metering)
		if err != nil {
			t.Fatal(err)
		}
		be.bill, d.Billing = svc, svc
	})
	return be
}

// eachBill runs fn on SQLite and PostgreSQL with billing (Stripe on or off).
func eachBill(t *testing.T, stripeOn bool, fn func(t *testing.T, e *billEnv)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newBillEnv(t, storetest.SQLite, stripeOn)) })
	t.Run("postgres", func(t *testing.T) { fn(t, newBillEnv(t, storetest.Postgres, stripeOn)) })
}

func (e *billEnv) available(t *testing.T, ws string) money.Amount {
	t.Helper()
	b, err := e.ledger.Balance(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return b.Available
}

// codes makes n redemption codes worth amount, valid for a day.
func (e *billEnv) codes(t *testing.T, amount money.Amount, n int) []string {
	t.Helper()
	b, err := e.bill.CreateCodes(context.Background(), billing.CodeBatchRequest{Amount: amount, Count: n, ExpiresAt: testNow.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return b.Codes
}

// sessions returns the Checkout sessions the stand-in was asked to create.
func (e *billEnv) sessions() []stripestub.Request { return e.stripe.Requests("/v1/checkout/sessions") }

func wantPage(t *testing.T, what string, st int, body string, status int, text string) {
	t.Helper()
	if st != status || !strings.Contains(body, text) {
		t.Errorf("%s: %d, want %d with %q\n%.600s", what, st, status, text, body)
	}
}

func TestRechargeCheckout(t *testing.T) {
	eachBill(t, true, func(t *testing.T, e *billEnv) {
		f := e.seedFixture()
		owner := e.signedIn(f.users[team.RoleOwner].Email)
		_, page := owner.get("/w/" + f.ws + "/billing")
		for _, want := range []string{`id="rc-pay"`, `value="25.00"`, `min="5.00"`, `max="10000.00"`, `id="rd-code"`, `id="ar-threshold"`, `id="bd-name"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the owner's billing page lacks %s", want)
			}
		}
		path := "/w/" + f.ws + "/billing/checkout"

		// A preset and a custom amount each go to Stripe with the right session.
		for i, tc := range []struct {
			form  url.Values
			minor string
		}{{url.Values{"amount": {"25.00"}}, "2500"}, {url.Values{"amount": {"custom"}, "custom_amount": {"12.34"}}, "1234"}} {
			st, loc := owner.post(path, tc.form)
			if st != http.StatusSeeOther || !strings.HasPrefix(loc, "https://checkout.stripe.test/c/pay/cs_test_") {
				t.Fatalf("checkout %v: %d %s", tc.form, st, loc)
			}
			reqs := e.sessions()
			if len(reqs) != i+1 {
				t.Fatalf("%d sessions created, want %d", len(reqs), i+1)
			}
			form := reqs[i].Form
			if form.Get("client_reference_id") != f.ws || form.Get("line_items[0][price_data][unit_amount]") != tc.minor ||
				form.Get("line_items[0][price_data][currency]") != "usd" {
				t.Errorf("session form: %v", form)
			}
			if !strings.Contains(form.Get("success_url"), "/w/"+f.ws+"/billing?checkout=success&session_id=") {
				t.Errorf("success_url %q", form.Get("success_url"))
			}
		}

		// Rejections are shown on the page, and nothing goes to Stripe.
		for _, tc := range []struct {
			form url.Values
			text string
		}{
			{url.Values{"amount": {"custom"}, "custom_amount": {"1.00"}}, "The smallest recharge is USD 5.00"},
			{url.Values{"amount": {"custom"}, "custom_amount": {"20000"}}, "The largest recharge is USD 10,000.00"},
			{url.Values{"amount": {"custom"}, "custom_amount": {"ten"}}, "The amount must be an amount such as 50.00"},
			{url.Values{"amount": {"custom"}, "custom_amount": {""}}, "Pick an amount or enter one"},
			{url.Values{"amount": {"custom"}, "custom_amount": {"-5"}}, "Amount must be greater than zero"},
		} {
			st, body := owner.post(path, tc.form)
			wantPage(t, "checkout "+tc.form.Encode(), st, body, http.StatusBadRequest, tc.text)
			if !strings.Contains(body, `value="`+tc.form.Get("custom_amount")+`"`) {
				t.Errorf("the custom amount %q is not shown back", tc.form.Get("custom_amount"))
			}
		}
		if st, body := owner.post(path, url.Values{"amount": {"custom"}, "custom_amount": {"12.345"}}); st != http.StatusBadRequest {
			t.Errorf("a fraction of a cent: %d\n%.300s", st, body)
		}

		// Roles without manage_billing see no form and are refused.
		for _, role := range []team.Role{team.RoleViewer, team.RoleMember} {
			c := e.signedIn(f.users[role].Email)
			_, page := c.get("/w/" + f.ws + "/billing")
			if strings.Contains(page, `id="rc-pay"`) || strings.Contains(page, `id="rd-code"`) || strings.Contains(page, `id="ar-threshold"`) || strings.Contains(page, `id="bd-name"`) {
				t.Errorf("%s sees billing forms", role)
			}
			if st, _ := c.post(path, url.Values{"amount": {"25.00"}}); st != http.StatusForbidden {
				t.Errorf("%s starts a checkout: %d", role, st)
			}
		}
		billingRole := e.signedIn(f.users[team.RoleBilling].Email)
		if st, _ := billingRole.post(path, url.Values{"amount": {"50.00"}}); st != http.StatusSeeOther {
			t.Errorf("the billing role starts a checkout: %d", st)
		}
		// Another workspace's form, and a forged form, are refused.
		if st, _ := owner.post("/w/"+f.other+"/billing/checkout", url.Values{"amount": {"25.00"}}); st != http.StatusNotFound {
			t.Errorf("checkout for another workspace: %d", st)
		}
		if st, _ := owner.post(path, url.Values{"amount": {"25.00"}, "csrf": {"forged"}}); st != http.StatusForbidden {
			t.Errorf("checkout without the CSRF token: %d", st)
		}
		if n := len(e.sessions()); n != 3 {
			t.Errorf("%d sessions created, want 3", n)
		}
	})
}

func TestCheckoutReturn(t *testing.T) {
	eachBill(t, true, func(t *testing.T, e *billEnv) {
		ctx := context.Background()
		f := e.seedFixture()
		owner := e.signedIn(f.users[team.RoleOwner].Email)
		before := e.available(t, f.ws)
		sess, err := e.bill.Checkout(ctx, f.ws, 25*money.Scale)
		if err != nil {
			t.Fatal(err)
		}
		ret := "/w/" + f.ws + "/billing?checkout=success&session_id=" + sess.ID
		// Not paid yet: nothing credited, and the page says so.
		st, body := owner.get(ret)
		wantPage(t, "unpaid return", st, body, http.StatusOK, "still being processed")
		if got := e.available(t, f.ws); got != before {
			t.Errorf("an unpaid session credited %s", got-before)
		}
		e.stripe.CompleteSession(sess.ID, "cus_acme")
		for range 2 { // a reload credits nothing more
			st, body = owner.get(ret)
			wantPage(t, "paid return", st, body, http.StatusOK, "Payment received: $25.00 added")
			after := e.available(t, f.ws)
			if after != before+25*money.Scale {
				t.Fatalf("balance %s, want %s", after, before+25*money.Scale)
			}
			// The top bar shows the new balance.
			if !strings.Contains(body, `<strong class="avail`) || !strings.Contains(body, money.Format(after, "USD")+"</span></strong>") {
				t.Errorf("the top bar does not show %s", money.Format(after, "USD"))
			}
		}
		// Another workspace's session is not found here, and credits nothing.
		other, err := e.bill.Checkout(ctx, f.other, 10*money.Scale)
		if err != nil {
			t.Fatal(err)
		}
		e.stripe.CompleteSession(other.ID, "cus_globex")
		st, body = owner.get("/w/" + f.ws + "/billing?checkout=success&session_id=" + other.ID)
		wantPage(t, "another workspace's session", st, body, http.StatusNotFound, "No such Checkout session for this workspace")
		st, body = owner.get("/w/" + f.ws + "/billing?checkout=success&session_id=bogus")
		wantPage(t, "a bogus session", st, body, http.StatusNotFound, "No such Checkout session")
		if got := e.available(t, f.ws); got != before+25*money.Scale {
			t.Errorf("balance %s after foreign sessions", got)
		}
		st, body = owner.get("/w/" + f.ws + "/billing?checkout=cancelled")
		wantPage(t, "cancelled", st, body, http.StatusOK, "Checkout was cancelled: nothing was charged")
	})
}

func TestStripeOff(t *testing.T) {
	e := newBillEnv(t, storetest.SQLite, false)
	f := e.seedFixture()
	owner := e.signedIn(f.users[team.RoleOwner].Email)
	st, page := owner.get("/w/" + f.ws + "/billing")
	wantPage(t, "billing without Stripe", st, page, http.StatusOK, "Card payments are not available: card payments are not set up on this deployment")
	if strings.Contains(page, `id="rc-pay"`) {
		t.Error("the Pay button is shown without Stripe")
	}
	if !strings.Contains(page, `id="rd-code"`) {
		t.Error("redemption needs no Stripe, yet its form is absent")
	}
	st, body := owner.post("/w/"+f.ws+"/billing/checkout", url.Values{"amount": {"25.00"}})
	wantPage(t, "checkout without Stripe", st, body, http.StatusServiceUnavailable, "Card payments are not set up")
	st, body = owner.post("/w/"+f.ws+"/billing/auto-recharge", url.Values{"enabled": {"on"}, "threshold": {"10"}, "amount": {"50"}, "monthly_cap": {"500"}})
	wantPage(t, "auto-recharge without Stripe", st, body, http.StatusServiceUnavailable, "Card payments are not set up")
}

func TestRedeemForm(t *testing.T) {
	eachBill(t, true, func(t *testing.T, e *billEnv) {
		f := e.seedFixture()
		codes := e.codes(t, 20*money.Scale, 3)
		path := "/w/" + f.ws + "/billing/redeem"
		member := e.signedIn(f.users[team.RoleMember].Email)
		if st, _ := member.post(path, url.Values{"code": {codes[0]}}); st != http.StatusForbidden {
			t.Errorf("a member redeems: %d", st)
		}
		owner := e.signedIn(f.users[team.RoleOwner].Email)
		if st, _ := owner.post(path, url.Values{"code": {codes[0]}, "csrf": {"forged"}}); st != http.StatusForbidden {
			t.Errorf("redeem without the CSRF token: %d", st)
		}
		if st, _ := owner.post("/w/"+f.other+"/billing/redeem", url.Values{"code": {codes[0]}}); st != http.StatusNotFound {
			t.Errorf("redeem into another workspace: %d", st)
		}
		before := e.available(t, f.ws)
		st, body := owner.post(path, url.Values{"code": {codes[0]}})
		wantPage(t, "redeem", st, body, http.StatusOK, "Code redeemed: $20.00 added (receipt SPEC-")
		if got := e.available(t, f.ws); got != before+20*money.Scale {
			t.Fatalf("balance %s, want %s", got, before+20*money.Scale)
		}
		if !strings.Contains(body, money.Format(before+20*money.Scale, "USD")+"</span></strong>") {
			t.Error("the top bar does not show the new balance")
		}
		st, body = owner.post(path, url.Values{"code": {codes[0]}})
		wantPage(t, "redeem twice", st, body, http.StatusConflict, "This redemption code has already been redeemed")
		st, body = owner.post(path, url.Values{"code": {"NOT-A-REAL-CODE-0000"}})
		wantPage(t, "a wrong code", st, body, http.StatusNotFound, "No redemption code matches")
		e.clock.Set(testNow.Add(25 * time.Hour))
		st, body = owner.post(path, url.Values{"code": {codes[1]}})
		wantPage(t, "an expired code", st, body, http.StatusBadRequest, "This redemption code has expired")
		e.clock.Set(testNow)
		// Guessing is rate-limited: past the limit even a good code is refused.
		for range redeemLimit {
			owner.post(path, url.Values{"code": {"GUESS-GUESS-GUESS-GUES"}})
		}
		st, body = owner.post(path, url.Values{"code": {codes[2]}})
		wantPage(t, "rate-limited", st, body, http.StatusTooManyRequests, "Too many failed redemption attempts")
		if got := e.available(t, f.ws); got != before+20*money.Scale {
			t.Errorf("balance %s after refused codes", got)
		}
	})
}

func TestAutoRechargeForm(t *testing.T) {
	eachBill(t, true, func(t *testing.T, e *billEnv) {
		f := e.seedFixture()
		path := "/w/" + f.ws + "/billing/auto-recharge"
		owner := e.signedIn(f.users[team.RoleOwner].Email)
		full := url.Values{"enabled": {"on"}, "threshold": {"10.00"}, "amount": {"50.00"}, "monthly_cap": {"500.00"}}
		st, body := owner.post(path, full)
		wantPage(t, "enable without a card", st, body, http.StatusBadRequest, "Auto-recharge needs a saved card")
		if !strings.Contains(body, `value="500.00"`) {
			t.Error("the submitted cap is not shown back")
		}
		st, body = owner.post(path, url.Values{"threshold": {"ten"}})
		wantPage(t, "a bad threshold", st, body, http.StatusBadRequest, "The threshold must be an amount")
		st, body = owner.post(path, url.Values{"threshold": {"-1"}})
		wantPage(t, "a negative threshold", st, body, http.StatusBadRequest, "Threshold must not be negative")
		// Saved switched off, with its values kept.
		off := url.Values{"threshold": {"10.00"}, "amount": {"50.00"}, "monthly_cap": {"500.00"}}
		st, body = owner.post(path, maps.Clone(off))
		wantPage(t, "save off", st, body, http.StatusOK, "Saved. Auto-recharge is off.")
		ar, err := e.bill.AutoRecharge(context.Background(), f.ws)
		if err != nil || ar.Enabled || ar.Threshold != 10*money.Scale || ar.MonthlyCap != 500*money.Scale {
			t.Errorf("stored %+v %v", ar, err)
		}
		for _, tc := range []struct {
			role team.Role
			want int
		}{{team.RoleBilling, http.StatusOK}, {team.RoleAdmin, http.StatusOK}, {team.RoleMember, http.StatusForbidden}, {team.RoleViewer, http.StatusForbidden}} {
			c := e.signedIn(f.users[tc.role].Email)
			if st, _ := c.post(path, maps.Clone(off)); st != tc.want {
				t.Errorf("%s saves auto-recharge: %d, want %d", tc.role, st, tc.want)
			}
		}
		if st, _ := owner.post("/w/"+f.other+"/billing/auto-recharge", maps.Clone(off)); st != http.StatusNotFound {
			t.Errorf("another workspace's auto-recharge: %d", st)
		}
		if st, _ := owner.post(path, url.Values{"threshold": {"1"}, "csrf": {"forged"}}); st != http.StatusForbidden {
			t.Errorf("without the CSRF token: %d", st)
		}
	})
}

func TestBillingDetailsForm(t *testing.T) {
	eachBill(t, false, func(t *testing.T, e *billEnv) {
		ctx := context.Background()
		f := e.seedFixture()
		path := "/w/" + f.ws + "/billing/details"
		details := url.Values{"name": {"Acme Corp"}, "line1": {"5 Main St"}, "city": {"Springfield"}, "postal_code": {"12345"},
			"country": {"us"}, "tax_id": {"US-99-1234567"}}
		billingRole := e.signedIn(f.users[team.RoleBilling].Email)
		st, body := billingRole.post(path, maps.Clone(details))
		wantPage(t, "save details", st, body, http.StatusOK, "Saved. Documents issued from now on carry these details.")
		p, err := e.bill.BillingDetails(ctx, f.ws)
		if err != nil || p.Name != "Acme Corp" || p.TaxID != "US-99-1234567" || p.Country != "US" {
			t.Errorf("stored %+v %v", p, err)
		}
		bad := url.Values{"name": {"Acme"}, "country": {"USA"}}
		st, body = billingRole.post(path, bad)
		wantPage(t, "a bad country", st, body, http.StatusBadRequest, "Country must be one line of at most 2 characters")
		if !strings.Contains(body, `value="USA"`) {
			t.Error("the rejected country is not shown back")
		}
		// Read-only for roles without manage_billing.
		viewer := e.signedIn(f.users[team.RoleViewer].Email)
		_, page := viewer.get("/w/" + f.ws + "/billing")
		if strings.Contains(page, `id="bd-name"`) || !strings.Contains(page, "Tax ID: US-99-1234567") {
			t.Error("the viewer does not see the details read-only")
		}
		if st, _ := viewer.post(path, maps.Clone(details)); st != http.StatusForbidden {
			t.Errorf("the viewer saves details: %d", st)
		}
		if st, _ := billingRole.post("/w/"+f.other+"/billing/details", maps.Clone(details)); st != http.StatusNotFound {
			t.Errorf("details of another workspace: %d", st)
		}
		if st, _ := billingRole.post(path, url.Values{"name": {"Evil"}, "csrf": {"forged"}}); st != http.StatusForbidden {
			t.Errorf("without the CSRF token: %d", st)
		}
		if p, _ := e.bill.BillingDetails(ctx, f.other); p.Name != "" {
			t.Errorf("the other workspace's details changed: %+v", p)
		}
	})
}

func TestNotices(t *testing.T) {
	eachBill(t, true, func(t *testing.T, e *billEnv) {
		ctx := context.Background()
		f := e.seedFixture()
		for _, n := range []billing.Notice{
			{ID: "ntc_acme", WorkspaceID: f.ws, Kind: billing.NoticeAutoRechargeFailed, Message: "Auto-recharge failed: the card was declined.", CreatedAt: testNow},
			{ID: "ntc_globex", WorkspaceID: f.other, Kind: billing.NoticeAutoRechargeFailed, Message: "Globex card declined.", CreatedAt: testNow},
		} {
			if err := e.db.AddNotice(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		member := e.signedIn(f.users[team.RoleMember].Email)
		_, page := member.get("/w/" + f.ws + "/billing")
		if !strings.Contains(page, "Auto-recharge failed: the card was declined.") || strings.Contains(page, "Dismiss this notice") ||
			strings.Contains(page, "Globex card declined") {
			t.Error("the member does not see exactly this workspace's notice, read-only")
		}
		if st, _ := member.post("/w/"+f.ws+"/billing/notices/ntc_acme/dismiss", url.Values{}); st != http.StatusForbidden {
			t.Errorf("the member dismisses: %d", st)
		}
		owner := e.signedIn(f.users[team.RoleOwner].Email)
		if st, _ := owner.post("/w/"+f.ws+"/billing/notices/ntc_globex/dismiss", url.Values{}); st != http.StatusNotFound {
			t.Errorf("dismiss another workspace's notice: %d", st)
		}
		if st, _ := owner.post("/w/"+f.ws+"/billing/notices/ntc_acme/dismiss", url.Values{"csrf": {"forged"}}); st != http.StatusForbidden {
			t.Errorf("dismiss without the CSRF token: %d", st)
		}
		if st, loc := owner.post("/w/"+f.ws+"/billing/notices/ntc_acme/dismiss", url.Values{}); st != http.StatusSeeOther || loc != "/w/"+f.ws+"/billing" {
			t.Errorf("dismiss: %d %s", st, loc)
		}
		if _, page := owner.get("/w/" + f.ws + "/billing"); strings.Contains(page, "the card was declined") {
			t.Error("the dismissed notice is still shown")
		}
		if ns, _ := e.bill.Notices(ctx, f.other); len(ns) != 1 {
			t.Errorf("the other workspace has %d notices", len(ns))
		}
	})
}

func TestInvoicesPage(t *testing.T) {
	eachBill(t, true, func(t *testing.T, e *billEnv) {
		ctx := context.Background()
		f := e.seedFixture()
		if _, err := e.bill.Redeem(ctx, f.ws, e.codes(t, 20*money.Scale, 1)[0], "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.bill.Redeem(ctx, f.other, e.codes(t, 7*money.Scale, 1)[0], "192.0.2.2"); err != nil {
			t.Fatal(err)
		}
		mine, err := e.bill.Invoices(ctx, billing.InvoiceFilter{WorkspaceID: f.ws})
		if err != nil || len(mine) != 1 {
			t.Fatalf("invoices %v %v", mine, err)
		}
		theirs, err := e.bill.Invoices(ctx, billing.InvoiceFilter{WorkspaceID: f.other})
		if err != nil || len(theirs) != 1 {
			t.Fatalf("invoices %v %v", theirs, err)
		}
		viewer := e.signedIn(f.users[team.RoleViewer].Email)
		st, page := viewer.get("/w/" + f.ws + "/invoices")
		wantPage(t, "invoices", st, page, http.StatusOK, mine[0].Number)
		for _, want := range []string{"Receipt", "$20.00", "/w/" + f.ws + "/invoices/" + mine[0].ID + ".pdf"} {
			if !strings.Contains(page, want) {
				t.Errorf("the invoices page lacks %q", want)
			}
		}
		if strings.Contains(page, theirs[0].Number) {
			t.Error("the invoices page lists another workspace's document")
		}
		resp, err := viewer.http.Get(e.ts.URL + "/w/" + f.ws + "/invoices/" + mine[0].ID + ".pdf")
		if err != nil {
			t.Fatal(err)
		}
		pdf, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(pdf), "%PDF") ||
			!strings.Contains(resp.Header.Get("Content-Disposition"), mine[0].Number+".pdf") {
			t.Errorf("PDF: %d %v %.10q", resp.StatusCode, resp.Header, pdf)
		}
		// Another workspace's document is a 404 by any URL; so is a missing one.
		for _, p := range []string{"/w/" + f.ws + "/invoices/" + theirs[0].ID + ".pdf", "/w/" + f.other + "/invoices/" + theirs[0].ID + ".pdf",
			"/w/" + f.ws + "/invoices/inv_missing.pdf", "/w/" + f.ws + "/invoices/" + mine[0].ID} {
			if st, body := viewer.get(p); st != http.StatusNotFound || strings.Contains(body, "%PDF") {
				t.Errorf("GET %s: %d", p, st)
			}
		}
		// Signed out: to the login page.
		if st, loc := e.client().get("/w/" + f.ws + "/invoices/" + mine[0].ID + ".pdf"); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
			t.Errorf("signed out: %d %s", st, loc)
		}
	})
}
