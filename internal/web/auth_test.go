package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

func TestLoginAndSessionCookie(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		c := e.client()
		c.get("/login")
		st, body := c.post("/login", url.Values{"email": {f.users[team.RoleOwner].Email}, "password": {"wrong password!"}})
		if st != http.StatusUnauthorized || !strings.Contains(body, "email or password is not right") {
			t.Fatalf("wrong password: %d", st)
		}
		req, _ := http.NewRequest("POST", e.ts.URL+"/login", strings.NewReader(url.Values{"email": {f.users[team.RoleOwner].Email},
			"password": {testPassword}, "csrf": {c.csrf}, "next": {"/w/" + f.ws + "/usage"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/w/"+f.ws+"/usage" {
			t.Fatalf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		var session *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				session = ck
			}
		}
		if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Secure || session.MaxAge <= 0 {
			t.Fatalf("session cookie %+v", session)
		}
		if st, _ := c.get("/w/" + f.ws + "/usage"); st != http.StatusOK {
			t.Fatalf("after login: %d", st)
		}
		// Signing out ends the session on the server, not only in this browser.
		if st, loc := c.post("/logout", url.Values{}); st != http.StatusSeeOther || loc != "/login" {
			t.Fatalf("logout: %d %s", st, loc)
		}
		if _, _, err := e.accounts.SessionUser(context.Background(), session.Value); err == nil {
			t.Fatal("the session outlived sign-out")
		}
		if st, loc := c.get("/w/" + f.ws + "/"); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
			t.Fatalf("after logout: %d %s", st, loc)
		}
	})
}

func TestSecureCookiesBehindTLS(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	e.srv.secure = true
	c := e.client()
	c.get("/login")
	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"email": {f.users[team.RoleViewer].Email},
		"password": {testPassword}, "csrf": {c.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: preCSRFCookie, Value: c.csrf})
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", rec.Code, rec.Body.String())
	}
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == sessionCookie && !ck.Secure {
			t.Fatal("the session cookie is not Secure behind TLS")
		}
	}
}

func TestNotSignedIn(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	c := e.client()
	for _, p := range []string{"/", "/w/" + f.ws + "/", "/w/" + f.ws + "/usage.csv", "/w/" + f.ws + "/keys", "/w/nope/"} {
		st, loc := c.get(p)
		if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
			t.Errorf("%s: %d %s", p, st, loc)
		}
	}
	// An htmx partial gets a 401 that tells htmx where to go.
	req, _ := http.NewRequest("GET", e.ts.URL+"/w/"+f.ws+"/", nil)
	req.Header.Set("HX-Request", "true")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("HX-Redirect"), "/login") {
		t.Fatalf("htmx: %d %q", resp.StatusCode, resp.Header.Get("HX-Redirect"))
	}
	// A POST without a session is sent to sign in, and changes nothing.
	if st, _ := c.post("/w/"+f.ws+"/keys", url.Values{"name": {"x"}}); st != http.StatusSeeOther {
		t.Fatalf("anonymous POST: %d", st)
	}
	// Only paths on this site are followed after sign-in.
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil", "javascript:alert(1)", "/./\\evil.example",
		"/w/../\\evil.example", "/a\\b"} {
		if got := safeNext(next); got != "/" {
			t.Errorf("safeNext(%q) = %q", next, got)
		}
	}
	// Signed in, /login?next= redirects at once: a path that http.Redirect cleans into
	// "/\evil.example" (which browsers follow off site) goes home instead. Found by
	// FuzzSafeNext.
	in := e.signedIn(f.users[team.RoleViewer].Email)
	for _, next := range []string{"/./%5Cevil.example", "/x/../%5C%5Cevil.example"} {
		if st, loc := in.get("/login?next=" + next); st != http.StatusSeeOther || loc != "/" {
			t.Errorf("signed in, /login?next=%s: %d %q", next, st, loc)
		}
	}
	if st, loc := in.get("/login?next=" + url.QueryEscape("/w/"+f.ws+"/usage?period=30d")); st != http.StatusSeeOther || loc != "/w/"+f.ws+"/usage?period=30d" {
		t.Errorf("signed in, a next on this site: %d %q", st, loc)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	c := e.client()
	c.get("/login")
	email := f.users[team.RoleMember].Email
	for i := range loginMaxFailures {
		if st, _ := c.post("/login", url.Values{"email": {email}, "password": {"nope nope nope"}}); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, st)
		}
	}
	// Now even the right password is refused, for this email and from this address.
	st, body := c.post("/login", url.Values{"email": {email}, "password": {testPassword}})
	if st != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed sign-in attempts") {
		t.Fatalf("11th attempt: %d", st)
	}
	if st, _ := c.post("/login", url.Values{"email": {f.users[team.RoleOwner].Email}, "password": {testPassword}}); st != http.StatusTooManyRequests {
		t.Fatalf("another email from the same address: %d", st)
	}
	// After the window, sign-in works again.
	e.clock.Set(testNow.Add(loginWindow + time.Second))
	defer e.clock.Release()
	if st, loc := c.post("/login", url.Values{"email": {email}, "password": {testPassword}}); st != http.StatusSeeOther {
		t.Fatalf("after the window: %d %s", st, loc)
	}
}

