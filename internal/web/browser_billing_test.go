package web

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"spectra/internal/billing/stripestub"
	"spectra/internal/browsertest"
	"spectra/internal/money"
	"spectra/internal/store/storetest"
)

// stubCheckoutHost is where the Stripe stand-in's Checkout session URLs point.
const stubCheckoutHost = "https://checkout.stripe.test"

// checkoutRewriter serves the Stripe stand-in's API with its Checkout URLs pointed at
// page, a local stand-in for Stripe's hosted Checkout page, so a browser can land there.
func checkoutRewriter(t *testing.T, stub *stripestub.Server, page string) string {
	target, _ := url.Parse(stub.URL)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		ModifyResponse: func(resp *http.Response) error {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			b = bytes.ReplaceAll(b, []byte(stubCheckoutHost), []byte(page))
			resp.Body = io.NopCloser(bytes.NewReader(b))
			resp.ContentLength = int64(len(b))
			resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
			return nil
		},
	}
	ts := httptest.NewServer(proxy)
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestBrowserBilling drives the Billing and Invoices pages in Chromium: a recharge up to
// the Stripe Checkout redirect, a redemption that raises the top bar's balance, and an
// invoice download.
func TestBrowserBilling(t *testing.T) {
	screenshotsDir(t)
	checkoutPage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><title>Checkout (stand-in)</title><h1 id="stripe-checkout">Stripe Checkout stand-in</h1>`)
	}))
	t.Cleanup(checkoutPage.Close)
	e := newBillEnvAPI(t, storetest.SQLite, true, func(stub *stripestub.Server) string { return checkoutRewriter(t, stub, checkoutPage.URL) })
	e.srv.checkoutOrigin = checkoutPage.URL
	f := e.seedFixture()
	code := e.codes(t, 20*money.Scale, 1)[0]
	base := e.ts.URL

	ctx, ws := ownerSignedIn(t, base, f)

	// Recharge: pick a preset and land on Stripe's Checkout page.
	do(t, ctx, "open billing", chromedp.Navigate(base+ws+"billing"), chromedp.WaitVisible(chromedp.ID("rc-pay")))
	browsertest.Screenshot(ctx, t, "billing-live-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "billing-live-phone.png", browsertest.PhoneWidth)
	do(t, ctx, "recharge",
		chromedp.Click(chromedp.CSS(`input[name=amount][value="50.00"]`)),
		chromedp.Click(chromedp.ID("rc-pay")))
	waitFor(t, ctx, `location.origin === `+jsString(checkoutPage.URL)+` && document.getElementById("stripe-checkout")`)
	path := eval[string](t, ctx, `location.pathname`)
	id, ok := strings.CutPrefix(path, "/c/pay/")
	if !ok {
		t.Fatalf("landed on %s", path)
	}
	sess := e.stripe.Session(id)
	if sess == nil || sess["client_reference_id"] != f.ws || sess["amount_total"] != float64(5000) || sess["currency"] != "usd" {
		t.Errorf("session %s: %v", id, sess)
	}

	// Redeem a code: the top bar's balance goes up by its amount.
	do(t, ctx, "open billing again", chromedp.Navigate(base+ws+"billing"), chromedp.WaitVisible(chromedp.ID("rd-code")))
	before := e.available(t, f.ws)
	if got := eval[string](t, ctx, `document.querySelector(".balance .avail").innerText`); got != money.Format(before, "USD") {
		t.Fatalf("top bar shows %q, want %q", got, money.Format(before, "USD"))
	}
	do(t, ctx, "redeem",
		chromedp.SendKeys(chromedp.ID("rd-code"), code),
		chromedp.Click(chromedp.CSS(`form.redeem button[type=submit]`)))
	waitFor(t, ctx, `document.querySelector(".redeem .ok") && document.querySelector(".redeem .ok").innerText.includes("Code redeemed")`)
	want := money.Format(before+20*money.Scale, "USD")
	if got := eval[string](t, ctx, `document.querySelector(".balance .avail").innerText`); got != want {
		t.Errorf("after redeeming, the top bar shows %q, want %q", got, want)
	}

	// Invoices: the receipt is listed, and its PDF link downloads a PDF.
	do(t, ctx, "open invoices", chromedp.Navigate(base+ws+"invoices"), chromedp.WaitVisible(chromedp.CSS("table.invoices")))
	if got := eval[string](t, ctx, `document.querySelector("table.invoices tbody").innerText`); !strings.Contains(got, "Receipt") || !strings.Contains(got, "$20.00") {
		t.Errorf("invoices: %q", got)
	}
	browsertest.Screenshot(ctx, t, "invoices-live-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "invoices-live-phone.png", browsertest.PhoneWidth)
	href := eval[string](t, ctx, `document.querySelector("table.invoices a[download]").href`)
	got := eval[string](t, ctx, `fetch(`+jsString(href)+`).then(async r => r.status + " " + r.headers.get("content-type") + " " + (await r.text()).slice(0, 5))`)
	if got != "200 application/pdf %PDF-" {
		t.Errorf("PDF download: %q", got)
	}
}
