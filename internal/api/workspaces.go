package api

import (
	"net/http"

	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/team"
)

// workspaceRequest is the body of POST /api/v1/workspaces.
type workspaceRequest struct {
	Name           string  `json:"name"`
	Timezone       string  `json:"timezone"`        // IANA; default UTC
	OverdraftLimit *string `json:"overdraft_limit"` // decimal string; default "0"
}

func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request) error {
	var body workspaceRequest
	if err := decodeBody(w, r, MaxBody, &body); err != nil {
		return err
	}
	ws := team.Workspace{Name: body.Name, Timezone: body.Timezone}
	if body.OverdraftLimit != nil {
		a, err := money.ParseNonNegative(*body.OverdraftLimit)
		if err != nil {
			return errs.E(errs.Invalid, "invalid_overdraft_limit", "overdraft_limit: %s", amountProblem(err))
		}
		ws.OverdraftLimit = a
	}
	ws, err := s.team.CreateWorkspace(r.Context(), ws)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, ws)
	return nil
}

func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request) error {
	all, err := s.team.Workspaces(r.Context())
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, map[string]any{"workspaces": all})
	return nil
}

func (s *Server) getWorkspace(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.team.Workspace(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, ws)
	return nil
}

// updateWorkspace changes a workspace's settings: PATCH /api/v1/workspaces/{id} with
// any of the fields of team.WorkspaceUpdate ({"timezone":"Europe/Berlin"}); a field left
// out stays as it is, and an unknown one is refused (unknown_field), so a setting added
// later is a field of team.WorkspaceUpdate and nothing here. Owners only
// (team.ActManageWorkspace): the operator, or an admin key whose member is an owner.
//
// price_list (a list's name; null or "" for the catalog) is the operator's alone: an
// owner's key that sets it is refused (403 operator_required) and nothing changes. The
// assignment prices the events priced after it; the cached catalog is dropped so that
// this node's next ingest prices with it (other nodes' are refused by the catalog's
// version and reload).
func (s *Server) updateWorkspace(w http.ResponseWriter, r *http.Request) error {
	var body team.WorkspaceUpdate
	if err := decodeBody(w, r, MaxBody, &body); err != nil {
		return err
	}
	if body.PriceList.Set && !principalOf(r.Context()).operator {
		return errs.E(errs.Forbidden, "operator_required", "only the operator assigns a price list (price_list takes the operator's admin token)")
	}
	ws, err := s.team.UpdateWorkspace(r.Context(), r.PathValue("id"), body)
	if err != nil {
		return err
	}
	if body.PriceList.Set {
		s.metering.Invalidate()
	}
	s.log.Info("workspace updated", "workspace", ws.ID, "timezone", ws.Timezone, "price_list", ws.PriceList)
	WriteJSON(w, http.StatusOK, ws)
	return nil
}
