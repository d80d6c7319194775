package gatewayhttp_test

import (
	"encoding/json"
	"strings"
	"testing"

	"spectra/internal/gateway/fakeupstream"
)

// TestTestUpstreamRoute: POST /api/v1/upstreams/{name}/test answers the outcome of a
// models call — 200 for a working upstream and for a failing one (ok false, its status
// and error) — 404 for an unknown name, and the operator only.
func TestTestUpstreamRoute(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		const op = "operator"
		up := fakeupstream.New(fakeupstream.Options{APIKey: "sk-route-secret", Models: []string{"m1"}})
		t.Cleanup(up.Close)
		want(t, e.do("POST", "/api/v1/upstreams", op, `{"name":"fake","base_url":"`+up.URL+`","api_key":"sk-route-secret","models":["m1","m2"]}`), 201, "")
		want(t, e.do("POST", "/api/v1/upstreams/fake/test", "key:"+e.ws.ID, ""), 403, "operator_required")

		r := e.do("POST", "/api/v1/upstreams/fake/test", op, "")
		want(t, r, 200, "")
		var got struct {
			OK      bool     `json:"ok"`
			Status  int      `json:"status"`
			Error   string   `json:"error"`
			Missing []string `json:"missing"`
		}
		if err := json.Unmarshal(r.Body, &got); err != nil || !got.OK || got.Status != 200 || len(got.Missing) != 1 || got.Missing[0] != "m2" {
			t.Fatalf("test: %s (%v)", r.Body, err)
		}
		if strings.Contains(string(r.Body), "sk-route-secret") {
			t.Fatalf("the secret is in the answer: %s", r.Body)
		}

		r = e.do("POST", "/api/v1/upstreams/from-file/test", op, "")
		want(t, r, 200, "")
		if err := json.Unmarshal(r.Body, &got); err != nil || got.OK || !strings.HasPrefix(got.Error, "no answer") {
			t.Fatalf("unreachable: %s", r.Body)
		}
		want(t, e.do("POST", "/api/v1/upstreams/nope/test", op, ""), 404, "upstream_not_found")
	})
}
