package web

import (
	"net/http"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/metering"
	"spectra/internal/team"
)

// memberRow is one member of the members page.
type memberRow struct {
	team.Member
	Joined    string
	Usage     metering.Totals
	Roles     []option // the roles the viewer may give this member; empty when they may not change it
	IsMe      bool
	CanRemove bool
	Link      string // the member's request log in the period
}

// membersData is what the members page shows.
type membersData struct {
	pageBase
	Period  Period
	Periods []periodLink
	Members []memberRow
	Other   []breakdownRow // spend under member labels that are not members (left, or set by ingestion)

	// Invitations, for owners and admins (CanInvite).
	CanInvite   bool
	MailEnabled bool
	InviteRoles []option // the roles the viewer may invite with
	Pending     []pendingRow
	Sent        *team.Sent // the invitation just made, with its link
	SentExpires string
	InviteError string
	FormEmail   string
}

// pendingRow is one open invitation.
type pendingRow struct {
	team.Invitation
	Sent      string
	Expires   string
	CanRevoke bool
}

// members lists who is in the workspace, their role and their spend in the period.
func (s *Server) members(w http.ResponseWriter, r *http.Request, rq *request) error {
	d, err := s.membersPage(r, rq)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "members", d)
}

// membersPage gathers the members page: members with their spend, and for owners and
// admins the invite form and the open invitations.
func (s *Server) membersPage(r *http.Request, rq *request) (membersData, error) {
	p, err := parsePeriod(r.URL.Query(), "month", rq.Now, rq.Loc)
	if err != nil {
		return membersData{}, err
	}
	ctx := r.Context()
	var names labeler
	var bs []metering.Bucket
	// Grouping by project, key and member follows the rollups' primary key, so the
	// database sums without sorting; keys and projects are added up here.
	err = parallel(
		func() (err error) { names, err = rq.labels(ctx); return err },
		func() (err error) {
			bs, err = rq.usage(ctx, p.Start, p.End, 24*time.Hour, []string{metering.DimProject, metering.DimKey, metering.DimMember}, metering.Filter{})
			return err
		})
	if err != nil {
		return membersData{}, err
	}
	ms := names.memberList
	spend := map[string]metering.Totals{}
	rows := breakdown(bs, metering.DimMember, names)
	for _, b := range rows {
		spend[b.Value] = b.Totals
	}
	d := membersData{pageBase: rq.base("Members", "members"), Period: p, Periods: rq.periodLinks("members", p)}
	seen := map[string]bool{}
	for _, m := range ms {
		row := memberRow{Member: m, Joined: m.CreatedAt.In(rq.Loc).Format(layoutDate), IsMe: m.UserID == rq.V.User.ID}
		// The request log filters by one label: the user id, or the email when only
		// the email has usage (ingestion may label usage either way).
		label := m.UserID
		for _, l := range []string{m.UserID, m.Email} {
			if t, ok := spend[l]; ok && !seen[l] {
				row.Usage.Add(t)
				seen[l] = true
				if _, byID := spend[m.UserID]; !byID {
					label = l
				}
			}
		}
		row.Link = requestsLink(rq.Workspace.ID, drillFilter{Period: p, Member: label})
		for _, role := range team.Roles {
			if role == m.Role || rq.Role.CanChangeMember(m.Role, role) {
				row.Roles = append(row.Roles, option{Value: string(role), Label: string(role), Selected: role == m.Role})
			}
		}
		if len(row.Roles) <= 1 {
			row.Roles = nil
		}
		row.CanRemove = rq.Role.CanChangeMember(m.Role, "")
		d.Members = append(d.Members, row)
	}
	for _, b := range rows {
		if !seen[b.Value] {
			d.Other = append(d.Other, b)
		}
	}
	linkRows(rq.Workspace.ID, d.Other, metering.DimMember, drillFilter{Period: p})
	if s.invites != nil && rq.Can(team.ActManageMembers) {
		d.CanInvite, d.MailEnabled = true, s.invites.MailEnabled()
		for _, role := range team.Roles {
			if rq.Role.CanChangeMember("", role) {
				d.InviteRoles = append(d.InviteRoles, option{Value: string(role), Label: string(role), Selected: role == team.RoleMember})
			}
		}
		pending, err := s.invites.Pending(r.Context(), rq.Workspace.ID)
		if err != nil {
			return membersData{}, err
		}
		for _, inv := range pending {
			d.Pending = append(d.Pending, pendingRow{Invitation: inv, Sent: inv.CreatedAt.In(rq.Loc).Format(layoutDate),
				Expires: inv.ExpiresAt.In(rq.Loc).Format(layoutDate), CanRevoke: rq.Role.CanChangeMember("", inv.Role)})
		}
	}
	return d, nil
}

