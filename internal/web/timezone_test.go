package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/team"
)

func TestUTCOffsetAndZoneLabel(t *testing.T) {
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	winter, summer := time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC), time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		zone string
		at   time.Time
		want string
	}{
		{"UTC", winter, "UTC"},
		{"Europe/London", winter, "Europe/London (UTC)"},
		{"Europe/Berlin", winter, "Europe/Berlin (UTC+1)"},
		{"Europe/Berlin", summer, "Europe/Berlin (UTC+2)"},
		{"America/New_York", summer, "America/New_York (UTC−4)"},
		{"Asia/Kolkata", summer, "Asia/Kolkata (UTC+5:30)"},
		{"America/St_Johns", winter, "America/St_Johns (UTC−3:30)"},
		{"Pacific/Chatham", winter, "Pacific/Chatham (UTC+13:45)"},
	} {
		rq := &request{Workspace: team.Workspace{Timezone: tc.zone}, Loc: load(tc.zone), Now: tc.at}
		if got := rq.ZoneLabel(); got != tc.want {
			t.Errorf("%s at %s: %q, want %q", tc.zone, tc.at, got, tc.want)
		}
	}
}

// TestSettingsTimezone: an owner sets the workspace's time zone on the Settings page;
// every page with a period picker then says which zone its days are in, and usage by day
// in the new zone equals the hourly truth. Other roles see the zone but no form, and
// their posts are refused (403); a zone that is not an IANA name is shown again with
// the reason and changes nothing.
func TestSettingsTimezone(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := e.seedFixture() // Acme is in America/New_York
		ctx := context.Background()
		ws := "/w/" + f.ws + "/"
		zone := func() string {
			t.Helper()
			w, err := e.team.Workspace(ctx, f.ws)
			if err != nil {
				t.Fatal(err)
			}
			return w.Timezone
		}
		for _, role := range []team.Role{team.RoleAdmin, team.RoleBilling, team.RoleMember, team.RoleViewer} {
			c := e.signedIn(f.users[role].Email)
			st, body := c.get(ws + "settings")
			if st != http.StatusOK || !strings.Contains(body, "America/New_York (UTC−4)") || strings.Contains(body, `id="tz-input"`) ||
				!strings.Contains(body, "Only owners change the workspace's time zone.") {
				t.Errorf("%s: settings %d shows the zone form, or not the zone", role, st)
			}
			if st, _ := c.post(ws+"settings/timezone", url.Values{"timezone": {"Europe/Berlin"}}); st != http.StatusForbidden {
				t.Errorf("%s: setting the time zone answered %d, want 403", role, st)
			}
			if _, body := c.get(ws); !strings.Contains(body, "Times in America/New_York (UTC−4)</p>") || strings.Contains(body, "#timezone") {
				t.Errorf("%s: the overview's zone line is missing, or offers a change", role)
			}
		}
		if z := zone(); z != "America/New_York" {
			t.Fatalf("a refused post changed the zone to %q", z)
		}

		owner := e.signedIn(f.users[team.RoleOwner].Email)
		st, body := owner.get(ws + "settings")
		if st != http.StatusOK || !strings.Contains(body, `id="tz-input"`) || !strings.Contains(body, `value="America/New_York"`) ||
			!strings.Contains(body, `<option value="Europe/Berlin">`) {
			t.Fatalf("owner's settings %d: no zone form", st)
		}
		for _, bad := range []string{"Mars/Phobos", "Local", "", "../../etc/passwd"} {
			st, body := owner.post(ws+"settings/timezone", url.Values{"timezone": {bad}})
			if st != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "not an IANA time zone") {
				t.Errorf("zone %q: %d", bad, st)
			}
		}
		if z := zone(); z != "America/New_York" {
			t.Fatalf("a refused zone changed it to %q", z)
		}

		// The hourly truth of the last ten days, folded into Berlin's days.
		berlin, _ := time.LoadLocation("Europe/Berlin")
		start, end := time.Date(2025, 6, 5, 0, 0, 0, 0, berlin), time.Date(2025, 6, 16, 0, 0, 0, 0, berlin)
		hourly, err := e.metering.Usage(ctx, metering.UsageQuery{WorkspaceID: f.ws, Start: start, End: end, Bucket: time.Hour, Location: berlin})
		if err != nil {
			t.Fatal(err)
		}
		truth := map[string]metering.Totals{}
		for _, b := range hourly {
			for _, r := range b.Results {
				k := b.Start.In(berlin).Format("2006-01-02")
				v := truth[k]
				v.Add(r.Totals)
				truth[k] = v
			}
		}

		st, loc := owner.post(ws+"settings/timezone", url.Values{"timezone": {"Europe/Berlin"}})
		if st != http.StatusSeeOther || loc != ws+"settings?done=timezone" {
			t.Fatalf("setting the zone: %d %s", st, loc)
		}
		if z := zone(); z != "Europe/Berlin" {
			t.Fatalf("zone after the form: %q", z)
		}
		if _, body := owner.get(loc); !strings.Contains(body, "Time zone set to Europe/Berlin (UTC&#43;2).") {
			t.Error("no notice after setting the zone")
		}
		for _, p := range []string{"", "usage", "requests", "keys", "members", "budgets"} {
			st, body := owner.get(ws + p)
			if st != http.StatusOK || !strings.Contains(body, `Times in Europe/Berlin (UTC&#43;2) · <a href="`+ws+`settings#timezone">Change</a></p>`) {
				t.Errorf("%q: %d, no zone line next to the period picker", p, st)
			}
		}

		daily, err := e.metering.Usage(ctx, metering.UsageQuery{WorkspaceID: f.ws, Start: start, End: end, Bucket: 24 * time.Hour, Location: berlin})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]metering.Totals{}
		for _, b := range daily {
			if h := b.Start.In(berlin); h.Hour() != 0 || h.Minute() != 0 {
				t.Fatalf("a day bucket starts at %s", h)
			}
			for _, r := range b.Results {
				k := b.Start.In(berlin).Format("2006-01-02")
				v := got[k]
				v.Add(r.Totals)
				got[k] = v
			}
		}
		if len(got) != len(truth) || len(got) < 5 {
			t.Fatalf("%d Berlin days with usage, the hourly truth has %d", len(got), len(truth))
		}
		for k, v := range truth {
			if got[k] != v {
				t.Errorf("%s: by day %+v, hourly truth %+v", k, got[k], v)
			}
		}
		if rep, err := e.db.Verify(ctx); err != nil || !rep.OK() {
			t.Fatalf("verify: %v %+v", err, rep)
		}
	})
}
