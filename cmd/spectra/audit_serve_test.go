package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestServeAuditsUpstreams: through `spectra serve`, the operator's upstream put and
// delete over the API are in GET /api/v1/audit with the upstream before → after (none →
// its fields; its fields → none), and the upstream's secret only as "set" (what was
// asked) and has_api_key (the upstream as stored).
func TestServeAuditsUpstreams(t *testing.T) {
	const token = "audit-operator-token"
	dsn, _ := sqliteDSN(t)
	srv := startServe(t, map[string]string{"SPECTRA_ADMIN_TOKEN": token}, "--addr", "127.0.0.1:0", "--database", dsn)
	const secret = "sk-upstream-secret-0123456789"
	up := map[string]any{"name": "acme", "base_url": "http://127.0.0.1:9/v1", "api_key": secret, "models": []string{"gpt-x"}}
	if st, body := call(t, "POST", srv.url+"/api/v1/upstreams", token, up); st/100 != 2 {
		t.Fatalf("put upstream: %d %v", st, body)
	}
	if st, body := call(t, "DELETE", srv.url+"/api/v1/upstreams/acme", token, nil); st/100 != 2 {
		t.Fatalf("delete upstream: %d %v", st, body)
	}
	st, page := call(t, "GET", srv.url+"/api/v1/audit?limit=200", token, nil)
	if st != 200 {
		t.Fatalf("audit: %d %v", st, page)
	}
	entries, _ := page["entries"].([]any)
	found := map[string]map[string]any{}
	for _, raw := range entries {
		e, _ := raw.(map[string]any)
		found[e["action"].(string)] = e
	}
	field := func(e map[string]any, side, name string) string {
		m, _ := e[side].(map[string]any)
		s, _ := m[name].(string)
		return s
	}
	put, del := found["POST /api/v1/upstreams"], found["DELETE /api/v1/upstreams/{name}"]
	if put == nil || del == nil {
		t.Fatalf("the upstream put and delete are not both in the audit log: %v", page)
	}
	if field(put, "before", "upstream") != "none" || field(put, "after", "base_url") != "http://127.0.0.1:9/v1" || field(put, "after", "has_api_key") != "true" ||
		field(put, "after", "request.api_key") != "set" {
		t.Errorf("put: before %v, after %v", put["before"], put["after"])
	}
	if field(del, "before", "name") != "acme" || field(del, "after", "upstream") != "none" {
		t.Errorf("delete: before %v, after %v", del["before"], del["after"])
	}
	if _, raw := call(t, "GET", srv.url+"/api/v1/audit?limit=200", token, nil); strings.Contains(fmt.Sprint(raw), secret) {
		t.Error("the upstream's secret is in the audit log")
	}
}
