package api

import (
	"net/http/httptest"
	"testing"
)

// The entry's idempotency key is the field the handler's decoder takes: encoding/json
// matches a name case-insensitively and the last match wins, so a body carrying
// "idempotency_key" and a case variant is granted under the variant's value. Two such
// grants (two transfers) must not share one audit key, or the second adds no entry.
func TestAuditKeyFollowsDecoderMatching(t *testing.T) {
	r := httptest.NewRequest("POST", "/api/v1/workspaces/ws_1/grants", nil)
	r.Pattern = "POST /api/v1/workspaces/{id}/grants"
	for _, c := range []struct{ body, want string }{
		{`{"idempotency_key":"a","amount":"1"}`, "/api/v1/workspaces/ws_1/grants#a"},
		{`{"idempotency_key":"a","Idempotency_Key":"b"}`, "/api/v1/workspaces/ws_1/grants#b"},
		{`{"IDEMPOTENCY_KEY":"c"}`, "/api/v1/workspaces/ws_1/grants#c"},
		{`{"Idempotency_Key":"b","idempotency_key":"a"}`, "/api/v1/workspaces/ws_1/grants#a"},
		{`{"amount":"1"}`, ""},
	} {
		if got := auditKey(r, []byte(c.body)); got != c.want {
			t.Errorf("%s: key %q, want %q", c.body, got, c.want)
		}
	}
	p := httptest.NewRequest("POST", "/api/v1/workspaces/ws_1/payments", nil)
	p.Pattern = "POST /api/v1/workspaces/{id}/payments"
	if got := auditKey(p, []byte(`{"reference":"r1","REFERENCE":"r2"}`)); got != "/api/v1/workspaces/ws_1/payments#r2" {
		t.Errorf("payment key %q", got)
	}
}
