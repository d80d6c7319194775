package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"spectra/internal/budget"
	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/team"
)

// budgetRow is one budget of the budgets page, with its progress bar.
type budgetRow struct {
	budget.Status
	ScopeLabel  string // "Whole workspace", "Project prod", "Key ci-pipeline", …
	PeriodLabel string // "Monthly", "All time", …
	Resets      string // when the period ends, in the workspace's time zone ("" for all time)
	Level       string // "ok", "warn" or "over": see budgetLevel
	LevelText   string // the colour's reason, for people (the row's title)
	Bar         progressBar
	Requests    string     // the request log of the requests this budget counts, in its current period
	Edit        budgetForm // the edit form's values
	EditError   string     // why the last edit of this budget was refused
}

// progressBar is the geometry of a budget's bar, as SVG percentages (the CSP allows no
// inline styles): the spend, the projection at the period's end, and the amount, each
// on one scale that fits the largest of them.
type progressBar struct {
	Spent, Projected, Limit string // widths and positions, e.g. "37.5%"
	ProjectedPct            int64  // the projection as a whole percent of the amount
	OverLimit               bool   // the scale is wider than the amount (something passed it)
}

// alertRow is one alert as the dashboard lists it.
type alertRow struct {
	budget.Alert
	Time string
}

// budgetsData is what the budgets page shows.
type budgetsData struct {
	pageBase
	Budgets    []budgetRow
	Alerts     []alertRow
	LowBalance budget.LowBalance
	Forecast   budget.Forecast
	Month      string // the forecast's month, e.g. "June"
	CanManage  bool
	Scopes     []option // what a new budget may apply to
	Periods    []option
	Error      string
	Form       budgetForm
	Saved      string // a confirmation after a change
	LineValue  string // the low-balance line as the form shows it ("5.00"; "" when off)
}

// budgetForm is the create or edit form's input, kept to show it again after an error.
type budgetForm struct {
	Name, Scope, Amount, Period, Thresholds string
	HardLimit                               bool
}

// budgetPeriods are the periods a budget may have, for the form and labels.
var budgetPeriods = []option{
	{Value: string(budget.PeriodDay), Label: "Daily"},
	{Value: string(budget.PeriodWeek), Label: "Weekly (from Monday)"},
	{Value: string(budget.PeriodMonth), Label: "Monthly"},
	{Value: string(budget.PeriodAllTime), Label: "All time"},
}

// budgets lists the workspace's budgets with their progress and projection, the recent
// alerts, the low-balance line and the month's forecast.
func (s *Server) budgets(w http.ResponseWriter, r *http.Request, rq *request) error {
	d, err := s.budgetsPage(r, rq)
	if err != nil {
		return err
	}
	switch r.URL.Query().Get("saved") {
	case "budget":
		d.Saved = "Budget saved."
	case "deleted":
		d.Saved = "Budget deleted."
	case "updated":
		d.Saved = "Budget updated."
	case "line":
		d.Saved = "Low-balance line saved."
	}
	return s.render(w, r, http.StatusOK, "budgets", d)
}

func (s *Server) budgetsPage(r *http.Request, rq *request) (budgetsData, error) {
	if s.budget == nil {
		return budgetsData{}, errNotFound
	}
	ctx := r.Context()
	id := rq.Workspace.ID
	var (
		statuses []budget.Status
		alerts   []budget.Alert
		names    labeler
	)
	d := budgetsData{pageBase: rq.base("Budgets", "budgets"), CanManage: rq.Can(team.ActManageBudgets), Periods: budgetPeriods,
		Form: budgetForm{Period: string(budget.PeriodMonth), Thresholds: "50, 80, 100"}}
	err := parallel(
		func() (err error) { statuses, err = s.budget.Statuses(ctx, id); return err },
		func() (err error) { alerts, err = s.budget.Alerts(ctx, id, 20); return err },
		func() (err error) { d.LowBalance, err = s.budget.LowBalance(ctx, id); return err },
		func() (err error) { d.Forecast, err = s.budget.Forecast(ctx, id); return err },
		func() (err error) { names, err = rq.labels(ctx); return err },
	)
	if err != nil {
		return budgetsData{}, err
	}
	for _, st := range statuses {
		d.Budgets = append(d.Budgets, rq.budgetRow(st, names))
	}
	if d.LowBalance.Line > 0 {
		d.LineValue = decimal(d.LowBalance.Line, s.currency)
	}
	d.Alerts = alertRows(alerts, rq)
	d.Scopes = budgetScopes(names)
	d.Month = d.Forecast.MonthStart.In(rq.Loc).Format("January")
	return d, nil
}

