package api

import (
	"net/http"

	"spectra/internal/team"
)

// Workspace reports whether r may do need on workspace id, for the transports that
// mount their own route tables (billing, budgets, webhooks: httpjson.Guards.Workspace):
// nil for the operator, and for an admin key of that workspace whose member's current
// role allows need; else an *errs.Error (401 unauthenticated, 403 forbidden_workspace
// for another workspace's key, admin_key_required for an inference key, or
// key_role_forbidden: a demoted admin's admin key still reads, but no longer pays or
// manages webhooks). Admin keys are the workspace's API credentials for every action.
func (s *Server) Workspace(r *http.Request, id string, need team.Action) error {
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
	return p.key.RoleAllows(need)
}
