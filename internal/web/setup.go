package web

import (
	"net/http"
	"strings"

	"spectra/internal/errs"
	"spectra/internal/team"
)

// setupData is what the first-run page shows.
type setupData struct {
	pageBase
	NoToken   bool // no token in the link: explain where to find it
	Token     string
	Email     string
	Name      string
	Workspace string
	Error     string
	ErrorCode string // the error's code, for scripts (data-code), when it has one
	// Flow is a step after the account (setupsteps.go); nil on the account form.
	Flow *setupFlow
}

// setupPage shows the form that creates the first account and its workspace, reached
// by the one-time link `spectra serve` prints while no account exists.
func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Has("step") { // the first run's next steps: the operator only
		s.admin(s.setupStepPage).ServeHTTP(w, r)
		return nil
	}
	has, err := s.accounts.HasUsers(r.Context())
	if err != nil {
		return err
	}
	if has {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	}
	d := setupData{pageBase: s.base("Set up Spectra", nil, nil), Token: r.URL.Query().Get("token")}
	d.NoToken = d.Token == ""
	d.CSRFToken = s.preCSRF(w, r)
	return s.render(w, r, http.StatusOK, "setup", d)
}

func (s *Server) setup(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Has("step") {
		s.admin(s.setupStepPost).ServeHTTP(w, r)
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	d := setupData{pageBase: s.base("Set up Spectra", nil, nil), Token: r.PostFormValue("token"),
		Email: strings.TrimSpace(r.PostFormValue("email")), Name: strings.TrimSpace(r.PostFormValue("name")),
		Workspace: strings.TrimSpace(r.PostFormValue("workspace"))}
	d.CSRFToken = s.preCSRF(w, r)
	if err := checkPreCSRF(r); err != nil {
		d.Error = "This form has expired. Please try again."
		return s.render(w, r, http.StatusForbidden, "setup", d)
	}
	if r.PostFormValue("password") != r.PostFormValue("password2") {
		d.Error = "The two passwords are not the same."
		return s.render(w, r, http.StatusBadRequest, "setup", d)
	}
	u, ws, err := s.accounts.CompleteSetup(r.Context(), d.Token, d.Email, d.Name, r.PostFormValue("password"), d.Workspace)
	if errs.Is(err, team.ErrPasswordBusy.Code) {
		d.Error, d.ErrorCode = passwordBusy(w), team.ErrPasswordBusy.Code
		return s.render(w, r, http.StatusServiceUnavailable, "setup", d)
	}
	if errs.Is(err, "setup_done") {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	}
	if k := errs.KindOf(err); k == errs.Invalid || k == errs.Forbidden {
		d.Error = userMessage(err)
		return s.render(w, r, statusOf(err), "setup", d)
	}
	if err != nil {
		return err
	}
	token, sess, err := s.accounts.StartSession(r.Context(), u.ID)
	if err != nil {
		return err
	}
	s.setSessionCookie(w, token, sess.ExpiresAt)
	s.log.Info("first-run setup complete", "user", u.ID, "workspace", ws.ID)
	// On to the first run's steps: an upstream, prices, credit and a key (each skippable).
	http.Redirect(w, r, "/setup?step=upstream&ws="+ws.ID, http.StatusSeeOther)
	return nil
}