// budgetRow labels a budget's status for people.
func (rq *request) budgetRow(st budget.Status, names labeler) budgetRow {
	row := budgetRow{Status: st, ScopeLabel: scopeLabel(st.Budget, names), Level: "ok", Bar: barOf(st)}
	for _, p := range budgetPeriods {
		if p.Value == string(st.Period) {
			row.PeriodLabel, _, _ = strings.Cut(p.Label, " (")
		}
	}
	if st.PeriodEnd != nil {
		row.Resets = st.PeriodEnd.In(rq.Loc).Format(layoutDateTime)
	}
	row.Level, row.LevelText = budgetLevel(st.Percent, row.Bar.ProjectedPct)
	row.Requests = rq.budgetRequests(st)
	row.Edit = budgetForm{Name: st.Name, Scope: string(st.Scope) + ":" + st.ScopeID, Amount: decimal(st.Amount, rq.s.currency),
		Period: string(st.Period), Thresholds: thresholdsText(st.Thresholds), HardLimit: st.HardLimit}
	return row
}

// budgetLevel colours a budget by the larger of its spend and its projection, each a
// percent of the amount: "ok" (green) under 80 %, "warn" (amber) from 80 % up to 100 %,
// "over" (red) from 100 %. It also says why, for the row's title.
func budgetLevel(spentPct, projectedPct int64) (level, why string) {
	pct := max(spentPct, projectedPct)
	switch {
	case spentPct >= 100:
		return "over", "Red: the spend has reached the amount"
	case pct >= 100:
		return "over", "Red: projected to pass the amount by the period's end"
	case pct >= 80:
		return "warn", "Amber: spent or projected at 80 % of the amount or more"
	}
	return "ok", "Green: spent and projected under 80 % of the amount"
}

// thresholdsText writes thresholds as the form reads them: "50, 80, 100".
func thresholdsText(ts []int) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = strconv.Itoa(t)
	}
	return strings.Join(parts, ", ")
}

// budgetRequests links to the request log of what a budget counts: its scope and its
// current period (all of time for an all-time budget), built as every drill-down link is.
func (rq *request) budgetRequests(st budget.Status) string {
	f := drillFilter{Loc: rq.Loc}
	switch st.Scope {
	case budget.ScopeKey:
		f.Key = st.ScopeID
	case budget.ScopeMember:
		f.Member = st.ScopeID
	case budget.ScopeProject:
		f.Project = st.ScopeID
	}
	if st.PeriodEnd != nil {
		f = f.bucket(st.PeriodStart, *st.PeriodEnd)
	}
	return requestsLink(rq.Workspace.ID, f)
}

// scopeLabel names what a budget counts.
func scopeLabel(b budget.Budget, names labeler) string {
	switch b.Scope {
	case budget.ScopeWorkspace:
		return "Whole workspace"
	case budget.ScopeProject:
		return "Project " + b.ScopeID
	case budget.ScopeMember:
		l, _ := names.label("member", b.ScopeID)
		return "Member " + l
	case budget.ScopeKey:
		l, _ := names.label("key", b.ScopeID)
		return "Key " + l
	}
	return string(b.Scope)
}

// budgetScopes are the choices of the form's "applies to": the workspace, each project
// of its keys, each member, each active key. A value is "scope:id".
func budgetScopes(names labeler) []option {
	out := []option{{Value: "workspace:", Label: "Whole workspace", Selected: true}}
	var projects []string
	for _, k := range names.keyList {
		if k.Project != "" && !slices.Contains(projects, k.Project) {
			projects = append(projects, k.Project)
		}
	}
	slices.Sort(projects)
	for _, p := range projects {
		out = append(out, option{Value: "project:" + p, Label: "Project · " + p})
	}
	for _, m := range names.memberList {
		out = append(out, option{Value: "member:" + m.UserID, Label: "Member · " + m.Name})
	}
	for _, k := range names.keyList {
		if k.Active() {
			out = append(out, option{Value: "key:" + k.ID, Label: "Key · " + k.Name})
		}
	}
	return out
}

