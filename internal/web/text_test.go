package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"spectra/internal/team"
)

// TestTextRuleInPaths: a NUL in a dashboard URL's workspace id or in a usage or request
// log filter or cursor is refused (400 invalid_text), not a 500, on both databases
// (before, PostgreSQL refused the NUL in its lookup: a 500).
func TestTextRuleInPaths(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		c := e.signedIn(f.users[team.RoleOwner].Email)
		w := "/w/" + f.ws
		for _, path := range []string{
			"/w/a%00b/",
			"/w/a%00b/usage",
			w + "/usage?project=p%00",
			w + "/usage?member=%00&model=gpt-test",
			w + "/usage?key=k%00",
			w + "/requests?project=p%00",
			w + "/requests?before=%00",
		} {
			if st, body := c.get(path); st != http.StatusBadRequest {
				t.Errorf("GET %s: %d, want 400: %.300s", path, st, body)
			}
		}
		// Ids in a form's path: the key, budget, webhook and invitation routes.
		for _, path := range []string{
			w + "/keys/k%00/revoke",
			w + "/budgets/b%00/delete",
			w + "/settings/webhooks/h%00/delete",
			w + "/members/invitations/i%00/revoke",
		} {
			if st, body := c.post(path, url.Values{}); st != http.StatusBadRequest || !strings.Contains(body, "invalid_text") {
				t.Errorf("POST %s: %d, want 400 invalid_text: %.300s", path, st, body)
			}
		}
	})
}
