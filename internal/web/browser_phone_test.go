package web

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"spectra/internal/browsertest"
	"spectra/internal/demo"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// phoneHeight is the phone viewport's height (browsertest.PhoneWidth wide).
const phoneHeight = 844

// viewport makes the page's viewport width × height CSS pixels, as a phone's when mobile.
func viewport(width, height int64, mobile bool) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tgt *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tgt, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: width, Height: height, DeviceScaleFactor: 2, Mobile: mobile})
		if err != nil {
			return chromedp.Void{}, err
		}
		_, err = chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`new Promise(r => { const t0 = performance.now();
			(function check() { if (window.innerWidth === %d || performance.now() - t0 > 5000) r(); else requestAnimationFrame(check); })(); })`, width),
			chromedp.EvalAwaitPromise)(ctx, tgt)
		return chromedp.Void{}, err
	}
}

// fullyVisibleJS is a JavaScript function that returns "" when element el is wholly
// inside the viewport and inside every ancestor that clips its overflow, with nothing
// drawn over its centre and its own text not cut, else what is wrong.
const fullyVisibleJS = `(el) => {
	if (!el) return "missing";
	const r = el.getBoundingClientRect();
	if (r.width === 0 || r.height === 0) return "not displayed";
	const vw = document.documentElement.clientWidth;
	if (r.left < -0.5 || r.right > vw + 0.5) return "outside the viewport: " + Math.round(r.left) + "–" + Math.round(r.right) + " of " + vw;
	for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
		const s = getComputedStyle(p);
		if (s.overflowX === "visible") continue;
		const q = p.getBoundingClientRect();
		if (r.left < q.left - 0.5 || r.right > q.right + 0.5) return "clipped by " + p.tagName.toLowerCase() + "." + p.className + ": " + Math.round(r.left) + "–" + Math.round(r.right) + " in " + Math.round(q.left) + "–" + Math.round(q.right);
	}
	if (!el.matches("input, select, textarea") && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== "visible") return "its text is cut (" + el.scrollWidth + " > " + el.clientWidth + ")";
	el.scrollIntoView({block: "center", inline: "nearest"});
	const c = el.getBoundingClientRect();
	const hit = document.elementFromPoint(c.left + c.width / 2, c.top + c.height / 2);
	if (!hit || !(el === hit || el.contains(hit))) return "covered by " + (hit ? hit.tagName.toLowerCase() + "." + hit.className : "nothing");
	return "";
}`

// visibleProblems runs fullyVisibleJS on every element selector matches and returns
// "label: problem" for each that is not fully visible; label is JavaScript over el.
func visibleProblems(t *testing.T, ctx context.Context, selector, label string) []string {
	t.Helper()
	return eval[[]string](t, ctx, `(() => { const f = `+fullyVisibleJS+`;
		return [...document.querySelectorAll(`+jsString(selector)+`)].map(el => { const p = f(el); return p ? (`+label+`) + ": " + p : ""; }).filter(Boolean); })()`)
}

// TestBrowserPhoneLayout: on a phone (390 CSS pixels), the By-member table's spend
// column is whole on screen for every member (it used to be cut off), the page does not
// scroll sideways, and every tab of the workspace is on screen and can be tapped, on the
// Overview and on the Settings page (the last tab) alike: the tab bar used to scroll, with
// Billing and Settings off-screen and nothing saying so.
func TestBrowserPhoneLayout(t *testing.T) {
	screenshotsDir(t)
	w := newBrowserWorld(t)
	base := w.e.ts.URL
	ws := "/w/" + w.demo.WorkspaceID + "/"
	ctx, cancel := browsertest.New(t)
	defer cancel()
	signInBrowser(t, ctx, base, demo.OwnerEmail, demo.DefaultPassword)
	waitFor(t, ctx, `location.pathname === "`+ws+`"`)
	do(t, ctx, "phone viewport", viewport(browsertest.PhoneWidth, phoneHeight, true))

	for _, page := range []struct{ path, ready string }{
		{"?period=30d", `document.querySelector("[aria-labelledby=bd-member] tbody tr")`},
		{"settings", `document.getElementById("tz-h")`},
		{"billing", `document.getElementById("tx-h")`},
	} {
		do(t, ctx, "open "+page.path, chromedp.Navigate(base+ws+page.path))
		waitFor(t, ctx, page.ready)
		if n := eval[int](t, ctx, `document.querySelectorAll("nav.tabs a").length`); n != 8 {
			t.Fatalf("%s: %d tabs", page.path, n)
		}
		for _, p := range visibleProblems(t, ctx, "nav.tabs a", `el.innerText`) {
			t.Errorf("%s: tab %s", page.path, p)
		}
		if sw, cw := eval[int](t, ctx, `document.querySelector("nav.tabs").scrollWidth`), eval[int](t, ctx, `document.querySelector("nav.tabs").clientWidth`); sw > cw {
			t.Errorf("%s: the tab bar scrolls (%d > %d)", page.path, sw, cw)
		}
		if sw, vw := eval[int](t, ctx, `document.documentElement.scrollWidth`), eval[int](t, ctx, `document.documentElement.clientWidth`); sw > vw {
			t.Errorf("%s: the page scrolls sideways (%d > %d)", page.path, sw, vw)
		}
	}

	do(t, ctx, "open overview", chromedp.Navigate(base+ws+"?period=30d"))
	waitFor(t, ctx, `document.querySelector("[aria-labelledby=bd-member] tbody tr")`)
	rows := eval[int](t, ctx, `document.querySelectorAll("[aria-labelledby=bd-member] tbody tr").length`)
	if rows < 3 {
		t.Fatalf("the By-member table has %d rows", rows)
	}
	// The spend column is the one headed "Spend"; every cell of it, and its header, is whole.
	col := eval[int](t, ctx, `[...document.querySelectorAll("[aria-labelledby=bd-member] thead th")].findIndex(th => th.innerText.trim().toLowerCase() === "spend") + 1`)
	if col == 0 {
		t.Fatal("the By-member table has no Spend column")
	}
	sel := fmt.Sprintf("[aria-labelledby=bd-member] tbody tr > :nth-child(%d), [aria-labelledby=bd-member] thead th:nth-child(%d)", col, col)
	for _, p := range visibleProblems(t, ctx, sel, `el.closest("tr").firstElementChild.innerText.split("\n")[0]`) {
		t.Errorf("By-member spend of %s", p)
	}
	spend := eval[string](t, ctx, fmt.Sprintf(`document.querySelector("[aria-labelledby=bd-member] tbody tr > :nth-child(%d)").innerText`, col))
	if !strings.HasPrefix(spend, "$") {
		t.Errorf("the first member's spend cell reads %q", spend)
	}
	browsertest.Screenshot(ctx, t, "overview-members-phone.png", browsertest.PhoneWidth)
}

