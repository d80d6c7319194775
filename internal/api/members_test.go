package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"spectra/internal/api"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// member creates an account and makes it a member of ws with role; it returns the user id.
func (e *env) member(ws, email, role string) string {
	e.t.Helper()
	u, err := e.accts.CreateUser(context.Background(), email, "", "correct horse battery", false)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.accts.AddMember(context.Background(), ws, u.ID, team.Role(role)); err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

type memberList struct {
	WorkspaceID string `json:"workspace_id"`
	Start       string `json:"start"`
	End         string `json:"end"`
	Currency    string `json:"currency"`
	Members     []struct {
		UserID string `json:"user_id"`
		Email  string `json:"email"`
		Role   string `json:"role"`
		Usage  struct {
			Requests    json.Number `json:"requests"`
			InputTokens json.Number `json:"input_tokens"`
			Cost        string      `json:"cost"`
		} `json:"usage"`
	} `json:"members"`
}

// TestMembersAPI: listing with each member's spend this month, changing roles, removing
// a member revokes their keys at once, and every rejection has its code.
func TestMembersAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme", "timezone": "Europe/Paris"}).ID
		admin := e.key(ws, map[string]any{"name": "admin", "kind": "admin"})
		alice := e.member(ws, "alice@example.com", "owner")
		bob := e.member(ws, "bob@example.com", "member")
		bobKey := e.key(ws, map[string]any{"name": "bob's", "member_id": bob, "project": "prod"})
		e.price("gpt-members", "2.00", "1.00", "8.00")
		events := `{"events":[
			{"id":"e1","model":"gpt-members","timestamp":"` + t0.Add(-time.Hour).Format(time.RFC3339) + `","input_tokens":1000000,"output_tokens":0},
			{"id":"e2","model":"gpt-members","timestamp":"` + t0.Add(-2*time.Hour).Format(time.RFC3339) + `","input_tokens":500000,"output_tokens":0},
			{"id":"e3","model":"gpt-members","timestamp":"2025-02-20T12:00:00Z","input_tokens":1000000,"output_tokens":0}]}`
		e.grant(ws, "100", "g1")
		e.call("POST", "/api/v1/events", bobKey.Key, events, 200, nil)

		var list memberList
		e.call("GET", "/api/v1/workspaces/"+ws+"/members", admin.Key, nil, 200, &list)
		if len(list.Members) != 2 || list.Currency != "USD" {
			t.Fatalf("members = %+v", list)
		}
		if list.Members[0].UserID == bob { // joined in the same microsecond: by user id
			list.Members[0], list.Members[1] = list.Members[1], list.Members[0]
		}
		if list.Members[0].UserID != alice || list.Members[1].UserID != bob {
			t.Fatalf("members = %+v", list)
		}
		// This month in Paris: e1 and e2 (e3 is February's).
		if b := list.Members[1]; b.Usage.Cost != "3.000000" || b.Usage.Requests != "2" || b.Role != "member" {
			t.Fatalf("bob's usage = %+v", b)
		}
		if a := list.Members[0]; a.Usage.Cost != "0.000000" || a.Usage.Requests != "0" {
			t.Fatalf("alice's usage = %+v", a)
		}
		if list.Start != "2025-02-28T23:00:00Z" {
			t.Fatalf("default start = %s, want the 1st of March in Paris", list.Start)
		}
		e.call("GET", "/api/v1/workspaces/"+ws+"/members?start=2025-02-01T00:00:00Z", admin.Key, nil, 200, &list)
		total := ""
		for _, m := range list.Members {
			if m.UserID == bob {
				total = m.Usage.Cost
			}
		}
		if total != "5.000000" {
			t.Fatalf("bob's usage since February = %+v", list.Members)
		}
		e.wantError("GET", "/api/v1/workspaces/"+ws+"/members?start=soon", admin.Key, nil, 400, "invalid_start")
		e.wantError("GET", "/api/v1/workspaces/"+ws+"/members?start=2025-04-01T00:00:00Z", admin.Key, nil, 400, "invalid_range")
		e.wantError("GET", "/api/v1/workspaces/ws_nope/members", operatorToken, nil, 404, "workspace_not_found")

		// Roles.
		var m struct {
			UserID string `json:"user_id"`
			Role   string `json:"role"`
		}
		e.call("PATCH", "/api/v1/workspaces/"+ws+"/members/"+bob, operatorToken, `{"role":"admin"}`, 200, &m)
		if m.UserID != bob || m.Role != "admin" {
			t.Fatalf("patched = %+v", m)
		}
		path := "/api/v1/workspaces/" + ws + "/members/"
		e.wantError("PATCH", path+bob, operatorToken, `{"role":"root"}`, 400, "invalid_role")
		e.wantError("PATCH", path+bob, operatorToken, `{}`, 400, "invalid_role")
		e.wantError("PATCH", path+bob, operatorToken, `{"role":"admin","extra":1}`, 400, "unknown_field")
		e.wantError("PATCH", path+bob, operatorToken, `{"role":`, 400, "invalid_json")
		e.wantError("PATCH", path+alice, operatorToken, `{"role":"viewer"}`, 409, "last_owner")
		e.wantError("PATCH", path+"usr_nope", operatorToken, `{"role":"viewer"}`, 404, "member_not_found")
		e.wantError("PATCH", "/api/v1/workspaces/ws_nope/members/"+bob, operatorToken, `{"role":"viewer"}`, 404, "workspace_not_found")

		// Removing: the member's key stops at once.
		e.wantError("DELETE", path+alice, operatorToken, nil, 409, "last_owner")
		e.call("DELETE", path+bob, operatorToken, nil, 204, nil)
		e.wantError("POST", "/api/v1/events", bobKey.Key, `{"events":[]}`, 401, "invalid_api_key")
		e.wantError("DELETE", path+bob, operatorToken, nil, 404, "member_not_found")
		e.wantError("DELETE", "/api/v1/workspaces/ws_nope/members/"+bob, operatorToken, nil, 404, "workspace_not_found")
		e.call("GET", "/api/v1/workspaces/"+ws+"/members", admin.Key, nil, 200, &list)
		if len(list.Members) != 1 {
			t.Fatalf("members after removal = %+v", list.Members)
		}
	})
}

