package web

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/pricing"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// TestPagesRender signs in as the owner and opens every page.
func TestPagesRender(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		c := e.signedIn(f.users[team.RoleOwner].Email)
		for _, p := range []string{"", "usage", "usage?group=key", "usage?group=", "requests", "billing", "invoices", "keys", "members",
			"?period=today", "?period=30d", "?period=month", "?period=custom&from=2025-06-01&to=2025-06-10", "usage.csv"} {
			st, body := c.get("/w/" + f.ws + "/" + p)
			if st != http.StatusOK {
				t.Errorf("%s: %d\n%s", p, st, body)
				continue
			}
			if strings.Contains(body, "secret-globex-project") || strings.Contains(body, "Globex credit") {
				t.Errorf("%s shows another workspace's data", p)
			}
		}
	})
}

func TestBalanceBanner(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		f := e.seedFixture()
		c := e.signedIn(f.users[team.RoleViewer].Email)
		// $100 granted, about $1.2 spent a day: no banner.
		_, body := c.get("/w/" + f.ws + "/usage")
		if strings.Contains(body, `class="banner`) {
			t.Fatal("a banner with a healthy balance")
		}
		if !strings.Contains(body, "days at the last 7 days&#39; burn") {
			t.Fatal("no runway in the top bar")
		}
		// Spend the balance down to a few hours: a low-balance banner on every page.
		spend := func(id string, input int64) {
			if _, err := e.metering.Ingest(ctx, []metering.Event{{ID: id, WorkspaceID: f.ws, Model: "gpt-test", Timestamp: testNow.Add(-time.Hour),
				Usage: pricing.Usage{Input: input}}}); err != nil {
				t.Fatal(err)
			}
		}
		b, _ := e.ledger.Balance(ctx, f.ws)
		spend("big-1", int64(b.Available-2_000_000)*1_000_000/2_500_000) // leaves about $2
		for _, p := range []string{"", "keys", "billing"} {
			_, body := c.get("/w/" + f.ws + "/" + p)
			if !strings.Contains(body, `class="banner low" role="alert"`) || !strings.Contains(body, "Low balance.") {
				t.Errorf("%s: no low-balance banner", p)
			}
		}
		spend("big-2", 4_000_000) // $10 more: negative
		_, body = c.get("/w/" + f.ws + "/members")
		if !strings.Contains(body, `class="banner out" role="alert"`) || !strings.Contains(body, "Your balance is negative") {
			t.Fatal("no negative-balance banner")
		}
		if !strings.Contains(body, `class="money neg"`) {
			t.Fatal("the negative balance is not marked")
		}
	})
}

func TestEmptyWorkspace(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	ctx := context.Background()
	ws, _ := e.team.CreateWorkspace(ctx, team.Workspace{Name: "Empty"})
	u, _ := e.accounts.CreateUser(ctx, "new@empty.test", "New", testPassword, false)
	e.accounts.AddMember(ctx, ws.ID, u.ID, team.RoleMember)
	c := e.signedIn(u.Email)
	for p, want := range map[string]string{
		"":         "Create a key",
		"usage":    "No usage matches these filters",
		"requests": "Requests sent through the gateway or posted to",
		"billing":  "No transactions yet",
		"invoices": "Invoices arrive with monthly statements",
		"keys":     "No keys yet. Create one above",
	} {
		st, body := c.get("/w/" + ws.ID + "/" + p)
		if st != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d, no %q", p, st, want)
		}
	}
	// Never funded: a guiding "No credit yet", not "Out of credit" (TestNoCreditYetBanner).
	_, body := c.get("/w/" + ws.ID + "/")
	if !strings.Contains(body, "no credit yet") || !strings.Contains(body, `data-banner="no-credit"`) || strings.Contains(body, "Out of credit.") {
		t.Error("an unfunded workspace does not say it has no credit yet")
	}
}

var logRowRE = regexp.MustCompile(`title="[^"]* · id ([^"]+)"`)
var nextRE = regexp.MustCompile(`<a class="btn" href="([^"]+)" rel="next">`)

// TestRequestLogPages walks the request log with its keyset links: newest first, no
// event twice, none missing, filters kept.
func TestRequestLogPages(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		c := e.signedIn(f.users[team.RoleMember].Email)
		for _, tc := range []struct {
			query string
			want  int
		}{{"", 200}, {"?model=mini-test", 67}, {"?period=today&model=gpt-test", -1}} {
			seen := map[string]bool{}
			next := "/w/" + f.ws + "/requests" + tc.query
			pages := 0
			for next != "" {
				st, body := c.get(html.UnescapeString(next))
				if st != 200 {
					t.Fatalf("%s: %d", next, st)
				}
				for _, m := range logRowRE.FindAllStringSubmatch(body, -1) {
					if seen[m[1]] {
						t.Fatalf("%s: %s twice", tc.query, m[1])
					}
					seen[m[1]] = true
					if strings.HasPrefix(m[1], "gx-") {
						t.Fatal("another workspace's event")
					}
				}
				next = ""
				if m := nextRE.FindStringSubmatch(body); m != nil {
					next = m[1]
				}
				pages++
			}
			if tc.want >= 0 && len(seen) != tc.want {
				t.Errorf("%s: %d events over %d pages, want %d", tc.query, len(seen), pages, tc.want)
			}
		}
		if st, _ := c.get("/w/" + f.ws + "/requests?before=garbage"); st != 400 {
			t.Errorf("a bad cursor: %d", st)
		}
	})
}
