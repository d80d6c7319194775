package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"spectra/internal/audit"
	"spectra/internal/browsertest"
	"spectra/internal/money"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// consoleSignedIn opens a browser signed in as the console's operator, on the
// Workspaces page.
func consoleSignedIn(t *testing.T, base string) context.Context {
	t.Helper()
	ctx, cancel := browsertest.New(t)
	t.Cleanup(cancel)
	signInBrowser(t, ctx, base, opEmail, testPassword)
	waitFor(t, ctx, `location.pathname !== "/login"`)
	do(t, ctx, "open the console", chromedp.Click(chromedp.CSS(`a.console-link`)))
	waitFor(t, ctx, `location.pathname === "/admin/workspaces" && document.querySelector("#workspaces")`)
	return ctx
}

// TestBrowserAdminNotFound: in Chromium, a workspace owner and a member see the 404
// page at every console URL of the route table, no console nav, and no Console link.
func TestBrowserAdminNotFound(t *testing.T) {
	e := newAdminEnv(t, storetest.SQLite)
	f := e.seedFixture()
	base := e.ts.URL
	for _, role := range []team.Role{team.RoleOwner, team.RoleMember} {
		ctx, cancel := browsertest.New(t)
		browsertest.AllowConsole(ctx, "status of 404 (Not Found) ("+base+"/admin") // every console URL is meant to be a 404 here
		signInBrowser(t, ctx, base, f.users[role].Email, testPassword)
		waitFor(t, ctx, `location.pathname === "/w/`+f.ws+`/"`)
		if eval[bool](t, ctx, `!!document.querySelector('a[href="/admin"]')`) {
			t.Errorf("%s: the dashboard links to the console", role)
		}
		for _, u := range adminURLs(e.srv) {
			if u[0] != "GET" {
				continue
			}
			do(t, ctx, "open "+u[1], chromedp.Navigate(base+u[1]))
			waitFor(t, ctx, `document.readyState === "complete"`)
			title := eval[string](t, ctx, `document.title`)
			if !strings.HasPrefix(title, "Not Found") || eval[bool](t, ctx, `!!document.querySelector('nav.console')`) {
				t.Errorf("%s: %s shows %q", role, u[1], title)
			}
		}
		cancel()
	}
}

