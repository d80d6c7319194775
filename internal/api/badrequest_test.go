package api_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestBadRequests covers every 400 the API returns outside event ingestion (see
// TestEventsBadBody and TestEventsMixedBatch), and the 404s and 409s.
func TestBadRequests(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		admin := e.key(ws, map[string]any{"name": "admin", "kind": "admin"})
		e.price("gpt-a", "1.00", "0.50", "2.00")
		w := "/api/v1/workspaces/" + ws
		org := "/v1/organization/usage/completions?workspace_id=" + ws + "&"
		costs := "/v1/organization/costs?workspace_id=" + ws + "&"
		pg := "/api/v1/prices/gpt-new"
		table := []struct {
			method, path, body string
			status             int
			code               string
		}{
			// Bodies.
			{"PUT", pg, ``, 400, "invalid_json"},
			{"PUT", pg, `{"input":`, 400, "invalid_json"},
			{"PUT", pg, `[1]`, 400, "invalid_json"},
			{"PUT", pg, `{"input":"1","output":"1"} {"x":1}`, 400, "invalid_json"},
			{"PUT", pg, `{"input":2.5,"output":"1"}`, 400, "invalid_field_type"},
			{"PUT", pg, `{"input":"1","output":"1","inptu":"2"}`, 400, "unknown_field"},
			{"PUT", pg, `{"input":"1","output":"1","note":"` + strings.Repeat("x", 1<<20) + `"}`, 400, "body_too_large"},
			// Prices.
			{"PUT", pg, `{"output":"1"}`, 400, "missing_price"},
			{"PUT", pg, `{"input":"1"}`, 400, "missing_price"},
			{"PUT", pg, `{"input":"abc","output":"1"}`, 400, "invalid_price"},
			{"PUT", pg, `{"input":"-1","output":"1"}`, 400, "invalid_price"},
			{"PUT", pg, `{"input":"1.0000001","output":"1"}`, 400, "invalid_price"},
			{"PUT", pg, `{"input":"1","output":"1","request":""}`, 400, "invalid_price"},
			{"PUT", pg, `{"input":"1","output":"1","effective_from":"tomorrow"}`, 400, "invalid_effective_from"},
			{"PUT", "/api/v1/prices/bad%20model", `{"input":"1","output":"1"}`, 400, "invalid_model"},
			{"PUT", "/api/v1/prices/gpt-a", `{"input":"9","output":"9","effective_from":"2025-01-01T00:00:00Z"}`, 409, "price_version_exists"},
			// Workspaces and keys.
			{"POST", "/api/v1/workspaces", `{"name":" "}`, 400, "invalid_name"},
			{"POST", "/api/v1/workspaces", `{"name":"` + strings.Repeat("n", 201) + `"}`, 400, "invalid_name"},
			{"POST", "/api/v1/workspaces", `{"name":"x","timezone":"Mars/Olympus"}`, 400, "invalid_timezone"},
			{"POST", "/api/v1/workspaces", `{"name":"x","timezone":"Local"}`, 400, "invalid_timezone"},
			{"POST", "/api/v1/workspaces", `{"name":"x","overdraft_limit":"-5"}`, 400, "invalid_overdraft_limit"},
			{"POST", "/api/v1/workspaces", `{"name":"x","overdraft_limit":5}`, 400, "invalid_field_type"},
			{"GET", "/api/v1/workspaces/ws_nope", ``, 404, "workspace_not_found"},
			{"POST", w + "/keys", `{"name":""}`, 400, "invalid_name"},
			{"POST", w + "/keys", `{"name":"k","kind":"root"}`, 400, "invalid_kind"},
			{"POST", "/api/v1/workspaces/ws_nope/keys", `{"name":"k"}`, 404, "workspace_not_found"},
			{"GET", "/api/v1/workspaces/ws_nope/keys", ``, 404, "workspace_not_found"},
			{"DELETE", w + "/keys/key_nope", ``, 404, "key_not_found"},
			{"DELETE", "/api/v1/workspaces/ws_nope/keys/" + admin.ID, ``, 404, "key_not_found"},
			// Grants and the wallet.
			{"POST", w + "/grants", `{"amount":"0","idempotency_key":"k"}`, 400, "invalid_amount"},
			{"POST", w + "/grants", `{"amount":"-1","idempotency_key":"k"}`, 400, "invalid_amount"},
			{"POST", w + "/grants", `{"amount":"1.0000001","idempotency_key":"k"}`, 400, "invalid_amount"},
			{"POST", w + "/grants", `{"amount":"","idempotency_key":"k"}`, 400, "invalid_amount"},
			{"POST", w + "/grants", `{"amount":"99999999999999","idempotency_key":"k"}`, 400, "invalid_amount"},
			{"POST", w + "/grants", `{"amount":"1"}`, 400, "invalid_idempotency_key"},
			{"POST", w + "/grants", `{"amount":"1","idempotency_key":"` + strings.Repeat("k", 201) + `"}`, 400, "invalid_idempotency_key"},
			{"POST", w + "/grants", `{"amount":"1","idempotency_key":"k","note":"` + strings.Repeat("n", 1001) + `"}`, 400, "invalid_note"},
			{"GET", "/api/v1/workspaces/ws_nope/balance", ``, 404, "workspace_not_found"},
			{"GET", w + "/transactions?limit=0", ``, 400, "invalid_limit"},
			{"GET", w + "/transactions?limit=201", ``, 400, "invalid_limit"},
			{"GET", w + "/transactions?limit=ten", ``, 400, "invalid_limit"},
			{"GET", w + "/transactions?cursor=not-a-cursor", ``, 400, "invalid_cursor"},
			{"GET", "/api/v1/workspaces/ws_nope/transactions", ``, 404, "workspace_not_found"},
			// Usage.
			{"GET", w + "/usage?start=yesterday", ``, 400, "invalid_start"},
			{"GET", w + "/usage?end=2025-13-01T00:00:00Z", ``, 400, "invalid_end"},
			{"GET", w + "/usage?start=2025-03-02T00:00:00Z&end=2025-03-01T00:00:00Z", ``, 400, "invalid_range"},
			{"GET", w + "/usage?bucket=1w", ``, 400, "invalid_bucket"},
			{"GET", w + "/usage?tz=Nowhere/City", ``, 400, "invalid_timezone"},
			{"GET", w + "/usage?group_by=colour", ``, 400, "invalid_group_by"},
			{"GET", w + "/usage?group_by=model,model", ``, 400, "invalid_group_by"},
			{"GET", w + "/usage?bucket=1h&start=2024-01-01T00:00:00Z", ``, 400, "too_many_buckets"},
			{"GET", "/api/v1/workspaces/ws_nope/usage", ``, 404, "workspace_not_found"},
			// OpenAI-shaped endpoints.
			{"GET", org, ``, 400, "missing_start_time"},
			{"GET", org + "start_time=soon", ``, 400, "invalid_start_time"},
			{"GET", org + "start_time=-5", ``, 400, "invalid_start_time"},
			{"GET", org + "start_time=1741651200&end_time=later", ``, 400, "invalid_end_time"},
			{"GET", org + "start_time=1741651200&end_time=1741651200", ``, 400, "invalid_range"},
			{"GET", org + "start_time=1741651200&bucket_width=1m", ``, 400, "unsupported_bucket_width"},
			{"GET", org + "start_time=1741651200&bucket_width=1w", ``, 400, "invalid_bucket_width"},
			{"GET", org + "start_time=1741651200&limit=32", ``, 400, "invalid_limit"},
			{"GET", org + "start_time=1741651200&bucket_width=1h&limit=169", ``, 400, "invalid_limit"},
			{"GET", org + "start_time=1741651200&page=garbage", ``, 400, "invalid_page"},
			{"GET", org + "start_time=1741651200&page=cGc6MTAw", ``, 400, "invalid_page"}, // "pg:100": outside the range
			{"GET", org + "start_time=1741651200&group_by=batch", ``, 400, "invalid_group_by"},
			{"GET", org + "start_time=1741651200&group_by=line_item", ``, 400, "invalid_group_by"},
			{"GET", "/v1/organization/usage/completions?start_time=1741651200", ``, 400, "missing_workspace_id"},
			{"GET", costs + "start_time=1741651200&bucket_width=1h", ``, 400, "unsupported_bucket_width"},
			{"GET", costs + "start_time=1741651200&limit=181", ``, 400, "invalid_limit"},
			{"GET", costs + "start_time=1741651200&group_by=model", ``, 400, "invalid_group_by"},
			{"GET", costs, ``, 400, "missing_start_time"},
			{"GET", "/v1/organization/costs?start_time=1741651200", ``, 400, "missing_workspace_id"},
		}
		for _, c := range table {
			var body any
			if c.body != "" {
				body = c.body
			}
			r := e.do(c.method, c.path, operatorToken, body)
			if r.status != c.status || r.code() != c.code {
				name := c.path
				if len(name) > 120 {
					name = name[:120] + "…"
				}
				t.Errorf("%s %s %.80s: got %d %q, want %d %q: %.300s", c.method, name, c.body, r.status, r.code(), c.status, c.code, r.body)
			}
		}
		if b := e.balance(ws); b.Balance != "0.000000" {
			t.Errorf("bad requests moved money: %+v", b)
		}
		// An admin key reading the OpenAI endpoints needs no workspace_id.
		e.call("GET", fmt.Sprintf("/v1/organization/costs?start_time=%d", t0.Unix()-86400), admin.Key, nil, 200, nil)
	})
}
