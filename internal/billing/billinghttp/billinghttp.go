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
)

// Auth decides who may call billing's routes; the API (or the dashboard) implements it.
type Auth interface {
	// RequireOperator lets a request through only for the operator.
	RequireOperator(http.Handler) http.Handler
	// Workspace returns nil when the request may act on workspace id with the given need
	// ("read" or "billing"); else an *errs.Error (401/403/404).
	Workspace(r *http.Request, workspaceID string, need string) error
}

// Needs passed to Auth.Workspace.
const (
	NeedRead    = "read"    // see balances, documents, settings
	NeedBilling = "billing" // pay, redeem, change billing settings (owner, admin, billing roles)
)

// access says who may call a route.
type access int

const (
	public   access = iota // Stripe's webhook: authenticated by its signature
	reader                 // Auth.Workspace(id, "read")
	payer                  // Auth.Workspace(id, "billing")
	operator               // Auth.RequireOperator
)

type route struct {
	pattern string
	access  access
	handle  handlerFunc
}

// handlerFunc is a handler that reports failure by returning an error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type server struct {
	svc  *billing.Service
	auth Auth
	log  *slog.Logger
}

// Register mounts every billing route on mux.
func Register(mux *http.ServeMux, svc *billing.Service, auth Auth) {
	s := &server{svc: svc, auth: auth, log: svc.Logger()}
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.guard(rt.access, rt.handle))
	}
}

// Patterns returns every route billing serves ("POST /webhooks/stripe", …), for the
// API's OpenAPI coverage test and for documentation.
func Patterns() []string {
	var out []string
	for _, rt := range (&server{}).routes() {
		out = append(out, rt.pattern)
	}
	return out
}

// routes is every route billing serves, in one table.
func (s *server) routes() []route {
	return []route{
		{"POST /webhooks/stripe", public, s.stripeWebhook},

		{"GET /api/v1/workspaces/{id}/billing", reader, s.overview},
		{"POST /api/v1/workspaces/{id}/checkout", payer, s.checkout},
		{"POST /api/v1/workspaces/{id}/checkout/{session_id}/confirm", payer, s.confirmCheckout},
		{"POST /api/v1/workspaces/{id}/redeem", payer, s.redeem},
		{"GET /api/v1/workspaces/{id}/invoices", reader, s.listInvoices},
		{"GET /api/v1/workspaces/{id}/invoices/{file}", reader, s.getInvoice},
		{"GET /api/v1/workspaces/{id}/auto-recharge", reader, s.getAutoRecharge},
		{"PUT /api/v1/workspaces/{id}/auto-recharge", payer, s.putAutoRecharge},
		{"GET /api/v1/workspaces/{id}/billing-details", reader, s.getBillingDetails},
		{"PUT /api/v1/workspaces/{id}/billing-details", payer, s.putBillingDetails},
		{"POST /api/v1/workspaces/{id}/notices/{notice_id}/dismiss", payer, s.dismissNotice},

		{"POST /api/v1/workspaces/{id}/payments", operator, s.recordPayment},
		{"POST /api/v1/redemption-codes", operator, s.createCodes},
		{"POST /api/v1/workspaces/{id}/statements", operator, s.issueStatement},
		{"POST /api/v1/statements", operator, s.issueStatements},
		{"POST /api/v1/workspaces/{id}/invoices/{invoice_id}/credit-note", operator, s.creditNote},
	}
}

// guard authorises a request for a route of access a, then runs h.
func (s *server) guard(a access, h handlerFunc) http.Handler {
	run := s.serve(h)
	switch a {
	case operator:
		return s.auth.RequireOperator(run)
	case reader, payer:
		need := NeedRead
		if a == payer {
			need = NeedBilling
		}
		return s.serve(func(w http.ResponseWriter, r *http.Request) error {
			if err := s.auth.Workspace(r, r.PathValue("id"), need); err != nil {
				return err
			}
			return h(w, r)
		})
	}
	return run
}

// serve runs h and writes its error, if any. A request whose path or query breaks the
// text rule is refused first (400 invalid_text).
func (s *server) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := httpjson.RequestText(r); err != nil {
			writeError(w, s.log, err)
			return
		}
		if err := h(w, r); err != nil {
			writeError(w, s.log, err)
		}
	})
}

// OpenAPI is billing's part of the API description: {"paths":…,"components":{"schemas":…}},
// to merge into the core document (its $refs to Error and Amount point at the core's schemas).
//
//go:embed openapi.json
var OpenAPI []byte
