// Package notifyhttp serves the webhook endpoints and deliveries API under /api/v1.
// Handlers hold no rules: they authorise, decode, call notify.Service and encode.
// Errors have the API's shape: {"error":{"code":"…","message":"…"}}.
package notifyhttp

import (
	_ "embed" // OpenAPI
	"log/slog"
	"net/http"
	"strconv"

	"spectra/internal/errs"
	"spectra/internal/httpjson"
	"spectra/internal/notify"
	"spectra/internal/team"
)

// Auth decides who may call the routes; api.Server implements it.
type Auth interface {
	// Workspace returns nil when the request may do need (team.ActViewBilling or
	// team.ActManageWebhooks) on workspace id; else an *errs.Error (401/403/404).
	Workspace(r *http.Request, workspaceID string, need team.Action) error
}

// Page sizes of the deliveries lists.
const (
	DefaultDeliveries = 50
	MaxBody           = 64 << 10
)

type server struct {
	svc *notify.Service
	log *slog.Logger
}

// Register mounts every webhook route on mux.
func Register(mux *http.ServeMux, svc *notify.Service, auth Auth, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	s := &server{svc: svc, log: log}
	httpjson.Mount(mux, s.log, s.routes(), httpjson.Guards{Workspace: auth.Workspace})
}

// Patterns returns every route this package serves, for OpenAPI coverage tests.
func Patterns() []string { return httpjson.Patterns((&server{}).routes()) }

const base = "/api/v1/workspaces/{id}/webhooks"

// routes is every route served, in one table that says who may call each: view_billing
// to list endpoints and deliveries, manage_webhooks to create, change, delete, rotate
// and test endpoints.
func (s *server) routes() []httpjson.Route {
	return []httpjson.Route{
		{Pattern: "POST " + base, Need: team.ActManageWebhooks, Handle: s.create},
		{Pattern: "GET " + base, Need: team.ActViewBilling, Handle: s.list},
		{Pattern: "GET " + base + "/{webhook_id}", Need: team.ActViewBilling, Handle: s.get},
		{Pattern: "PATCH " + base + "/{webhook_id}", Need: team.ActManageWebhooks, Handle: s.update},
		{Pattern: "DELETE " + base + "/{webhook_id}", Need: team.ActManageWebhooks, Handle: s.delete},
		{Pattern: "POST " + base + "/{webhook_id}/rotate-secret", Need: team.ActManageWebhooks, Handle: s.rotate},
		{Pattern: "POST " + base + "/{webhook_id}/test", Need: team.ActManageWebhooks, Handle: s.test},
		{Pattern: "GET " + base + "/{webhook_id}/deliveries", Need: team.ActViewBilling, Handle: s.deliveries},
		{Pattern: "GET /api/v1/workspaces/{id}/deliveries", Need: team.ActViewBilling, Handle: s.deliveries},
	}
}

// withSecret is an endpoint with its signing secret, answered once.
type withSecret struct {
	notify.Endpoint
	Secret string `json:"secret"`
}

// create is POST …/webhooks {"url","description","enabled","event_types"}: 201 with the
// secret, shown this once.
func (s *server) create(w http.ResponseWriter, r *http.Request) error {
	var in notify.EndpointInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	e, secret, err := s.svc.CreateEndpoint(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusCreated, withSecret{e, secret})
	return nil
}

func (s *server) list(w http.ResponseWriter, r *http.Request) error {
	es, err := s.svc.Endpoints(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"webhooks": es})
	return nil
}

func (s *server) get(w http.ResponseWriter, r *http.Request) error {
	e, err := s.svc.Endpoint(r.Context(), r.PathValue("id"), r.PathValue("webhook_id"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, e)
	return nil
}

// update is PATCH …/webhooks/{webhook_id}: the fields given change, the others stay.
func (s *server) update(w http.ResponseWriter, r *http.Request) error {
	var in notify.EndpointInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	e, err := s.svc.UpdateEndpoint(r.Context(), r.PathValue("id"), r.PathValue("webhook_id"), in)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, e)
	return nil
}

func (s *server) delete(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteEndpoint(r.Context(), r.PathValue("id"), r.PathValue("webhook_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) rotate(w http.ResponseWriter, r *http.Request) error {
	e, secret, err := s.svc.RotateSecret(r.Context(), r.PathValue("id"), r.PathValue("webhook_id"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, withSecret{e, secret})
	return nil
}

// test queues a webhook.test message to the endpoint: 202 with its delivery.
func (s *server) test(w http.ResponseWriter, r *http.Request) error {
	d, err := s.svc.SendTest(r.Context(), r.PathValue("id"), r.PathValue("webhook_id"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusAccepted, d)
	return nil
}

// deliveries lists a workspace's (or one endpoint's) deliveries newest first;
// next_cursor continues the list and is null on the last page.
func (s *server) deliveries(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := DefaultDeliveries
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > notify.MaxPage {
			return errs.E(errs.Invalid, "invalid_limit", "limit must be an integer from 1 to %d", notify.MaxPage)
		}
		limit = n
	}
	ds, c, err := s.svc.Deliveries(r.Context(), notify.DeliveryFilter{WorkspaceID: r.PathValue("id"), EndpointID: r.PathValue("webhook_id"),
		Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	var next *string
	if c != "" {
		next = &c
	}
	httpjson.Write(w, http.StatusOK, struct {
		Deliveries []notify.Delivery `json:"deliveries"`
		NextCursor *string           `json:"next_cursor"`
	}{ds, next})
	return nil
}

// decode reads one JSON object of at most MaxBody bytes from the body into v, refusing
// unknown fields and trailing data.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return httpjson.Decoder{Limit: MaxBody}.Decode(w, r, v)
}

// OpenAPI is this package's part of the API description, to merge into the core
// document (its $refs to Error point at the core's schemas).
//
//go:embed openapi.json
var OpenAPI []byte
