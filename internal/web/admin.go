package web

// The operator's console: every page under /admin.
//
// Who sees it: the operator only (an operator account, or the admin bearer token). Any
// other signed-in viewer — a member, an owner — gets 404 not_found on every /admin URL,
// the same page as an unknown URL, so the console's existence is not revealed; a visitor
// who is not signed in is sent to the login page, as for any dashboard URL.
//
// Adding a console page (H2: Prices, Upstreams, Codes) takes three steps:
//
//  1. Route line: add it to adminRoutes below, wrapped in s.admin(...), e.g.
//     {"GET /admin/prices", s.admin(s.adminPrices)},
//     {"POST /admin/prices", s.admin(s.adminAddPrice)},
//     A handler is func(w http.ResponseWriter, r *http.Request, a *adminRequest) error;
//     POSTs have had their CSRF token checked and their form parsed already (as on every
//     dashboard form: <input type="hidden" name="csrf" value="{{.CSRFToken}}">). A
//     returned error renders the error page with its status (errs kinds), in the layout.
//     The table-driven test TestAdminRoutesNotFoundForNonOperators (admin_test.go)
//     walks adminRoutes, so a new route is checked for the 404 without more work.
//  2. Template: templates/admin_<name>.html defining "content" (the layout draws the
//     console's nav above it); add "<name>" to adminPageNames, then
//     render with s.render(w, r, http.StatusOK, "admin_<name>", data) where data embeds
//     adminBase from a.base("Title", "<nav key>").
//  3. Nav entry: add it to adminNav (Workspaces, Prices, Upstreams, Codes, Activity,
//     Audit); its Key is the nav key given to a.base, which marks it current.
//
// Every console action calls the same domain service as the API's route for it, with
// the same idempotency and errors, and records an audit entry (s.audited); no business
// rule lives here.

import (
	"errors"
	"net/http"
	"time"
)

// adminRoutes is every console route. Each is wrapped in s.admin, which answers 404 to
// anyone but the operator.
func (s *Server) adminRoutes() []route {
	return []route{
		{"GET /admin", s.admin(s.adminHome)},
		{"GET /admin/{$}", s.admin(s.adminHome)},
		{"GET /admin/workspaces", s.admin(s.adminWorkspaces)},
		{"POST /admin/workspaces", s.admin(s.adminCreateWorkspace)},
		{"GET /admin/workspaces/{ws}", s.admin(s.adminWorkspace)},
		{"POST /admin/workspaces/{ws}/grant", s.admin(s.adminGrant)},
		{"POST /admin/workspaces/{ws}/payment", s.admin(s.adminPayment)},
		{"POST /admin/workspaces/{ws}/credit-note", s.admin(s.adminCreditNote)},
		{"POST /admin/workspaces/{ws}/overdraft", s.admin(s.adminOverdraft)},
		{"POST /admin/workspaces/{ws}/timezone", s.admin(s.adminTimezone)},
		{"POST /admin/workspaces/{ws}/price-list", s.admin(s.adminAssignPriceList)},
		{"GET /admin/activity", s.admin(s.adminActivity)},
		{"GET /admin/audit", s.admin(s.adminAudit)},
		{"GET /admin/prices", s.admin(s.adminPrices)},
		{"POST /admin/prices", s.admin(s.adminAddPrice)},
		{"POST /admin/prices/import", s.admin(s.adminImportPrices)},
		{"GET /admin/price-lists", s.admin(s.adminPriceLists)},
		{"POST /admin/price-lists", s.admin(s.adminCreatePriceList)},
		{"GET /admin/price-lists/{name}", s.admin(s.adminPriceList)},
		{"POST /admin/price-lists/{name}/prices", s.admin(s.adminAddListVersion)},
		{"GET /admin/upstreams", s.admin(s.adminUpstreams)},
		{"POST /admin/upstreams", s.admin(s.adminSaveUpstream)},
		{"POST /admin/upstreams/{name}/test", s.admin(s.adminTestUpstream)},
		{"POST /admin/upstreams/{name}/delete", s.admin(s.adminDeleteUpstream)},
		{"GET /admin/codes", s.admin(s.adminCodes)},
		{"POST /admin/codes", s.admin(s.adminCreateCodes)},
		{"POST /admin/codes/{code}/disable", s.admin(s.adminDisableCode)},
		{"GET /admin/codes/{batch}/export.csv", s.admin(s.adminExportCodes)},
		{"/admin/", s.admin(s.adminNotFound)},
	}
}

