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
		e.call("POST", "/api/v1/workspaces/"+ws.ID+"/grants", operatorToken, map[string]any{"amount": "10", "idempotency_key": "g1"}, http.StatusOK, nil) // a replay: no second entry
		e.wantError("POST", "/api/v1/workspaces/"+ws.ID+"/grants", operatorToken, map[string]any{"amount": "11", "idempotency_key": "g1"}, http.StatusConflict, "idempotency_conflict")
		var out map[string]any
		e.call("PUT", "/api/v1/workspaces/"+ws.ID+"/overdraft-limit", operatorToken, map[string]any{"overdraft_limit": "25"}, http.StatusOK, &out)
		if out["overdraft_limit"] != "25.000000" {
			t.Errorf("overdraft: %v", out)
		}
		e.wantError("PUT", "/api/v1/workspaces/"+ws.ID+"/overdraft-limit", operatorToken, map[string]any{"overdraft_limit": "-1"}, http.StatusBadRequest, "invalid_overdraft_limit")
		e.call("GET", "/api/v1/workspaces", operatorToken, nil, http.StatusOK, nil) // a read: not recorded
		k := e.key(ws.ID, map[string]any{"name": "admin", "kind": "admin"})
		e.call("PATCH", "/api/v1/workspaces/"+ws.ID, k.Key, map[string]any{"timezone": "Europe/Berlin"}, http.StatusOK, nil) // a key's: not an operator action
		e.call("PATCH", "/api/v1/workspaces/"+ws.ID, operatorToken, map[string]any{"timezone": "Asia/Tokyo"}, http.StatusOK, nil)

		// Walk the log two entries at a time: newest first, the refused calls, the reads,
		// the replay and the key's call absent.
		var all []audit.Entry
		for cursor, pages := int64(0), 0; ; pages++ {
			path := "/api/v1/audit?limit=2"
			if cursor > 0 {
				path += "&cursor=" + jsonInt(cursor)
			}
			var p auditPage
			r := e.call("GET", path, operatorToken, nil, http.StatusOK, nil)
			if err := json.Unmarshal(r.body, &p); err != nil || len(p.Entries) == 0 || len(p.Entries) > 2 || pages > 5 {
				t.Fatalf("page %d: %s %v", pages, r.body, err)
			}
			all = append(all, p.Entries...)
			if cursor = p.NextCursor; cursor == 0 {
				break
			}
		}
		want := []struct{ action, status string }{
			{"PATCH /api/v1/workspaces/{id}", "200"}, {"POST /api/v1/workspaces/{id}/keys", "201"},
			{"PUT /api/v1/workspaces/{id}/overdraft-limit", "200"},
			{"POST /api/v1/workspaces/{id}/grants", "201"}, {"POST /api/v1/workspaces", "201"},
		}
		if len(all) != len(want) {
			t.Fatalf("%d entries, want %d: %+v", len(all), len(want), all)
		}
		for i, w := range want {
			en := all[i]
			if en.Action != w.action || en.After["status"] != w.status || en.Source != "api" || en.Actor != "admin-token" {
				t.Errorf("entry %d: %+v, want %v", i, en, w)
			}
			if i < len(want)-1 && en.WorkspaceID != ws.ID {
				t.Errorf("entry %d: workspace %q", i, en.WorkspaceID)
			}
		}
		var p3 auditPage
		r := e.call("GET", "/api/v1/audit?action=POST+/api/v1/workspaces/%7Bid%7D/grants&workspace_id="+ws.ID, operatorToken, nil, http.StatusOK, nil)
		json.Unmarshal(r.body, &p3)
		if len(p3.Entries) != 1 {
			t.Fatalf("grants only: %s", r.body)
		}
		e.wantError("GET", "/api/v1/audit?cursor=x", operatorToken, nil, http.StatusBadRequest, "invalid_cursor")
		e.wantError("GET", "/api/v1/audit?limit=500", operatorToken, nil, http.StatusBadRequest, "invalid_limit")
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