func TestLoginLimiterPerEmail(t *testing.T) {
	now := testNow
	l := newLoginLimiter(3, time.Minute, func() time.Time { return now })
	for range 3 {
		if l.take("email:a@x") == nil {
			t.Fatal("refused under the limit")
		}
	}
	if l.take("email:a@x") != nil || l.take("email:b@x") == nil {
		t.Fatal("the limit is per key")
	}
	// A refused attempt counts nothing against the other keys it names.
	if l.take("ip:1", "email:a@x") != nil || len(l.failures["ip:1"]) != 0 {
		t.Fatalf("a refused attempt counted: %v", l.failures["ip:1"])
	}
	now = now.Add(30 * time.Second)
	if l.take("email:a@x") != nil {
		t.Fatal("unblocked inside the window")
	}
	now = now.Add(31 * time.Second)
	a := l.take("email:a@x", "ip:1")
	if a == nil {
		t.Fatal("still blocked after the window")
	}
	// A refund takes back exactly that attempt; reset forgets the key.
	l.take("ip:1")
	l.refund(a)
	if len(l.failures["email:a@x"]) != 0 || len(l.failures["ip:1"]) != 1 {
		t.Fatalf("after the refund: %v", l.failures)
	}
	l.reset("ip:1")
	l.reset("email:b@x")
	if len(l.failures) != 0 {
		t.Fatalf("reset left %v", l.failures)
	}
}

func TestCSRF(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		c := e.signedIn(f.users[team.RoleOwner].Email)
		keys := func() int {
			ks, err := e.team.Keys(context.Background(), f.ws)
			if err != nil {
				t.Fatal(err)
			}
			return len(ks)
		}
		n := keys()
		for name, token := range map[string]string{"missing": "", "wrong": "not-the-token", "another session's": e.signedIn(f.users[team.RoleAdmin].Email).csrf} {
			st, body := c.post("/w/"+f.ws+"/keys", url.Values{"name": {"csrf-" + name}, "csrf": {token}})
			if st != http.StatusForbidden || !strings.Contains(body, "csrf_failed") {
				t.Errorf("%s token: %d", name, st)
			}
		}
		if st, _ := c.post("/logout", url.Values{"csrf": {""}}); st != http.StatusForbidden {
			t.Errorf("logout without token: %d", st)
		}
		if keys() != n {
			t.Fatal("a POST without a valid CSRF token changed something")
		}
		// The header form (htmx) works like the field.
		req, _ := http.NewRequest("POST", e.ts.URL+"/w/"+f.ws+"/keys", strings.NewReader("name=via-header"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-CSRF-Token", c.csrf)
		if st, _ := c.do(req); st != http.StatusCreated {
			t.Fatalf("header token: %d", st)
		}
		// The login form has its own double-submit token.
		anon := e.client()
		anon.get("/login")
		if st, _ := anon.post("/login", url.Values{"email": {f.users[team.RoleOwner].Email}, "password": {testPassword}, "csrf": {"forged-forged-forged-1"}}); st != http.StatusForbidden {
			t.Errorf("login with a forged token: %d", st)
		}
	})
}