// adminPageNames are the console's views: templates/admin_<name>.html each, parsed with
// the shared layout (which draws the console's nav from adminBase.AdminNav) and partials.
var adminPageNames = []string{"workspaces", "workspace", "activity", "audit", "prices", "price_lists", "upstreams", "codes"}

// adminNavEntry is one entry of the console's nav.
type adminNavEntry struct {
	Key, Label, Path string
}

// adminNav is the console's nav, in order.
var adminNav = []adminNavEntry{
	{"workspaces", "Workspaces", "/admin/workspaces"},
	{"prices", "Prices", "/admin/prices"},
	{"price-lists", "Price lists", "/admin/price-lists"},
	{"upstreams", "Upstreams", "/admin/upstreams"},
	{"codes", "Codes", "/admin/codes"},
	{"activity", "Activity", "/admin/activity"},
	{"audit", "Audit", "/admin/audit"},
}

// adminRequest is a request of the operator inside the console.
type adminRequest struct {
	s   *Server
	V   *viewer
	Now time.Time
}

// Actor names the operator in the audit log: the account's email, or "admin-token".
func (a *adminRequest) Actor() string {
	if a.V.Bearer || a.V.User.Email == "" {
		return "admin-token"
	}
	return a.V.User.Email
}

// adminBase is the layout data of a console page: pageBase with AdminNav set, which
// makes the layout draw the console's nav.
type adminBase struct {
	pageBase
	Now time.Time // when the page is made (for the age of snapshot figures)
}

// base returns the layout data of a console page; nav is its adminNav key.
func (a *adminRequest) base(title, nav string) adminBase {
	b := adminBase{pageBase: a.s.base(title, a.V, nil), Now: a.s.now()}
	b.Nav, b.AdminNav = nav, adminNav
	return b
}

// adminHandler serves a console page.
type adminHandler func(w http.ResponseWriter, r *http.Request, a *adminRequest) error

// errAdminNotFound is every refusal of the console to a non-operator: the same code and
// message as an unknown URL, so nothing tells the console exists.
var errAdminNotFound = errNotFound

// admin wraps h: signed in (else the login page), the operator only (else 404
// not_found, decided before anything else is checked, so a POST without a CSRF token
// gets the same 404 as one with it), then, on POST, the form read and its CSRF token
// checked as on every dashboard form.
func (s *Server) admin(h adminHandler) http.Handler {
	return s.public(func(w http.ResponseWriter, r *http.Request) error {
		v, err := s.identify(r)
		if errors.Is(err, errNotSignedIn) {
			s.toLogin(w, r)
			return nil
		}
		if err != nil {
			return err
		}
		if !v.User.Operator {
			s.fail(w, r, v, nil, errAdminNotFound)
			return nil
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := parseForm(r); err != nil { // as signedIn: multipart within the bound too
				return errBadForm
			}
			if err := checkCSRF(r, v); err != nil {
				return err
			}
		}
		return h(w, r, &adminRequest{s: s, V: v, Now: s.now()})
	})
}

// adminHome opens the console on its first page.
func (s *Server) adminHome(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	http.Redirect(w, r, "/admin/workspaces", http.StatusSeeOther)
	return nil
}

// adminNotFound answers an unknown console URL (to the operator).
func (s *Server) adminNotFound(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	return errNotFound
}

// adminViews returns the view names of the console's pages ("admin_<name>"), which
// parsePages parses with the others.
func adminViews() []string {
	out := make([]string, len(adminPageNames))
	for i, n := range adminPageNames {
		out[i] = "admin_" + n
	}
	return out
}

// When formats t for the console, in UTC (the console spans every workspace's zone);
// "never" for the zero time.
func (adminBase) When(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04") + " UTC"
}

// AsOf is when figures read at t were read, as the page says it: "06:12:03 UTC", with
// the date when it is not the page's UTC date, and the age when it is a minute or more.
func (b adminBase) AsOf(t time.Time) string {
	if t.IsZero() {
		return "now"
	}
	out := t.UTC().Format("15:04:05") + " UTC"
	if t.UTC().Format(time.DateOnly) != b.Now.UTC().Format(time.DateOnly) {
		out = t.UTC().Format("2006-01-02 15:04:05") + " UTC"
	}
	if age := b.Now.Sub(t); age >= time.Minute {
		out += " (" + age.Truncate(time.Second).String() + " ago)"
	}
	return out
}

// Zones are the time zones the console's forms suggest (any IANA name is taken).
func (adminBase) Zones() []string {
	return []string{"UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York", "America/Chicago", "America/Los_Angeles",
		"America/Sao_Paulo", "Asia/Tokyo", "Asia/Shanghai", "Asia/Kolkata", "Asia/Singapore", "Australia/Sydney"}
}
