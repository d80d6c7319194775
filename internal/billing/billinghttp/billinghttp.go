// Package billinghttp serves billing's JSON API under /api/v1 and Stripe's webhook at
// /webhooks/stripe. Handlers hold no rules: they authorise, decode, call billing.Service
// and encode. Errors have the API's shape: {"error":{"code":"…","message":"…"}}.
package billinghttp

import (
	_ "embed" // OpenAPI
	"log/slog"
	"net/http"

	"spectra/internal/billing"
	"spectra/internal/httpjson"
	"spectra/internal/team"
)

// Auth decides who may call billing's routes; the JSON API (api.Server) implements it.
type Auth interface {
	// RequireOperator lets a request through only for the operator.
	RequireOperator(http.Handler) http.Handler
	// Workspace returns nil when the request may do need (team.ActViewBilling or
	// team.ActManageBilling) on workspace id; else an *errs.Error (401/403/404).
	Workspace(r *http.Request, workspaceID string, need team.Action) error
}

type server struct {
	svc *billing.Service
	log *slog.Logger
}

// Register mounts every billing route on mux.
func Register(mux *http.ServeMux, svc *billing.Service, auth Auth) {
	s := &server{svc: svc, log: svc.Logger()}
	httpjson.Mount(mux, s.log, s.routes(), httpjson.Guards{Workspace: auth.Workspace, Operator: auth.RequireOperator})
}

// Patterns returns every route billing serves ("POST /webhooks/stripe", …), for the
// API's OpenAPI coverage test and for documentation.
func Patterns() []string { return httpjson.Patterns((&server{}).routes()) }

// routes is every route billing serves, in one table that says who may call each:
// anyone for Stripe's webhook (authenticated by its signature), view_billing to see
// balances, documents and settings, manage_billing to pay, redeem and change settings,
// and the operator for payments, codes, statements and credit notes.
func (s *server) routes() []httpjson.Route {
	return s.retryAfter([]httpjson.Route{
		{Pattern: "POST /webhooks/stripe", Need: team.ActPublic, Handle: s.stripeWebhook},

		{Pattern: "GET /api/v1/workspaces/{id}/billing", Need: team.ActViewBilling, Handle: s.overview},
		{Pattern: "POST /api/v1/workspaces/{id}/checkout", Need: team.ActManageBilling, Handle: s.checkout},
		{Pattern: "POST /api/v1/workspaces/{id}/checkout/{session_id}/confirm", Need: team.ActManageBilling, Handle: s.confirmCheckout},
		{Pattern: "POST /api/v1/workspaces/{id}/redeem", Need: team.ActManageBilling, Handle: s.redeem},
		{Pattern: "GET /api/v1/workspaces/{id}/invoices", Need: team.ActViewBilling, Handle: s.listInvoices},
		{Pattern: "GET /api/v1/workspaces/{id}/invoices/{file}", Need: team.ActViewBilling, Handle: s.getInvoice},
		{Pattern: "GET /api/v1/workspaces/{id}/auto-recharge", Need: team.ActViewBilling, Handle: s.getAutoRecharge},
		{Pattern: "PUT /api/v1/workspaces/{id}/auto-recharge", Need: team.ActManageBilling, Handle: s.putAutoRecharge},
		{Pattern: "GET /api/v1/workspaces/{id}/billing-details", Need: team.ActViewBilling, Handle: s.getBillingDetails},
		{Pattern: "PUT /api/v1/workspaces/{id}/billing-details", Need: team.ActManageBilling, Handle: s.putBillingDetails},
		{Pattern: "POST /api/v1/workspaces/{id}/notices/{notice_id}/dismiss", Need: team.ActManageBilling, Handle: s.dismissNotice},

		{Pattern: "POST /api/v1/workspaces/{id}/payments", Need: team.ActOperate, Handle: s.recordPayment},
		{Pattern: "POST /api/v1/redemption-codes", Need: team.ActOperate, Handle: s.createCodes},
		{Pattern: "GET /api/v1/redemption-codes", Need: team.ActOperate, Handle: s.listCodeBatches},
		{Pattern: "GET /api/v1/redemption-codes/batches/{batch_id}", Need: team.ActOperate, Handle: s.listBatchCodes},
		{Pattern: "POST /api/v1/redemption-codes/{code_id}/disable", Need: team.ActOperate, Handle: s.disableCode},
		{Pattern: "POST /api/v1/workspaces/{id}/statements", Need: team.ActOperate, Handle: s.issueStatement},
		{Pattern: "POST /api/v1/statements", Need: team.ActOperate, Handle: s.issueStatements},
		{Pattern: "POST /api/v1/workspaces/{id}/invoices/{invoice_id}/credit-note", Need: team.ActOperate, Handle: s.creditNote},
	})
}

// OpenAPI is billing's part of the API description: {"paths":…,"components":{"schemas":…}},
// to merge into the core document (its $refs to Error and Amount point at the core's schemas).
//
//go:embed openapi.json
var OpenAPI []byte
