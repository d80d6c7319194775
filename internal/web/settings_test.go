package web

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"spectra/internal/notify"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// hookReceiver is an httptest server that verifies each message's signature with the
// official Standard Webhooks library against the secret it is given.
type hookReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	secret   string
	verified int
	refused  int
}

func newHookReceiver(t testing.TB) *hookReceiver {
	rc := &hookReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(rc.secret)
		// The test clock is in 2025, so the timestamp's freshness is not checked here.
		if err != nil || wh.VerifyIgnoringTimestamp(body, r.Header) != nil {
			rc.refused++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rc.verified++
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *hookReceiver) counts() (int, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.verified, rc.refused
}

// newNotifyEnv is a dashboard with webhooks over db; it returns the notifier too.
func newNotifyEnv(t testing.TB, db func(testing.TB, storetest.Options) *store.DB) (*env, *notify.Service) {
	var svc *notify.Service
	e := newEnvWith(t, db, func(e *env, d *Deps) {
		svc = notify.New(notify.Config{Store: e.db, Now: e.clock.Now, Log: slog.New(slog.DiscardHandler), AllowPrivateNetworks: true})
		d.Notify = svc
	})
	return e, svc
}

var secretRE = regexp.MustCompile(`id="hook-secret" class="mono" readonly value="(whsec_[^"]+)"`)

func TestSettingsWebhooks(t *testing.T) {
	for name, db := range map[string]func(testing.TB, storetest.Options) *store.DB{"sqlite": storetest.SQLite, "postgres": storetest.Postgres} {
		t.Run(name, func(t *testing.T) {
			e, svc := newNotifyEnv(t, db)
			f := e.seedFixture()
			rc := newHookReceiver(t)
			c := e.signedIn(f.users[team.RoleOwner].Email)
			page := "/w/" + f.ws + "/settings"
			if st, body := c.get(page); st != 200 || !strings.Contains(body, "Add a webhook endpoint") || !strings.Contains(body, "No webhook endpoints yet") {
				t.Fatalf("settings: %d\n%.400s", st, body)
			}

			// An invalid URL is shown back with the reason.
			st, body := c.post(page+"/webhooks", url.Values{"url": {"ftp://nope"}, "description": {"kept"}})
			if st != 400 || !strings.Contains(body, "absolute http:// or https:// URL") || !strings.Contains(body, `value="kept"`) {
				t.Fatalf("invalid url: %d\n%.600s", st, body)
			}

			// Add: 201, the secret shown once.
			st, body = c.post(page+"/webhooks", url.Values{"url": {rc.URL + "/hook?token=abc"}, "description": {"Ops pager"}, "event_type": {"budget.threshold"}})
			m := secretRE.FindStringSubmatch(body)
			if st != http.StatusCreated || m == nil {
				t.Fatalf("add: %d\n%.600s", st, body)
			}
			rc.secret = html.UnescapeString(m[1])
			eps, _ := svc.Endpoints(context.Background(), f.ws)
			if len(eps) != 1 || eps[0].Secret != rc.secret || eps[0].Description != "Ops pager" || len(eps[0].EventTypes) != 1 {
				t.Fatalf("stored %+v", eps)
			}
			hook := eps[0].ID
			_, body = c.get(page)
			if strings.Contains(body, "whsec_") || !strings.Contains(body, rc.URL+"/hook?token=abc") || !strings.Contains(body, "budget.threshold") {
				t.Fatalf("reload shows the secret or misses the endpoint:\n%s", body)
			}

			// Test event: queued, sent, and listed as delivered with its HTTP status, in the
			// workspace's time zone (New York: 11:30).
			if st, loc := c.post(page+"/webhooks/"+hook+"/test", url.Values{}); st != http.StatusSeeOther || !strings.HasSuffix(loc, "?done=test") {
				t.Fatalf("test: %d %s", st, loc)
			}
			_, body = c.get(page + "?done=test")
			if !strings.Contains(body, "Test event queued") || !strings.Contains(body, `class="tag pending"`) || !strings.Contains(body, `hx-trigger="every 2s"`) {
				t.Fatalf("pending delivery not shown:\n%s", body)
			}
			if n, err := svc.SendDue(context.Background()); n != 1 || err != nil {
				t.Fatalf("SendDue = %d, %v", n, err)
			}
			if v, r := rc.counts(); v != 1 || r != 0 {
				t.Fatalf("receiver verified %d, refused %d", v, r)
			}
			_, body = c.get(page)
			if !strings.Contains(body, `class="tag delivered">delivered`) || !strings.Contains(body, `<span class="status s2">200</span>`) ||
				!strings.Contains(body, "15 Jun 2025, 11:30") || !strings.Contains(body, "webhook.test") || strings.Contains(body, `hx-trigger="every 2s"`) {
				t.Fatalf("delivered not shown:\n%s", body)
			}

			// Disable, enable.
			if st, loc := c.post(page+"/webhooks/"+hook+"/enabled", url.Values{"enabled": {"false"}}); st != http.StatusSeeOther || !strings.HasSuffix(loc, "done=disabled") {
				t.Fatalf("disable: %d %s", st, loc)
			}
			if ep, _ := svc.Endpoint(context.Background(), f.ws, hook); ep.Enabled {
				t.Fatal("still enabled")
			}
			c.post(page+"/webhooks/"+hook+"/enabled", url.Values{"enabled": {"true"}})
			if ep, _ := svc.Endpoint(context.Background(), f.ws, hook); !ep.Enabled {
				t.Fatal("not enabled again")
			}

			// Rotate: a new secret, shown once; the old one no longer verifies.
			st, body = c.post(page+"/webhooks/"+hook+"/rotate", url.Values{})
			m = secretRE.FindStringSubmatch(body)
			if st != 200 || m == nil || html.UnescapeString(m[1]) == rc.secret {
				t.Fatalf("rotate: %d", st)
			}
			c.post(page+"/webhooks/"+hook+"/test", url.Values{})
			svc.SendDue(context.Background())
			if v, r := rc.counts(); v != 1 || r != 1 {
				t.Fatalf("after rotation the old secret verified: verified %d, refused %d", v, r)
			}
			rc.secret = html.UnescapeString(m[1])
			e.clock.Set(testNow.Add(30 * time.Second)) // past the first retry (10 s ± 10 %)
			svc.SendDue(context.Background())
			if v, _ := rc.counts(); v != 2 {
				t.Fatalf("the retry with the new secret: verified %d", v)
			}

			// Delete.
			if st, _ := c.post(page+"/webhooks/"+hook+"/delete", url.Values{}); st != http.StatusSeeOther {
				t.Fatalf("delete: %d", st)
			}
			if eps, _ := svc.Endpoints(context.Background(), f.ws); len(eps) != 0 {
				t.Fatal("not deleted")
			}
			if st, _ := c.post(page+"/webhooks/"+hook+"/test", url.Values{}); st != http.StatusNotFound {
				t.Fatalf("test a deleted endpoint: %d", st)
			}
		})
	}
}

// Only owners and admins manage webhooks; other roles see the list without the form,
// the actions or the full URL (which may carry a token), and are refused every action.
func TestSettingsRoles(t *testing.T) {
	e, svc := newNotifyEnv(t, storetest.SQLite)
	f := e.seedFixture()
	u := "https://hooks.example.com/path/with-token-xyz"
	ep, _, err := svc.CreateEndpoint(context.Background(), f.ws, notify.EndpointInput{URL: &u})
	if err != nil {
		t.Fatal(err)
	}
	gu := "https://globex.example.com/hook"
	gep, _, _ := svc.CreateEndpoint(context.Background(), f.other, notify.EndpointInput{URL: &gu})
	page := "/w/" + f.ws + "/settings"
	for _, role := range team.Roles {
		manage := role == team.RoleOwner || role == team.RoleAdmin
		c := e.signedIn(f.users[role].Email)
		st, body := c.get(page)
		if st != 200 || strings.Contains(body, "Add a webhook endpoint") != manage || strings.Contains(body, "with-token-xyz") != manage ||
			!strings.Contains(body, "https://hooks.example.com/") || strings.Contains(body, "globex.example.com") {
			t.Errorf("%s: settings %d, form/URL shown wrongly", role, st)
		}
		want := http.StatusForbidden
		if manage {
			want = http.StatusCreated
		}
		if st, _ := c.post(page+"/webhooks", url.Values{"url": {"https://example.com/" + string(role)}}); st != want {
			t.Errorf("%s adds an endpoint: %d, want %d", role, st, want)
		}
		for _, action := range []string{"test", "enabled", "rotate", "delete"} {
			if manage {
				continue
			}
			if st, _ := c.post(page+"/webhooks/"+ep.ID+"/"+action, url.Values{"enabled": {"false"}}); st != http.StatusForbidden {
				t.Errorf("%s %s: %d, want 403", role, action, st)
			}
		}
	}
	admin := e.signedIn(f.users[team.RoleAdmin].Email)
	// Another workspace's endpoint is not found through this one.
	for _, action := range []string{"test", "enabled", "rotate", "delete"} {
		if st, _ := admin.post(page+"/webhooks/"+gep.ID+"/"+action, url.Values{}); st != http.StatusNotFound {
			t.Errorf("admin %s another workspace's endpoint: %d", action, st)
		}
	}
	// A form without the session's CSRF token is refused.
	if st, _ := admin.post(page+"/webhooks", url.Values{"url": {"https://example.com/x"}, "csrf": {"forged"}}); st != http.StatusForbidden {
		t.Errorf("forged CSRF: %d", st)
	}
	if got, _ := svc.Endpoint(context.Background(), f.other, gep.ID); !got.Enabled {
		t.Error("the other workspace's endpoint was changed")
	}
}

// Without notifications wired, the page says so and the forms are refused.
func TestSettingsWithoutNotify(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	c := e.signedIn(f.users[team.RoleOwner].Email)
	if st, body := c.get("/w/" + f.ws + "/settings"); st != 200 || !strings.Contains(body, "not available in this deployment") {
		t.Fatalf("settings: %d", st)
	}
	if st, _ := c.post("/w/"+f.ws+"/settings/webhooks", url.Values{"url": {"https://example.com"}}); st != http.StatusServiceUnavailable {
		t.Fatalf("add without notify: %d", st)
	}
}

// TestSettingsWebhooksRefused: a deployment without notifications refuses webhook forms
// with its own code, and a form too large to read is refused as such; neither stores an
// endpoint.
func TestSettingsWebhooksRefused(t *testing.T) {
	plain := newEnv(t, storetest.SQLite) // no Notify
	f := plain.seedFixture()
	c := plain.signedIn(f.users[team.RoleOwner].Email)
	st, body := c.post("/w/"+f.ws+"/settings/webhooks", url.Values{"url": {"https://hooks.example.com/x"}})
	if st != http.StatusServiceUnavailable || !strings.Contains(body, "Webhooks are not available in this deployment") {
		t.Fatalf("without notifications: %d\n%.600s", st, body)
	}

	e, svc := newNotifyEnv(t, storetest.SQLite)
	f = e.seedFixture()
	c = e.signedIn(f.users[team.RoleOwner].Email)
	st, body = c.post("/w/"+f.ws+"/settings/webhooks", url.Values{"url": {"https://hooks.example.com/x"}, "description": {strings.Repeat("x", 70<<10)}})
	if st != http.StatusBadRequest || !strings.Contains(body, "The form could not be read") {
		t.Fatalf("a form over 64 KiB: %d\n%.600s", st, body)
	}
	if eps, err := svc.Endpoints(context.Background(), f.ws); err != nil || len(eps) != 0 {
		t.Fatalf("endpoints after the refusals: %+v %v", eps, err)
	}
}
