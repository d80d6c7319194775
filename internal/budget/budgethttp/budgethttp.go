// Package budgethttp serves budgets, alerts, the low-balance line and the spend forecast
// as JSON under /api/v1/workspaces/{id}/…. Handlers hold no rules: they authorise,
// decode, call budget.Service and encode. Amounts are decimal strings with six decimals
// and the object's "currency"; errors have the API's shape {"error":{"code","message"}}.
package budgethttp

import (
	_ "embed" // OpenAPI
	"log/slog"
	"net/http"
	"strconv"

	"spectra/internal/budget"
	"spectra/internal/errs"
	"spectra/internal/httpjson"
	"spectra/internal/money"
	"spectra/internal/team"
)

// Auth decides who may call the routes; the API implements it (api.Server).
type Auth interface {
	// Workspace returns nil when the request may do need (team.ActViewBilling or
	// team.ActManageBudgets) on workspace id; else an *errs.Error (401/403/404).
	Workspace(r *http.Request, workspaceID string, need team.Action) error
}

// MaxBody is the largest request body read.
const MaxBody = 64 << 10

type server struct {
	svc *budget.Service
	log *slog.Logger
}

// Register mounts every budget route on mux.
func Register(mux *http.ServeMux, svc *budget.Service, auth Auth) {
	s := &server{svc: svc, log: svc.Logger()}
	httpjson.Mount(mux, s.log, s.routes(), httpjson.Guards{Workspace: auth.Workspace})
}

// Patterns returns every route served, for OpenAPI coverage tests and documentation.
func Patterns() []string { return httpjson.Patterns((&server{}).routes()) }

// routes is every route served, in one table that says who may call each: view_billing
// to see budgets, alerts, settings and the forecast, manage_budgets to create, change
// and delete budgets and set the low-balance line (cost control).
func (s *server) routes() []httpjson.Route {
	return []httpjson.Route{
		{Pattern: "POST /api/v1/workspaces/{id}/budgets", Need: team.ActManageBudgets, Handle: s.create},
		{Pattern: "GET /api/v1/workspaces/{id}/budgets", Need: team.ActViewBilling, Handle: s.list},
		{Pattern: "GET /api/v1/workspaces/{id}/budgets/{budget_id}", Need: team.ActViewBilling, Handle: s.get},
		{Pattern: "PATCH /api/v1/workspaces/{id}/budgets/{budget_id}", Need: team.ActManageBudgets, Handle: s.update},
		{Pattern: "DELETE /api/v1/workspaces/{id}/budgets/{budget_id}", Need: team.ActManageBudgets, Handle: s.remove},
		{Pattern: "GET /api/v1/workspaces/{id}/alerts", Need: team.ActViewBilling, Handle: s.alerts},
		{Pattern: "GET /api/v1/workspaces/{id}/alert-settings", Need: team.ActViewBilling, Handle: s.getSettings},
		{Pattern: "PUT /api/v1/workspaces/{id}/alert-settings", Need: team.ActManageBudgets, Handle: s.putSettings},
		{Pattern: "GET /api/v1/workspaces/{id}/usage/forecast", Need: team.ActViewBilling, Handle: s.forecast},
	}
}

// OpenAPI is this package's part of the API description ({"paths":…,"components":…}),
// merged into /api/v1/openapi.json; its $refs to Error and Amount point at the core's schemas.
//
//go:embed openapi.json
var OpenAPI []byte

// budgetView is a budget with its status and currency.
type budgetView struct {
	budget.Status
	Currency string `json:"currency"`
}

type budgetBody struct {
	Name       *string `json:"name"`
	Scope      *string `json:"scope"`
	ScopeID    *string `json:"scope_id"`
	Amount     *string `json:"amount"`
	Period     *string `json:"period"`
	Thresholds *[]int  `json:"thresholds"`
	HardLimit  *bool   `json:"hard_limit"`
}

// create is POST /api/v1/workspaces/{id}/budgets
// {"name","scope","scope_id","amount":"100.00","period","thresholds":[50,80,100],"hard_limit"}.
func (s *server) create(w http.ResponseWriter, r *http.Request) error {
	var body budgetBody
	if err := decode(w, r, &body); err != nil {
		return err
	}
	b := budget.Budget{WorkspaceID: r.PathValue("id"), Name: deref(body.Name), Scope: budget.Scope(deref(body.Scope)),
		ScopeID: deref(body.ScopeID), Period: budget.Period(deref(body.Period)), HardLimit: body.HardLimit != nil && *body.HardLimit}
	if body.Thresholds != nil {
		b.Thresholds = *body.Thresholds
		if b.Thresholds == nil {
			b.Thresholds = []int{}
		}
	}
	if body.Amount == nil {
		return budget.ErrInvalidAmount
	}
	var err error
	if b.Amount, err = parseAmount(*body.Amount); err != nil {
		return err
	}
	if b, err = s.svc.Create(r.Context(), b); err != nil {
		return err
	}
	st, err := s.svc.Status(r.Context(), b.WorkspaceID, b.ID)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusCreated, budgetView{st, s.svc.Currency()})
	return nil
}

