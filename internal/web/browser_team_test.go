package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"spectra/internal/browsertest"
	"spectra/internal/team"
)

// TestBrowserInvite: an owner invites a member on the Members page; the link is shown
// and the email reaches the SMTP server; a fresh browser opens the link, sets a
// password and lands on the workspace's dashboard with that role; the link does not
// work twice; an expired link is refused.
func TestBrowserInvite(t *testing.T) {
	e, f, owner, ws := ownerBrowser(t)
	base := e.ts.URL
	do(t, owner, "open members", chromedp.Navigate(base+ws+"members"), chromedp.WaitVisible(chromedp.ID("inv-email")))
	do(t, owner, "invite",
		chromedp.SendKeys(chromedp.ID("inv-email"), "dana@acme.test"),
		chromedp.SetValue(chromedp.ID("inv-role"), "admin"),
		chromedp.Click(chromedp.CSS(`#invite-form button[type=submit]`)),
	)
	waitFor(t, owner, `document.getElementById("invite-link")`)
	link := eval[string](t, owner, `document.getElementById("invite-link").value`)
	if !strings.HasPrefix(link, base+"/invite/") {
		t.Fatalf("shown link %q", link)
	}
	if got := eval[string](t, owner, `document.getElementById("invite-sent").innerText`); !strings.Contains(got, "dana@acme.test is invited as admin") || !strings.Contains(got, "email with this link is on its way") {
		t.Errorf("sent panel: %q", got)
	}
	msg := e.smtp.WaitTo(t, "dana@acme.test", 10*time.Second)
	if !strings.Contains(msg.Body, link) || !strings.Contains(msg.Subject, "Acme") {
		t.Fatalf("email %q does not carry the shown link:\n%s", msg.Subject, msg.Body)
	}
	if got := eval[string](t, owner, `document.getElementById("pending").innerText`); !strings.Contains(got, "dana@acme.test") {
		t.Errorf("pending list: %q", got)
	}
	browsertest.Screenshot(owner, t, "members-invited-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(owner, t, "members-invited-phone.png", browsertest.PhoneWidth)

	// A fresh browser, never signed in, accepts.
	dana, cancelDana := browsertest.New(t)
	defer cancelDana()
	do(t, dana, "open link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("i-name")))
	if got := eval[string](t, dana, `document.querySelector(".auth h1").innerText`); got != "Join Acme" {
		t.Errorf("accept page title %q", got)
	}
	browsertest.Screenshot(dana, t, "invite-accept-phone.png", browsertest.PhoneWidth)
	do(t, dana, "set password",
		chromedp.SendKeys(chromedp.ID("i-name"), "Dana Admin"),
		chromedp.SendKeys(chromedp.ID("i-pw"), "dana's long password"),
		chromedp.SendKeys(chromedp.ID("i-pw2"), "dana's long password"),
		chromedp.Click(chromedp.CSS(`#accept-form button[type=submit]`)),
	)
	waitFor(t, dana, `location.pathname === "`+ws+`" && document.querySelector(".tiles")`)
	if got := eval[string](t, dana, `document.querySelector(".user").textContent`); !strings.Contains(got, "Dana Admin") || !strings.Contains(got, "admin") {
		t.Errorf("signed in as %q, want Dana Admin · admin", got)
	}
	// As an admin, Dana sees the invite form on Members.
	do(t, dana, "dana's members", chromedp.Navigate(base+ws+"members"), chromedp.WaitVisible(chromedp.ID("inv-email")))

	// The link does not work twice, not even in another fresh browser.
	again, cancelAgain := browsertest.New(t)
	defer cancelAgain()
	browsertest.AllowConsole(again, "status of 409 (Conflict)") // a used or expired link is refused with 409
	do(t, again, "reuse link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("invite-error")))
	if got := eval[string](t, again, `document.getElementById("invite-error").innerText`); !strings.Contains(got, "already been accepted") {
		t.Errorf("reused link says %q", got)
	}
	if n := eval[int](t, again, `document.querySelectorAll("#accept-form").length`); n != 0 {
		t.Error("a used link still shows the accept form")
	}

	// The owner changes Dana's role, then removes her; her next page is refused.
	do(t, owner, "owner's members", chromedp.Navigate(base+ws+"members"), chromedp.WaitVisible(chromedp.ID("inv-email")))
	danaUser, err := e.accounts.UserByEmail(context.Background(), "dana@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	danaID := danaUser.ID
	eval[bool](t, owner, `(window.beforeRoleChange = true)`)
	do(t, owner, "make Dana a viewer",
		chromedp.SetValue(chromedp.ID("role-"+danaID), "viewer"),
		chromedp.Click(chromedp.CSS(`form[action$="/`+danaID+`/role"] button[type=submit]`)),
	)
	waitFor(t, owner, `!window.beforeRoleChange && document.getElementById("role-`+danaID+`") && document.getElementById("role-`+danaID+`").value === "viewer"`)
	if m, err := e.accounts.Member(context.Background(), f.ws, danaID); err != nil || m.Role != team.RoleViewer {
		t.Fatalf("Dana's membership after the role change: %+v %v", m, err)
	}
	eval[bool](t, owner, `(window.confirm = () => true, true)`)
	do(t, owner, "remove Dana", chromedp.Click(chromedp.CSS(`button[aria-label="Remove Dana Admin"]`)))
	waitFor(t, owner, `document.getElementById("inv-email") && !document.body.innerText.includes("dana@acme.test")`)
	browsertest.AllowConsole(dana, "status of 404 (Not Found)") // the workspace is a 404 to a removed member
	do(t, dana, "dana after removal", chromedp.Navigate(base+ws+"members"), chromedp.WaitVisible(chromedp.CSS("main")))
	if got := eval[string](t, dana, `document.body.innerText`); !strings.Contains(got, "no such workspace") {
		t.Errorf("a removed member still opens the workspace: %.300s", got)
	}

	// An expired link is refused.
	do(t, owner, "open members again", chromedp.Navigate(base+ws+"members"), chromedp.WaitVisible(chromedp.ID("inv-email")))
	do(t, owner, "invite again",
		chromedp.SendKeys(chromedp.ID("inv-email"), "late@acme.test"),
		chromedp.Click(chromedp.CSS(`#invite-form button[type=submit]`)),
	)
	waitFor(t, owner, `document.getElementById("invite-link") && document.getElementById("invite-link").value.includes("/invite/")`)
	late := eval[string](t, owner, `document.getElementById("invite-link").value`)
	if late == link {
		t.Fatal("the second invitation has the first one's link")
	}
	e.clock.Set(testNow.Add(team.DefaultInvitationTTL + time.Minute))
	do(t, again, "open expired link", chromedp.Navigate(late), chromedp.WaitVisible(chromedp.ID("invite-error")))
	if got := eval[string](t, again, `document.getElementById("invite-error").innerText`); !strings.Contains(got, "expired") {
		t.Errorf("expired link says %q", got)
	}
	if _, err := e.accounts.UserByEmail(context.Background(), "late@acme.test"); err == nil {
		t.Error("an expired link made an account")
	}
}
