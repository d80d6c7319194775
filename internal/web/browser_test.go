package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"spectra/internal/browsertest"
	"spectra/internal/demo"
	"spectra/internal/metering"
	"spectra/internal/pricing"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// screenshotsDir makes $SPECTRA_SCREENSHOTS absolute: a relative path is taken from the
// repository root (where go.mod is), as people write it there, not from this package.
func screenshotsDir(t *testing.T) {
	dir := os.Getenv(browsertest.EnvScreenshots)
	if dir == "" || filepath.IsAbs(dir) {
		return
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			t.Fatalf("no go.mod above %s", wd)
		}
		root = parent
	}
	abs := filepath.Join(root, dir)
	if err := os.MkdirAll(abs, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(browsertest.EnvScreenshots, abs)
}

// browserWorld is the demo workspace plus an outsider's workspace, served over HTTP.
type browserWorld struct {
	e        *env
	demo     demo.Result
	globex   string
	outsider string // email
}

func newBrowserWorld(t *testing.T) *browserWorld {
	e := newEnv(t, storetest.SQLite)
	res := e.seedDemo(40, 90)
	ctx := context.Background()
	g, err := e.team.CreateWorkspace(ctx, team.Workspace{Name: "Globex Secret Labs", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.accounts.CreateUser(ctx, "gus@globex.test", "Gus", testPassword, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.accounts.AddMember(ctx, g.ID, u.ID, team.RoleOwner); err != nil {
		t.Fatal(err)
	}
	k, _, err := e.team.CreateKey(ctx, team.APIKey{WorkspaceID: g.ID, Name: "globex-prod", MemberID: u.ID, Project: "globex-project"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.ledger.Grant(ctx, g.ID, 5_000_000, "g1", "Globex grant"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.metering.Ingest(ctx, []metering.Event{{ID: "g-1", WorkspaceID: g.ID, KeyID: k.ID, Member: u.ID, Project: "globex-project",
		Model: "gpt-4o", Timestamp: testNow.Add(-time.Hour), Usage: pricing.Usage{Input: 1000, Output: 100}}}); err != nil {
		t.Fatal(err)
	}
	return &browserWorld{e: e, demo: res, globex: g.ID, outsider: u.Email}
}

// do runs actions and fails the test on error.
// do runs the actions of one step. Right after a page was replaced (a form posted and
// answered), chromedp's copy of the DOM can still hold the old document for a moment
// although a script already sees the new one: an action then finds its node in the old
// copy and fails with "No node with given id found" without touching the page. Such a
// step runs again, up to three times, once the copy has caught up.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	err := chromedp.Do(ctx, actions...)
	for try := 0; try < 3 && err != nil && strings.Contains(err.Error(), "No node with given id found"); try++ {
		time.Sleep(100 * time.Millisecond)
		err = chromedp.Do(ctx, actions...)
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds (navigations in between are fine).
func waitFor(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+cond+`)`))
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? location.href + "\n" + document.body.innerText.slice(0, 2000) : ""`))
	// Console errors often say why a page never got there.
	t.Fatalf("waiting for %s (last error %v); console errors: %q; page:\n%s", cond, last, browsertest.ConsoleErrors(ctx), body)
}

// signInBrowser fills in the login form.
func signInBrowser(t *testing.T, ctx context.Context, base, email, password string) {
	t.Helper()
	do(t, ctx, "open login", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	do(t, ctx, "fill login",
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
	)
}

// ownerSignedIn opens a browser, signs in as f's owner at base and waits for the
// workspace's overview. It returns the browser and the workspace's path ("/w/<id>/");
// the browser closes when the test ends.
func ownerSignedIn(t *testing.T, base string, f fixture) (context.Context, string) {
	t.Helper()
	ws := "/w/" + f.ws + "/"
	ctx, cancel := browsertest.New(t)
	t.Cleanup(cancel)
	signInBrowser(t, ctx, base, f.users[team.RoleOwner].Email, testPassword)
	waitFor(t, ctx, `location.pathname === "`+ws+`"`)
	return ctx, ws
}

// ownerBrowser is the browser tests' usual start: a dashboard on SQLite with the fixture
// (seedFixture), and a browser signed in as its owner on the overview (ownerSignedIn).
func ownerBrowser(t *testing.T) (*env, fixture, context.Context, string) {
	t.Helper()
	screenshotsDir(t)
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	ctx, ws := ownerSignedIn(t, e.ts.URL, f)
	return e, f, ctx, ws
}

func TestBrowser(t *testing.T) {
	screenshotsDir(t)
	w := newBrowserWorld(t)
	base := w.e.ts.URL
	ws := "/w/" + w.demo.WorkspaceID + "/"

	t.Run("owner", func(t *testing.T) {
		ctx, cancel := browsertest.New(t)
		defer cancel()
		signInBrowser(t, ctx, base, demo.OwnerEmail, demo.DefaultPassword)
		waitFor(t, ctx, `document.querySelector(".tiles .tile") && location.pathname === "`+ws+`"`)
		// The overview has demo data: a non-zero spend tile and a drawn chart.
		tiles := eval[string](t, ctx, `document.querySelector(".tiles").textContent`)
		if !strings.Contains(tiles, "Requests") || !strings.Contains(tiles, "$") {
			t.Fatalf("tiles: %q", tiles)
		}
		waitFor(t, ctx, `document.querySelector(".chart-canvas canvas")`)
		if n := eval[int](t, ctx, `document.querySelectorAll("#bd-model + .scroll tbody tr, [aria-labelledby=bd-model] tbody tr").length`); n < 3 {
			t.Errorf("model breakdown has %d rows", n)
		}
		if got := eval[string](t, ctx, `document.querySelector(".balance").textContent`); !strings.Contains(got, "Runway") || !strings.Contains(got, "Recharge") {
			t.Errorf("balance strip: %q", got)
		}

		// Change the period with the picker (an htmx swap that pushes the URL).
		before := eval[string](t, ctx, `document.querySelector(".tiles").textContent`)
		do(t, ctx, "click 30 days", chromedp.Click(chromedp.CSS(`.periods a[href$="period=30d"]`)))
		waitFor(t, ctx, `location.search.includes("period=30d") && document.querySelector(".period-label").innerText.includes("30 days")`)
		waitFor(t, ctx, `document.querySelector(".chart-canvas canvas")`)
		if after := eval[string](t, ctx, `document.querySelector(".tiles").textContent`); after == before {
			t.Errorf("tiles did not change with the period")
		}

		// Filter usage by one model, grouped by key.
		do(t, ctx, "open usage", chromedp.Navigate(base+ws+"usage?period=30d"), chromedp.WaitVisible(chromedp.ID("f-model")))
		do(t, ctx, "filter usage",
			chromedp.SetValue(chromedp.ID("f-model"), "gpt-4o-mini"),
			chromedp.SetValue(chromedp.ID("f-group"), "key"),
			chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)),
		)
		waitFor(t, ctx, `location.search.includes("model=gpt-4o-mini") && location.search.includes("group=key") && document.querySelector(".usage-table")`)

		// The CSV export is exactly the table, and matches the JSON API to the micro-unit.
		csvHref := eval[string](t, ctx, `document.querySelector("a[download]").href`)
		csvText := eval[string](t, ctx, `fetch(`+jsString(csvHref)+`).then(r => r.text())`)
		apiPath := strings.TrimPrefix(eval[string](t, ctx, `document.querySelector(".api-url").innerText`), "GET ")
		rows := readCSV(t, csvText)
		if len(rows) < 2 {
			t.Fatalf("CSV has no data rows:\n%s", csvText)
		}
		tableRows := eval[int](t, ctx, `document.querySelectorAll(".usage-table tbody tr").length`)
		if tableRows != len(rows)-1 {
			t.Errorf("table shows %d rows, CSV has %d", tableRows, len(rows)-1)
		}
		compareCSVWithAPI(t, w.e, rows, apiPath, "key_id")
		tableTotal := eval[string](t, ctx, `document.querySelector(".usage-table tfoot td[data-exact]").dataset.exact`)
		if sum := sumCSVCost(t, rows); sum != tableTotal {
			t.Errorf("CSV costs sum to %s, the table's total is %s", sum, tableTotal)
		}

		// Create a key: the secret is shown once. Then revoke it.
		do(t, ctx, "open keys", chromedp.Navigate(base+ws+"keys"), chromedp.WaitVisible(chromedp.ID("k-name")))
		do(t, ctx, "create key",
			chromedp.SendKeys(chromedp.ID("k-name"), "browser-test-key"),
			chromedp.SendKeys(chromedp.ID("k-project"), "qa"),
			chromedp.Click(chromedp.CSS(`form[action$="/keys"] button[type=submit]`)),
		)
		waitFor(t, ctx, `document.getElementById("secret")`)
		secret := eval[string](t, ctx, `document.getElementById("secret").value`)
		if !strings.HasPrefix(secret, "sk-") {
			t.Fatalf("secret %q", secret)
		}
		k, err := w.e.team.Authenticate(context.Background(), secret)
		if err != nil || k.Name != "browser-test-key" {
			t.Fatalf("the shown secret does not authenticate: %v %+v", err, k)
		}
		browsertest.Screenshot(ctx, t, "keys-created-desktop.png", browsertest.DesktopWidth)
		do(t, ctx, "reload keys", chromedp.Navigate(base+ws+"keys"), chromedp.WaitVisible(chromedp.ID("keys-h")))
		if eval[bool](t, ctx, `!!document.getElementById("secret")`) {
			t.Error("the secret is shown again after a reload")
		}
		eval[bool](t, ctx, `(window.confirm = () => true, true)`)
		do(t, ctx, "revoke", chromedp.Click(chromedp.CSS(`button[aria-label="Revoke key browser-test-key"]`)))
		waitFor(t, ctx, `[...document.querySelectorAll("tr.revoked th")].some(th => th.innerText.includes("browser-test-key"))`)
		if _, err := w.e.team.Authenticate(context.Background(), secret); err == nil {
			t.Error("the revoked key still authenticates")
		}
	})

	t.Run("screenshots", func(t *testing.T) {
		if os.Getenv(browsertest.EnvScreenshots) == "" {
			t.Skip("set SPECTRA_SCREENSHOTS to write the dashboard's screenshots")
		}
		ctx, cancel := browsertest.New(t)
		defer cancel()
		signInBrowser(t, ctx, base, demo.OwnerEmail, demo.DefaultPassword)
		waitFor(t, ctx, `document.querySelector(".chart-canvas canvas")`)
		for _, p := range []struct{ name, path, ready string }{
			{"overview", "?period=30d", ".chart-canvas canvas"},
			{"usage", "usage?period=30d&group=model", ".chart-canvas canvas"},
			{"requests", "requests", "table.log"},
			{"keys", "keys", "table.keys"},
			{"members", "members", "#m-h"},
			{"billing", "billing", "#tx-h"},
			{"invoices", "invoices", ".empty-state"},
		} {
			do(t, ctx, "open "+p.name, chromedp.Navigate(base+ws+p.path))
			waitFor(t, ctx, `document.querySelector(`+jsString(p.ready)+`)`)
			browsertest.Screenshot(ctx, t, p.name+"-desktop.png", browsertest.DesktopWidth)
			browsertest.Screenshot(ctx, t, p.name+"-phone.png", browsertest.PhoneWidth)
		}
		do(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
		waitFor(t, ctx, `document.getElementById("email")`)
		browsertest.Screenshot(ctx, t, "login-desktop.png", browsertest.DesktopWidth)
		browsertest.Screenshot(ctx, t, "login-phone.png", browsertest.PhoneWidth)
	})

	t.Run("outsider", func(t *testing.T) {
		ctx, cancel := browsertest.New(t)
		defer cancel()
		signInBrowser(t, ctx, base, w.outsider, testPassword)
		browsertest.AllowConsole(ctx, "status of 404 (Not Found)") // every URL of the demo workspace is a 404 to the outsider
		waitFor(t, ctx, `location.pathname === "/w/`+w.globex+`/" && document.querySelector(".tiles")`)
		if got := eval[string](t, ctx, `document.body.innerText`); strings.Contains(got, "Acme AI") {
			t.Error("the outsider's own overview names the demo workspace")
		}
		// Every URL of the demo workspace, pages, exports and partials, is a 404 that
		// shows none of its data.
		for _, p := range []string{"", "?period=30d", "usage", "usage?group=key", "usage.csv", "requests", "keys", "members", "billing", "invoices", "nope"} {
			status := eval[int](t, ctx, `fetch(`+jsString(base+ws+p)+`).then(r => r.status)`)
			partial := eval[int](t, ctx, `fetch(`+jsString(base+ws+p)+`, {headers: {"HX-Request": "true", "HX-Target": "content"}}).then(r => r.status)`)
			if status != 404 || partial != 404 {
				t.Errorf("%s: status %d, partial %d; want 404", p, status, partial)
			}
			body := eval[string](t, ctx, `fetch(`+jsString(base+ws+p)+`).then(r => r.text())`)
			if strings.Contains(body, "Acme AI") || strings.Contains(body, "prod-api") || strings.Contains(body, "Dana") {
				t.Errorf("%s leaks the demo workspace", p)
			}
		}
		do(t, ctx, "open demo overview", chromedp.Navigate(base+ws))
		waitFor(t, ctx, `document.querySelector(".error-page")`)
		browsertest.Screenshot(ctx, t, "not-found-desktop.png", browsertest.DesktopWidth)
		// Forms of the demo workspace refuse the outsider too, even with their own CSRF token.
		token := eval[string](t, ctx, `document.querySelector("input[name=csrf]").value`)
		st := eval[int](t, ctx, `fetch(`+jsString(base+ws+"keys")+`, {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "name=evil&csrf=`+url.QueryEscape(token)+`"}).then(r => r.status)`)
		if st != 404 {
			t.Errorf("creating a key in another workspace: %d", st)
		}
	})
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func readCSV(t *testing.T, text string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, text)
	}
	return rows
}
