package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"spectra/internal/api"
	"spectra/internal/audit"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// auditPage is GET /api/v1/audit's answer.
type auditPage struct {
	Entries    []audit.Entry `json:"entries"`
	NextCursor int64         `json:"next_cursor"`
}

// The operator's calls that change something are recorded once they succeed (a refused
// one is not), GET /api/v1/audit lists them newest first with a cursor and filters, and
// only the operator may read it. PUT overdraft-limit sets the limit, is recorded, and
// refuses a negative one.
func TestAuditAPI(t *testing.T) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, clk *storetest.Clock) {
		e := newEnv(t, db, clk, func(d *api.Deps) { d.Audit = audit.New(db, clk.Now) })
		ws := e.workspace(map[string]any{"name": "Acme"})
		e.grant(ws.ID, "10", "g1")
		e.call("POST", "/api/v1/workspaces/"+ws.ID+"/grants", operatorToken, map[string]any{"amount": "10", "idempotency_key": "g1"}, http.StatusOK, nil) // a replay
		e.wantError("POST", "/api/v1/workspaces/"+ws.ID+"/grants", operatorToken, map[string]any{"amount": "11", "idempotency_key": "g1"}, http.StatusConflict, "idempotency_conflict")
		var out map[string]any
		e.call("PUT", "/api/v1/workspaces/"+ws.ID+"/overdraft-limit", operatorToken, map[string]any{"overdraft_limit": "25"}, http.StatusOK, &out)
		if out["overdraft_limit"] != "25.000000" {
			t.Errorf("overdraft: %v", out)
		}
		e.wantError("PUT", "/api/v1/workspaces/"+ws.ID+"/overdraft-limit", operatorToken, map[string]any{"overdraft_limit": "-1"}, http.StatusBadRequest, "invalid_overdraft_limit")
		e.call("GET", "/api/v1/workspaces", operatorToken, nil, http.StatusOK, nil) // a read: not recorded

		var p auditPage
		r := e.call("GET", "/api/v1/audit?limit=2", operatorToken, nil, http.StatusOK, nil)
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Entries) != 2 || p.NextCursor == 0 || p.Entries[0].Action != "PUT /api/v1/workspaces/{id}/overdraft-limit" ||
			p.Entries[0].WorkspaceID != ws.ID || p.Entries[0].Source != "api" || p.Entries[0].Actor != "admin-token" || p.Entries[1].After["status"] != "200" {
			t.Fatalf("page 1: %s", r.body)
		}
		var p2 auditPage
		r = e.call("GET", "/api/v1/audit?limit=2&cursor="+jsonInt(p.NextCursor), operatorToken, nil, http.StatusOK, nil)
		json.Unmarshal(r.body, &p2)
		if len(p2.Entries) != 2 || p2.NextCursor != 0 || p2.Entries[0].After["status"] != "201" || p2.Entries[1].Action != "POST /api/v1/workspaces" {
			t.Fatalf("page 2: %s", r.body)
		}
		var p3 auditPage
		r = e.call("GET", "/api/v1/audit?action=POST+/api/v1/workspaces/%7Bid%7D/grants&workspace_id="+ws.ID, operatorToken, nil, http.StatusOK, nil)
		json.Unmarshal(r.body, &p3)
		if len(p3.Entries) != 2 {
			t.Fatalf("grants only: %s", r.body)
		}
		e.wantError("GET", "/api/v1/audit?cursor=x", operatorToken, nil, http.StatusBadRequest, "invalid_cursor")
		e.wantError("GET", "/api/v1/audit?limit=500", operatorToken, nil, http.StatusBadRequest, "invalid_limit")
		k := e.key(ws.ID, map[string]any{"name": "admin", "kind": "admin"})
		e.wantError("GET", "/api/v1/audit", k.Key, nil, http.StatusForbidden, "operator_required")
		e.wantError("PUT", "/api/v1/workspaces/"+ws.ID+"/overdraft-limit", k.Key, map[string]any{"overdraft_limit": "99"}, http.StatusForbidden, "operator_required")
		e.wantError("GET", "/api/v1/audit", "", nil, http.StatusUnauthorized, "unauthorized")
	})
}

// Without the audit log the route says so.
func TestAuditAPIUnavailable(t *testing.T) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, clk *storetest.Clock) {
		e := newEnv(t, db, clk)
		e.wantError("GET", "/api/v1/audit", operatorToken, nil, http.StatusServiceUnavailable, "feature_unavailable")
	})
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