// TestBrowserAdminWorkspaces drives the console's Workspaces section in Chromium:
// search, open a workspace, grant credit through its confirmation, see a reused
// idempotency key with another amount refused with a clear 409, record a bank
// transfer (its receipt), issue a credit note, set the overdraft limit and the time
// zone, create a workspace, and find every action on the Audit page; Activity shows
// the deployment's figures.
func TestBrowserAdminWorkspaces(t *testing.T) {
	screenshotsDir(t)
	e := newAdminEnv(t, storetest.SQLite)
	f := e.seedFixture()
	base := e.ts.URL
	ctx := consoleSignedIn(t, base)
	page := base + "/admin/workspaces/" + f.ws
	browsertest.AllowConsole(ctx, "status of 409 (Conflict) ("+page+"/grant)")       // the reused key, meant to be refused
	browsertest.AllowConsole(ctx, "status of 400 (Bad Request) ("+page+"/timezone)") // the bad zone, meant to be refused
	browsertest.Screenshot(ctx, t, "admin-workspaces-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "admin-workspaces-phone.png", browsertest.PhoneWidth)

	do(t, ctx, "search", chromedp.SetValue(chromedp.ID("ws-q"), "globex"), chromedp.Submit(chromedp.ID("ws-q")))
	waitFor(t, ctx, `location.search.includes("q=globex") && document.querySelectorAll("#workspaces tbody tr").length === 1`)
	if row := eval[string](t, ctx, `document.querySelector("#workspaces tbody tr").innerText`); !strings.Contains(row, "Globex") || !strings.Contains(row, "owner@globex.test") {
		t.Errorf("search row: %q", row)
	}
	do(t, ctx, "back to all", chromedp.Navigate(base+"/admin/workspaces"))
	waitFor(t, ctx, `document.querySelectorAll("#workspaces tbody tr").length === 2`)
	do(t, ctx, "sort by spend", chromedp.Click(chromedp.CSS(`a.sort-link[href*="sort=spend"]`)))
	waitFor(t, ctx, `location.search.includes("sort=spend") && document.querySelector('th[aria-sort="descending"]')`)
	do(t, ctx, "open Acme", chromedp.Click(chromedp.CSS(`#workspaces a[href="/admin/workspaces/`+f.ws+`"]`)))
	waitFor(t, ctx, `document.getElementById("grant")`)

	// A grant: reviewed, then posted once.
	key := eval[string](t, ctx, `document.getElementById("g-key").value`)
	before := e.balance(t, f.ws)
	do(t, ctx, "fill the grant", chromedp.SetValue(chromedp.ID("g-amount"), "25"), chromedp.SetValue(chromedp.ID("g-note"), "Goodwill for the outage"),
		chromedp.Click(chromedp.CSS(`#grant button[type=submit]`)))
	waitFor(t, ctx, `document.getElementById("confirm")`)
	if c := eval[string](t, ctx, `document.getElementById("confirm").innerText`); !strings.Contains(c, "$25.00") || !strings.Contains(c, "Goodwill for the outage") || !strings.Contains(c, key) {
		t.Errorf("confirmation: %q", c)
	}
	if e.balance(t, f.ws) != before {
		t.Fatal("the review posted")
	}
	browsertest.Screenshot(ctx, t, "admin-grant-confirm-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "admin-grant-confirm-phone.png", browsertest.PhoneWidth)
	do(t, ctx, "post the grant", chromedp.Click(chromedp.ID("confirm-grant")))
	waitFor(t, ctx, `document.getElementById("flash") && document.getElementById("flash").innerText.includes("Credit granted")`)
	if got := e.balance(t, f.ws); got != before+25*money.Scale {
		t.Fatalf("balance %d after the grant, want %d", got, before+25*money.Scale)
	}

	// The same key with another amount: refused, clearly, and nothing posted.
	do(t, ctx, "reuse the key", chromedp.SetValue(chromedp.ID("g-key"), key), chromedp.SetValue(chromedp.ID("g-amount"), "30"),
		chromedp.Click(chromedp.CSS(`#grant button[type=submit]`)))
	waitFor(t, ctx, `document.getElementById("confirm-grant")`)
	do(t, ctx, "post it", chromedp.Click(chromedp.ID("confirm-grant")))
	waitFor(t, ctx, `document.querySelector('#grant [role=alert][data-code="idempotency_conflict"]')`)
	msg := eval[string](t, ctx, `document.querySelector('#grant [role=alert]').innerText`)
	if !strings.Contains(msg, "409") || !strings.Contains(msg, "nothing was posted") {
		t.Errorf("conflict message: %q", msg)
	}
	if eval[string](t, ctx, `document.getElementById("g-key").value`) == key {
		t.Error("the form keeps the used key instead of offering a new one")
	}
	if got := e.balance(t, f.ws); got != before+25*money.Scale {
		t.Fatalf("the conflict posted: %d", got)
	}
	browsertest.Screenshot(ctx, t, "admin-grant-conflict-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "admin-grant-conflict-phone.png", browsertest.PhoneWidth)

	// A bank transfer with its receipt, then a credit note of that receipt.
	do(t, ctx, "record a payment", chromedp.SetValue(chromedp.ID("p-amount"), "40"), chromedp.SetValue(chromedp.ID("p-ref"), "BANK-2025-0615"),
		chromedp.SetValue(chromedp.ID("p-note"), "June invoice"), chromedp.Click(chromedp.CSS(`#payment button[type=submit]`)))
	waitFor(t, ctx, `document.getElementById("flash") && document.getElementById("flash").innerText.includes("receipt")`)
	do(t, ctx, "issue a credit note", chromedp.SetValue(chromedp.ID("cn-amount"), "5"), chromedp.SetValue(chromedp.ID("cn-reason"), "Double-counted day"),
		chromedp.Click(chromedp.CSS(`#credit-note button[type=submit]`)))
	waitFor(t, ctx, `document.getElementById("flash") && document.getElementById("flash").innerText.includes("Credit note issued")`)

	// Overdraft limit and time zone.
	do(t, ctx, "set the overdraft", chromedp.SetValue(chromedp.ID("o-limit"), "15"), chromedp.Click(chromedp.CSS(`#overdraft-form button`)))
	waitFor(t, ctx, `document.getElementById("overdraft").innerText.includes("$15.00")`)
	do(t, ctx, "set the zone", chromedp.SetValue(chromedp.ID("t-zone"), "Asia/Tokyo"), chromedp.Click(chromedp.CSS(`#timezone-form button`)))
	waitFor(t, ctx, `document.getElementById("zone").innerText === "Asia/Tokyo"`)
	do(t, ctx, "a bad zone", chromedp.SetValue(chromedp.ID("t-zone"), "Mars/Olympus"), chromedp.Click(chromedp.CSS(`#timezone-form button`)))
	waitFor(t, ctx, `document.querySelector('#timezone-form [role=alert][data-code="invalid_timezone"]')`)
	do(t, ctx, "reload", chromedp.Navigate(base+"/admin/workspaces/"+f.ws))
	waitFor(t, ctx, `document.getElementById("members") && document.getElementById("keys")`)
	if k := eval[string](t, ctx, `document.getElementById("keys").innerText`); !strings.Contains(k, "member-key") {
		t.Errorf("keys: %q", k)
	}
	browsertest.Screenshot(ctx, t, "admin-workspace-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "admin-workspace-phone.png", browsertest.PhoneWidth)

	// Create a workspace.
	do(t, ctx, "open the list", chromedp.Navigate(base+"/admin/workspaces"))
	do(t, ctx, "create", chromedp.SetValue(chromedp.ID("c-name"), "Initech"), chromedp.SetValue(chromedp.ID("c-owner"), f.users[team.RoleViewer].Email),
		chromedp.SetValue(chromedp.ID("c-zone"), "Europe/Berlin"), chromedp.Click(chromedp.CSS(`#create button[type=submit]`)))
	waitFor(t, ctx, `document.getElementById("flash") && document.getElementById("flash").innerText.includes("Workspace created") && document.querySelector("h1").innerText.startsWith("Initech")`)

	// Activity and the audit log.
	do(t, ctx, "activity", chromedp.Click(chromedp.CSS(`nav.console a[href="/admin/activity"]`)))
	waitFor(t, ctx, `document.getElementById("top-workspaces") && document.getElementById("days")`)
	if top := eval[string](t, ctx, `document.getElementById("top-models").innerText`); !strings.Contains(top, "gpt-test") {
		t.Errorf("top models: %q", top)
	}
	browsertest.Screenshot(ctx, t, "admin-activity-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "admin-activity-phone.png", browsertest.PhoneWidth)
	do(t, ctx, "audit", chromedp.Click(chromedp.CSS(`nav.console a[href="/admin/audit"]`)))
	waitFor(t, ctx, `document.querySelectorAll("#audit tbody tr").length >= 6`)
	for _, action := range []string{"grant", "payment", "credit_note", "workspace.overdraft", "workspace.update", "workspace.create"} {
		if !eval[bool](t, ctx, `!!document.querySelector('#audit tr[data-action="`+action+`"]')`) {
			t.Errorf("the audit page lacks %s", action)
		}
	}
	if n := len(e.entries(t, audit.Filter{Action: "grant"})); n != 1 {
		t.Errorf("%d grant entries, want 1 (the conflict posted nothing)", n)
	}
	browsertest.Screenshot(ctx, t, "admin-audit-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "admin-audit-phone.png", browsertest.PhoneWidth)
	do(t, ctx, "filter", chromedp.SetValue(chromedp.ID("a-action"), "grant"), chromedp.Submit(chromedp.ID("a-action")))
	waitFor(t, ctx, `location.search.includes("action=grant") && document.querySelectorAll("#audit tbody tr").length === 1`)
}
