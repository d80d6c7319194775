package web

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"spectra/internal/browsertest"
	"spectra/internal/store/storetest"
)

// TestBrowserKeySettings: in Chromium, the owner opens a key's settings from the Keys
// page, is told why a negative rpm and an expiry in the past are refused (the form
// keeps what was typed), then saves allowed models, rpm, an expiry date and a spend
// limit, and sees them in the key's row.
func TestBrowserKeySettings(t *testing.T) {
	screenshotsDir(t)
	e, _ := newGatewayEnv(t, storetest.SQLite)
	f := e.seedFixture()
	b, ws := ownerSignedIn(t, e.ts.URL, f)
	key := f.keys["member-key"]
	do(t, b, "open keys", chromedp.Navigate(e.ts.URL+ws+"keys"))
	do(t, b, "open the key's settings", chromedp.Click(chromedp.CSS(`a[aria-label="Settings of key member-key"]`)))
	waitFor(t, b, `document.getElementById("key-settings")`)

	browsertest.AllowConsole(b, "status of 400 (Bad Request)") // the refusals below are meant
	do(t, b, "a negative rpm",
		chromedp.SetValue(chromedp.ID("ks-rpm"), "-5"),
		chromedp.Click(chromedp.CSS(`#key-settings button[type=submit]`)))
	waitFor(t, b, `document.querySelector('#key-settings [data-code="invalid_rpm"]')`)
	if v := eval[string](t, b, `document.getElementById("ks-rpm").value`); v != "-5" {
		t.Fatalf("the form lost what was typed: rpm %q", v)
	}
	browsertest.Screenshot(b, t, "keys-settings-error-desktop.png", browsertest.DesktopWidth)
	do(t, b, "an expiry in the past",
		chromedp.SetValue(chromedp.ID("ks-rpm"), "60"),
		chromedp.SetValue(chromedp.ID("ks-expiry"), "2025-01-01"),
		chromedp.Click(chromedp.CSS(`#key-settings button[type=submit]`)))
	waitFor(t, b, `document.querySelector('#key-settings [data-code="invalid_expires_at"]')`)
	if msg := eval[string](t, b, `document.querySelector('#key-settings [role=alert]').innerText`); !strings.Contains(msg, "expiry must be in the future") {
		t.Fatalf("the reason: %q", msg)
	}

	do(t, b, "save",
		chromedp.SetValue(chromedp.ID("ks-models"), "gpt-test"),
		chromedp.SetValue(chromedp.ID("ks-rpm"), "60"),
		chromedp.SetValue(chromedp.ID("ks-expiry"), "2026-01-31"),
		chromedp.SetValue(chromedp.ID("ks-limit"), "40"),
		chromedp.Click(chromedp.CSS(`#key-settings button[type=submit]`)))
	waitFor(t, b, `location.search.includes("saved=`+key.ID+`")`)
	limits := eval[string](t, b, `[...document.querySelectorAll("tr")].find(r => r.innerText.includes("member-key")).querySelector(".limits").innerText`)
	if limits != "1 model · 60 rpm · $40.00 per month · until 31 Jan 2026" {
		t.Fatalf("the key's row says %q", limits)
	}
	k := e.keyByID(f.ws, key.ID)
	if k.RPM != 60 || len(k.AllowedModels) != 1 || k.ExpiresAt == nil {
		t.Fatalf("stored: %+v", k)
	}
	do(t, b, "open again", chromedp.Click(chromedp.CSS(`a[aria-label="Settings of key member-key"]`)))
	waitFor(t, b, `document.getElementById("key-settings")`)
	if v := eval[string](t, b, `document.getElementById("ks-expiry").value + " " + document.getElementById("ks-limit").value`); v != "2026-01-31 40.00" {
		t.Fatalf("the form shows %q", v)
	}
	browsertest.Screenshot(b, t, "keys-settings-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(b, t, "keys-settings-phone.png", browsertest.PhoneWidth)
}
