package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"spectra/internal/store/storetest"
)

// adminWildcard matches a path wildcard of a route pattern ({ws}, {file...}, {$}).
var adminWildcard = regexp.MustCompile(`\{[^}]*\}`)

// adminURLs turns the console's route table into concrete requests: a method and a path
// with every wildcard filled ("x"; {$} is the end of the path).
func adminURLs(s *Server) [][2]string {
	var out [][2]string
	for _, rt := range s.adminRoutes() {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			method, path = "GET", rt.pattern
		}
		path = strings.ReplaceAll(path, "{$}", "")
		path = adminWildcard.ReplaceAllString(path, "x")
		if strings.HasSuffix(path, "/") && path != "/admin/" {
			path += "x"
		}
		out = append(out, [2]string{method, path})
	}
	return out
}

// Every /admin route answers 404 not_found to a signed-in viewer who is not the
// operator — every role of a workspace, and the owner of another — for GET and POST
// alike (with a valid CSRF token, so it is not the CSRF check that refuses), the same
// page as an unknown URL. The operator is let in, and a visitor who is not signed in is
// sent to sign in. The test walks the route table, so a route added later is covered.
func TestAdminRoutesNotFoundForNonOperators(t *testing.T) {
	e := newAdminEnv(t, storetest.SQLite)
	f := e.seedFixture()
	urls := adminURLs(e.srv)
	if len(urls) < 6 {
		t.Fatalf("admin routes: %v", urls)
	}
	viewers := map[string]*client{"outsider owner": e.signedIn(f.outsider.Email)}
	for role, u := range f.users {
		viewers[string(role)] = e.signedIn(u.Email)
	}
	for name, c := range viewers {
		c.get("/w/" + f.ws + "/") // a page with this viewer's CSRF token
		for _, u := range urls {
			var st int
			var body string
			if u[0] == "POST" {
				st, body = c.post(u[1], url.Values{"amount": {"1"}})
			} else {
				st, body = c.get(u[1])
			}
			if st != http.StatusNotFound || !strings.Contains(body, "not_found") || strings.Contains(body, "Console pages") {
				t.Errorf("%s: %s %s = %d, want the 404 not_found page:\n%.300s", name, u[0], u[1], st, body)
			}
		}
		// Without a CSRF token too: the 404 comes before the form is checked, so a forged
		// POST learns nothing either (a 403 csrf_failed would tell the URL exists).
		for _, u := range urls {
			if u[0] != "POST" {
				continue
			}
			if st, body := c.post(u[1], url.Values{"csrf": {"forged"}}); st != http.StatusNotFound || !strings.Contains(body, "not_found") {
				t.Errorf("%s: forged POST %s = %d, want 404 not_found", name, u[1], st)
			}
		}
		if _, body := c.get("/w/" + f.ws + "/"); strings.Contains(body, `href="/admin"`) {
			t.Errorf("%s: the dashboard links to the console", name)
		}
	}
	op := e.signedIn(opEmail)
	for _, u := range urls {
		if u[0] != "GET" || strings.Contains(u[1], "/x") {
			continue
		}
		if st, body := op.get(u[1]); st != http.StatusOK && st != http.StatusSeeOther {
			t.Errorf("operator: GET %s = %d\n%.300s", u[1], st, body)
		}
	}
	if st, body := op.get("/admin/workspaces"); st != http.StatusOK || !strings.Contains(body, "Console pages") {
		t.Errorf("operator: /admin/workspaces = %d, want the console's nav", st)
	}
	anon := e.client()
	for _, u := range urls {
		if u[0] != "GET" {
			continue
		}
		if st, loc := anon.get(u[1]); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
			t.Errorf("signed out: GET %s = %d %s, want the login page", u[1], st, loc)
		}
	}
}
