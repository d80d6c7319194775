package api

import (
	"net/http"
	"time"

	"spectra/internal/errs"
	"spectra/internal/metering"
	"spectra/internal/team"
)

var errTeamUnavailable = errs.E(errs.Unavailable, "feature_unavailable", "members and invitations are not configured on this server")

// memberOut is a member with their usage and spend in the period.
type memberOut struct {
	UserID    string          `json:"user_id"`
	Email     string          `json:"email"`
	Name      string          `json:"name"`
	Role      team.Role       `json:"role"`
	CreatedAt time.Time       `json:"created_at"`
	Usage     metering.Totals `json:"usage"`
}

// listMembers answers GET …/members: each member with their usage (requests, tokens,
// cost) from start to end, by default the current calendar month in the workspace's
// time zone. Usage is matched to a member by the member label of their events (the
// user id, as the gateway sets it, or the email).
func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) error {
	if s.accounts == nil {
		return errTeamUnavailable
	}
	ws, err := s.team.Workspace(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	loc, err := loadLocation(ws.Timezone)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	now := s.now().In(loc)
	if q.Get("start") == "" {
		q.Set("start", time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc).UTC().Format(time.RFC3339))
	}
	start, end, err := timeRange(q, s.now())
	if err != nil {
		return err
	}
	if !start.Before(end) {
		return errs.E(errs.Invalid, "invalid_range", "start must be before end")
	}
	members, err := s.accounts.Members(r.Context(), ws.ID)
	if err != nil {
		return err
	}
	buckets, err := s.metering.Usage(r.Context(), metering.UsageQuery{WorkspaceID: ws.ID, Start: start, End: end,
		Bucket: 24 * time.Hour, Location: loc, GroupBy: []string{metering.DimMember}})
	if err != nil {
		return err
	}
	spend := map[string]metering.Totals{}
	for _, b := range buckets {
		for _, res := range b.Results {
			if res.Member != nil {
				t := spend[*res.Member]
				t.Add(res.Totals)
				spend[*res.Member] = t
			}
		}
	}
	out := make([]memberOut, 0, len(members))
	for _, m := range members {
		o := memberOut{UserID: m.UserID, Email: m.Email, Name: m.Name, Role: m.Role, CreatedAt: m.CreatedAt}
		o.Usage.Add(spend[m.UserID])
		if m.Email != m.UserID {
			o.Usage.Add(spend[m.Email])
		}
		out = append(out, o)
	}
	WriteJSON(w, http.StatusOK, struct {
		WorkspaceID string      `json:"workspace_id"`
		Start       time.Time   `json:"start"`
		End         time.Time   `json:"end"`
		Currency    string      `json:"currency"`
		Members     []memberOut `json:"members"`
	}{ws.ID, start.UTC(), end.UTC(), s.currency, out})
	return nil
}

// roleRequest is the body of PATCH …/members/{user_id}.
type roleRequest struct {
	Role team.Role `json:"role"`
}

func (s *Server) setMemberRole(w http.ResponseWriter, r *http.Request) error {
	if s.accounts == nil {
		return errTeamUnavailable
	}
	var body roleRequest
	if err := decodeBody(w, r, MaxBody, &body); err != nil {
		return err
	}
	if _, err := s.team.Workspace(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	m, err := s.accounts.SetRole(r.Context(), r.PathValue("id"), r.PathValue("user_id"), body.Role)
	if err != nil {
		return err
	}
	s.log.Info("member role changed", "workspace", m.WorkspaceID, "user", m.UserID, "role", m.Role, "by", "operator")
	WriteJSON(w, http.StatusOK, memberOut{UserID: m.UserID, Email: m.Email, Name: m.Name, Role: m.Role, CreatedAt: m.CreatedAt})
	return nil
}

// removeMember answers DELETE …/members/{user_id}: the membership goes and, in the
// same transaction, every key of the workspace that belongs to the member is revoked.
func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) error {
	if s.accounts == nil {
		return errTeamUnavailable
	}
	ws, user := r.PathValue("id"), r.PathValue("user_id")
	if _, err := s.team.Workspace(r.Context(), ws); err != nil {
		return err
	}
	if err := s.accounts.RemoveMember(r.Context(), ws, user); err != nil {
		return err
	}
	s.log.Info("member removed", "workspace", ws, "user", user, "by", "operator")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
