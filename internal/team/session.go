package team

import (
	"context"
	"crypto/subtle"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ids"
)

// Session is a signed-in browser. It is stored server-side under the SHA-256 of its
// token; the token itself is only in the browser's cookie.
type Session struct {
	UserID    string    `json:"user_id"`
	CSRFToken string    `json:"-"` // echoed by every form; compare with CheckCSRF
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Session lifetime: sliding, with a hard cap. Each use moves the expiry to
// SessionIdleTimeout from now, but never past SessionMaxAge from sign-in; the store is
// written at most once per sessionRefresh per session, so a busy page costs no write per
// request. A session unused for 14 days, or 30 days after sign-in, has expired.
const (
	SessionIdleTimeout = 14 * 24 * time.Hour
	SessionMaxAge      = 30 * 24 * time.Hour
	sessionRefresh     = time.Hour
)

// Session errors (errs.Unauthorized). Match them with errs.Is(err, code).
var (
	ErrInvalidCredentials = errs.E(errs.Unauthorized, "invalid_credentials", "the email or password is not right")
	ErrInvalidSession     = errs.E(errs.Unauthorized, "invalid_session", "you are not signed in")
	ErrSessionExpired     = errs.E(errs.Unauthorized, "session_expired", "your session has expired; sign in again")
)

// CheckCSRF reports, in constant time, whether token is this session's CSRF token.
func (s Session) CheckCSRF(token string) bool {
	return s.CSRFToken != "" && subtle.ConstantTimeCompare([]byte(s.CSRFToken), []byte(token)) == 1
}

// Login checks an email and password and opens a session. It returns the user, the
// session token (for the cookie; shown this once, stored only as its hash) and the
// session. An unknown email and a wrong password give the same error,
// ErrInvalidCredentials, after the same password-hashing work. The hashing runs under
// the process's bound: ErrPasswordBusy (errs.Unavailable) when no slot frees up in time,
// and then the password was not checked. Rate limiting is the caller's.
func (a *Accounts) Login(ctx context.Context, email, password string) (User, string, Session, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, "", Session{}, noSuchUser(ctx, password)
	}
	u, hash, err := a.store.UserByEmail(ctx, email)
	if errs.Is(err, ErrUserNotFound.Code) {
		return User{}, "", Session{}, noSuchUser(ctx, password)
	}
	if err != nil {
		return User{}, "", Session{}, err
	}
	ok, err := checkPassword(ctx, hash, password)
	if err != nil {
		return User{}, "", Session{}, err
	}
	if !ok {
		return User{}, "", Session{}, ErrInvalidCredentials
	}
	token, s, err := a.StartSession(ctx, u.ID)
	if err != nil {
		return User{}, "", Session{}, err
	}
	return u, token, s, nil
}

// noSuchUser does the work of a wrong password and returns its error (or
// ErrPasswordBusy, as a wrong password would).
func noSuchUser(ctx context.Context, password string) error {
	if _, err := checkPassword(ctx, dummyHash, password); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// StartSession opens a session for a user already authenticated by other means (Login,
// setup, a future invitation). It returns the token and the session.
func (a *Accounts) StartSession(ctx context.Context, userID string) (string, Session, error) {
	now := a.stamp()
	token := ids.Random(32)
	s := Session{UserID: userID, CSRFToken: ids.Random(20), CreatedAt: now, ExpiresAt: now.Add(SessionIdleTimeout)}
	if err := a.store.CreateSession(ctx, HashSecret(token), s); err != nil {
		return "", Session{}, err
	}
	return token, s, nil
}

// SessionUser returns the signed-in user and session for a session token, extending the
// session (see SessionIdleTimeout). Errors: ErrInvalidSession for an unknown token (or a
// deleted user), ErrSessionExpired for an expired one (which is deleted).
func (a *Accounts) SessionUser(ctx context.Context, token string) (User, Session, error) {
	if token == "" {
		return User{}, Session{}, ErrInvalidSession
	}
	hash := HashSecret(token)
	s, err := a.store.Session(ctx, hash)
	if err != nil {
		return User{}, Session{}, err
	}
	now := a.stamp()
	if !now.Before(s.ExpiresAt) {
		if err := a.store.DeleteSession(ctx, hash); err != nil {
			return User{}, Session{}, err
		}
		return User{}, Session{}, ErrSessionExpired
	}
	u, err := a.store.User(ctx, s.UserID)
	if errs.Is(err, ErrUserNotFound.Code) {
		return User{}, Session{}, ErrInvalidSession
	}
	if err != nil {
		return User{}, Session{}, err
	}
	next := now.Add(SessionIdleTimeout)
	if limit := s.CreatedAt.Add(SessionMaxAge); next.After(limit) {
		next = limit
	}
	if next.Sub(s.ExpiresAt) >= sessionRefresh {
		if err := a.store.ExtendSession(ctx, hash, next); err != nil {
			return User{}, Session{}, err
		}
		s.ExpiresAt = next
	}
	return u, s, nil
}

// Logout ends the session with this token. An unknown token is not an error.
func (a *Accounts) Logout(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return a.store.DeleteSession(ctx, HashSecret(token))
}

// LogoutEverywhere ends every session of a user.
func (a *Accounts) LogoutEverywhere(ctx context.Context, userID string) error {
	return a.store.DeleteUserSessions(ctx, userID)
}

// PurgeSessions deletes expired sessions and returns how many (run it now and then;
// an expired session is refused whether or not it was purged).
func (a *Accounts) PurgeSessions(ctx context.Context) (int, error) {
	return a.store.DeleteExpiredSessions(ctx, a.stamp())
}
