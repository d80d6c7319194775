package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// floodCSRF is the pre-sign-in CSRF token the flood's requests carry (cookie and field).
const floodCSRF = "flood-csrf-token-0123456789"

// postForm answers one form POST from addr, straight through the dashboard's routes.
func (e *env) postForm(path, addr string, form url.Values) *httptest.ResponseRecorder {
	form.Set("csrf", floodCSRF)
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: preCSRFCookie, Value: floodCSRF})
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, req)
	return rec
}

// tally counts answers by status, and checks that each refusal says why and when to
// come back.
type tally struct {
	mu sync.Mutex
	n  map[int]int
}

func newTally() *tally { return &tally{n: map[int]int{}} }

// atOnce runs post(i) for every i below n concurrently and waits for all of them.
func atOnce(n int, post func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { post(i) })
	}
	wg.Wait()
}

func (tl *tally) add(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	body := rec.Body.String()
	switch rec.Code {
	case http.StatusUnauthorized:
	case http.StatusTooManyRequests:
		if rec.Header().Get("Retry-After") == "" || !strings.Contains(body, `data-code="too_many_attempts"`) {
			t.Errorf("a 429 without Retry-After or its code:\n%.300s", body)
		}
	case http.StatusServiceUnavailable:
		if rec.Header().Get("Retry-After") != busyRetryAfter || !strings.Contains(body, `data-code="password_check_busy"`) ||
			!strings.Contains(body, "Too many passwords are being checked at once") {
			t.Errorf("a 503 without Retry-After or its code:\n%.300s", body)
		}
	default:
		t.Errorf("status %d:\n%.300s", rec.Code, body)
	}
	tl.mu.Lock()
	tl.n[rec.Code]++
	tl.mu.Unlock()
}

// TestConcurrentWrongPasswordsAreLimited: 40 wrong passwords for one email at once, as
// the hostile review sent them. At most loginMaxFailures of them are checked (401); the
// rest are refused (429) without hashing, and then even the right password is refused.
// Before the fix, every one of the 40 was checked and answered 401.
func TestConcurrentWrongPasswordsAreLimited(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	email := f.users[team.RoleMember].Email
	const n = 1000
	tl := newTally()
	atOnce(n, func(i int) {
		// One address for all, as from one attacker; the email's own count also holds
		// alone (see the flood test, where every address differs).
		tl.add(t, e.postForm("/login", fmt.Sprintf("127.0.2.%d:4000", i%2), url.Values{"email": {email}, "password": {"wrong password!"}}))
	})
	t.Logf("answers: %v", tl.n)
	if tl.n[http.StatusUnauthorized] > loginMaxFailures || tl.n[http.StatusTooManyRequests] < n-loginMaxFailures {
		t.Fatalf("%d wrong passwords checked (401) and %d refused (429); the limit is %d", tl.n[http.StatusUnauthorized],
			tl.n[http.StatusTooManyRequests], loginMaxFailures)
	}
	if tl.n[http.StatusUnauthorized] == loginMaxFailures {
		if rec := e.postForm("/login", "127.0.3.7:4000", url.Values{"email": {email}, "password": {testPassword}}); rec.Code != http.StatusTooManyRequests {
			t.Fatalf("the right password after the limit, from another address: %d", rec.Code)
		}
	}
}

// TestConcurrentInvitePasswordsAreLimited: the invitation page's password form (an
// existing account joins) counts attempts the same way.
func TestConcurrentInvitePasswordsAreLimited(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	sent, err := e.invites.Invite(context.Background(), f.ws, f.outsider.Email, team.RoleMember, nil)
	if err != nil {
		t.Fatal(err)
	}
	link, _ := url.Parse(sent.Link)
	const n = 30
	tl := newTally()
	atOnce(n, func(i int) {
		tl.add(t, e.postForm(link.Path, fmt.Sprintf("127.0.4.%d:4000", i), url.Values{"password": {"wrong password!"}}))
	})
	t.Logf("answers: %v", tl.n)
	if tl.n[http.StatusUnauthorized] > loginMaxFailures || tl.n[http.StatusTooManyRequests] < n-loginMaxFailures {
		t.Fatalf("%d wrong passwords checked (401) and %d refused (429); the limit is %d", tl.n[http.StatusUnauthorized],
			tl.n[http.StatusTooManyRequests], loginMaxFailures)
	}
}

// TestSignInFloodBoundsHashing fires 1,000 sign-ins at once, each from its own address:
// half of them wrong passwords for one victim, half unknown emails. However many arrive,
// the argon2id computations running at once never pass the process's bound (counted
// inside the one function that calls argon2, so memory stays bounded at slots × 19 MiB);
// the victim's email is still locked after loginMaxFailures checked failures; and a
// request that finds no hashing slot within team.HashWait is answered 503
// password_check_busy with a Retry-After, counting no failure.
func TestSignInFloodBoundsHashing(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	victim := f.users[team.RoleOwner].Email
	const n = 1000
	victimTally, otherTally := newTally(), newTally()
	atOnce(n, func(i int) {
		addr := fmt.Sprintf("127.%d.%d.%d:5000", i/65536, i/256%256, i%256+1)
		if i%2 == 0 {
			victimTally.add(t, e.postForm("/login", addr, url.Values{"email": {victim}, "password": {"wrong password!"}}))
			return
		}
		otherTally.add(t, e.postForm("/login", addr, url.Values{"email": {fmt.Sprintf("nobody%d@flood.test", i)}, "password": {"wrong password!"}}))
	})
	st := team.PasswordHashing()
	t.Logf("victim: %v; others: %v; hashing: %+v", victimTally.n, otherTally.n, st)
	if st.Peak > int64(st.Slots) {
		t.Fatalf("%d password hashes ran at once; the bound is %d", st.Peak, st.Slots)
	}
	if got := victimTally.n[http.StatusUnauthorized]; got > loginMaxFailures {
		t.Fatalf("%d wrong passwords for one email were checked; the limit is %d", got, loginMaxFailures)
	}
	if got := victimTally.n[http.StatusTooManyRequests]; got < n/2-loginMaxFailures {
		t.Fatalf("only %d of %d attempts on one email were refused", got, n/2)
	}
	if otherTally.n[http.StatusUnauthorized]+otherTally.n[http.StatusServiceUnavailable] != n/2 {
		t.Fatalf("unknown emails from distinct addresses: %v", otherTally.n)
	}
}
