package gatewayhttp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"spectra/internal/gateway"
	"spectra/internal/gateway/gatewayhttp"
	"spectra/internal/httpjson/httpjsontest"
	"spectra/internal/openapitest"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

type env struct {
	t   *testing.T
	url string
	ws  team.Workspace
	key team.APIKey
}

// each serves the routes over a gateway on storetest's environment (SQLite and
// PostgreSQL), with one upstream from the configuration file ("from-file"), a workspace
// and a key.
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.EachEnv(t, func(t *testing.T, se *storetest.Env) {
		ts := se.Team
		gw, err := gateway.New(gateway.Config{Team: ts, Ledger: se.Ledger, Metering: se.Meter,
			Store: se.DB, Now: se.Clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Upstreams: []gateway.Upstream{{Name: "from-file", BaseURL: "http://127.0.0.1:1/v1", Models: []string{"file-model"}}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { gw.Flush(context.Background()) })
		mux := http.NewServeMux()
		gatewayhttp.Register(mux, gw, httpjsontest.Auth{})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		e := &env{t: t, url: srv.URL}
		if e.ws, err = ts.CreateWorkspace(context.Background(), team.Workspace{Name: "Acme"}); err != nil {
			t.Fatal(err)
		}
		if e.key, _, err = ts.CreateKey(context.Background(), team.APIKey{WorkspaceID: e.ws.ID, Name: "ci", Project: "p"}); err != nil {
			t.Fatal(err)
		}
		fn(t, e)
	})
}

func (e *env) do(method, path, token, body string) httpjsontest.Response {
	e.t.Helper()
	return httpjsontest.Do(e.t, e.url, method, path, token, body)
}

var want = httpjsontest.Want

// TestRoutes: the operator's gateway routes answer in the API's shape, with the API's
// statuses (httpjson.Status) and the API's decoder codes; only the operator passes.
func TestRoutes(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		const op = "operator"
		up := `{"name":"second","base_url":"http://127.0.0.1:2/v1/","api_key":"sk-secret","models":["m1","m1"]}`
		want(t, e.do("GET", "/api/v1/upstreams", "", ""), 401, "unauthorized")
		want(t, e.do("POST", "/api/v1/upstreams", "key:"+e.ws.ID, up), 403, "operator_required")

		r := e.do("POST", "/api/v1/upstreams", op, up)
		want(t, r, 201, "")
		if strings.Contains(string(r.Body), "sk-secret") || !strings.Contains(string(r.Body), `"has_api_key":true`) ||
			!strings.Contains(string(r.Body), `"base_url":"http://127.0.0.1:2/v1"`) || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("create: %s %v", r.Body, r.Header)
		}
		want(t, e.do("POST", "/api/v1/upstreams", op, up), 200, "")
		r = e.do("GET", "/api/v1/upstreams", op, "")
		want(t, r, 200, "")
		if b := string(r.Body); strings.Contains(b, "sk-secret") || !strings.Contains(b, `"source":"file"`) || !strings.Contains(b, `"name":"second"`) {
			t.Fatalf("list: %s", b)
		}
		for _, c := range []struct {
			body, code string
			status     int
		}{
			{`{"name":"x","base_url":"http://x/v1","models":["m"],"extra":1}`, "unknown_field", 400},
			{`{"name":"x","base_url":"http://x/v1","models":"m"}`, "invalid_field_type", 400},
			{`{"name":"x"} {}`, "invalid_json", 400},
			{``, "invalid_json", 400},
			{`{"name":"x","base_url":"http://x/v1","models":["m"],"api_key":"` + strings.Repeat("k", 1<<20) + `"}`, "body_too_large", 400},
			{`{"name":"Bad Name","base_url":"http://x/v1","models":["m"]}`, "invalid_upstream_name", 400},
			{`{"name":"x","base_url":"http://x/v1","models":[]}`, "invalid_models", 400},
			{`{"name":"x","api":"grpc","base_url":"http://x/v1","models":["m"]}`, "invalid_api", 400},
			{`{"name":"from-file","base_url":"http://x/v1","models":["m"]}`, "upstream_from_file", 409},
		} {
			want(t, e.do("POST", "/api/v1/upstreams", op, c.body), c.status, c.code)
		}
		want(t, e.do("DELETE", "/api/v1/upstreams/second", op, ""), 204, "")
		want(t, e.do("DELETE", "/api/v1/upstreams/second", op, ""), 404, "upstream_not_found")
		want(t, e.do("DELETE", "/api/v1/upstreams/from-file", op, ""), 409, "upstream_from_file")

		key := "/api/v1/workspaces/" + e.ws.ID + "/keys/" + e.key.ID
		r = e.do("PATCH", key, op, `{"rpm":5,"allowed_models":["m1","m1"]}`)
		want(t, r, 200, "")
		if b := string(r.Body); !strings.Contains(b, `"rpm":5`) || !strings.Contains(b, `"allowed_models":["m1"]`) || strings.Contains(b, `"key"`) {
			t.Fatalf("patch: %s", b)
		}
		want(t, e.do("PATCH", key, op, `{"name":"renamed"}`), 400, "unknown_field")
		want(t, e.do("PATCH", key, op, `{"rpm":-1}`), 400, "invalid_rpm")
		want(t, e.do("PATCH", "/api/v1/workspaces/"+e.ws.ID+"/keys/key_nope", op, `{"rpm":1}`), 404, "key_not_found")
		want(t, e.do("PATCH", key, "", `{"rpm":1}`), 401, "unauthorized")
	})
}

// TestTextRule: a NUL or control character in a path or query is a 400 invalid_text
// before any lookup, as on every JSON transport (before, the gateway's admin routes
// skipped the rule, and an upstream name or key id with a NUL reached PostgreSQL).
func TestTextRule(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for _, c := range []struct{ method, path, body string }{
			{"DELETE", "/api/v1/upstreams/a%00b", ""},
			{"DELETE", "/api/v1/upstreams/a%1Bb", ""},
			{"GET", "/api/v1/upstreams?x=%00", ""},
			{"PATCH", "/api/v1/workspaces/" + e.ws.ID + "/keys/key_%00", `{"rpm":1}`},
			{"PATCH", "/api/v1/workspaces/ws%00/keys/" + e.key.ID, `{"rpm":1}`},
		} {
			want(t, e.do(c.method, c.path, "operator", c.body), 400, "invalid_text")
		}
	})
}

// TestOpenAPI: the fragment documents every route and nothing else; its $refs resolve
// to its own schemas or the core's.
func TestOpenAPI(t *testing.T) {
	openapitest.Check(t, gatewayhttp.OpenAPI, gatewayhttp.Patterns(), "Error")
}
