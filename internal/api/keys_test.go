package api_test

import "testing"

// TestKeys: listing shows no secrets, revoking stops the key at once and is idempotent.
func TestKeys(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		admin := e.key(ws, map[string]any{"name": "admin", "kind": "admin"})
		infer := e.key(ws, map[string]any{"name": "ci", "project": "p", "member_id": "m"})
		if infer.Kind != "inference" || infer.Project != "p" || infer.MemberID != "m" || infer.WorkspaceID != ws {
			t.Fatalf("key: %+v", infer)
		}
		r := e.call("GET", "/api/v1/workspaces/"+ws+"/keys", admin.Key, nil, 200, nil)
		var list struct {
			Keys []map[string]any `json:"keys"`
		}
		e.call("GET", "/api/v1/workspaces/"+ws+"/keys", admin.Key, nil, 200, &list)
		if len(list.Keys) != 2 {
			t.Fatalf("keys: %s", r.body)
		}
		for _, k := range list.Keys {
			if _, ok := k["key"]; ok {
				t.Fatalf("a listed key shows its secret: %s", r.body)
			}
		}
		e.key(ws, map[string]any{"name": "staging-ci", "project": "staging"})
		e.call("GET", "/api/v1/workspaces/"+ws+"/keys?project=staging", admin.Key, nil, 200, &list)
		if len(list.Keys) != 1 || list.Keys[0]["name"] != "staging-ci" {
			t.Fatalf("keys of project staging: %+v", list.Keys)
		}
		e.call("GET", "/api/v1/workspaces/"+ws+"/keys?project=p", admin.Key, nil, 200, &list)
		if len(list.Keys) != 1 || list.Keys[0]["name"] != "ci" {
			t.Fatalf("keys of project p: %+v", list.Keys)
		}
		var revoked keyOut
		e.call("DELETE", "/api/v1/workspaces/"+ws+"/keys/"+infer.ID, operatorToken, nil, 200, &revoked)
		if revoked.ID != infer.ID || revoked.RevokedAt == nil {
			t.Fatalf("revoked: %+v", revoked)
		}
		e.wantError("POST", "/api/v1/events", infer.Key, `{"events":[]}`, 401, "invalid_api_key")
		var again keyOut
		e.call("DELETE", "/api/v1/workspaces/"+ws+"/keys/"+infer.ID, operatorToken, nil, 200, &again)
		if *again.RevokedAt != *revoked.RevokedAt {
			t.Fatalf("revoking twice moved revoked_at: %v, %v", *again.RevokedAt, *revoked.RevokedAt)
		}
		var w workspaceOut
		e.call("GET", "/api/v1/workspaces/"+ws, admin.Key, nil, 200, &w)
		var all struct {
			Workspaces []workspaceOut `json:"workspaces"`
		}
		e.call("GET", "/api/v1/workspaces", operatorToken, nil, 200, &all)
		if w.Name != "Acme" || len(all.Workspaces) != 1 || all.Workspaces[0] != w {
			t.Fatalf("workspaces: %+v %+v", w, all)
		}
		e.workspace(map[string]any{"name": "Overdraft", "timezone": "Europe/Paris", "overdraft_limit": "5.5"})
		e.call("GET", "/api/v1/workspaces", operatorToken, nil, 200, &all)
		found := false
		for _, w := range all.Workspaces {
			found = found || (w.Name == "Overdraft" && w.OverdraftLimit == "5.500000" && w.Timezone == "Europe/Paris")
		}
		if len(all.Workspaces) != 2 || !found {
			t.Fatalf("workspaces: %+v", all)
		}
	})
}
