package team_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

func TestLoginSessionLifecycle(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		u := must[team.User](t)(f.accounts.CreateUser(ctx, "bob@example.com", "Bob", pw, false))
		got, token, s, err := f.accounts.Login(ctx, " BOB@example.com", pw)
		if err != nil {
			t.Fatal(err)
		}
		if got != u || token == "" || s.UserID != u.ID || s.CSRFToken == "" || !s.ExpiresAt.Equal(f.clock.Now().Add(team.SessionIdleTimeout)) {
			t.Fatalf("Login = %+v, %q, %+v", got, token, s)
		}
		if !s.CheckCSRF(s.CSRFToken) || s.CheckCSRF("") || s.CheckCSRF(s.CSRFToken+"x") {
			t.Fatal("CheckCSRF does not compare the token")
		}
		su, ss, err := f.accounts.SessionUser(ctx, token)
		if err != nil || su != u || ss.CSRFToken != s.CSRFToken || ss.UserID != u.ID {
			t.Fatalf("SessionUser = %+v, %+v, %v", su, ss, err)
		}
		// Two sign-ins are two sessions with their own tokens.
		_, token2, s2, err := f.accounts.Login(ctx, "bob@example.com", pw)
		if err != nil || token2 == token || s2.CSRFToken == s.CSRFToken {
			t.Fatalf("second login: %q, %+v, %v", token2, s2, err)
		}
		if err := f.accounts.Logout(ctx, token); err != nil {
			t.Fatal(err)
		}
		_, _, err = f.accounts.SessionUser(ctx, token)
		storetest.WantCode(t, err, "invalid_session")
		if err := f.accounts.Logout(ctx, token); err != nil {
			t.Fatalf("logging out twice: %v", err)
		}
		if _, _, err := f.accounts.SessionUser(ctx, token2); err != nil {
			t.Fatalf("the other session ended with the first: %v", err)
		}
		for _, bad := range []string{"", "nope", token + "x"} {
			_, _, err = f.accounts.SessionUser(ctx, bad)
			storetest.WantCode(t, err, "invalid_session")
			if errs.KindOf(err) != errs.Unauthorized {
				t.Fatalf("kind %s", errs.KindOf(err))
			}
		}
	})
}

func TestWrongPasswordAndUnknownEmailLookAlike(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		must[team.User](t)(f.accounts.CreateUser(ctx, "carol@example.com", "Carol", pw, false))
		_, tok1, _, errWrong := f.accounts.Login(ctx, "carol@example.com", pw+"!")
		_, tok2, _, errUnknown := f.accounts.Login(ctx, "nobody@example.com", pw)
		_, tok3, _, errMalformed := f.accounts.Login(ctx, "not an email", pw)
		_, tok4, _, errEmpty := f.accounts.Login(ctx, "carol@example.com", "")
		for _, err := range []error{errWrong, errUnknown, errMalformed, errEmpty} {
			storetest.WantCode(t, err, "invalid_credentials")
			if err.Error() != errWrong.Error() || errs.KindOf(err) != errs.Unauthorized {
				t.Fatalf("errors differ: %v vs %v", err, errWrong)
			}
		}
		if tok1+tok2+tok3+tok4 != "" {
			t.Fatal("a failed login returned a token")
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		must[team.User](t)(f.accounts.CreateUser(ctx, "dave@example.com", "Dave", pw, false))
		_, token, s, err := f.accounts.Login(ctx, "dave@example.com", pw)
		if err != nil {
			t.Fatal(err)
		}
		start := s.CreatedAt

		// Idle just short of the timeout: still valid, and the use slides the expiry.
		f.clock.Advance(team.SessionIdleTimeout - time.Minute)
		_, s, err = f.accounts.SessionUser(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if want := f.clock.Now().Add(team.SessionIdleTimeout); !s.ExpiresAt.Equal(want) {
			t.Fatalf("expiry %v, want slid to %v", s.ExpiresAt, want)
		}
		// A use within the refresh interval does not move it (no write per request).
		f.clock.Advance(time.Minute)
		_, s2, err := f.accounts.SessionUser(ctx, token)
		if err != nil || !s2.ExpiresAt.Equal(s.ExpiresAt) {
			t.Fatalf("expiry moved to %v within the refresh interval (%v)", s2.ExpiresAt, err)
		}
		// Used every 10 days, it lives until the hard cap and no longer.
		for f.clock.Now().Add(10 * 24 * time.Hour).Before(start.Add(team.SessionMaxAge)) {
			f.clock.Advance(10 * 24 * time.Hour)
			_, s, err = f.accounts.SessionUser(ctx, token)
			if err != nil {
				t.Fatalf("at %v: %v", f.clock.Now().Sub(start), err)
			}
		}
		if !s.ExpiresAt.Equal(start.Add(team.SessionMaxAge)) {
			t.Fatalf("expiry %v, want capped at %v", s.ExpiresAt, start.Add(team.SessionMaxAge))
		}
		f.clock.Advance(s.ExpiresAt.Sub(f.clock.Now()))
		_, _, err = f.accounts.SessionUser(ctx, token)
		storetest.WantCode(t, err, "session_expired")
		// An expired session is deleted: asking again finds nothing.
		_, _, err = f.accounts.SessionUser(ctx, token)
		storetest.WantCode(t, err, "invalid_session")

		// Idle past the timeout expires too.
		_, token, _, err = f.accounts.Login(ctx, "dave@example.com", pw)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(team.SessionIdleTimeout)
		_, _, err = f.accounts.SessionUser(ctx, token)
		storetest.WantCode(t, err, "session_expired")
	})
}

func TestPurgeAndLogoutEverywhere(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		u := must[team.User](t)(f.accounts.CreateUser(ctx, "erin@example.com", "Erin", pw, false))
		login := func() string {
			t.Helper()
			_, token, _, err := f.accounts.Login(ctx, "erin@example.com", pw)
			if err != nil {
				t.Fatal(err)
			}
			return token
		}
		old := login()
		f.clock.Advance(team.SessionIdleTimeout)
		fresh := login()
		if n := must[int](t)(f.accounts.PurgeSessions(ctx)); n != 1 {
			t.Fatalf("purged %d sessions, want 1", n)
		}
		_, _, err := f.accounts.SessionUser(ctx, old)
		storetest.WantCode(t, err, "invalid_session")
		if _, _, err := f.accounts.SessionUser(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		if err := f.accounts.LogoutEverywhere(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = f.accounts.SessionUser(ctx, fresh)
		storetest.WantCode(t, err, "invalid_session")

		// A new password ends every session and replaces the old password.
		fresh = login()
		storetest.WantCode(t, f.accounts.SetPassword(ctx, u.ID, "short"), "weak_password")
		storetest.WantCode(t, f.accounts.SetPassword(ctx, "usr_nope", "a new password!"), "user_not_found")
		if err := f.accounts.SetPassword(ctx, u.ID, "a new password!"); err != nil {
			t.Fatal(err)
		}
		_, _, err = f.accounts.SessionUser(ctx, fresh)
		storetest.WantCode(t, err, "invalid_session")
		_, _, _, err = f.accounts.Login(ctx, "erin@example.com", pw)
		storetest.WantCode(t, err, "invalid_credentials")
		if _, _, _, err := f.accounts.Login(ctx, "erin@example.com", "a new password!"); err != nil {
			t.Fatal(err)
		}
	})
}
