package api_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// want is an expected status and error code ("" for success).
type want struct {
	status int
	code   string
}

var (
	ok200    = want{200, ""}
	ok201    = want{201, ""}
	noAuth   = want{401, "unauthorized"}
	badKey   = want{401, "invalid_api_key"}
	opOnly   = want{403, "operator_required"}
	adminReq = want{403, "admin_key_required"}
	infReq   = want{403, "inference_key_required"}
	otherWS  = want{403, "forbidden_workspace"}
)

// roles, in the order of the columns of the access table.
var roles = []string{"operator", "admin key", "inference key", "other workspace's admin key", "no auth", "revoked key"}

// TestAccess calls every route as every role and checks the status and error code.
func TestAccess(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		a := e.workspace(map[string]any{"name": "A"}).ID
		b := e.workspace(map[string]any{"name": "B"}).ID
		admin := e.key(a, map[string]any{"name": "admin", "kind": "admin"})
		infer := e.key(a, map[string]any{"name": "infer", "kind": "inference"})
		other := e.key(b, map[string]any{"name": "other admin", "kind": "admin"})
		revoked := e.key(a, map[string]any{"name": "revoked", "kind": "admin"})
		e.call("DELETE", "/api/v1/workspaces/"+a+"/keys/"+revoked.ID, operatorToken, nil, 200, nil)
		victim := e.key(a, map[string]any{"name": "victim"})
		tokens := []string{operatorToken, admin.Key, infer.Key, other.Key, "", revoked.Key}
		owner, victimMember := e.member(a, "owner@example.com", "owner"), e.member(a, "leaver@example.com", "viewer")
		var inv struct {
			ID string `json:"id"`
		}
		e.call("POST", "/api/v1/workspaces/"+a+"/invitations", operatorToken, map[string]any{"email": "x@example.com", "role": "member"}, 201, &inv)

		ws := "/api/v1/workspaces/" + a
		org := "?workspace_id=" + a + "&start_time=1741651200"
		price := `{"input":"2.50","output":"10.00","effective_from":"2025-01-01T00:00:00Z"}`
		table := []struct {
			method, path, body string
			want               [6]want // operator, admin, inference, other, none, revoked
		}{
			{"GET", "/healthz", "", [6]want{ok200, ok200, ok200, ok200, ok200, ok200}},
			{"GET", "/readyz", "", [6]want{ok200, ok200, ok200, ok200, ok200, ok200}},
			{"GET", "/metrics", "", [6]want{ok200, ok200, ok200, ok200, ok200, ok200}},
			{"GET", "/api/v1/openapi.json", "", [6]want{ok200, ok200, ok200, ok200, ok200, ok200}},
			{"PUT", "/api/v1/prices/gpt-access", price, [6]want{ok201, opOnly, opOnly, opOnly, noAuth, badKey}},
			{"GET", "/api/v1/prices", "", [6]want{ok200, opOnly, opOnly, opOnly, noAuth, badKey}},
			{"POST", "/api/v1/price-lists", `{"name":"access","adjust_percent":-5}`, [6]want{ok201, opOnly, opOnly, opOnly, noAuth, badKey}},
			{"GET", "/api/v1/price-lists", "", [6]want{ok200, opOnly, opOnly, opOnly, noAuth, badKey}},
			{"GET", "/api/v1/price-lists/access", "", [6]want{ok200, opOnly, opOnly, opOnly, noAuth, badKey}},
			{"POST", "/api/v1/price-lists/access/prices", `{"model":"gpt-access","input":"1","output":"2","effective_from":"2025-01-01T00:00:00Z"}`, [6]want{ok201, opOnly, opOnly, opOnly, noAuth, badKey}},
			{"POST", "/api/v1/workspaces", `{"name":"C"}`, [6]want{ok201, opOnly, opOnly, opOnly, noAuth, badKey}},
			{"GET", "/api/v1/workspaces", "", [6]want{ok200, opOnly, opOnly, opOnly, noAuth, badKey}},
			{"GET", ws, "", [6]want{ok200, ok200, adminReq, otherWS, noAuth, badKey}},
			{"PATCH", ws, `{"timezone":"UTC"}`, [6]want{ok200, ok200, adminReq, otherWS, noAuth, badKey}},
			{"POST", ws + "/keys", `{"name":"k"}`, [6]want{ok201, opOnly, opOnly, otherWS, noAuth, badKey}},
			{"GET", ws + "/keys", "", [6]want{ok200, ok200, adminReq, otherWS, noAuth, badKey}},
			{"DELETE", ws + "/keys/" + victim.ID, "", [6]want{ok200, opOnly, opOnly, otherWS, noAuth, badKey}},
			{"GET", ws + "/members", "", [6]want{ok200, ok200, adminReq, otherWS, noAuth, badKey}},
			{"PATCH", ws + "/members/" + owner, `{"role":"owner"}`, [6]want{ok200, opOnly, opOnly, otherWS, noAuth, badKey}},
			{"DELETE", ws + "/members/" + victimMember, "", [6]want{{204, ""}, opOnly, opOnly, otherWS, noAuth, badKey}},
			{"POST", ws + "/invitations", `{"email":"y@example.com","role":"viewer"}`, [6]want{ok201, opOnly, opOnly, otherWS, noAuth, badKey}},
			{"GET", ws + "/invitations", "", [6]want{ok200, ok200, adminReq, otherWS, noAuth, badKey}},
			{"PUT", ws + "/overdraft-limit", `{"overdraft_limit":"0"}`, [6]want{ok200, opOnly, opOnly, otherWS, noAuth, badKey}},
			{"GET", "/api/v1/audit", "", [6]want{{503, "feature_unavailable"}, opOnly, opOnly, opOnly, noAuth, badKey}},
			{"DELETE", ws + "/invitations/" + inv.ID, "", [6]want{ok200, opOnly, opOnly, otherWS, noAuth, badKey}},
			{"POST", ws + "/grants", `{"amount":"1.00","idempotency_key":"access"}`, [6]want{ok201, opOnly, opOnly, otherWS, noAuth, badKey}},
			{"GET", ws + "/balance", "", [6]want{ok200, ok200, adminReq, otherWS, noAuth, badKey}},
			{"GET", ws + "/credits", "", [6]want{ok200, ok200, adminReq, otherWS, noAuth, badKey}},
			{"GET", ws + "/transactions", "", [6]want{ok200, ok200, adminReq, otherWS, noAuth, badKey}},
			{"GET", ws + "/usage", "", [6]want{ok200, ok200, adminReq, otherWS, noAuth, badKey}},
			{"POST", "/api/v1/events", `{"events":[]}`, [6]want{ok200, infReq, ok200, infReq, noAuth, badKey}},
			{"GET", "/v1/organization/usage/completions" + org, "", [6]want{ok200, ok200, adminReq, otherWS, noAuth, badKey}},
			{"GET", "/v1/organization/costs" + org, "", [6]want{ok200, ok200, adminReq, otherWS, noAuth, badKey}},
		}

		covered := map[string]bool{}
		for _, row := range table {
			u, _ := url.Parse(row.path)
			p := strings.NewReplacer("/members/"+owner, "/members/{user_id}", "/members/"+victimMember, "/members/{user_id}",
				"/invitations/"+inv.ID, "/invitations/{invitation_id}").Replace(u.Path)
			covered[row.method+" "+templatePath(p, a, victim.ID)] = true
			for i, w := range row.want {
				var body any
				if row.body != "" {
					body = row.body
				}
				r := e.do(row.method, row.path, tokens[i], body)
				if r.status != w.status || r.code() != w.code {
					t.Errorf("%s %s as %s: got %d %q, want %d %q: %s", row.method, row.path, roles[i], r.status, r.code(), w.status, w.code, r.body)
				}
			}
		}

		// The table covers every operation of the OpenAPI document, which (TestOpenAPICoversRoutes)
		// covers every registered route.
		var doc struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		e.call("GET", "/api/v1/openapi.json", "", nil, 200, &doc)
		for path, ops := range doc.Paths {
			for method := range ops {
				if op := strings.ToUpper(method) + " " + path; !covered[op] {
					t.Errorf("the access table does not cover %s", op)
				}
			}
		}
	})
}

