package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"spectra/internal/mail/smtptest"
)

// TestServeTeamRollout drives the wiring of serve end to end: an invitation made through
// the API is emailed through SPECTRA_SMTP_URL with a SPECTRA_PUBLIC_URL link, accepting it
// makes a member, and removing the member through the API stops their key at the
// gateway on the very next request (the key cache is told, not waited out).
func TestServeTeamRollout(t *testing.T) {
	smtp := smtptest.New(t)
	dsn, _ := sqliteDSN(t)
	const admin = "test-admin-token-0123456789"
	r := startServe(t, map[string]string{"SPECTRA_DATABASE_URL": dsn, "SPECTRA_ADMIN_TOKEN": admin, "SPECTRA_ADDR": "127.0.0.1:0",
		"SPECTRA_SMTP_URL": smtp.URL() + "?from=Spectra%20%3Cteam@spectra.test%3E", "SPECTRA_PUBLIC_URL": "http://spectra.test"})
	st, ws := call(t, "POST", r.url+"/api/v1/workspaces", admin, map[string]any{"name": "Acme"})
	if st != 201 {
		t.Fatalf("workspace: %d %v", st, ws)
	}
	wsURL := r.url + "/api/v1/workspaces/" + ws["id"].(string)
	st, inv := call(t, "POST", wsURL+"/invitations", admin, map[string]any{"email": "dev@acme.test", "role": "member"})
	if st != 201 || inv["email_sent"] != true {
		t.Fatalf("invitation: %d %v", st, inv)
	}
	link := inv["link"].(string)
	if !strings.HasPrefix(link, "http://spectra.test/invite/") {
		t.Fatalf("link %q does not use SPECTRA_PUBLIC_URL", link)
	}
	if m := smtp.WaitTo(t, "dev@acme.test", 10*time.Second); !strings.Contains(m.Body, link) || m.From != "team@spectra.test" {
		t.Fatalf("email from %s:\n%s", m.From, m.Body)
	}

	acceptInvite(t, r, link, "http://spectra.test", "Dev")

	st, members := call(t, "GET", wsURL+"/members", admin, nil)
	list, _ := members["members"].([]any)
	if st != 200 || len(list) != 1 {
		t.Fatalf("members: %d %v", st, members)
	}
	userID := list[0].(map[string]any)["user_id"].(string)
	st, key := call(t, "POST", wsURL+"/keys", admin, map[string]any{"name": "dev", "member_id": userID, "project": "prod"})
	if st != 201 {
		t.Fatalf("key: %d %v", st, key)
	}
	secret := key["key"].(string)
	gateway := func() int {
		req, _ := http.NewRequest("POST", r.url+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := gateway(); st == http.StatusUnauthorized {
		t.Fatalf("the member's key is refused before removal: %d", st)
	}
	if st, out := call(t, "DELETE", wsURL+"/members/"+userID, admin, nil); st != http.StatusNoContent {
		t.Fatalf("remove: %d %v", st, out)
	}
	if st := gateway(); st != http.StatusUnauthorized {
		t.Fatalf("the removed member's key: %d, want 401 at once", st)
	}
}

// acceptInvite accepts the invitation at link (made with public URL public) on r, as a
// browser would: it opens the page and sets a name and password.
func acceptInvite(t *testing.T, r *running, link, public, name string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := r.url + strings.TrimPrefix(link, public)
	resp, err := browser.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if resp.StatusCode != 200 || csrf == nil {
		t.Fatalf("invite page: %d\n%s", resp.StatusCode, body)
	}
	resp, err = browser.PostForm(page, url.Values{"csrf": {string(csrf[1])}, "name": {name}, "password": {"correct horse battery"}, "password2": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept: %d", resp.StatusCode)
	}
}
