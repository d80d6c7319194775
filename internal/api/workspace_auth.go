package api

import (
	"net/http"

	"spectra/internal/team"
)

// Workspace reports whether r may act on workspace id, for transports that register
// their own routes (billing): nil for the operator and for an admin key of that
// workspace, else an *errs.Error (401 unauthenticated, 403 another workspace's key or
// an inference key). need is "read" or "billing"; admin keys are the workspace's API
// credentials for both, so they may also start a checkout or redeem a code, as long as
// the role of the key's member allows it (403 key_role_forbidden: a demoted admin's
// admin key reads, but no longer pays).
func (s *Server) Workspace(r *http.Request, id, need string) error {
	p, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if p.operator {
		return nil
	}
	if p.key.WorkspaceID != id {
		return errForbiddenWS
	}
	if p.key.Kind != team.KindAdmin {
		return errAdminKeyRequired
	}
	if need == "billing" {
		return p.key.RoleAllows(team.ActManageBilling)
	}
	return p.key.RoleAllows(team.ActViewBilling)
}