// templatePath turns a concrete path back into its OpenAPI template.
func templatePath(p, ws, key string) string {
	p = strings.Replace(p, "/keys/"+key, "/keys/{key_id}", 1)
	p = strings.Replace(p, "/workspaces/"+ws, "/workspaces/{id}", 1)
	if strings.HasPrefix(p, "/api/v1/prices/") {
		p = "/api/v1/prices/{model}"
	}
	p = strings.Replace(p, "/price-lists/access", "/price-lists/{name}", 1)
	return p
}

// TestAuthHeaderForms checks how tokens are read: any case of "Bearer", nothing else.
func TestAuthHeaderForms(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for _, h := range []struct {
			header string
			want   want
		}{
			{"Bearer " + operatorToken, ok200},
			{"bearer " + operatorToken, ok200},
			{"Basic " + operatorToken, noAuth},
			{operatorToken, noAuth},
			{"Bearer ", noAuth},
			{"Bearer sk-not-a-key", badKey},
			{"Bearer " + operatorToken + "x", badKey},
		} {
			r := e.doHeader("GET", "/api/v1/workspaces", h.header)
			if r.status != h.want.status || r.code() != h.want.code {
				t.Errorf("Authorization %q: got %d %q, want %d %q", h.header, r.status, r.code(), h.want.status, h.want.code)
			}
			if r.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("Authorization %q: 401 without WWW-Authenticate", h.header)
			}
		}
	})
}

// TestUnmatched checks the JSON 404 and 405 under /api/.
func TestUnmatched(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.wantError("GET", "/api/v1/nothing-here", "", nil, 404, "not_found")
		e.wantError("GET", "/api/v2/workspaces", operatorToken, nil, 404, "not_found")
		r := e.do("PATCH", "/api/v1/workspaces", operatorToken, "{}")
		if r.status != 405 || r.code() != "method_not_allowed" || r.header.Get("Allow") != "GET, POST" {
			t.Errorf("PATCH /api/v1/workspaces: %d %q Allow=%q", r.status, r.code(), r.header.Get("Allow"))
		}
	})
}