func TestOperatorBearerToken(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	c := e.client()
	for _, ws := range []string{f.ws, f.other} {
		st, body := c.get("/w/"+ws+"/", "Authorization", "Bearer "+opToken)
		if st != http.StatusOK || !strings.Contains(body, `id="ws-switch"`) {
			t.Errorf("operator on %s: %d", ws, st)
		}
	}
	if st, _ := c.get("/w/"+f.ws+"/", "Authorization", "Bearer wrong"); st != http.StatusSeeOther {
		t.Errorf("a wrong bearer token: %d", st)
	}
	// The operator's token needs no CSRF token: browsers never send it on their own.
	req, _ := http.NewRequest("POST", e.ts.URL+"/w/"+f.other+"/keys", strings.NewReader("name=op-key"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+opToken)
	if st, _ := c.do(req); st != http.StatusCreated {
		t.Fatalf("operator creates a key: %d", st)
	}
}

func TestSetup(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.client()
		if st, body := c.get("/login"); st != http.StatusOK || !strings.Contains(body, "one-time setup link") {
			t.Fatalf("login on a fresh install: %d", st)
		}
		token, err := e.accounts.SetupToken(ctx)
		if err != nil || token == "" {
			t.Fatal(token, err)
		}
		if st, body := c.get("/setup?token=" + token); st != http.StatusOK || !strings.Contains(body, `name="workspace"`) {
			t.Fatalf("setup page: %d", st)
		}
		form := url.Values{"token": {"not-the-token"}, "email": {"me@example.com"}, "name": {"Me"}, "password": {"a long enough password"},
			"password2": {"a long enough password"}, "workspace": {"Mine"}}
		if st, body := c.post("/setup", form); st != http.StatusForbidden || !strings.Contains(body, "setup link is not valid") {
			t.Fatalf("wrong token: %d", st)
		}
		form.Set("token", token)
		form.Set("password2", "another password")
		if st, _ := c.post("/setup", form); st != http.StatusBadRequest {
			t.Fatalf("passwords differ: %d", st)
		}
		form.Set("password2", form.Get("password"))
		st, loc := c.post("/setup", form)
		// On to the first run's steps (setupsteps_test.go), then the workspace.
		if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/setup?step=upstream&ws=ws_") {
			t.Fatalf("setup: %d %s", st, loc)
		}
		if st, body := c.get(loc); st != http.StatusOK || !strings.Contains(body, "Connect an upstream") {
			t.Fatalf("first-run step: %d", st)
		}
		loc = "/w/" + strings.TrimPrefix(loc, "/setup?step=upstream&ws=") + "/"
		if st, body := c.get(loc); st != http.StatusOK || !strings.Contains(body, "Mine") {
			t.Fatalf("after setup: %d", st)
		}
		if st, loc := c.get("/setup?token=" + token); st != http.StatusSeeOther || loc != "/login" {
			t.Fatalf("setup again: %d %s", st, loc)
		}
	})
}

func TestAssets(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	u, err := e.srv.assets.url("app.css")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(e.ts.URL + u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("asset: %d %v", resp.StatusCode, resp.Header)
	}
	stale := strings.Replace(u, "/static/", "/static/0000", 1)
	if resp, _ := http.Get(e.ts.URL + stale); resp.StatusCode != 404 {
		t.Fatalf("a stale hash: %d", resp.StatusCode)
	}
	if _, err := e.srv.assets.url("nope.js"); err == nil {
		t.Fatal("an unknown asset has a URL")
	}
}
