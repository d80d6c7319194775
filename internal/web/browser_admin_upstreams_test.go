package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"spectra/internal/browsertest"
	"spectra/internal/store/storetest"
)

// operatorSignedIn opens a browser signed in as the console's operator at base.
func operatorSignedIn(t *testing.T, base string) context.Context {
	t.Helper()
	ctx, cancel := browsertest.New(t)
	t.Cleanup(cancel)
	signInBrowser(t, ctx, base, catalogOpEmail, testPassword)
	waitFor(t, ctx, `location.pathname !== "/login"`)
	return ctx
}

// noSecret fails the test when secret is anywhere in the page's HTML (form values
// included).
func noSecret(t *testing.T, ctx context.Context, secret, when string) {
	t.Helper()
	if eval[bool](t, ctx, `document.documentElement.outerHTML.includes(`+jsString(secret)+`) || [...document.querySelectorAll("input")].some(i => i.value.includes(`+jsString(secret)+`))`) {
		t.Fatalf("%s: the secret is in the page", when)
	}
}

// TestBrowserAdminUpstreams drives the console's Upstreams page in Chromium: add an
// upstream (a stand-in) with its secret, test it, a refused add, edit it without
// retyping the secret (kept: the test still passes), and remove it after confirming;
// the secret never appears in the page.
func TestBrowserAdminUpstreams(t *testing.T) {
	screenshotsDir(t)
	e := newCatalogEnv(t, storetest.SQLite)
	base := e.ts.URL
	ctx := operatorSignedIn(t, base)
	do(t, ctx, "open upstreams", chromedp.Navigate(base+"/admin/upstreams"))
	waitFor(t, ctx, `document.getElementById("upstream-form")`)

	do(t, ctx, "add",
		chromedp.SendKeys(chromedp.ID("u-name"), "standin"),
		chromedp.SendKeys(chromedp.ID("u-base"), e.up.URL),
		chromedp.SendKeys(chromedp.ID("u-key"), fakeSecret),
		chromedp.SendKeys(chromedp.ID("u-models"), "gpt-4o\ngpt-4o-mini\no9-preview"),
		chromedp.Click(chromedp.ID("save-upstream")))
	waitFor(t, ctx, `document.getElementById("flash") && document.querySelector('tr[data-upstream="standin"]')`)
	noSecret(t, ctx, fakeSecret, "after adding")
	if got := eval[string](t, ctx, `document.querySelector('tr[data-upstream="standin"] [data-secret]').innerText`); got != fakeSecret[:6]+"…" {
		t.Fatalf("secret shown as %q", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('tr[data-upstream="standin"] [data-priced="false"]').length`); n != 3 {
		t.Fatalf("%d models flagged without a price, want 3", n)
	}

	do(t, ctx, "test", chromedp.Click(chromedp.CSS(`button[data-test="standin"]`)))
	waitFor(t, ctx, `document.getElementById("test-result")`)
	if ok := eval[string](t, ctx, `document.getElementById("test-result").dataset.ok`); ok != "true" {
		t.Fatalf("test: %s", eval[string](t, ctx, `document.getElementById("test-result").innerText`))
	}
	missing := eval[string](t, ctx, `document.getElementById("test-missing").innerText`)
	if !strings.Contains(missing, "o9-preview") {
		t.Fatalf("missing models: %q", missing)
	}
	noSecret(t, ctx, fakeSecret, "after the test")
	browsertest.Screenshot(ctx, t, "admin-upstreams-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "admin-upstreams-phone.png", browsertest.PhoneWidth)

	// A refused add: the name exists. The secret typed is not echoed.
	browsertest.AllowConsole(ctx, "status of 409 (Conflict) ("+base+"/admin/upstreams)") // meant to be refused
	do(t, ctx, "add again",
		chromedp.SendKeys(chromedp.ID("u-name"), "standin"),
		chromedp.SendKeys(chromedp.ID("u-base"), e.up.URL),
		chromedp.SendKeys(chromedp.ID("u-key"), "sk-second-typed-secret"),
		chromedp.SendKeys(chromedp.ID("u-models"), "gpt-4o"),
		chromedp.Click(chromedp.ID("save-upstream")))
	waitFor(t, ctx, `document.getElementById("upstream-error")`)
	if code := eval[string](t, ctx, `document.getElementById("upstream-error").dataset.code`); code != "upstream_exists" {
		t.Fatalf("refusal code %q", code)
	}
	noSecret(t, ctx, "sk-second-typed-secret", "after a refused add")

	// Edit without a secret: the stored one is kept.
	do(t, ctx, "edit", chromedp.Click(chromedp.CSS(`a[data-edit="standin"]`)))
	waitFor(t, ctx, `document.querySelector('input[name="edit"]')`)
	noSecret(t, ctx, fakeSecret, "on the edit form")
	if ph := eval[string](t, ctx, `document.getElementById("u-key").placeholder`); ph != "leave empty to keep "+fakeSecret[:6]+"…" {
		t.Fatalf("placeholder %q", ph)
	}
	do(t, ctx, "save edit",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("u-models").value = "gpt-4o\ngpt-4o-mini"`),
		chromedp.Click(chromedp.ID("save-upstream")))
	waitFor(t, ctx, `document.getElementById("flash") && document.getElementById("flash").innerText.includes("saved")`)
	do(t, ctx, "test again", chromedp.Click(chromedp.CSS(`button[data-test="standin"]`)))
	waitFor(t, ctx, `document.getElementById("test-result")`)
	if ok := eval[string](t, ctx, `document.getElementById("test-result").dataset.ok`); ok != "true" {
		t.Fatalf("test after the edit: %s", eval[string](t, ctx, `document.getElementById("test-result").innerText`))
	}

	do(t, ctx, "remove", chromedp.Click(chromedp.CSS(`button[data-remove="standin"]`)))
	waitFor(t, ctx, `document.getElementById("confirm-remove")`)
	do(t, ctx, "confirm remove", chromedp.Click(chromedp.ID("confirm-remove-btn")))
	waitFor(t, ctx, `document.getElementById("flash") && !document.querySelector('tr[data-upstream="standin"]')`)
	if vs := e.gwUpstreams(t); len(vs) != 0 {
		t.Fatalf("upstreams after removal: %v", vs)
	}
}
