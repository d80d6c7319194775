package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/team"
)

// Cookie names.
const (
	sessionCookie = "spectra_session"
	preCSRFCookie = "spectra_csrf" // double-submit token for the forms shown before sign-in
)

// viewer is who is looking at a page.
type viewer struct {
	User    team.User
	Session team.Session // zero for the operator's bearer token
	Bearer  bool         // signed in by "Authorization: Bearer <admin token>"
}

// CSRF returns the token forms echo.
func (v *viewer) CSRF() string { return v.Session.CSRFToken }

// Errors of sign-in and forms.
var (
	errCSRF        = errs.E(errs.Forbidden, "csrf_failed", "this form has expired or did not come from Spectra; reload the page and try again")
	errNotSignedIn = errs.E(errs.Unauthorized, "not_signed_in", "sign in to see this page")
	errRateLimited = errs.E(errs.RateLimited, "too_many_attempts", "too many failed sign-in attempts; wait 15 minutes and try again")
	errNotFound    = errs.E(errs.NotFound, "not_found", "there is no such page")
)

// operatorToken reports, in constant time, whether the request carries the operator's
// admin token as a bearer token.
func (s *Server) operatorToken(r *http.Request) bool {
	if s.opHash == "" {
		return false
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(team.HashSecret(strings.TrimSpace(token))), []byte(s.opHash)) == 1
}

// identify returns the viewer of r, or errNotSignedIn.
func (s *Server) identify(r *http.Request) (*viewer, error) {
	if s.operatorToken(r) {
		return &viewer{User: team.User{ID: "", Name: "Operator", Operator: true}, Bearer: true}, nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, errNotSignedIn
	}
	u, sess, err := s.accounts.SessionUser(r.Context(), c.Value)
	if errs.KindOf(err) == errs.Unauthorized {
		return nil, errNotSignedIn
	}
	if err != nil {
		return nil, err
	}
	return &viewer{User: u, Session: sess}, nil
}

// maxFormBytes bounds a dashboard form.
const maxFormBytes = 64 << 10

var errBadForm = errs.E(errs.Invalid, "invalid_form", "the form could not be read")

// checkCSRF refuses a POST whose form token is not the session's. The operator's bearer
// token is not sent by browsers on their own, so it needs none.
func checkCSRF(r *http.Request, v *viewer) error {
	if v.Bearer {
		return nil
	}
	token := r.Header.Get("X-CSRF-Token")
	if token == "" {
		token = r.PostFormValue("csrf")
	}
	if !v.Session.CheckCSRF(token) {
		return errCSRF
	}
	return nil
}

// publicHandler serves a page that needs no sign-in.
type publicHandler func(w http.ResponseWriter, r *http.Request) error

// public wraps h with timing and error pages.
func (s *Server) public(h publicHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), startKey{}, time.Now()))
		if err := h(w, r); err != nil {
			s.fail(w, r, nil, nil, err)
		}
	})
}

// signedInHandler serves a page for any signed-in viewer.
type signedInHandler func(w http.ResponseWriter, r *http.Request, v *viewer) error

// signedIn identifies the viewer (redirecting to /login when there is none), checks
// CSRF on POST, and runs h.
func (s *Server) signedIn(h signedInHandler) http.Handler {
	return s.public(func(w http.ResponseWriter, r *http.Request) error {
		v, err := s.identify(r)
		if errors.Is(err, errNotSignedIn) {
			s.toLogin(w, r)
			return nil
		}
		if err != nil {
			return err
		}
		if r.Method == http.MethodPost {
			// Every signed-in POST is a small form: bounded and read here, before the
			// CSRF check reads its token (reading it would parse the form unbounded).
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := parseForm(r); err != nil {
				return errBadForm
			}
			if err := checkCSRF(r, v); err != nil {
				return err
			}
		}
		return h(w, r, v)
	})
}

// parseForm reads a POST's form: URL-encoded, or multipart (a file upload, such as the
// console's catalog import), whose parts are kept in memory within the body's bound.
func parseForm(r *http.Request) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		return r.ParseMultipartForm(maxFormBytes)
	}
	return r.ParseForm()
}

