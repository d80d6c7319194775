package api

import (
	"net/http"
	"slices"

	"spectra/internal/team"
)

// keyRequest is the body of POST /api/v1/workspaces/{id}/keys.
type keyRequest struct {
	Name     string       `json:"name"`
	Kind     team.KeyKind `json:"kind"` // "inference" (default) or "admin"
	Project  string       `json:"project"`
	MemberID string       `json:"member_id"`
	// ExpiresAt is when the key stops working (RFC 3339, in the future; absent or null:
	// never).
	ExpiresAt team.OptionalTime `json:"expires_at"`
}

// createdKey is a new key with its secret, shown this once.
type createdKey struct {
	team.APIKey
	Key string `json:"key"`
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var body keyRequest
	if err := decodeBody(w, r, MaxBody, &body); err != nil {
		return err
	}
	k, secret, err := s.team.CreateKey(r.Context(), team.APIKey{WorkspaceID: r.PathValue("id"),
		Name: body.Name, Kind: body.Kind, Project: body.Project, MemberID: body.MemberID, ExpiresAt: body.ExpiresAt.Time})
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, createdKey{APIKey: k, Key: secret})
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.team.Keys(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if project := r.URL.Query().Get("project"); project != "" {
		keys = slices.DeleteFunc(keys, func(k team.APIKey) bool { return k.Project != project })
	}
	WriteJSON(w, http.StatusOK, map[string]any{"keys": keys})
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.team.RevokeKey(r.Context(), r.PathValue("id"), r.PathValue("key_id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, k)
	return nil
}
