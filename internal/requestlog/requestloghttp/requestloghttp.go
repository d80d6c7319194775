// Package requestloghttp serves the request log as JSON under
// /api/v1/workspaces/{id}/requests: every request a workspace's keys made, answered
// (charged) or refused and failed (at no cost), filtered, sorted and paged by cursor, and
// the detail of one. Handlers hold no rules: they authorise, read the query, call
// requestlog.Service and encode. Errors have the API's shape {"error":{"code","message"}}.
package requestloghttp

import (
	"context"
	_ "embed" // OpenAPI
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"spectra/internal/errs"
	"spectra/internal/httpjson"
	"spectra/internal/metering"
	"spectra/internal/requestlog"
	"spectra/internal/team"
)

// Auth decides who may call the routes; the API implements it (api.Server).
type Auth interface {
	// Workspace returns nil when the request may do need (team.ActViewUsage) on
	// workspace id; else an *errs.Error (401/403/404).
	Workspace(r *http.Request, workspaceID string, need team.Action) error
}

// Workspaces says whether a workspace exists (team.Service).
type Workspaces interface {
	Workspace(ctx context.Context, id string) (team.Workspace, error)
}

type server struct {
	svc      *requestlog.Service
	ws       Workspaces
	currency string
	log      *slog.Logger
}

// Register mounts the request log's routes on mux.
func Register(mux *http.ServeMux, svc *requestlog.Service, ws Workspaces, auth Auth, currency string, log *slog.Logger) {
	s := &server{svc: svc, ws: ws, currency: currency, log: log}
	httpjson.Mount(mux, log, s.routes(), httpjson.Guards{Workspace: auth.Workspace})
}

// Patterns returns every route served, for OpenAPI coverage tests and documentation.
func Patterns() []string { return httpjson.Patterns((&server{}).routes()) }

// routes: the request log is read by whoever may view the workspace's usage.
func (s *server) routes() []httpjson.Route {
	return []httpjson.Route{
		{Pattern: "GET /api/v1/workspaces/{id}/requests", Need: team.ActViewUsage, Handle: s.list},
		{Pattern: "GET /api/v1/workspaces/{id}/requests/{request_id}", Need: team.ActViewUsage, Handle: s.get},
	}
}

// OpenAPI is this package's part of the API description, merged into
// /api/v1/openapi.json; its $refs to Error and Amount point at the core's schemas.
//
//go:embed openapi.json
var OpenAPI []byte

// listParams are the query parameters of GET …/requests.
var listParams = map[string]bool{"start": true, "end": true, "model": true, "key_id": true, "member": true, "project": true,
	"status": true, "sort": true, "id": true, "cursor": true, "limit": true}

// ParseQuery reads the request log's query parameters (start and end in RFC 3339);
// every bad one is refused with its own code: unknown_parameter, duplicate_parameter,
// invalid_start, invalid_end, invalid_limit, and Query.Validate's.
func ParseQuery(q url.Values) (requestlog.Query, error) {
	var rq requestlog.Query
	for k, v := range q {
		if !listParams[k] {
			return rq, errs.E(errs.Invalid, "unknown_parameter", "unknown query parameter %q (use start, end, model, key_id, member, project, status, sort, id, cursor, limit)", k)
		}
		if len(v) > 1 {
			return rq, errs.E(errs.Invalid, "duplicate_parameter", "the query parameter %q is given %d times", k, len(v))
		}
	}
	for _, p := range []struct {
		name, code string
		to         *time.Time
	}{{"start", "invalid_start", &rq.Start}, {"end", "invalid_end", &rq.End}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return rq, errs.E(errs.Invalid, p.code, "%s must be an RFC 3339 time, such as 2026-03-01T00:00:00Z", p.name)
			}
			*p.to = t
		}
	}
	one := func(name string) []string { return requestlog.FilterValues(q.Get(name)) }
	rq.Filter = metering.Filter{Models: one("model"), Keys: one("key_id"), Members: one("member"), Projects: one("project")}
	rq.Status, rq.Sort, rq.ID, rq.Cursor = q.Get("status"), metering.Sort(q.Get("sort")), q.Get("id"), q.Get("cursor")
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > requestlog.MaxLimit {
			return rq, errs.E(errs.Invalid, "invalid_limit", "limit must be a whole number from 1 to %d", requestlog.MaxLimit)
		}
		rq.Limit = n
	}
	return rq, rq.Validate()
}

// list is GET /api/v1/workspaces/{id}/requests.
func (s *server) list(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.ws.Workspace(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	q, err := ParseQuery(r.URL.Query())
	if err != nil {
		return err
	}
	q.WorkspaceID = ws.ID
	page, err := s.svc.List(r.Context(), q)
	if err != nil {
		return err
	}
	var next *string
	if page.NextCursor != "" {
		next = &page.NextCursor
	}
	httpjson.Write(w, http.StatusOK, struct {
		Object      string             `json:"object"`
		WorkspaceID string             `json:"workspace_id"`
		Currency    string             `json:"currency"`
		Sort        metering.Sort      `json:"sort"`
		Data        []requestlog.Entry `json:"data"`
		HasMore     bool               `json:"has_more"`
		NextCursor  *string            `json:"next_cursor"`
	}{"list", ws.ID, s.currency, q.Sort, page.Entries, next != nil, next})
	return nil
}

// get is GET /api/v1/workspaces/{id}/requests/{request_id}: 404 request_not_found for
// an id the workspace has no record of (another workspace's included).
func (s *server) get(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.ws.Workspace(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	d, err := s.svc.Get(r.Context(), ws.ID, r.PathValue("request_id"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, struct {
		requestlog.Detail
		WorkspaceID string `json:"workspace_id"`
		Currency    string `json:"currency"`
	}{d, ws.ID, s.currency})
	return nil
}