// toLogin sends a visitor who is not signed in to the login page, coming back here after.
func (s *Server) toLogin(w http.ResponseWriter, r *http.Request) {
	target := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeNext returns next when it is a path on this site, else "/". A backslash is
// refused anywhere: browsers read it as "/", and http.Redirect cleans the path, so
// "/./\evil.example" would leave as "/\evil.example", which a browser follows off site.
// (The dashboard's own next= links come from RequestURI, where it is escaped as %5C.)
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

// setSessionCookie stores the session token in an HttpOnly, SameSite=Lax cookie that
// lives as long as the session (by Max-Age, so the browser's clock does not matter).
func (s *Server) setSessionCookie(w http.ResponseWriter, token string, expires time.Time) {
	age := int(expires.Sub(s.now()) / time.Second)
	if age < 1 {
		age = 1
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", MaxAge: age,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// preCSRF returns the double-submit token for the login and setup forms, setting its
// cookie when the browser has none.
func (s *Server) preCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(preCSRFCookie); err == nil && len(c.Value) >= 20 {
		return c.Value
	}
	token := ids.Random(20)
	http.SetCookie(w, &http.Cookie{Name: preCSRFCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteStrictMode})
	return token
}

// checkPreCSRF checks a login or setup form's token against its cookie.
func checkPreCSRF(r *http.Request) error {
	c, err := r.Cookie(preCSRFCookie)
	if err != nil || len(c.Value) < 20 || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		return errCSRF
	}
	return nil
}

// loginData is what the login page shows.
type loginData struct {
	pageBase
	Email     string
	Next      string
	Error     string
	ErrorCode string // the error's code, for scripts (data-code), when it has one
	Demo      bool   // the demo's owner exists: say how to sign in as them
}

// busyRetryAfter is the Retry-After, in seconds, of a form whose password could not be
// checked because every password-hashing slot stayed busy (team.ErrPasswordBusy).
const busyRetryAfter = "3"

// passwordBusy sets the Retry-After of a 503 password_check_busy answer and returns
// its message.
func passwordBusy(w http.ResponseWriter) string {
	w.Header().Set("Retry-After", busyRetryAfter)
	return sentence(team.ErrPasswordBusy.Message) + "."
}

// demoOwner is the demo's sign-in, shown on the login page of a demo database.
const demoOwner = "demo@example.com"

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) error {
	if v, err := s.identify(r); err == nil && !v.Bearer {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	if has, err := s.accounts.HasUsers(r.Context()); err == nil && !has {
		return s.render(w, r, http.StatusOK, "setup", setupData{pageBase: s.base("Set up Spectra", nil, nil), NoToken: true})
	}
	d := loginData{pageBase: s.base("Sign in", nil, nil), Next: safeNext(r.URL.Query().Get("next"))}
	d.CSRFToken = s.preCSRF(w, r)
	if _, err := s.accounts.UserByEmail(r.Context(), demoOwner); err == nil {
		d.Demo = true
	}
	return s.render(w, r, http.StatusOK, "login", d)
}

// clientIP is the address the limiter counts failures against.
func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	email := strings.TrimSpace(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	d := loginData{pageBase: s.base("Sign in", nil, nil), Email: email, Next: safeNext(r.PostFormValue("next"))}
	d.CSRFToken = s.preCSRF(w, r)
	if err := checkPreCSRF(r); err != nil {
		d.Error = "This form has expired. Please try again."
		return s.render(w, r, http.StatusForbidden, "login", d)
	}
	// The attempt is counted before the password is checked, in one locked step with the
	// check of the limit, so concurrent wrong passwords cannot all slip under it.
	try := s.limiter.take("ip:"+clientIP(r), "email:"+strings.ToLower(email))
	if try == nil {
		retryAfter(w, s.loginWait)
		d.Error, d.ErrorCode = sentence(errRateLimited.Message), errRateLimited.Code
		return s.render(w, r, http.StatusTooManyRequests, "login", d)
	}
	u, token, sess, err := s.accounts.Login(r.Context(), email, password)
	if errs.KindOf(err) == errs.Unauthorized {
		s.log.Info("dashboard sign-in failed", "ip", clientIP(r))
		d.Error = "The email or password is not right."
		return s.render(w, r, http.StatusUnauthorized, "login", d)
	}
	s.limiter.refund(try) // right, or not checked at all
	if errs.Is(err, team.ErrPasswordBusy.Code) {
		d.Error, d.ErrorCode = passwordBusy(w), team.ErrPasswordBusy.Code
		return s.render(w, r, http.StatusServiceUnavailable, "login", d)
	}
	if err != nil {
		return err
	}
	s.limiter.reset("email:" + strings.ToLower(email))
	s.setSessionCookie(w, token, sess.ExpiresAt)
	s.log.Info("dashboard sign-in", "user", u.ID)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.accounts.Logout(r.Context(), c.Value); err != nil {
			return err
		}
	}
	s.clearCookie(w, sessionCookie)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