type invitationOut struct {
	ID         string  `json:"id"`
	Email      string  `json:"email"`
	Role       string  `json:"role"`
	ExpiresAt  string  `json:"expires_at"`
	RevokedAt  *string `json:"revoked_at"`
	Link       string  `json:"link"`
	EmailSent  bool    `json:"email_sent"`
	InvitedBy  string  `json:"invited_by"`
	AcceptedAt *string `json:"accepted_at"`
}

func TestInvitationsAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		admin := e.key(ws, map[string]any{"name": "admin", "kind": "admin"})
		e.member(ws, "alice@example.com", "owner")
		path := "/api/v1/workspaces/" + ws + "/invitations"

		var inv invitationOut
		e.call("POST", path, operatorToken, `{"email":"Bob@Example.com","role":"admin"}`, 201, &inv)
		if inv.Email != "bob@example.com" || inv.Role != "admin" || inv.EmailSent || inv.InvitedBy != "" ||
			!strings.HasPrefix(inv.Link, "https://spectra.example.com/invite/") || inv.ExpiresAt != t0.Add(7*24*time.Hour).Format(time.RFC3339) {
			t.Fatalf("invitation = %+v", inv)
		}
		var list struct {
			Invitations []invitationOut `json:"invitations"`
		}
		e.call("GET", path, admin.Key, nil, 200, &list)
		if len(list.Invitations) != 1 || list.Invitations[0].ID != inv.ID || list.Invitations[0].Link != "" {
			t.Fatalf("list = %+v (links are never listed)", list)
		}
		// Inviting again replaces the open invitation.
		var again invitationOut
		e.call("POST", path, operatorToken, `{"email":"bob@example.com","role":"viewer"}`, 201, &again)
		e.call("GET", path, admin.Key, nil, 200, &list)
		if len(list.Invitations) != 1 || list.Invitations[0].ID != again.ID || list.Invitations[0].Role != "viewer" {
			t.Fatalf("list after re-invite = %+v", list)
		}

		e.wantError("POST", path, operatorToken, `{"email":"alice@example.com","role":"member"}`, 409, "already_member")
		e.wantError("POST", path, operatorToken, `{"email":"nope","role":"member"}`, 400, "invalid_email")
		e.wantError("POST", path, operatorToken, `{"email":"c@example.com","role":"god"}`, 400, "invalid_role")
		e.wantError("POST", path, operatorToken, `{"email":"c@example.com"}`, 400, "invalid_role")
		e.wantError("POST", path, operatorToken, `{"email":"c@example.com","role":"member","ttl":1}`, 400, "unknown_field")
		e.wantError("POST", path, operatorToken, `[]`, 400, "invalid_json")
		e.wantError("POST", "/api/v1/workspaces/ws_nope/invitations", operatorToken, `{"email":"c@example.com","role":"member"}`, 404, "workspace_not_found")
		e.wantError("GET", "/api/v1/workspaces/ws_nope/invitations", operatorToken, nil, 404, "workspace_not_found")

		var revoked invitationOut
		e.call("DELETE", path+"/"+again.ID, operatorToken, nil, 200, &revoked)
		if revoked.RevokedAt == nil {
			t.Fatalf("revoked = %+v", revoked)
		}
		e.wantError("DELETE", path+"/"+again.ID, operatorToken, nil, 409, "invitation_revoked")
		e.wantError("DELETE", path+"/inv_nope", operatorToken, nil, 404, "invitation_not_found")
		e.wantError("DELETE", "/api/v1/workspaces/ws_nope/invitations/"+again.ID, operatorToken, nil, 404, "workspace_not_found")
		other := e.workspace(map[string]any{"name": "Other"}).ID
		e.wantError("DELETE", "/api/v1/workspaces/"+other+"/invitations/"+inv.ID, operatorToken, nil, 404, "invitation_not_found")
		e.call("GET", path, admin.Key, nil, 200, &list)
		if len(list.Invitations) != 0 {
			t.Fatalf("list after revoke = %+v", list)
		}
	})
}

// TestMembersUnavailable: a server without accounts (no members or invitations) answers
// the members routes with 503 feature_unavailable.
func TestMembersUnavailable(t *testing.T) {
	clk := storetest.NewClock(t0)
	e := newEnv(t, storetest.SQLite(t, storetest.Options{Now: clk.Now}), clk, func(d *api.Deps) { d.Accounts, d.Invitations = nil, nil })
	ws := e.workspace(map[string]any{"name": "Acme"}).ID
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/members", ""},
		{"PATCH", "/members/usr_x", `{"role":"admin"}`},
		{"DELETE", "/members/usr_x", ""},
	} {
		r := e.do(c.method, "/api/v1/workspaces/"+ws+c.path, operatorToken, c.body)
		if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), `"code":"feature_unavailable"`) {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
}