// TestBrowserTimezoneSetting: an owner changes the workspace's time zone on the Settings
// page in Chromium; a wrong name is refused in place, a right one is saved and every
// period picker then names it.
func TestBrowserTimezoneSetting(t *testing.T) {
	screenshotsDir(t)
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture() // Acme is in America/New_York
	base := e.ts.URL
	ws := "/w/" + f.ws + "/"
	ctx, cancel := browsertest.New(t)
	defer cancel()
	signInBrowser(t, ctx, base, f.users[team.RoleOwner].Email, testPassword)
	waitFor(t, ctx, `location.pathname === "`+ws+`"`)
	do(t, ctx, "phone viewport", viewport(browsertest.PhoneWidth, phoneHeight, true))
	do(t, ctx, "reload", chromedp.Navigate(base+ws))
	waitFor(t, ctx, `document.querySelector(".zone")`)
	if got := eval[string](t, ctx, `document.querySelector(".zone").innerText`); !strings.Contains(got, "Times in America/New_York (UTC−4)") {
		t.Fatalf("overview zone line %q", got)
	}
	// The tab bar shows Settings on a phone: tap it.
	do(t, ctx, "open settings", chromedp.Click(chromedp.CSS(`nav.tabs a[href$="/settings"]`)))
	waitFor(t, ctx, `document.getElementById("tz-input") && document.querySelector('nav.tabs a[aria-current=page]').innerText === "Settings"`)
	if got := eval[string](t, ctx, `document.getElementById("tz-input").value`); got != "America/New_York" {
		t.Fatalf("the form shows %q", got)
	}
	for _, p := range visibleProblems(t, ctx, "#tz-input, #tz-save", `el.id`) {
		t.Errorf("settings form: %s", p)
	}

	setZone := func(zone string) {
		t.Helper()
		eval[bool](t, ctx, `(document.getElementById("tz-input").value = "", true)`)
		do(t, ctx, "type "+zone, chromedp.SendKeys(chromedp.ID("tz-input"), zone), chromedp.Click(chromedp.ID("tz-save")))
	}
	// A refused zone shows the form again with 400, which the console reports.
	browsertest.AllowConsole(ctx, "status of 400 (Bad Request) ("+base+ws+"settings/timezone)")
	setZone("Mars/Olympus_Mons")
	waitFor(t, ctx, `document.querySelector("#timezone [role=alert]")`)
	if got := eval[string](t, ctx, `document.querySelector("#timezone [role=alert]").innerText`); !strings.Contains(got, "not an IANA time zone") {
		t.Errorf("error %q", got)
	}
	if w, _ := e.team.Workspace(context.Background(), f.ws); w.Timezone != "America/New_York" {
		t.Fatalf("a refused zone was saved: %q", w.Timezone)
	}
	setZone("Europe/Berlin")
	waitFor(t, ctx, `location.search.includes("done=timezone") && document.querySelector("[role=status]")`)
	if got := eval[string](t, ctx, `document.querySelector("[role=status]").innerText`); !strings.Contains(got, "Time zone set to Europe/Berlin (UTC+2)") {
		t.Errorf("notice %q", got)
	}
	if w, _ := e.team.Workspace(context.Background(), f.ws); w.Timezone != "Europe/Berlin" {
		t.Fatalf("the zone saved is %q", w.Timezone)
	}
	browsertest.Screenshot(ctx, t, "settings-timezone-phone.png", browsertest.PhoneWidth)
	for _, p := range []string{"", "usage", "requests", "budgets"} {
		do(t, ctx, "open "+p, chromedp.Navigate(base+ws+p))
		waitFor(t, ctx, `document.querySelector(".zone")`)
		if got := eval[string](t, ctx, `document.querySelector(".zone").innerText`); !strings.Contains(got, "Times in Europe/Berlin (UTC+2)") {
			t.Errorf("%q: zone line %q", p, got)
		}
	}
}
