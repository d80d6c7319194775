package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/invoicepdf"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// postRetryAfter submits a form like post and returns the status and Retry-After.
func (c *client) postRetryAfter(path string, form url.Values) (int, string) {
	c.e.t.Helper()
	resp, _ := c.send(c.formRequest(path, form))
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// A 429 says how long to wait from the limit that refused it: the sign-in window for
// sign-ins, the billing's redemption window (here 5 minutes) for redemption codes.
// Before, every dashboard 429 said 900 seconds whatever the window.
func TestRetryAfterFollowsTheWindow(t *testing.T) {
	const window = 5 * time.Minute
	e := newEnvWith(t, storetest.SQLite, func(e *env, d *Deps) {
		svc, err := billing.New(billing.Config{RenderPDF: invoicepdf.Render, Currency: "USD", Seller: billing.Party{Name: "Op", Country: "GB"},
			RedeemFailureLimit: 2, RedeemWindow: window, Now: e.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
			e.db, e.ledger, e.team, e.metering)
		if err != nil {
			t.Fatal(err)
		}
		d.Billing = svc
	})
	f := e.seedFixture()

	owner := e.signedIn(f.users[team.RoleOwner].Email)
	owner.get("/w/" + f.ws + "/billing")
	var st int
	var wait string
	for range 3 {
		st, wait = owner.postRetryAfter("/w/"+f.ws+"/billing/redeem", url.Values{"code": {"GUESS-GUESS-GUESS-GUES"}})
	}
	if st != http.StatusTooManyRequests || wait != "300" {
		t.Errorf("redemption lockout: %d, Retry-After %q; want 429, 300", st, wait)
	}

	c := e.client()
	c.get("/login")
	for range loginMaxFailures + 1 {
		st, wait = c.postRetryAfter("/login", url.Values{"email": {f.outsider.Email}, "password": {"wrong password!"}})
	}
	if want := strconv.Itoa(int(loginWindow / time.Second)); st != http.StatusTooManyRequests || wait != want {
		t.Errorf("sign-in lockout: %d, Retry-After %q; want 429, %s", st, wait, want)
	}
}
