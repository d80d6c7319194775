package web

import (
	"regexp"
	"strings"
	"testing"

	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

var burnRE = regexp.MustCompile(`(?s)<p class="burn">(.*?)</p>`)

// TestOverviewSpentSentence: the Billing activity card says what was spent in the
// period once. It used to add the runway's burn ("$245.03 in the last 7 days"), whose
// window (the last 168 hours) is not the period's (7 calendar days to now), so a 7-day
// overview named the same period twice with two figures.
func TestOverviewSpentSentence(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	c := e.signedIn(f.users[team.RoleOwner].Email)
	for _, tc := range []struct{ query, phrase string }{{"?period=7d", "the last 7 days"}, {"?period=30d", "the last 30 days"}, {"?period=today", "today"}} {
		_, body := c.get("/w/" + f.ws + "/" + tc.query)
		m := burnRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("%s: no spent sentence", tc.query)
		}
		s := m[1]
		if strings.Count(s, "$") != 1 || strings.Count(s, "in ") != 1 || !strings.HasPrefix(s, "Spent ") || !strings.HasSuffix(s, " in "+tc.phrase+".") {
			t.Errorf("%s: %q, want one figure for %s", tc.query, s, tc.phrase)
		}
	}
}
