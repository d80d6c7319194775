package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

var expiryFieldRE = regexp.MustCompile(`name="expiry" type="date" value="([^"]*)"`)

var expiryErrRE = regexp.MustCompile(`data-code="[^"]*"[^<]*`)

// A key whose expiry is not at a midnight (set through the API) shows its last day in
// the settings form; a member who saves the form with that day unchanged (tightening
// the rpm) keeps the expiry as it is: the save is not refused as lifting the expiry, and
// the expiry is not moved to the next midnight.
func TestKeySettingsUnchangedExpiryKept(t *testing.T) {
	e, gw := newGatewayEnv(t, storetest.SQLite)
	ctx := context.Background()
	f := e.seedFixture()
	mk := f.keys["member-key"]
	keys := "/w/" + f.ws + "/keys"
	at := e.clock.Now().UTC().Truncate(time.Hour).Add(10*24*time.Hour + 37*time.Minute) // not at a midnight in any whole-hour zone
	rpm := 60
	if _, err := gw.SetKeyLimits(ctx, f.ws, mk.ID, team.KeyLimits{RPM: &rpm, ExpiresAt: team.OptionalTime{Set: true, Time: &at}}); err != nil {
		t.Fatal(err)
	}
	k0 := e.keyByID(f.ws, mk.ID)
	member := e.signedIn(f.users[team.RoleMember].Email)
	_, body := member.get(keys + "?edit=" + mk.ID)
	m := expiryFieldRE.FindStringSubmatch(body)
	if m == nil || m[1] == "" {
		t.Fatalf("no expiry in the form:\n%s", body)
	}
	st, out := member.post(keys, url.Values{"op": {"settings"}, "key": {mk.ID}, "models": {strings.Join(k0.AllowedModels, ", ")}, "rpm": {"30"},
		"project": {k0.Project}, "expiry": {m[1]}})
	if st != http.StatusSeeOther {
		t.Fatalf("member's save with the expiry unchanged: %d, want 303: %s", st, expiryErrRE.FindString(out))
	}
	if k := e.keyByID(f.ws, mk.ID); k.RPM != 30 || k.ExpiresAt == nil || !k.ExpiresAt.Equal(at) {
		t.Fatalf("key after the save: rpm %d expiry %v, want 30 %v", k.RPM, k.ExpiresAt, at)
	}
}