// barOf scales a budget's spend, projection and amount onto one bar. Integer
// arithmetic in per-mille of the largest of the three; the amount is at most 100 %.
func barOf(st budget.Status) progressBar {
	scale := max(st.Amount, st.Spent, st.Projected)
	if scale <= 0 {
		return progressBar{Spent: "0%", Projected: "0%", Limit: "100%"}
	}
	b := progressBar{Spent: permille(st.Spent, scale), Projected: permille(st.Projected, scale), Limit: permille(st.Amount, scale),
		OverLimit: scale > st.Amount}
	if st.Amount > 0 && st.Projected > 0 {
		if int64(st.Projected) < (1<<63-1)/100 {
			b.ProjectedPct = int64(st.Projected) * 100 / int64(st.Amount)
		} else {
			b.ProjectedPct = int64(st.Projected) / max(int64(st.Amount)/100, 1)
		}
	}
	return b
}

// permille is part/whole as a percentage with one decimal, e.g. "37.5%" (part ≤ whole).
func permille(part, whole money.Amount) string {
	if part <= 0 {
		return "0%"
	}
	// part and whole are at most ~9.2e12 USD in micro-units; the product fits in int64
	// for any realistic budget, and the big case falls back to dividing first.
	var pm int64
	if int64(part) < (1<<63-1)/1000 {
		pm = int64(part) * 1000 / int64(whole)
	} else {
		pm = int64(part) / (int64(whole) / 1000)
	}
	pm = min(pm, 1000)
	return strconv.FormatInt(pm/10, 10) + "." + strconv.FormatInt(pm%10, 10) + "%"
}

// alertRows orders alerts newest first, and the higher threshold first among those of
// one moment (one evaluation records every threshold a jump of spend passed).
func alertRows(alerts []budget.Alert, rq *request) []alertRow {
	slices.SortStableFunc(alerts, func(a, b budget.Alert) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return b.Threshold - a.Threshold
	})
	out := make([]alertRow, 0, len(alerts))
	for _, a := range alerts {
		out = append(out, alertRow{Alert: a, Time: a.CreatedAt.In(rq.Loc).Format(layoutDateTime)})
	}
	return out
}

// createBudget adds a budget from the page's form.
func (s *Server) createBudget(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.budget == nil {
		return errNotFound
	}
	f := budgetForm{Name: strings.TrimSpace(r.PostFormValue("name")), Scope: r.PostFormValue("scope"),
		Amount: strings.TrimSpace(r.PostFormValue("amount")), Period: r.PostFormValue("period"),
		Thresholds: strings.TrimSpace(r.PostFormValue("thresholds")), HardLimit: r.PostFormValue("hard_limit") != ""}
	b, err := f.budget(rq.Workspace.ID)
	if err == nil {
		_, err = s.budget.Create(r.Context(), b)
	}
	if errs.KindOf(err) == errs.Invalid {
		d, perr := s.budgetsPage(r, rq)
		if perr != nil {
			return perr
		}
		d.Error, d.Form = userMessage(err), f
		return s.render(w, r, http.StatusBadRequest, "budgets", d)
	}
	if err != nil {
		return err
	}
	s.log.Info("budget created in dashboard", "workspace", rq.Workspace.ID, "by", rq.V.User.ID)
	http.Redirect(w, r, rq.URL("budgets")+"?saved=budget", http.StatusSeeOther)
	return nil
}

// errBadThresholds refuses a thresholds field that is not a list of whole percents.
var errBadThresholds = errs.E(errs.Invalid, "invalid_thresholds", "thresholds are whole percents separated by commas, e.g. 50, 80, 100")

