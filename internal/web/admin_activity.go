package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"spectra/internal/audit"
	"spectra/internal/console"
	"spectra/internal/money"
)

// The console's Activity across workspaces and Audit log pages.

// activityPeriods are the periods Activity offers, in days.
var activityPeriods = []int{7, 30, 90}

type adminActivityData struct {
	adminBase
	A       console.Activity
	Period  int
	Periods []int
	MaxDay  money.Amount // the largest day's spend, for the bars
}

// Pct is the share of the largest day's spend a day's spend is, in steps of 5 (the CSS
// bar classes), for the day bars.
func (d adminActivityData) Pct(a money.Amount) int64 {
	if d.MaxDay <= 0 || a <= 0 {
		return 0
	}
	return int64(a) * 1000 / int64(d.MaxDay)
}

func (s *Server) adminActivity(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	if s.console == nil {
		return errConsoleUnavailable
	}
	d := adminActivityData{adminBase: a.base("Activity", "activity"), Period: 30, Periods: activityPeriods}
	if p, err := strconv.Atoi(r.URL.Query().Get("days")); err == nil {
		for _, ok := range activityPeriods {
			if p == ok {
				d.Period = p
			}
		}
	}
	act, err := s.console.Activity(r.Context(), d.Period)
	if err != nil {
		return err
	}
	d.A = act
	for _, day := range act.Days {
		d.MaxDay = max(d.MaxDay, day.Spend)
	}
	return s.render(w, r, http.StatusOK, "admin_activity", d)
}

type adminAuditData struct {
	adminBase
	Entries   []audit.Entry
	Actor     string
	Action    string
	Workspace string
	NextURL   string
	FirstURL  string
	Paged     bool
}

// auditURL is the audit page with these filters, from cursor (0: the first page).
func auditURL(actor, action, ws string, cursor int64) string {
	v := url.Values{}
	if actor != "" {
		v.Set("actor", actor)
	}
	if action != "" {
		v.Set("action", action)
	}
	if ws != "" {
		v.Set("workspace", ws)
	}
	if cursor > 0 {
		v.Set("cursor", strconv.FormatInt(cursor, 10))
	}
	if len(v) == 0 {
		return "/admin/audit"
	}
	return "/admin/audit?" + v.Encode()
}

func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	if s.auditLog == nil {
		return errConsoleUnavailable
	}
	q := r.URL.Query()
	d := adminAuditData{adminBase: a.base("Audit log", "audit"), Actor: q.Get("actor"), Action: q.Get("action"), Workspace: q.Get("workspace")}
	f := audit.Filter{Actor: d.Actor, Action: d.Action, WorkspaceID: d.Workspace, Limit: 50}
	if c, err := strconv.ParseInt(q.Get("cursor"), 10, 64); err == nil && c > 0 {
		f.BeforeID, d.Paged = c, true
	}
	p, err := s.auditLog.List(r.Context(), f)
	if err != nil {
		return err
	}
	d.Entries = p.Entries
	if p.NextCursor > 0 {
		d.NextURL = auditURL(d.Actor, d.Action, d.Workspace, p.NextCursor)
	}
	d.FirstURL = auditURL(d.Actor, d.Action, d.Workspace, 0)
	return s.render(w, r, http.StatusOK, "admin_audit", d)
}

// auditChange is one field of an audit entry: its value before and after.
type auditChange struct {
	Field, Before, After string
}

// Changes lists an entry's fields, before → after, in field order.
func (adminAuditData) Changes(e audit.Entry) []auditChange {
	seen := map[string]bool{}
	var keys []string
	for k := range e.Before {
		keys, seen[k] = append(keys, k), true
	}
	for k := range e.After {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]auditChange, 0, len(keys))
	for _, k := range keys {
		out = append(out, auditChange{Field: k, Before: e.Before[k], After: e.After[k]})
	}
	return out
}
