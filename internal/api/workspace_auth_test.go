package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"spectra/internal/api"
	"spectra/internal/httpjson/httpjsontest"
	"spectra/internal/notify"
	"spectra/internal/notify/notifyhttp"
	"spectra/internal/team"
)

// TestWorkspaceGuardHonoursNeed: api.Server.Workspace, the guard of the transports that
// mount their own routes, checks the action each route declares against the role of the
// key's member. A member, billing or viewer's admin key lists webhooks but may not
// create one (403 key_role_forbidden); an owner's or admin's may. Before, every need but
// billing's was read as view_billing, so any admin key managed webhooks.
func TestWorkspaceGuardHonoursNeed(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		s := api.New(api.Deps{Team: team.NewService(e.db, e.clock.Now), AdminTokenHash: team.HashSecret(operatorToken), Now: e.clock.Now, Log: log})
		mux := http.NewServeMux()
		notifyhttp.Register(mux, notify.New(notify.Config{Store: e.db, Log: log}), s, log)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		hooks := "/api/v1/workspaces/" + ws + "/webhooks"
		for _, c := range []struct {
			role   team.Role
			status int
			code   string
		}{
			{team.RoleViewer, 403, team.ErrKeyRole},
			{team.RoleMember, 403, team.ErrKeyRole},
			{team.RoleBilling, 403, team.ErrKeyRole},
			{team.RoleAdmin, 400, "invalid_url"},
			{team.RoleOwner, 400, "invalid_url"},
		} {
			user := e.member(ws, string(c.role)+"@example.com", string(c.role))
			key := e.key(ws, map[string]any{"name": string(c.role), "kind": "admin", "member_id": user}).Key
			httpjsontest.Want(t, httpjsontest.Do(t, srv.URL, "GET", hooks, key, ""), 200, "")
			if r := httpjsontest.Do(t, srv.URL, "POST", hooks, key, `{"url":"not a url"}`); r.Status != c.status || r.Code() != c.code {
				t.Errorf("%s's admin key creating a webhook: %d %s, want %d %s", c.role, r.Status, r.Body, c.status, c.code)
			}
		}
	})
}