// list is GET /api/v1/workspaces/{id}/budgets: every budget with its status.
func (s *server) list(w http.ResponseWriter, r *http.Request) error {
	sts, err := s.svc.Statuses(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]budgetView, len(sts))
	for i, st := range sts {
		out[i] = budgetView{st, s.svc.Currency()}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"object": "list", "data": out})
	return nil
}

// get is GET /api/v1/workspaces/{id}/budgets/{budget_id}.
func (s *server) get(w http.ResponseWriter, r *http.Request) error {
	st, err := s.svc.Status(r.Context(), r.PathValue("id"), r.PathValue("budget_id"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, budgetView{st, s.svc.Currency()})
	return nil
}

// update is PATCH /api/v1/workspaces/{id}/budgets/{budget_id}: name, amount, period,
// thresholds, hard_limit (fields left out stay; scope cannot change).
func (s *server) update(w http.ResponseWriter, r *http.Request) error {
	var body budgetBody
	if err := decode(w, r, &body); err != nil {
		return err
	}
	if body.Scope != nil || body.ScopeID != nil {
		return errs.E(errs.Invalid, "scope_immutable", "a budget's scope cannot change; delete it and create another")
	}
	u := budget.Update{Name: body.Name, Thresholds: body.Thresholds, HardLimit: body.HardLimit}
	if body.Period != nil {
		p := budget.Period(*body.Period)
		u.Period = &p
	}
	if body.Amount != nil {
		a, err := parseAmount(*body.Amount)
		if err != nil {
			return err
		}
		u.Amount = &a
	}
	ws, id := r.PathValue("id"), r.PathValue("budget_id")
	if _, err := s.svc.Update(r.Context(), ws, id, u); err != nil {
		return err
	}
	st, err := s.svc.Status(r.Context(), ws, id)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, budgetView{st, s.svc.Currency()})
	return nil
}

// remove is DELETE /api/v1/workspaces/{id}/budgets/{budget_id}: 204.
func (s *server) remove(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Delete(r.Context(), r.PathValue("id"), r.PathValue("budget_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// alerts is GET /api/v1/workspaces/{id}/alerts?limit=100: newest first.
func (s *server) alerts(w http.ResponseWriter, r *http.Request) error {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return budget.ErrInvalidLimit
		}
		limit = n
	}
	as, err := s.svc.Alerts(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"object": "list", "data": as})
	return nil
}

type settingsView struct {
	LowBalanceLine money.Amount `json:"low_balance_line"` // "0.000000": off
	Armed          bool         `json:"armed"`
	Crossings      int64        `json:"crossings"`
	Currency       string       `json:"currency"`
}

func (s *server) settings(l budget.LowBalance) settingsView {
	return settingsView{l.Line, l.Armed, l.Crossings, s.svc.Currency()}
}

// getSettings is GET /api/v1/workspaces/{id}/alert-settings.
func (s *server) getSettings(w http.ResponseWriter, r *http.Request) error {
	l, err := s.svc.LowBalance(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, s.settings(l))
	return nil
}

// putSettings is PUT /api/v1/workspaces/{id}/alert-settings {"low_balance_line":"10.00"}
// ("0" turns the line off).
func (s *server) putSettings(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		LowBalanceLine *string `json:"low_balance_line"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	if body.LowBalanceLine == nil {
		return errs.E(errs.Invalid, "invalid_low_balance_line", "low_balance_line is required, as a decimal string such as \"10.00\" (\"0\" turns it off)")
	}
	line, err := money.Parse(*body.LowBalanceLine)
	if err != nil {
		return errs.E(errs.Invalid, "invalid_low_balance_line", "low_balance_line: %v", err)
	}
	l, err := s.svc.SetLowBalanceLine(r.Context(), r.PathValue("id"), line)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, s.settings(l))
	return nil
}

// forecast is GET /api/v1/workspaces/{id}/usage/forecast.
func (s *server) forecast(w http.ResponseWriter, r *http.Request) error {
	f, err := s.svc.Forecast(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, struct {
		budget.Forecast
		Currency string `json:"currency"`
	}{f, s.svc.Currency()})
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func parseAmount(s string) (money.Amount, error) {
	a, err := money.ParsePositive(s)
	if err != nil {
		return 0, errs.E(errs.Invalid, "invalid_amount", "amount: %v (a decimal string such as \"100.00\", greater than zero)", err)
	}
	return a, nil
}

// decode reads one JSON object of at most MaxBody bytes into v, refusing unknown fields
// and trailing data.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return httpjson.Decoder{Limit: MaxBody}.Decode(w, r, v)
}