// budget turns the form into a budget of workspace ws (validated by the service).
func (f budgetForm) budget(ws string) (budget.Budget, error) {
	amount, err := money.ParsePositive(f.Amount)
	if err != nil {
		return budget.Budget{}, errs.E(errs.Invalid, "invalid_amount", "the amount must be a positive amount, e.g. 250 or 99.50")
	}
	scope, id, _ := strings.Cut(f.Scope, ":")
	b := budget.Budget{WorkspaceID: ws, Name: f.Name, Scope: budget.Scope(scope), ScopeID: id, Amount: amount,
		Period: budget.Period(f.Period), HardLimit: f.HardLimit}
	for _, p := range strings.FieldsFunc(f.Thresholds, func(r rune) bool { return r == ',' || r == ' ' || r == '%' }) {
		n, err := strconv.Atoi(p)
		if err != nil {
			return budget.Budget{}, errBadThresholds
		}
		b.Thresholds = append(b.Thresholds, n)
	}
	return b, nil
}

// updateBudget edits a budget in place from its row's form: name, amount, period,
// thresholds and hard limit, through the budget service's Update, with the same
// validation as a new budget (the scope cannot change: delete and add instead).
func (s *Server) updateBudget(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.budget == nil {
		return errNotFound
	}
	id := r.PathValue("budget")
	f := budgetForm{Name: strings.TrimSpace(r.PostFormValue("name")), Amount: strings.TrimSpace(r.PostFormValue("amount")),
		Period: r.PostFormValue("period"), Thresholds: strings.TrimSpace(r.PostFormValue("thresholds")), HardLimit: r.PostFormValue("hard_limit") != ""}
	b, err := f.budget(rq.Workspace.ID)
	if err == nil {
		_, err = s.budget.Update(r.Context(), rq.Workspace.ID, id, budget.Update{Name: &b.Name, Amount: &b.Amount, Period: &b.Period,
			Thresholds: &b.Thresholds, HardLimit: &b.HardLimit})
	}
	if errs.KindOf(err) == errs.Invalid {
		d, perr := s.budgetsPage(r, rq)
		if perr != nil {
			return perr
		}
		for i := range d.Budgets {
			if d.Budgets[i].ID == id {
				f.Scope = d.Budgets[i].Edit.Scope
				d.Budgets[i].Edit, d.Budgets[i].EditError = f, userMessage(err)
			}
		}
		d.Error = "The budget was not saved: " + userMessage(err)
		return s.render(w, r, http.StatusBadRequest, "budgets", d)
	}
	if err != nil {
		return err
	}
	s.log.Info("budget updated in dashboard", "workspace", rq.Workspace.ID, "budget", id, "by", rq.V.User.ID)
	http.Redirect(w, r, rq.URL("budgets")+"?saved=updated#budget-"+url.PathEscape(id), http.StatusSeeOther)
	return nil
}

// deleteBudget removes a budget of this workspace.
func (s *Server) deleteBudget(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.budget == nil {
		return errNotFound
	}
	if err := s.budget.Delete(r.Context(), rq.Workspace.ID, r.PathValue("budget")); err != nil {
		return err
	}
	s.log.Info("budget deleted in dashboard", "workspace", rq.Workspace.ID, "budget", r.PathValue("budget"), "by", rq.V.User.ID)
	http.Redirect(w, r, rq.URL("budgets")+"?saved=deleted", http.StatusSeeOther)
	return nil
}

// setLowBalanceLine sets (or, with 0 or an empty field, turns off) the low-balance alert.
func (s *Server) setLowBalanceLine(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.budget == nil {
		return errNotFound
	}
	v := strings.TrimSpace(r.PostFormValue("line"))
	if v == "" {
		v = "0"
	}
	line, err := money.ParseNonNegative(v)
	if err == nil {
		_, err = s.budget.SetLowBalanceLine(r.Context(), rq.Workspace.ID, line)
	} else {
		err = budget.ErrInvalidLine
	}
	if errs.KindOf(err) == errs.Invalid {
		d, perr := s.budgetsPage(r, rq)
		if perr != nil {
			return perr
		}
		d.Error = userMessage(err)
		return s.render(w, r, http.StatusBadRequest, "budgets", d)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, rq.URL("budgets")+"?saved=line", http.StatusSeeOther)
	return nil
}
