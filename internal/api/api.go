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

	"spectra/internal/audit"
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
	// Audit is the operator's audit log: served at GET /api/v1/audit, and every
	// operator call that changes something is recorded into it (audit.go). nil: the
	// route is 503 and nothing is recorded.
	Audit *audit.Service
	// AuditSnapshots reads, for an operator route of another transport (by its pattern,
	// "POST /api/v1/upstreams"), the state it changes, so that its audit entry holds
	// before → after (audit.go); the routes whose state this API's own services read
	// have theirs already.
	AuditSnapshots map[string]AuditSnapshot
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
	auditLog  *audit.Service           // nil: GET /api/v1/audit is 503 and nothing is recorded (audit.go)
	snapshots map[string]auditSnapshot // the state a route changes, by pattern (audit.go)
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
		now: d.Now, log: d.Log, registry: d.Registry, auditLog: d.Audit}
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
	s.snapshots = s.auditSnapshots(d.AuditSnapshots)
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

// routes is every route the API serves, in one table that says who may call each (see
// authorize): anyone, the operator, or the operator and a workspace key whose kind and
// member's role allow the action.
func (s *Server) routes() []httpjson.Route {
	return []httpjson.Route{
		{Pattern: "GET /healthz", Need: team.ActPublic, Handle: s.healthz},
		{Pattern: "GET /readyz", Need: team.ActPublic, Handle: s.readyz},
		{Pattern: "GET /metrics", Need: team.ActPublic, Handle: s.serveMetrics},
		{Pattern: "GET /api/v1/openapi.json", Need: team.ActPublic, Handle: s.serveOpenAPI},

		{Pattern: "PUT /api/v1/prices/{model...}", Need: team.ActOperate, Handle: s.putPrice},
		{Pattern: "GET /api/v1/prices", Need: team.ActOperate, Handle: s.listPrices},
		{Pattern: "POST /api/v1/price-lists", Need: team.ActOperate, Handle: s.createPriceList},
		{Pattern: "GET /api/v1/price-lists", Need: team.ActOperate, Handle: s.listPriceLists},
		{Pattern: "GET /api/v1/price-lists/{name}", Need: team.ActOperate, Handle: s.getPriceList},
		{Pattern: "POST /api/v1/price-lists/{name}/prices", Need: team.ActOperate, Handle: s.addPriceListVersion},

		{Pattern: "POST /api/v1/workspaces", Need: team.ActOperate, Handle: s.createWorkspace},
		{Pattern: "GET /api/v1/workspaces", Need: team.ActOperate, Handle: s.listWorkspaces},
		{Pattern: "GET /api/v1/workspaces/{id}", Need: team.ActViewUsage, Handle: s.getWorkspace},
		{Pattern: "PATCH /api/v1/workspaces/{id}", Need: team.ActManageWorkspace, Handle: s.updateWorkspace},

		{Pattern: "POST /api/v1/workspaces/{id}/keys", Need: team.ActOperate, Handle: s.createKey},
		{Pattern: "GET /api/v1/workspaces/{id}/keys", Need: team.ActViewUsage, Handle: s.listKeys},
		{Pattern: "DELETE /api/v1/workspaces/{id}/keys/{key_id}", Need: team.ActOperate, Handle: s.revokeKey},

		{Pattern: "GET /api/v1/workspaces/{id}/members", Need: team.ActViewUsage, Handle: s.listMembers},
		{Pattern: "PATCH /api/v1/workspaces/{id}/members/{user_id}", Need: team.ActOperate, Handle: s.setMemberRole},
		{Pattern: "DELETE /api/v1/workspaces/{id}/members/{user_id}", Need: team.ActOperate, Handle: s.removeMember},
		{Pattern: "POST /api/v1/workspaces/{id}/invitations", Need: team.ActOperate, Handle: s.invite},
		{Pattern: "GET /api/v1/workspaces/{id}/invitations", Need: team.ActViewUsage, Handle: s.listInvitations},
		{Pattern: "DELETE /api/v1/workspaces/{id}/invitations/{invitation_id}", Need: team.ActOperate, Handle: s.revokeInvitation},

		{Pattern: "POST /api/v1/workspaces/{id}/grants", Need: team.ActOperate, Handle: s.grant},
		{Pattern: "PUT /api/v1/workspaces/{id}/overdraft-limit", Need: team.ActOperate, Handle: s.putOverdraft},
		{Pattern: "GET /api/v1/audit", Need: team.ActOperate, Handle: s.listAudit},
		{Pattern: "GET /api/v1/workspaces/{id}/balance", Need: team.ActViewBilling, Handle: s.balance},
		{Pattern: "GET /api/v1/workspaces/{id}/credits", Need: team.ActViewBilling, Handle: s.credits},
		{Pattern: "GET /api/v1/workspaces/{id}/transactions", Need: team.ActViewBilling, Handle: s.transactions},
		{Pattern: "GET /api/v1/workspaces/{id}/usage", Need: team.ActViewUsage, Handle: s.usage},

		{Pattern: "POST /api/v1/events", Need: team.ActUseKeys, Handle: s.ingestEvents},

		{Pattern: "GET /v1/organization/usage/completions", Need: team.ActViewUsage, Handle: s.orgCompletions},
		{Pattern: "GET /v1/organization/costs", Need: team.ActViewUsage, Handle: s.orgCosts},
	}
}

// Register mounts every route on mux, plus a JSON 404/405 for anything else under /api/.
func (s *Server) Register(mux *http.ServeMux) {
	for _, rt := range s.routes() {
		mux.Handle(rt.Pattern, s.instrument(rt.Pattern, s.audited(rt.Need, httpjson.Serve(s.log, s.guard(rt.Need, rt.Handle)))))
	}
	mux.Handle("/api/", s.instrument("unmatched", s.unmatched(mux)))
}
