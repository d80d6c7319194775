// Package api is Spectra's JSON API: the operator's admin endpoints under /api/v1, event
// ingestion, usage and balance reads for workspace admin keys, the same usage in the
// shape of OpenAI's organization Usage and Costs APIs, and the ops endpoints (/healthz,
// /readyz, /metrics). Handlers hold no rules of their own: they decode, authorise, call
// the domain services and encode.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"spectra/internal/httpjson"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/pricing"
	"spectra/internal/team"
)

// Deps is what the API needs; cmd/spectra wires it.
type Deps struct {
	Team     *team.Service
	Accounts *team.Accounts // members routes; nil serves them as 503 feature_unavailable
	// Invitations serves the invitation routes; nil serves them as 503 feature_unavailable.
	Invitations *team.Invitations
	Ledger      *ledger.Service
	Metering    *metering.Service
	Prices      pricing.Store
	DB          interface{ Ping(context.Context) error }
	// AdminTokenHash is the hex SHA-256 of the operator token (team.HashSecret(token)),
	// compared in constant time. Empty disables the operator token.
	AdminTokenHash string
	Currency       string // e.g. "USD"
	Now            func() time.Time
	Log            *slog.Logger
	Registry       *prometheus.Registry // /metrics serves it; nil → a new one
	// OpenAPIParts are other transports' OpenAPI fragments ({"paths":…,"components":
	// {"schemas":…}}) merged into /api/v1/openapi.json, so one document describes every route.
	OpenAPIParts [][]byte
}

// Server serves the JSON API. Build it with New and mount it with Register.
type Server struct {
	team      *team.Service
	accounts  *team.Accounts
	invites   *team.Invitations
	ledger    *ledger.Service
	metering  *metering.Service
	prices    pricing.Store
	db        interface{ Ping(context.Context) error }
	adminHash string
	currency  string
	now       func() time.Time
	log       *slog.Logger
	registry  *prometheus.Registry
	metrics   *metrics
	openAPI   []byte
}

// Body size limits.
const (
	MaxEventsBody = 32 << 20 // POST /api/v1/events
	MaxBody       = 1 << 20  // every other request body
)

// New returns a Server over d. Missing Now, Log, Registry and Currency get defaults.
func New(d Deps) *Server {
	s := &Server{team: d.Team, accounts: d.Accounts, invites: d.Invitations, ledger: d.Ledger, metering: d.Metering, prices: d.Prices, db: d.DB,
		adminHash: strings.ToLower(strings.TrimSpace(d.AdminTokenHash)), currency: d.Currency,
		now: d.Now, log: d.Log, registry: d.Registry}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.currency == "" {
		s.currency = "USD"
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(s.registry)
	s.openAPI = openAPIDoc
	if len(d.OpenAPIParts) > 0 {
		doc, err := mergeOpenAPI(openAPIDoc, d.OpenAPIParts)
		if err != nil {
			panic("api: " + err.Error()) // the fragments are embedded: a broken one is a build bug
		}
		s.openAPI = doc
	}
	return s
}

// handlerFunc is a handler that reports failure by returning an error, written by WriteError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route is one line of the routing table.
type route struct {
	pattern string // a net/http ServeMux pattern with its method
	access  access
	handle  handlerFunc
}

// routes is every route the API serves, in one table.
func (s *Server) routes() []route {
	return []route{
		{"GET /healthz", public, s.healthz},
		{"GET /readyz", public, s.readyz},
		{"GET /metrics", public, s.serveMetrics},
		{"GET /api/v1/openapi.json", public, s.serveOpenAPI},

		{"PUT /api/v1/prices/{model...}", operatorOnly, s.putPrice},
		{"GET /api/v1/prices", operatorOnly, s.listPrices},

		{"POST /api/v1/workspaces", operatorOnly, s.createWorkspace},
		{"GET /api/v1/workspaces", operatorOnly, s.listWorkspaces},
		{"GET /api/v1/workspaces/{id}", workspaceReader, s.getWorkspace},

		{"POST /api/v1/workspaces/{id}/keys", operatorOnly, s.createKey},
		{"GET /api/v1/workspaces/{id}/keys", workspaceReader, s.listKeys},
		{"DELETE /api/v1/workspaces/{id}/keys/{key_id}", operatorOnly, s.revokeKey},

		{"GET /api/v1/workspaces/{id}/members", workspaceReader, s.listMembers},
		{"PATCH /api/v1/workspaces/{id}/members/{user_id}", operatorOnly, s.setMemberRole},
		{"DELETE /api/v1/workspaces/{id}/members/{user_id}", operatorOnly, s.removeMember},
		{"POST /api/v1/workspaces/{id}/invitations", operatorOnly, s.invite},
		{"GET /api/v1/workspaces/{id}/invitations", workspaceReader, s.listInvitations},
		{"DELETE /api/v1/workspaces/{id}/invitations/{invitation_id}", operatorOnly, s.revokeInvitation},

		{"POST /api/v1/workspaces/{id}/grants", operatorOnly, s.grant},
		{"GET /api/v1/workspaces/{id}/balance", workspaceReader, s.balance},
		{"GET /api/v1/workspaces/{id}/transactions", workspaceReader, s.transactions},
		{"GET /api/v1/workspaces/{id}/usage", workspaceReader, s.usage},

		{"POST /api/v1/events", ingester, s.ingestEvents},

		{"GET /v1/organization/usage/completions", orgReader, s.orgCompletions},
		{"GET /v1/organization/costs", orgReader, s.orgCosts},
	}
}

// Register mounts every route on mux, plus a JSON 404/405 for anything else under /api/.
func (s *Server) Register(mux *http.ServeMux) {
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.instrument(rt.pattern, s.guard(rt.access, rt.handle)))
	}
	mux.Handle("/api/", s.instrument("unmatched", s.unmatched(mux)))
}

// serve runs h and writes its error, if any. A request whose path or query breaks the
// text rule is refused first (400 invalid_text), whatever the route.
func (s *Server) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := httpjson.RequestText(r); err != nil {
			WriteError(w, s.log, err)
			return
		}
		if err := h(w, r); err != nil {
			WriteError(w, s.log, err)
		}
	})
}
