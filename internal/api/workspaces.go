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
	if body.Timezone == "Local" {
		return errs.E(errs.Invalid, "invalid_timezone", "timezone %q is not an IANA time zone", body.Timezone)
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
