// Package gatewayhttp serves the operator's gateway routes under /api/v1: registering,
// listing and deleting upstreams, and a key's gateway limits. Handlers hold no rules:
// they decode, call gateway.Gateway and encode. Errors have the API's shape
// {"error":{"code":"…","message":"…"}}, with httpjson's statuses.
package gatewayhttp

import (
	_ "embed" // OpenAPI
	"log/slog"
	"net/http"

	"spectra/internal/gateway"
	"spectra/internal/httpjson"
	"spectra/internal/team"
)

// MaxBody is the largest request body read.
const MaxBody = 1 << 20

// Auth decides who may call the routes; api.Server implements it.
type Auth interface {
	// RequireOperator lets a request through only for the operator.
	RequireOperator(http.Handler) http.Handler
}

type server struct {
	gw  *gateway.Gateway
	log *slog.Logger
}

// Register mounts every route on mux.
func Register(mux *http.ServeMux, gw *gateway.Gateway, auth Auth) {
	s := &server{gw: gw, log: gw.Logger()}
	httpjson.Mount(mux, s.log, s.routes(), httpjson.Guards{Operator: auth.RequireOperator})
}

// Patterns returns every route served, for OpenAPI coverage tests and documentation.
func Patterns() []string { return httpjson.Patterns((&server{}).routes()) }

// routes is every route served, in one table: all of them are the operator's.
func (s *server) routes() []httpjson.Route {
	return []httpjson.Route{
		{Pattern: "POST /api/v1/upstreams", Need: team.ActOperate, Handle: s.putUpstream},
		{Pattern: "GET /api/v1/upstreams", Need: team.ActOperate, Handle: s.listUpstreams},
		{Pattern: "DELETE /api/v1/upstreams/{name}", Need: team.ActOperate, Handle: s.deleteUpstream},
		{Pattern: "POST /api/v1/upstreams/{name}/test", Need: team.ActOperate, Handle: s.testUpstream},
		{Pattern: "PATCH /api/v1/workspaces/{id}/keys/{key_id}", Need: team.ActOperate, Handle: s.patchKey},
	}
}

// putUpstream is POST /api/v1/upstreams {"name","base_url","api_key","models"}: 201
// when created, 200 when it replaced the upstream of that name.
func (s *server) putUpstream(w http.ResponseWriter, r *http.Request) error {
	var u gateway.Upstream
	if err := decode(w, r, &u); err != nil {
		return err
	}
	v, created, err := s.gw.PutUpstream(r.Context(), u)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	httpjson.Write(w, status, v)
	return nil
}

// listUpstreams is GET /api/v1/upstreams: {"upstreams":[…]}, without secrets.
func (s *server) listUpstreams(w http.ResponseWriter, r *http.Request) error {
	us, err := s.gw.Upstreams(r.Context())
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"upstreams": us})
	return nil
}

// deleteUpstream is DELETE /api/v1/upstreams/{name}: 204.
func (s *server) deleteUpstream(w http.ResponseWriter, r *http.Request) error {
	if err := s.gw.DeleteUpstream(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testUpstream is POST /api/v1/upstreams/{name}/test: 200 with the outcome of one
// models call (gateway.UpstreamTest), a failing upstream included; 404 for no such upstream.
func (s *server) testUpstream(w http.ResponseWriter, r *http.Request) error {
	res, err := s.gw.TestUpstream(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, res)
	return nil
}

// patchKey is PATCH /api/v1/workspaces/{id}/keys/{key_id}
// {"allowed_models":[…],"rpm":N,"tpm":N,"project":"…","expires_at":"…"|null}, each optional: the key, without its secret.
func (s *server) patchKey(w http.ResponseWriter, r *http.Request) error {
	var l team.KeyLimits
	if err := decode(w, r, &l); err != nil {
		return err
	}
	k, err := s.gw.SetKeyLimits(r.Context(), r.PathValue("id"), r.PathValue("key_id"), l)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, k)
	return nil
}

// decode reads one JSON object of at most MaxBody bytes into v, with the API's codes
// (unknown_field, invalid_field_type, body_too_large, invalid_json).
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return httpjson.Decoder{Limit: MaxBody, NameTypes: true, LimitAfterValue: true}.Decode(w, r, v)
}

// OpenAPI is these routes as an OpenAPI fragment ({"paths":…,"components":{"schemas":…}}),
// merged by internal/api into /api/v1/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte
