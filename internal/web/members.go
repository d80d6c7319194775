package web

import (
	"net/http"
	"time"

	"spectra/internal/errs"
	"spectra/internal/metering"
	"spectra/internal/team"
)

// memberRow is one member of the members page.
type memberRow struct {
	team.Member
	Joined string
	Usage  metering.Totals
	Roles  []option // the roles the viewer may give this member; empty when they may not change it
	IsMe   bool
}

// membersData is what the members page shows.
type membersData struct {
	pageBase
	Period  Period
	Periods []periodLink
	Members []memberRow
	Other   []breakdownRow // spend under member labels that are not members (left, or set by ingestion)
}

// members lists who is in the workspace, their role and their spend in the period.
func (s *Server) members(w http.ResponseWriter, r *http.Request, rq *request) error {
	p, err := parsePeriod(r.URL.Query(), "month", rq.Now, rq.Loc)
	if err != nil {
		return err
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
		return err
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
		for _, label := range []string{m.UserID, m.Email} {
			if t, ok := spend[label]; ok && !seen[label] {
				row.Usage.Add(t)
				seen[label] = true
			}
		}
		for _, role := range team.Roles {
			if role == m.Role || rq.Role.CanChangeMember(m.Role, role) {
				row.Roles = append(row.Roles, option{Value: string(role), Label: string(role), Selected: role == m.Role})
			}
		}
		if len(row.Roles) <= 1 {
			row.Roles = nil
		}
		d.Members = append(d.Members, row)
	}
	for _, b := range rows {
		if !seen[b.Value] {
			d.Other = append(d.Other, b)
		}
	}
	return s.render(w, r, http.StatusOK, "members", d)
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
