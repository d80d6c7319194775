// Package web is Spectra's dashboard: server-rendered pages (html/template, with htmx
// for partial updates and uPlot for charts, all embedded) where usage, cost, balance and
// the billing entry points stay on one path. Pages read the domain services — metering
// rollups, the ledger, team — never SQL, and never raw events for aggregates (the request
// log is the only page of raw events).
package web

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"spectra/internal/audit"
	"spectra/internal/billing"
	"spectra/internal/budget"
	"spectra/internal/console"
	"spectra/internal/httpjson"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/notify"
	"spectra/internal/pricing"
	"spectra/internal/requestlog"
	"spectra/internal/team"
)

// Deps is what the dashboard needs; cmd/spectra wires it.
type Deps struct {
	Team     *team.Service
	Accounts *team.Accounts
	Ledger   *ledger.Service
	Metering *metering.Service
	Prices   pricing.Store
	// Billing serves recharge, redemption codes, auto-recharge, billing details and
	// invoices; nil shows the placeholders of a deployment without billing.
	Billing *billing.Service
	// Notify manages webhook endpoints and lists deliveries on the Settings page; nil
	// shows that webhooks are not available.
	Notify *notify.Service
	// Budget serves budgets, alerts, the low-balance line and the forecast; nil hides
	// the Budgets page and the forecast.
	Budget *budget.Service
	// Invitations serves the Members page's invite form and the /invite/{token} page;
	// nil hides the form.
	Invitations *team.Invitations
	// Requests is the request log (usage events and refused requests); nil shows the
	// usage events alone.
	Requests *requestlog.Service
	// Audit is the operator's audit log and Console the deployment-wide figures of the
	// operator's console (/admin, admin.go); nil answers those pages 503.
	Audit   *audit.Service
	Console *console.Service
	// Upstreams is the gateway's upstream registry for the console's Upstreams page
	// (admin_upstreams.go; *gateway.Gateway); nil shows that the gateway is not running.
	Upstreams UpstreamAdmin

	Currency string // e.g. "USD"
	Now      func() time.Time
	Log      *slog.Logger

	// SecureCookies marks cookies Secure (set it behind TLS).
	SecureCookies bool
	// OperatorTokenHash is the hex SHA-256 of the operator's admin token; a request with
	// "Authorization: Bearer <token>" is then the operator. Empty disables it.
	OperatorTokenHash string
}

// Server serves the dashboard. Build it with New and mount it with Register.
type Server struct {
	team     *team.Service
	accounts *team.Accounts
	ledger   *ledger.Service
	metering *metering.Service
	prices   pricing.Store
	bill     *billing.Service  // nil without billing
	notify   *notify.Service   // nil without notifications
	budget   *budget.Service   // nil without budgets
	invites  *team.Invitations // nil without invitations
	reqlog   *requestlog.Service
	auditLog *audit.Service   // nil without the console
	console  *console.Service // nil without the console
	// upstreams is the gateway's registry (admin_upstreams.go); nil without the gateway.
	upstreams UpstreamAdmin

	currency string
	now      func() time.Time
	log      *slog.Logger
	secure   bool
	opHash   string
	pages    map[string]*template.Template
	assets   *assets
	limiter  *loginLimiter
	// checkoutOrigin is where the Recharge form's redirect may go (CSP form-action).
	checkoutOrigin string
	loginWait      time.Duration // Retry-After for a rate-limited login
}

