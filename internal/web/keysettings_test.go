package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"spectra/internal/budget"
	"spectra/internal/gateway"
	"spectra/internal/money"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// newGatewayEnv is a dashboard with a gateway behind it (Deps.Upstreams), which the
// Keys page's settings need.
func newGatewayEnv(t testing.TB, db func(testing.TB, storetest.Options) *store.DB) (*env, *gateway.Gateway) {
	t.Helper()
	var gw *gateway.Gateway
	e := newEnvWith(t, db, func(e *env, d *Deps) {
		var err error
		gw, err = gateway.New(gateway.Config{Team: e.team, Ledger: e.ledger, Metering: e.metering, Store: e.db, Now: e.clock.Now,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { gw.Flush(context.Background()) })
		d.Upstreams = gw
	})
	return e, gw
}

// key returns the workspace's key id as stored.
func (e *env) keyByID(ws, id string) team.APIKey {
	e.t.Helper()
	all, err := e.team.Keys(context.Background(), ws)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, k := range all {
		if k.ID == id {
			return k
		}
	}
	e.t.Fatalf("no key %s", id)
	return team.APIKey{}
}

// TestKeySettingsPage: an admin sets a key's allowed models, rpm, tpm, project, expiry
// and spend limit (a hard budget of the key) from the Keys page, and sees them in the
// list; bad input is refused with the reason on the page and changes nothing; an empty
// spend limit removes it. A member may change the settings of their own key only, only
// to make them stricter (never lifting what an admin set), and not its spend limit
// (manage_budgets); a viewer may change nothing.
func TestKeySettingsPage(t *testing.T) {
	for name, db := range map[string]func(testing.TB, storetest.Options) *store.DB{"sqlite": storetest.SQLite, "postgres": storetest.Postgres} {
		t.Run(name, func(t *testing.T) {
			e, _ := newGatewayEnv(t, db)
			ctx := context.Background()
			f := e.seedFixture()
			admin := e.signedIn(f.users[team.RoleAdmin].Email)
			mk := f.keys["member-key"]
			keys := "/w/" + f.ws + "/keys"

			st, body := admin.get(keys + "?edit=" + mk.ID)
			if st != 200 || !strings.Contains(body, `id="key-settings"`) || !strings.Contains(body, `name="limit"`) {
				t.Fatalf("settings form: %d", st)
			}
			form := url.Values{"op": {"settings"}, "key": {mk.ID}, "models": {"gpt-test, mini-test"}, "rpm": {"60"}, "tpm": {""},
				"project": {"alpha"}, "expiry": {"2025-07-31"}, "limit": {"25"}, "limit_period": {"month"}}
			st, _ = admin.post(keys, form)
			if st != http.StatusSeeOther {
				t.Fatalf("save: %d", st)
			}
			k := e.keyByID(f.ws, mk.ID)
			ny, _ := time.LoadLocation("America/New_York")
			wantExp := time.Date(2025, 8, 1, 0, 0, 0, 0, ny)
			if strings.Join(k.AllowedModels, ",") != "gpt-test,mini-test" || k.RPM != 60 || k.TPM != 0 || k.Project != "alpha" ||
				k.ExpiresAt == nil || !k.ExpiresAt.Equal(wantExp) {
				t.Fatalf("saved key: %+v (expiry %v, want %v)", k, k.ExpiresAt, wantExp)
			}
			bs, err := e.budget.List(ctx, f.ws)
			if err != nil {
				t.Fatal(err)
			}
			lim := spendLimit(bs, mk.ID)
			if lim == nil || lim.Amount != 25*money.Scale || lim.Period != budget.PeriodMonth || !lim.HardLimit {
				t.Fatalf("spend limit: %+v", lim)
			}
			_, body = admin.get(keys + "?saved=" + mk.ID)
			for _, want := range []string{"Settings of key “member-key” saved.", "2 models · 60 rpm · $25.00 per month · until 31 Jul 2025"} {
				if !strings.Contains(body, want) {
					t.Errorf("the list does not show %q: %s", want, body[strings.LastIndex(body, `data-label="Limits"`):][:300])
				}
			}

			// Bad input: each refused with its reason, the form as typed, nothing changed.
			for _, c := range []struct{ field, value, code, says string }{
				{"rpm", "-1", "invalid_rpm", "Requests per minute must be a whole number"},
				{"tpm", "many", "invalid_tpm", "Tokens per minute must be a whole number"},
				{"models", "gpt-test, bad model!", "invalid_allowed_models", "is not valid"},
				{"expiry", "2025-06-01", "invalid_expires_at", "The expiry must be in the future"},
				{"expiry", "next week", "invalid_expires_at", "must be a date"},
				{"limit", "-5", "invalid_amount", "spend limit must be an amount greater than zero"},
			} {
				bad := url.Values{}
				for k, v := range form {
					bad[k] = v
				}
				bad.Set(c.field, c.value)
				st, body := admin.post(keys, bad)
				if st != http.StatusBadRequest || !strings.Contains(body, `data-code="`+c.code+`"`) || !strings.Contains(body, c.says) ||
					!strings.Contains(body, `value="`+c.value+`"`) && c.field != "expiry" {
					t.Errorf("%s=%q: %d, want 400 %s %q: %s", c.field, c.value, st, c.code, c.says, body[strings.Index(body, "key-settings"):][:400])
				}
			}
			if k2 := e.keyByID(f.ws, mk.ID); k2.RPM != 60 || k2.Project != "alpha" {
				t.Fatalf("a refused save changed the key: %+v", k2)
			}

			// An empty spend limit and expiry remove them.
			form.Set("limit", "")
			form.Set("expiry", "")
			if st, _ := admin.post(keys, form); st != http.StatusSeeOther {
				t.Fatalf("clear: %d", st)
			}
			bs, _ = e.budget.List(ctx, f.ws)
			if spendLimit(bs, mk.ID) != nil || e.keyByID(f.ws, mk.ID).ExpiresAt != nil {
				t.Fatal("the spend limit or the expiry was not removed")
			}

			// A member: their own key yes (without the spend limit), another's no.
			member := e.signedIn(f.users[team.RoleMember].Email)
			_, body = member.get(keys + "?edit=" + mk.ID)
			if !strings.Contains(body, `id="key-settings"`) || strings.Contains(body, `name="limit"`) {
				t.Fatal("the member's own key: no settings form, or one with a spend limit")
			}
			// The member may tighten what an admin set (fewer models, a lower rpm, an
			// expiry), never lift it: each lifting change is refused and changes nothing.
			own := url.Values{"op": {"settings"}, "key": {mk.ID}, "models": {"gpt-test"}, "rpm": {"5"}, "project": {"alpha"},
				"expiry": {"2025-07-15"}, "limit": {"1"}}
			if st, _ := member.post(keys, own); st != http.StatusSeeOther {
				t.Fatalf("member, own key: %d", st)
			}
			if k := e.keyByID(f.ws, mk.ID); k.RPM != 5 || strings.Join(k.AllowedModels, ",") != "gpt-test" || k.ExpiresAt == nil {
				t.Fatalf("member's save: %+v", k)
			}
			for field, value := range map[string]string{"models": "", "rpm": "0", "tpm": "", "project": "beta", "expiry": ""} {
				loosen := url.Values{}
				for k, v := range own {
					loosen[k] = v
				}
				loosen.Set(field, value)
				if field == "models" {
					loosen.Set(field, "gpt-test, mini-test")
				}
				if field == "tpm" { // no tpm limit now: any tpm tightens; rpm above the current one lifts
					loosen.Set("rpm", "6")
				}
				st, body := member.post(keys, loosen)
				if st != http.StatusForbidden || !strings.Contains(body, `data-code="`+team.ErrLimitsLoosen+`"`) {
					t.Errorf("member lifting %s: %d, want 403 %s", field, st, team.ErrLimitsLoosen)
				}
			}
			if k := e.keyByID(f.ws, mk.ID); k.RPM != 5 || strings.Join(k.AllowedModels, ",") != "gpt-test" || k.Project != "alpha" || k.ExpiresAt == nil {
				t.Fatalf("a refused lift changed the key: %+v", k)
			}
			if bs, _ = e.budget.List(ctx, f.ws); spendLimit(bs, mk.ID) != nil {
				t.Fatal("a member set a spend limit without manage_budgets")
			}
			other := url.Values{"op": {"settings"}, "key": {f.keys["admin-key"].ID}, "rpm": {"5"}}
			if st, _ := member.post(keys, other); st != http.StatusForbidden {
				t.Fatalf("member, another's key: %d, want 403", st)
			}
			viewer := e.signedIn(f.users[team.RoleViewer].Email)
			if st, _ := viewer.post(keys, own); st != http.StatusForbidden {
				t.Fatalf("viewer: %d, want 403", st)
			}
			if st, _ := admin.post(keys, url.Values{"op": {"settings"}, "key": {f.keys["globex-key"].ID}}); st != http.StatusNotFound {
				t.Fatalf("another workspace's key: %d, want 404", st)
			}
		})
	}
}
