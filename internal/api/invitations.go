package api

import (
	"net/http"

	"spectra/internal/team"
)

// inviteRequest is the body of POST …/invitations.
type inviteRequest struct {
	Email string    `json:"email"`
	Role  team.Role `json:"role"`
}

// invite answers POST …/invitations: the invitation with its link (shown this once; only
// its hash is stored), emailed when SMTP is configured.
func (s *Server) invite(w http.ResponseWriter, r *http.Request) error {
	if s.invites == nil {
		return errTeamUnavailable
	}
	var body inviteRequest
	if err := decodeBody(w, r, MaxBody, &body); err != nil {
		return err
	}
	sent, err := s.invites.Invite(r.Context(), r.PathValue("id"), body.Email, body.Role, nil)
	if err != nil {
		return err
	}
	s.log.Info("invitation created", "workspace", sent.WorkspaceID, "invitation", sent.ID, "role", sent.Role, "emailed", sent.EmailSent, "by", "operator")
	WriteJSON(w, http.StatusCreated, sent)
	return nil
}

// listInvitations answers GET …/invitations: the open ones, newest first.
func (s *Server) listInvitations(w http.ResponseWriter, r *http.Request) error {
	if s.invites == nil {
		return errTeamUnavailable
	}
	list, err := s.invites.Pending(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, map[string]any{"invitations": list})
	return nil
}

// revokeInvitation answers DELETE …/invitations/{invitation_id}: its link stops working.
func (s *Server) revokeInvitation(w http.ResponseWriter, r *http.Request) error {
	if s.invites == nil {
		return errTeamUnavailable
	}
	if _, err := s.team.Workspace(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	inv, err := s.invites.Revoke(r.Context(), r.PathValue("id"), r.PathValue("invitation_id"), nil)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, inv)
	return nil
}
