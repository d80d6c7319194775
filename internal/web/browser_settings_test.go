package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"spectra/internal/background"
	"spectra/internal/browsertest"
	"spectra/internal/store/storetest"
)

// TestBrowserWebhooks drives the Settings page in Chromium: add an endpoint pointing at
// a test receiver (the secret is shown once), send it a test event, and watch the
// delivery turn "delivered" on the page while the notifier loop runs.
func TestBrowserWebhooks(t *testing.T) {
	screenshotsDir(t)
	e, svc := newNotifyEnv(t, storetest.SQLite)
	f := e.seedFixture()
	rc := newHookReceiver(t)
	loop := background.Start(context.Background(), nil, background.Job{Name: "notify", Every: 200 * time.Millisecond, Wake: svc.Nudged(), Run: svc.Work})
	t.Cleanup(loop.Stop)
	base := e.ts.URL

	ctx, _ := ownerSignedIn(t, base, f)
	do(t, ctx, "open settings", chromedp.Click(chromedp.CSS(`nav.tabs a[href$="/settings"]`)))
	waitFor(t, ctx, `document.getElementById("wh-url") && document.querySelector('nav.tabs a[aria-current=page]').innerText === "Settings"`)

	do(t, ctx, "add endpoint",
		chromedp.SendKeys(chromedp.ID("wh-url"), rc.URL+"/spectra"),
		chromedp.SendKeys(chromedp.ID("wh-desc"), "Ops pager"),
		chromedp.Click(chromedp.ID("wh-add")))
	waitFor(t, ctx, `document.getElementById("hook-secret")`)
	secret := eval[string](t, ctx, `document.getElementById("hook-secret").value`)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()
	browsertest.Screenshot(ctx, t, "settings-created-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "settings-created-phone.png", browsertest.PhoneWidth)

	eval[bool](t, ctx, `(window.confirm = () => true, true)`)
	do(t, ctx, "send test event", chromedp.Click(chromedp.CSS(`button[aria-label^="Send a test event"]`)))
	waitFor(t, ctx, `location.search.includes("done=test") && !document.getElementById("hook-secret")`)
	// The deliveries list refreshes itself while a delivery is pending.
	waitFor(t, ctx, `document.querySelector("#deliveries tbody tr .tag.delivered")`)
	row := eval[string](t, ctx, `document.querySelector("#deliveries tbody tr").innerText`)
	if !strings.Contains(row, "webhook.test") || !strings.Contains(row, "Ops pager") || !strings.Contains(row, "200") {
		t.Errorf("delivery row: %q", row)
	}
	if v, r := rc.counts(); v != 1 || r != 0 {
		t.Fatalf("receiver verified %d, refused %d", v, r)
	}
	browsertest.Screenshot(ctx, t, "settings-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "settings-phone.png", browsertest.PhoneWidth)
}
