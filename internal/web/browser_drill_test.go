package web

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"spectra/internal/browsertest"
	"spectra/internal/demo"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/requestlog"
	"spectra/internal/team"
)

// chartJS reads the first chart's data from its data-chart attribute.
const chartJS = `JSON.parse(document.querySelector(".chart-canvas").dataset.chart)`

// barPoint returns the page coordinates of the middle of bucket i's bar, a little
// above the x axis, of the first chart.
const barPointJS = `(i => { const el = document.querySelector(".chart-canvas"), u = spectra.chartOf(el), d = ` + chartJS + `;
	const r = u.over.getBoundingClientRect();
	return [r.left + u.valToPos(d.x[i], "x"), r.bottom - 4]; })`

// tallestJS is the index of the bucket with the most spend.
const tallestJS = `(() => { const d = ` + chartJS + `; let best = 0, bi = 0;
	d.x.forEach((_, i) => { const c = d.series.reduce((a, s) => a + s.cost[i], 0); if (c > best) { best = c; bi = i; } }); return bi; })()`

// TestBrowserDrillDown clicks the tallest bar of the Overview's chart in Chromium and
// lands on the request log of that day (in the workspace's zone), showing only requests
// of that day; taps on a phone show a bar's values and a second tap follows it; the
// keyboard does the same; and the chart's axis, legend and range read right.
func TestBrowserDrillDown(t *testing.T) {
	screenshotsDir(t)
	w := newBrowserWorld(t)
	base := w.e.ts.URL
	ws := "/w/" + w.demo.WorkspaceID + "/"
	wsp, err := w.e.team.Workspace(context.Background(), w.demo.WorkspaceID)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation(wsp.Timezone)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := browsertest.New(t)
	defer cancel()
	signInBrowser(t, ctx, base, demo.OwnerEmail, demo.DefaultPassword)
	waitFor(t, ctx, `document.querySelector(".chart-canvas canvas")`)
	do(t, ctx, "open the overview", chromedp.Navigate(base+ws+"?period=30d"))
	waitFor(t, ctx, `window.spectra && spectra.chartOf(document.querySelector(".chart-canvas"))`)

	// The first and last bars are whole: the x range has half a day either side.
	rng := eval[[]float64](t, ctx, `(() => { const u = spectra.chartOf(document.querySelector(".chart-canvas")), d = `+chartJS+`;
		return [u.scales.x.min - d.x[0], u.scales.x.max - d.x[d.x.length-1]]; })()`)
	if len(rng) != 2 || rng[0] != -43200 || rng[1] != 43200 {
		t.Errorf("x range pads the buckets by %v seconds, want half a day either side", rng)
	}
	// The axis ticks on days, named as the tables name them ("Mon 30 Nov" or "30 Nov").
	ticks := eval[[]string](t, ctx, `(() => { const u = spectra.chartOf(document.querySelector(".chart-canvas")), a = u.axes[0];
		return a.values(u, a.splits(u)); })()`)
	days := eval[[]string](t, ctx, chartJS+`.labels`)
	if len(ticks) < 4 || len(ticks) > len(days) {
		t.Errorf("x ticks %q", ticks)
	}
	for _, tk := range ticks {
		found := false
		for _, d := range days {
			if tk != "" && strings.HasSuffix(d, tk) {
				found = true
			}
		}
		if !found {
			t.Errorf("tick %q is not a day of the chart (%q)", tk, days)
		}
	}
	// Not hovering, the legend shows the period's totals, not dashes.
	legend := eval[string](t, ctx, `document.querySelector(".u-legend").innerText`)
	if strings.Contains(legend, "—") || !strings.Contains(legend, "Totals of the period") || !strings.Contains(legend, "$") {
		t.Errorf("legend at rest: %q", legend)
	}

	// Click the tallest bar: the request log of that day.
	i := eval[int](t, ctx, tallestJS)
	d := struct {
		X      []int64
		Labels []string
		Links  []string
	}{eval[[]int64](t, ctx, chartJS+`.x`), eval[[]string](t, ctx, chartJS+`.labels`), eval[[]string](t, ctx, chartJS+`.links`)}
	eval[bool](t, ctx, `(document.querySelector(".chart-canvas").scrollIntoView({block: "center"}), true)`)
	pt := eval[[]float64](t, ctx, barPointJS+`(`+itoa64(int64(i))+`)`)
	do(t, ctx, "click the tallest bar", chromedp.MouseClickXY(pt[0], pt[1]))
	waitFor(t, ctx, `location.pathname === "`+ws+`requests" && document.querySelector("table.log")`)
	q := url.Values{}
	for k, v := range eval[map[string]string](t, ctx, `Object.fromEntries(new URLSearchParams(location.search))`) {
		q.Set(k, v)
	}
	day := time.Unix(d.X[i], 0).In(loc)
	if q.Get("start") != day.Format(drillTimeLayout) || q.Get("end") != addDays(day, 1).Format(drillTimeLayout) || len(q) != 2 {
		t.Fatalf("the bar of %s (%s) led to %v", d.Labels[i], day, q)
	}
	if got := eval[string](t, ctx, `location.pathname + location.search`); got != d.Links[i] {
		t.Errorf("landed on %s, the bar links to %s", got, d.Links[i])
	}
	// Every request shown is of that day.
	stamps := eval[[]string](t, ctx, `[...document.querySelectorAll("table.log tbody tr > th[title]")].map(th => th.title.split(" ")[0])`)
	if len(stamps) == 0 {
		t.Fatal("the day with the most spend shows no requests")
	}
	for _, s := range stamps {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatalf("row time %q: %v", s, err)
		}
		if ts.Before(day) || !ts.Before(addDays(day, 1)) {
			t.Errorf("a request of %s on the log of %s", ts.In(loc), d.Labels[i])
		}
	}
	browsertest.Screenshot(ctx, t, "requests-drilled-desktop.png", browsertest.DesktopWidth)

	// Sort that day's requests by cost and open the most expensive one.
	eval[bool](t, ctx, `(() => { const s = document.querySelector("select[name=sort]"); s.value = "cost"; s.form.requestSubmit(); return true; })()`)
	waitFor(t, ctx, `location.search.includes("sort=cost") && document.querySelector("table.log a[data-request-id]")`)
	if got := eval[string](t, ctx, `new URLSearchParams(location.search).get("start") + " " + new URLSearchParams(location.search).get("end")`); got != q.Get("start")+" "+q.Get("end") {
		t.Errorf("sorting lost the day: %s", got)
	}
	var costs []money.Amount
	for _, c := range eval[[]string](t, ctx, `[...document.querySelectorAll("table.log td[data-cost]")].map(td => td.dataset.cost)`) {
		a, err := money.Parse(c)
		if err != nil {
			t.Fatalf("cost %q: %v", c, err)
		}
		costs = append(costs, a)
	}
	for _, c := range costs {
		if c > costs[0] {
			t.Fatalf("sorted by cost, the first request costs %s and another %s", costs[0], c)
		}
	}
	id := eval[string](t, ctx, `document.querySelector("table.log a[data-request-id]").dataset.requestId`)
	eval[bool](t, ctx, `(document.querySelector("table.log a[data-request-id]").click(), true)`)
	waitFor(t, ctx, `location.pathname === "`+ws+`requests/`+id+`" && document.getElementById("arithmetic")`)
	if got := eval[string](t, ctx, `document.querySelector("td[data-cost]").dataset.cost`); got != costs[0].String() {
		t.Errorf("the request's page says it cost %s, the log %s", got, costs[0])
	}
	// Its arithmetic gives its exact cost, which it was charged rounded down or up (the
	// wallet's running remainder decides), and the JSON API says the same (GET
	// /api/v1/workspaces/{id}/requests/{request_id} answers requestlog's Detail as JSON).
	total := eval[string](t, ctx, `document.querySelector("[data-arith-total]").dataset.arithTotal`)
	if x, err := pricing.ParseExact(total); err != nil || (x.Micro != costs[0] && x.Ceil() != costs[0]) ||
		total != eval[string](t, ctx, `document.querySelector("[data-cost-exact]").dataset.costExact`) {
		t.Errorf("the arithmetic adds up to %s (%v), the request cost %s", total, err, costs[0])
	}
	det, err := requestlog.NewService(w.e.metering, nil, nil).Get(context.Background(), w.demo.WorkspaceID, id)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(det)
	if err != nil {
		t.Fatal(err)
	}
	var api struct {
		ID   string `json:"id"`
		Cost string `json:"cost"`
	}
	if err := json.Unmarshal(js, &api); err != nil {
		t.Fatal(err)
	}
	if api.ID != id || api.Cost != costs[0].String() {
		t.Errorf("the API answers %s costing %s; the page showed %s costing %s", api.ID, api.Cost, id, costs[0])
	}
	// The back button walks the same way back: the sorted day, the day, the overview.
	eval[bool](t, ctx, `(history.back(), true)`)
	waitFor(t, ctx, `location.pathname === "`+ws+`requests" && location.search.includes("sort=cost") && document.querySelector("table.log")`)
	eval[bool](t, ctx, `(history.back(), true)`)
	waitFor(t, ctx, `location.pathname + location.search === `+jsString(d.Links[i])+` && document.querySelector("table.log")`)
	eval[bool](t, ctx, `(history.back(), true)`)
	waitFor(t, ctx, `location.search === "?period=30d" && window.spectra && spectra.chartOf(document.querySelector(".chart-canvas"))`)

	// Keyboard: focus the chart, step left from the last day, Enter opens that day.
	eval[bool](t, ctx, `(document.querySelector(".chart-canvas").focus(), document.activeElement.classList.contains("chart-canvas"))`)
	do(t, ctx, "arrow left", chromedp.KeyEvent(kb.ArrowLeft))
	if got := eval[string](t, ctx, `document.querySelector(".chart-drill a").getAttribute("href")`); got != d.Links[len(d.Links)-2] {
		t.Errorf("after ArrowLeft the chart's link is %s, want %s", got, d.Links[len(d.Links)-2])
	}
	do(t, ctx, "enter", chromedp.KeyEvent(kb.Enter))
	waitFor(t, ctx, `location.pathname + location.search === `+jsString(d.Links[len(d.Links)-2]))

	// Today's chart is hourly: half an hour either side, ticks on whole hours.
	do(t, ctx, "today", chromedp.Navigate(base+ws+"?period=today"))
	waitFor(t, ctx, `window.spectra && spectra.chartOf(document.querySelector(".chart-canvas"))`)
	hours := eval[[]string](t, ctx, `(() => { const u = spectra.chartOf(document.querySelector(".chart-canvas")), a = u.axes[0], d = `+chartJS+`;
		return [String(u.scales.x.min - d.x[0]), String(u.scales.x.max - d.x[d.x.length-1]), d.step, ...a.values(u, a.splits(u))]; })()`)
	if len(hours) < 6 || hours[0] != "-1800" || hours[1] != "1800" || hours[2] != "hour" {
		t.Fatalf("today's chart: %q", hours)
	}
	for _, h := range hours[3:] {
		if len(h) != 5 || !strings.HasSuffix(h, ":00") {
			t.Errorf("hourly tick %q", h)
		}
	}

	// A phone: a tap shows the bar's values, a second tap opens its requests.
	do(t, ctx, "phone", chromedp.EmulateViewport(browsertest.PhoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(base+ws+"?period=30d"))
	waitFor(t, ctx, `window.spectra && spectra.chartOf(document.querySelector(".chart-canvas"))`)
	eval[bool](t, ctx, `(document.querySelector(".chart-canvas").scrollIntoView({block: "center"}), true)`)
	pt = eval[[]float64](t, ctx, barPointJS+`(`+itoa64(int64(i))+`)`)
	do(t, ctx, "tap the bar", chromedp.TapXY(pt[0], pt[1]))
	waitFor(t, ctx, `document.querySelector(".u-legend").innerText.includes(`+jsString(d.Labels[i])+`)`)
	if got := eval[string](t, ctx, `location.search`); got != "?period=30d" {
		t.Fatalf("the first tap navigated to %s", got)
	}
	if os.Getenv(browsertest.EnvScreenshots) != "" {
		// Screenshot clears the viewport's emulation when it is done: set it again.
		browsertest.Screenshot(ctx, t, "overview-tapped-phone.png", browsertest.PhoneWidth)
		do(t, ctx, "phone again", chromedp.EmulateViewport(browsertest.PhoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
		waitFor(t, ctx, `innerWidth === `+itoa64(browsertest.PhoneWidth))
		eval[bool](t, ctx, `(document.querySelector(".chart-canvas").scrollIntoView({block: "center"}), true)`)
		pt = eval[[]float64](t, ctx, barPointJS+`(`+itoa64(int64(i))+`)`)
	}
	do(t, ctx, "tap it again", chromedp.TapXY(pt[0], pt[1]))
	waitFor(t, ctx, `location.pathname + location.search === `+jsString(d.Links[i]))
}

// TestBrowserNoConsoleErrors opens every page of a full (demo) workspace and of an empty
// one, at desktop and phone widths, and fails on any console error (browsertest counts
// them). The empty workspace's charts say there is no usage instead of drawing nothing.
func TestBrowserNoConsoleErrors(t *testing.T) {
	w := newBrowserWorld(t)
	base := w.e.ts.URL
	ctx := context.Background()
	owner, err := w.e.accounts.UserByEmail(ctx, demo.OwnerEmail)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := w.e.team.CreateWorkspace(ctx, team.Workspace{Name: "Empty Co", Timezone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.e.accounts.AddMember(ctx, empty.ID, owner.ID, team.RoleOwner); err != nil {
		t.Fatal(err)
	}
	pages := []string{"", "?period=today", "?period=30d", "?period=month", "usage", "usage?group=key", "usage?group=&period=today",
		"requests", "requests?sort=cost&status=refused", "keys", "members", "budgets", "billing", "invoices", "settings"}

	bctx, cancel := browsertest.New(t)
	defer cancel()
	signInBrowser(t, bctx, base, demo.OwnerEmail, demo.DefaultPassword)
	waitFor(t, bctx, `document.querySelector(".tiles")`)
	for _, width := range []int64{browsertest.DesktopWidth, browsertest.PhoneWidth} {
		do(t, bctx, "viewport", chromedp.EmulateViewport(width, 844))
		for _, wsID := range []string{w.demo.WorkspaceID, empty.ID} {
			for _, p := range pages {
				do(t, bctx, "open "+p, chromedp.Navigate(base+"/w/"+wsID+"/"+p))
				waitFor(t, bctx, `document.readyState === "complete" && document.getElementById("content")`)
				// Let the charts draw (app.js runs on DOMContentLoaded; a frame for uPlot).
				eval[bool](t, bctx, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
				if errs := browsertest.ConsoleErrors(bctx); len(errs) > 0 {
					t.Fatalf("%s at %d px, workspace %s: console errors:\n%s", p, width, wsID, strings.Join(errs, "\n"))
				}
				if p == "requests" && wsID == w.demo.WorkspaceID {
					// And a request's own page.
					href := eval[string](t, bctx, `document.querySelector("table.log a[data-request-id]").href`)
					do(t, bctx, "open a request", chromedp.Navigate(href))
					waitFor(t, bctx, `document.readyState === "complete" && document.getElementById("arithmetic")`)
					if errs := browsertest.ConsoleErrors(bctx); len(errs) > 0 {
						t.Fatalf("%s at %d px: console errors:\n%s", href, width, strings.Join(errs, "\n"))
					}
				}
				if wsID == empty.ID && (p == "" || strings.HasPrefix(p, "usage")) {
					if got := eval[string](t, bctx, `[...document.querySelectorAll(".chart-canvas")].map(c => c.innerText).join("|")`); got != "No usage in this period" {
						t.Errorf("%s of the empty workspace: chart reads %q", p, got)
					}
				}
			}
		}
	}
}
