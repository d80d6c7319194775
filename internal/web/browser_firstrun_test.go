package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"spectra/internal/browsertest"
	"spectra/internal/gateway/fakeupstream"
	"spectra/internal/store/storetest"
)

// TestBrowserFirstRun does a whole first run in Chromium from an empty database, with
// no API call and no curl: the setup link's account form, then an upstream (a stand-in
// whose models come from its own listing, tested), the bundled list prices of its
// models, starting credit and a key, ending on the snippets page. Then a client (this
// test, over HTTP) sends the snippet's request through the gateway with that key and
// base URL: it is answered, and the Requests page the browser left open shows it, with
// its cost, without being reloaded by hand.
func TestBrowserFirstRun(t *testing.T) {
	screenshotsDir(t)
	const upSecret = "sk-firstrun-upstream-0123456789"
	up := fakeupstream.New(fakeupstream.Options{APIKey: upSecret, Models: []string{"gpt-4o-mini", "gpt-4o", "house-model"}})
	t.Cleanup(up.Close)
	e, gw := newGatewayEnv(t, storetest.SQLite)
	gw.Register(e.mux) // the gateway on the dashboard's address, as spectra serve mounts it
	base := e.ts.URL
	ctx := context.Background()
	token, err := e.accounts.SetupToken(ctx)
	if err != nil || token == "" {
		t.Fatalf("setup token %q: %v", token, err)
	}

	b, cancel := browsertest.New(t)
	t.Cleanup(cancel)
	do(t, b, "open the setup link", chromedp.Navigate(base+"/setup?token="+token), chromedp.WaitVisible(chromedp.ID("s-name")))
	do(t, b, "create the account",
		chromedp.SendKeys(chromedp.ID("s-name"), "Olga Owner"),
		chromedp.SendKeys(chromedp.ID("s-email"), "olga@firstrun.test"),
		chromedp.SendKeys(chromedp.ID("s-pw"), testPassword),
		chromedp.SendKeys(chromedp.ID("s-pw2"), testPassword),
		chromedp.SendKeys(chromedp.ID("s-ws"), "Acme"),
		chromedp.Click(chromedp.CSS(`form[action="/setup"] button[type=submit]`)))
	waitFor(t, b, `document.querySelector('[data-step="upstream"]')`)
	browsertest.Screenshot(b, t, "setup-upstream-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(b, t, "setup-upstream-phone.png", browsertest.PhoneWidth)

	do(t, b, "register the upstream, models left to its listing",
		chromedp.SendKeys(chromedp.ID("u-name"), "standin"),
		chromedp.SendKeys(chromedp.ID("u-url"), up.URL),
		chromedp.SendKeys(chromedp.ID("u-key"), upSecret),
		chromedp.Click(chromedp.CSS(`form[action^="/setup?step=upstream"] button[type=submit]`)))
	waitFor(t, b, `document.querySelector('[data-test]')`)
	if got := eval[string](t, b, `document.querySelector('[data-test]').dataset.test`); got != "ok" {
		t.Fatalf("connection test: %s", eval[string](t, b, `document.querySelector('[data-test]').innerText`))
	}
	if eval[bool](t, b, `document.documentElement.outerHTML.includes(`+jsString(upSecret)+`)`) {
		t.Fatal("the upstream's secret is in the page")
	}
	browsertest.Screenshot(b, t, "setup-upstream-tested-desktop.png", browsertest.DesktopWidth)
	do(t, b, "continue", chromedp.Click(chromedp.CSS(`[data-next]`)))

	waitFor(t, b, `document.getElementById("setup-prices")`)
	rows := eval[[]string](t, b, `[...document.querySelectorAll("#setup-prices tbody tr")].map(r => r.dataset.model)`)
	if strings.Join(rows, ",") != "gpt-4o-mini,gpt-4o" {
		t.Fatalf("list prices offered for %v, want the served models in the bundled list", rows)
	}
	if !strings.Contains(eval[string](t, b, `document.body.innerText`), "house-model") {
		t.Fatal("a served model with no list price is not flagged")
	}
	browsertest.Screenshot(b, t, "setup-prices-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(b, t, "setup-prices-phone.png", browsertest.PhoneWidth)
	do(t, b, "load the prices", chromedp.Click(chromedp.CSS(`form[action^="/setup?step=prices"] button[type=submit]`)))

	waitFor(t, b, `document.querySelector('[data-step="credit"]')`)
	browsertest.Screenshot(b, t, "setup-credit-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(b, t, "setup-credit-phone.png", browsertest.PhoneWidth)
	do(t, b, "grant credit", chromedp.Click(chromedp.CSS(`form[action^="/setup?step=credit"] button[type=submit]`)))

	waitFor(t, b, `document.querySelector('[data-step="key"]')`)
	browsertest.Screenshot(b, t, "setup-key-desktop.png", browsertest.DesktopWidth)
	do(t, b, "create the key", chromedp.Click(chromedp.CSS(`form[action^="/setup?step=key"] button[type=submit]`)))

	waitFor(t, b, `document.querySelector('[data-step="done"]')`)
	secret := eval[string](t, b, `document.getElementById("secret").value`)
	baseURL := eval[string](t, b, `document.getElementById("base-url").innerText`)
	curl := eval[string](t, b, `document.getElementById("snippet-curl").innerText`)
	py := eval[string](t, b, `document.getElementById("snippet-python").innerText`)
	if !strings.HasPrefix(secret, "sk-") || baseURL != base+"/v1" {
		t.Fatalf("key %q, base URL %q (want %s/v1)", secret, baseURL, base)
	}
	for _, want := range []string{"curl " + baseURL + "/chat/completions", "Authorization: Bearer " + secret, `"model": "gpt-4o-mini"`} {
		if !strings.Contains(curl, want) {
			t.Errorf("the curl snippet has no %q:\n%s", want, curl)
		}
	}
	if !strings.Contains(py, `OpenAI(base_url="`+baseURL+`", api_key="`+secret+`")`) {
		t.Errorf("the Python snippet does not use the key and base URL:\n%s", py)
	}
	browsertest.Screenshot(b, t, "setup-done-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(b, t, "setup-done-phone.png", browsertest.PhoneWidth)

	// The Requests page, empty, left open.
	do(t, b, "open requests", chromedp.Click(chromedp.CSS(`a[data-next]`)))
	waitFor(t, b, `document.querySelector("[data-live-reload]")`)

	// A client sends the snippet's request.
	req, _ := http.NewRequest("POST", baseURL+"/chat/completions",
		strings.NewReader(`{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var answer struct {
		Choices []json.RawMessage `json:"choices"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &answer) != nil || len(answer.Choices) == 0 {
		t.Fatalf("the first request: %d %s", resp.StatusCode, body)
	}
	gw.Flush(ctx) // the gateway's usage events reach the store (spectra serve flushes continuously)

	waitFor(t, b, `document.querySelector("table tbody tr")`)
	row := eval[string](t, b, `document.querySelector("table tbody tr").innerText`)
	cost := eval[string](t, b, `document.querySelector("table tbody tr [data-cost]").dataset.cost`)
	if !strings.Contains(row, "gpt-4o-mini") || !strings.Contains(row, "200") || cost == "" || strings.Trim(cost, "0.") == "" {
		t.Fatalf("the request's row: %q, cost %q", row, cost)
	}
	browsertest.Screenshot(b, t, "setup-first-request-desktop.png", browsertest.DesktopWidth)
}