// inviter is the viewer as the domain sees an inviter: nil for the operator.
func (rq *request) inviter() *team.Member {
	if rq.V.User.Operator {
		return nil
	}
	m := rq.actor()
	return &m
}

// invite sends an invitation and shows its link on the members page.
func (s *Server) invite(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.invites == nil {
		return errNotFound
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	sent, err := s.invites.Invite(r.Context(), rq.Workspace.ID, email, team.Role(r.PostFormValue("role")), rq.inviter())
	if k := errs.KindOf(err); k == errs.Invalid || k == errs.Conflict || k == errs.Forbidden {
		d, perr := s.membersPage(r, rq)
		if perr != nil {
			return perr
		}
		d.InviteError, d.FormEmail = userMessage(err), email
		return s.render(w, r, statusOf(err), "members", d)
	}
	if err != nil {
		return err
	}
	s.log.Info("invitation created in dashboard", "workspace", rq.Workspace.ID, "invitation", sent.ID, "role", sent.Role, "emailed", sent.EmailSent, "by", rq.V.User.ID)
	d, err := s.membersPage(r, rq)
	if err != nil {
		return err
	}
	d.Sent, d.SentExpires = &sent, sent.ExpiresAt.In(rq.Loc).Format("2 Jan 2006 15:04 MST")
	return s.render(w, r, http.StatusCreated, "members", d)
}

// revokeInvitation withdraws an open invitation.
func (s *Server) revokeInvitation(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.invites == nil {
		return errNotFound
	}
	if _, err := s.invites.Revoke(r.Context(), rq.Workspace.ID, r.PathValue("inv"), rq.inviter()); err != nil {
		return err
	}
	s.log.Info("invitation revoked in dashboard", "workspace", rq.Workspace.ID, "invitation", r.PathValue("inv"), "by", rq.V.User.ID)
	http.Redirect(w, r, rq.URL("members"), http.StatusSeeOther)
	return nil
}

// removeMember removes a member (and revokes their keys), when the viewer's role allows.
func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, rq *request) error {
	userID := r.PathValue("user")
	m, err := s.accounts.Member(r.Context(), rq.Workspace.ID, userID)
	if errs.KindOf(err) == errs.Forbidden {
		return errs.E(errs.NotFound, "member_not_found", "this user is not a member of the workspace")
	}
	if err != nil {
		return err
	}
	if !rq.Role.CanChangeMember(m.Role, "") {
		return team.ErrRoleForbidden
	}
	if err := s.accounts.RemoveMember(r.Context(), rq.Workspace.ID, userID); err != nil {
		return err
	}
	s.log.Info("member removed in dashboard", "workspace", rq.Workspace.ID, "user", userID, "by", rq.V.User.ID)
	if userID == rq.V.User.ID && !rq.V.User.Operator {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, rq.URL("members"), http.StatusSeeOther)
	return nil
}

// setRole changes a member's role, when the viewer's role allows that change.
func (s *Server) setRole(w http.ResponseWriter, r *http.Request, rq *request) error {
	userID := r.PathValue("user")
	role := team.Role(r.PostFormValue("role"))
	m, err := s.accounts.Member(r.Context(), rq.Workspace.ID, userID)
	if errs.KindOf(err) == errs.Forbidden {
		return errs.E(errs.NotFound, "member_not_found", "this user is not a member of the workspace")
	}
	if err != nil {
		return err
	}
	if !role.Valid() {
		return team.ErrInvalidRole
	}
	if !rq.Role.CanChangeMember(m.Role, role) {
		return errs.E(errs.Forbidden, "role_forbidden", "only an owner may give or take away the owner role")
	}
	if _, err := s.accounts.SetRole(r.Context(), rq.Workspace.ID, userID, role); err != nil {
		return err
	}
	s.log.Info("member role changed in dashboard", "workspace", rq.Workspace.ID, "user", userID, "role", role, "by", rq.V.User.ID)
	http.Redirect(w, r, rq.URL("members"), http.StatusSeeOther)
	return nil
}