// New returns a Server over d. It parses every template and hashes every asset at
// start, so a missing or broken view is a startup error.
func New(d Deps) (*Server, error) {
	if d.Team == nil || d.Accounts == nil || d.Ledger == nil || d.Metering == nil {
		return nil, errors.New("web: Team, Accounts, Ledger and Metering are required")
	}
	s := &Server{team: d.Team, accounts: d.Accounts, ledger: d.Ledger, metering: d.Metering, prices: d.Prices, bill: d.Billing,
		budget: d.Budget, notify: d.Notify, invites: d.Invitations, auditLog: d.Audit, console: d.Console, upstreams: d.Upstreams,
		currency: d.Currency, now: d.Now, log: d.Log, secure: d.SecureCookies,
		opHash: strings.ToLower(strings.TrimSpace(d.OperatorTokenHash))}
	if s.reqlog = d.Requests; s.reqlog == nil {
		s.reqlog = requestlog.NewService(d.Metering, nil, nil)
	}
	if s.currency == "" {
		s.currency = "USD"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	var err error
	if s.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if s.pages, err = parsePages(s.funcs()); err != nil {
		return nil, err
	}
	s.checkoutOrigin = stripeCheckoutOrigin
	s.limiter = newLoginLimiter(loginMaxFailures, loginWindow, s.now)
	s.loginWait = loginWindow
	return s, nil
}

// route is one line of the routing table.
type route struct {
	pattern string
	handler http.Handler
}

// routes is every page the dashboard serves, in one table.
func (s *Server) routes() []route {
	return append(s.adminRoutes(), []route{ // the operator's console: admin.go
		{"GET /static/{hash}/{file...}", http.HandlerFunc(s.serveAsset)},

		{"GET /{$}", s.signedIn(s.home)},
		{"GET /login", s.public(s.loginPage)},
		{"POST /login", s.public(s.login)},
		{"POST /logout", s.signedIn(s.logout)},
		{"GET /setup", s.public(s.setupPage)},
		{"POST /setup", s.public(s.setup)},
		{"GET /switch", s.signedIn(s.switchWorkspace)},

		{"GET /w/{ws}/{$}", s.page(team.ActViewUsage, s.overview)},
		{"GET /w/{ws}/usage", s.page(team.ActViewUsage, s.usage)},
		{"GET /w/{ws}/usage.csv", s.page(team.ActViewUsage, s.usageCSV)},
		{"GET /w/{ws}/requests", s.page(team.ActViewUsage, s.requests)},
		{"GET /w/{ws}/requests/{request_id}", s.page(team.ActViewUsage, s.request)},
		{"GET /w/{ws}/billing", s.page(team.ActViewBilling, s.billing)},
		{"GET /w/{ws}/billing/transactions.csv", s.page(team.ActViewBilling, s.transactionsCSV)},
		{"POST /w/{ws}/billing/checkout", s.page(team.ActManageBilling, s.checkout)},
		{"POST /w/{ws}/billing/redeem", s.page(team.ActManageBilling, s.redeem)},
		{"POST /w/{ws}/billing/auto-recharge", s.page(team.ActManageBilling, s.setAutoRecharge)},
		{"POST /w/{ws}/billing/details", s.page(team.ActManageBilling, s.setBillingDetails)},
		{"POST /w/{ws}/billing/notices/{notice}/dismiss", s.page(team.ActManageBilling, s.dismissNotice)},
		{"GET /w/{ws}/invoices", s.page(team.ActViewBilling, s.invoices)},
		{"GET /w/{ws}/invoices/{file}", s.page(team.ActViewBilling, s.invoicePDF)},
		{"GET /w/{ws}/keys", s.page(team.ActViewUsage, s.keys)},
		{"POST /w/{ws}/keys", s.page(team.ActManageOwnKeys, s.createKey)},
		{"POST /w/{ws}/keys/{key}/revoke", s.page(team.ActManageOwnKeys, s.revokeKey)},
		{"GET /w/{ws}/budgets", s.page(team.ActViewUsage, s.budgets)},
		{"POST /w/{ws}/budgets", s.page(team.ActManageBudgets, s.createBudget)},
		{"POST /w/{ws}/budgets/low-balance", s.page(team.ActManageBudgets, s.setLowBalanceLine)},
		{"POST /w/{ws}/budgets/{budget}/edit", s.page(team.ActManageBudgets, s.updateBudget)},
		{"POST /w/{ws}/budgets/{budget}/delete", s.page(team.ActManageBudgets, s.deleteBudget)},
		{"GET /w/{ws}/members", s.page(team.ActViewUsage, s.members)},
		{"POST /w/{ws}/members/{user}/role", s.page(team.ActManageMembers, s.setRole)},
		{"GET /w/{ws}/settings", s.page(team.ActViewUsage, s.settings)},
		{"POST /w/{ws}/settings/timezone", s.page(team.ActManageWorkspace, s.setTimezone)},
		{"POST /w/{ws}/settings/webhooks", s.page(team.ActManageWebhooks, s.createWebhook)},
		{"POST /w/{ws}/settings/webhooks/{hook}/enabled", s.page(team.ActManageWebhooks, s.setWebhookEnabled)},
		{"POST /w/{ws}/settings/webhooks/{hook}/delete", s.page(team.ActManageWebhooks, s.deleteWebhook)},
		{"POST /w/{ws}/settings/webhooks/{hook}/rotate", s.page(team.ActManageWebhooks, s.rotateWebhook)},
		{"POST /w/{ws}/settings/webhooks/{hook}/test", s.page(team.ActManageWebhooks, s.testWebhook)},
		{"POST /w/{ws}/members/{user}/remove", s.page(team.ActManageMembers, s.removeMember)},
		{"POST /w/{ws}/members/invite", s.page(team.ActManageMembers, s.invite)},
		{"POST /w/{ws}/members/invitations/{inv}/revoke", s.page(team.ActManageMembers, s.revokeInvitation)},
		{"GET /invite/{token}", s.public(s.invitePage)},
		{"POST /invite/{token}", s.public(s.acceptInvite)},
		{"GET /w/{ws}/", s.page(team.ActViewUsage, s.pageNotFound)},
		{"/w/", s.signedIn(s.notFound)},
	}...)
}

// Register mounts every dashboard route on mux.
func (s *Server) Register(mux *http.ServeMux) {
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.secureHeaders(rt.handler))
	}
}

// secureHeaders sets the headers every dashboard response carries.
func (s *Server) secureHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		formAction := "'self'"
		if s.bill != nil && s.bill.Options().StripeReady {
			// The Recharge form's answer redirects to Stripe Checkout.
			formAction += " " + s.checkoutOrigin
		}
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action "+formAction)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		// A NUL or control character in a path id (a key, budget, webhook or invitation)
		// or a query parameter is refused before any handler looks it up.
		if err := httpjson.RequestText(r); err != nil {
			s.fail(w, r, nil, nil, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}
