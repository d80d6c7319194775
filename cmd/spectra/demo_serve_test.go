package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestServeDemoOwnerIsNoOperator (issue 11): `serve --demo` publishes the demo's
// password, so the demo owner owns the demo workspace and nothing else; serve says that
// operators come in with the admin token, and that token does see every workspace.
func TestServeDemoOwnerIsNoOperator(t *testing.T) {
	dsn, _ := sqliteDSN(t)
	r := startServe(t, map[string]string{"SPECTRA_DATABASE_URL": dsn, "SPECTRA_ADDR": "127.0.0.1:0"},
		"--demo", "--days", "2", "--events-per-day", "20")
	note := r.stdout.waitFor(t, `(?m)^The demo accounts are not operators\. Operators use the admin token .*$`, r.done)
	out := r.stdout.String()
	if !strings.Contains(out, "Sign in as demo@example.com (the workspace's owner) with password spectra-demo\n") ||
		!strings.Contains(note, "SPECTRA_ADMIN_TOKEN") || !strings.Contains(note, "Authorization: Bearer <token>") {
		t.Fatalf("serve --demo printed:\n%s", out)
	}
	m := regexp.MustCompile(`operator's admin token[^\n]*\n\n\s+(\S+)\n`).FindStringSubmatch(r.stderr.String())
	if m == nil {
		t.Fatalf("no admin token on stderr:\n%s", r.stderr.String())
	}
	admin := m[1]

	// The operator's token sees every workspace; make one the demo owner must not see.
	st, other := call(t, "POST", r.url+"/api/v1/workspaces", admin, map[string]any{"name": "Globex"})
	if st != 201 {
		t.Fatalf("workspace: %d %v", st, other)
	}
	st, list := call(t, "GET", r.url+"/api/v1/workspaces", admin, nil)
	if ws, _ := list["workspaces"].([]any); st != 200 || len(ws) != 2 {
		t.Fatalf("the operator's workspaces: %d %v", st, list)
	}

	// The demo owner signs in with the published password, and is not an operator:
	// another workspace's pages are refused.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(r.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if csrf == nil {
		t.Fatalf("login page:\n%s", body)
	}
	resp, err = browser.PostForm(r.url+"/login", url.Values{"csrf": {string(csrf[1])}, "email": {"demo@example.com"}, "password": {"spectra-demo"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	resp, err = browser.Get(r.url + "/w/" + other["id"].(string) + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the demo owner opened another workspace: %d", resp.StatusCode)
	}
	resp, err = browser.Get(r.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/w/ws_") {
		t.Fatalf("the demo owner's home: %d %s", resp.StatusCode, loc)
	}
}
