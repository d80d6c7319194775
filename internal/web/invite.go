package web

import (
	"net/http"
	"net/url"
	"strings"

	"spectra/internal/errs"
	"spectra/internal/team"
)

// inviteData is what the invitation page shows.
type inviteData struct {
	pageBase
	Token string
	Inv   *team.Open // nil when the link is not open (Error says why)
	Mode  string     // "create" (new account), "password" (existing account), "join" (signed in as the email), "other" (signed in as someone else)
	Me    string     // the signed-in user's email, for "join" and "other"
	Name  string
	Error string
	// ErrorCode is the error's code, for scripts (data-code), when it has one.
	ErrorCode string
	Dead      bool // the link cannot be used: Error is the whole page
}

// invitePage shows an invitation link: who invites whom to what, and the form that
// accepts it — a new account, the existing account's password, or one click when
// signed in as the invited email. It needs no session.
func (s *Server) invitePage(w http.ResponseWriter, r *http.Request) error {
	if s.invites == nil {
		return errNotFound
	}
	d := s.inviteView(w, r)
	status := http.StatusOK
	if d.Dead {
		status = statusOf(d.err)
	}
	return s.render(w, r, status, "invite", d.inviteData)
}

type inviteView struct {
	inviteData
	err error
	v   *viewer
}

// inviteView looks the token up and picks the form.
func (s *Server) inviteView(w http.ResponseWriter, r *http.Request) inviteView {
	// The token is in the URL: keep it out of Referer headers and caches.
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	token := r.PathValue("token")
	d := inviteView{inviteData: inviteData{pageBase: s.base("Invitation", nil, nil), Token: token}}
	d.CSRFToken = s.preCSRF(w, r)
	open, err := s.invites.Lookup(r.Context(), token)
	if err != nil {
		d.err, d.Dead, d.Error = err, true, userMessage(err)
		return d
	}
	d.Inv = &open
	if v, err := s.identify(r); err == nil && !v.Bearer {
		d.v, d.Me = v, v.User.Email
		d.Mode = "other"
		if strings.EqualFold(v.User.Email, open.Email) {
			d.Mode = "join"
		}
		return d
	}
	d.Mode = "create"
	if open.HasAccount {
		d.Mode = "password"
	}
	return d
}

// acceptInvite answers the invitation page's form, then signs the person in and opens
// the workspace.
func (s *Server) acceptInvite(w http.ResponseWriter, r *http.Request) error {
	if s.invites == nil {
		return errNotFound
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	d := s.inviteView(w, r)
	if d.Dead {
		return s.render(w, r, statusOf(d.err), "invite", d.inviteData)
	}
	fail := func(status int, msg string) error {
		d.Error = msg
		return s.render(w, r, status, "invite", d.inviteData)
	}
	if err := checkPreCSRF(r); err != nil {
		return fail(http.StatusForbidden, "This form has expired. Please try again.")
	}
	ctx := r.Context()
	token := d.Token
	var m team.Member
	var err error
	switch d.Mode {
	case "join":
		m, err = s.invites.AcceptAs(ctx, token, d.v.User)
	case "password":
		// As at sign-in: the attempt is counted before the password is checked.
		try := s.limiter.take("ip:"+clientIP(r), "email:"+strings.ToLower(d.Inv.Email))
		if try == nil {
			retryAfter(w, s.loginWait)
			d.ErrorCode = errRateLimited.Code
			return fail(http.StatusTooManyRequests, sentence(errRateLimited.Message))
		}
		u, stoken, sess, lerr := s.accounts.Login(ctx, d.Inv.Email, r.PostFormValue("password"))
		if errs.KindOf(lerr) == errs.Unauthorized {
			return fail(http.StatusUnauthorized, "The password is not right.")
		}
		s.limiter.refund(try) // right, or not checked at all
		if errs.Is(lerr, team.ErrPasswordBusy.Code) {
			d.ErrorCode = team.ErrPasswordBusy.Code
			return fail(http.StatusServiceUnavailable, passwordBusy(w))
		}
		if lerr != nil {
			return lerr
		}
		s.limiter.reset("email:" + strings.ToLower(d.Inv.Email))
		s.setSessionCookie(w, stoken, sess.ExpiresAt)
		m, err = s.invites.AcceptAs(ctx, token, u)
	case "create":
		d.Name = strings.TrimSpace(r.PostFormValue("name"))
		if r.PostFormValue("password") != r.PostFormValue("password2") {
			return fail(http.StatusBadRequest, "The two passwords are not the same.")
		}
		var u team.User
		u, m, err = s.invites.AcceptNew(ctx, token, d.Name, r.PostFormValue("password"))
		if err == nil {
			stoken, sess, serr := s.accounts.StartSession(ctx, u.ID)
			if serr != nil {
				return serr
			}
			s.setSessionCookie(w, stoken, sess.ExpiresAt)
		}
	default: // signed in as someone else
		return fail(http.StatusForbidden, sentence(team.ErrInvitationEmail.Message)+".")
	}
	if errs.Is(err, team.ErrAlreadyMember.Code) {
		http.Redirect(w, r, "/w/"+url.PathEscape(d.Inv.WorkspaceID)+"/", http.StatusSeeOther)
		return nil
	}
	if errs.Is(err, team.ErrPasswordBusy.Code) { // creating the account: nothing was stored
		d.ErrorCode = team.ErrPasswordBusy.Code
		return fail(http.StatusServiceUnavailable, passwordBusy(w))
	}
	if err != nil {
		if errs.KindOf(err) == errs.Internal {
			return err
		}
		return fail(statusOf(err), userMessage(err))
	}
	s.log.Info("invitation accepted", "workspace", m.WorkspaceID, "invitation", d.Inv.ID, "user", m.UserID, "role", m.Role)
	http.Redirect(w, r, "/w/"+url.PathEscape(m.WorkspaceID)+"/", http.StatusSeeOther)
	return nil
}
