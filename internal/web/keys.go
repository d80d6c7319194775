package web

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"spectra/internal/budget"
	"spectra/internal/errs"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/team"
)

// keyRow is one key of the keys page.
type keyRow struct {
	team.APIKey
	Owner     string
	Created   string
	LastUsed  string
	Revoked   string
	CanRevoke bool
	CanEdit   bool   // may change its settings (an active key the viewer may manage)
	Expires   string // its expiry date in the workspace's zone, "" for never
	Expired   bool
	Limit     string // its spend limit, e.g. "$25.00 per month", "" for none
	Usage     metering.Totals
	Link      string // the key's request log in the period
}

// keysData is what the keys page shows.
type keysData struct {
	pageBase
	Period    Period
	Periods   []periodLink
	Keys      []keyRow
	CanCreate bool
	CanAssign bool     // may create keys for other members, and admin keys
	Members   []option // owners a new key may be given
	NewKey    *team.APIKey
	NewSecret string
	Error     string
	FormName  string
	FormProj  string
	Project   string   // the project filter ("" shows every key)
	Projects  []option // the projects the keys belong to, for the filter
	// Settings is the settings form of one key (?edit=key_id, or after a refused save).
	Settings *keySettingsForm
	Saved    string // the name of the key whose settings were just saved
	// NeverFunded: the workspace has never had credit, so a new key's requests would be
	// refused (402); the create form says so first, and how to get credit.
	NeverFunded  bool
	LimitPeriods []option
}

// actor is the viewer as a member of this workspace, for key permissions.
func (rq *request) actor() team.Member {
	m := rq.Member
	m.WorkspaceID, m.Role = rq.Workspace.ID, rq.Role
	if m.UserID == "" {
		m.UserID = rq.V.User.ID
	}
	return m
}

// keys lists the workspace's keys with their spend in the period, and the form that
// creates one.
func (s *Server) keys(w http.ResponseWriter, r *http.Request, rq *request) error {
	d, err := s.keysPage(r, rq)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "keys", d)
}

func (s *Server) keysPage(r *http.Request, rq *request) (keysData, error) {
	p, err := parsePeriod(r.URL.Query(), "month", rq.Now, rq.Loc)
	if err != nil {
		return keysData{}, err
	}
	ctx := r.Context()
	var names labeler
	var bs []metering.Bucket
	var budgets []budget.Budget
	// Grouping by project and key follows the rollups' primary key, so the database
	// sums without sorting; the projects are added up here.
	err = parallel(
		func() (err error) { names, err = rq.labels(ctx); return err },
		func() (err error) {
			bs, err = rq.usage(ctx, p.Start, p.End, 24*time.Hour, []string{metering.DimProject, metering.DimKey}, metering.Filter{})
			return err
		},
		func() (err error) { budgets, err = s.keyBudgets(ctx, rq.Workspace.ID); return err })
	if err != nil {
		return keysData{}, err
	}
	spend := map[string]metering.Totals{}
	for _, b := range breakdown(bs, metering.DimKey, names) {
		spend[b.Value] = b.Totals
	}
	all := names.keyList
	project := strings.TrimSpace(r.URL.Query().Get("project"))
	me := rq.actor()
	d := keysData{pageBase: rq.base("Keys", "keys"), Period: p, Periods: rq.periodLinks("keys", p),
		CanCreate: rq.Can(team.ActManageOwnKeys) || rq.Can(team.ActManageKeys), CanAssign: rq.Can(team.ActManageKeys),
		LimitPeriods: budgetPeriods}
	edit := r.URL.Query().Get("edit")
	seenProject := map[string]bool{}
	var projects []string
	for _, k := range all {
		if k.Project != "" && !seenProject[k.Project] {
			seenProject[k.Project] = true
			projects = append(projects, k.Project)
		}
		if project != "" && k.Project != project {
			continue
		}
		row := keyRow{APIKey: k, Created: k.CreatedAt.In(rq.Loc).Format(layoutDate), LastUsed: "never", Usage: spend[k.ID],
			Link: requestsLink(rq.Workspace.ID, drillFilter{Period: p, Key: k.ID})}
		row.Owner, _ = names.label(metering.DimMember, k.MemberID)
		if k.MemberID == "" {
			row.Owner = "Shared"
		}
		if k.LastUsedAt != nil {
			row.LastUsed = formatAgo(rq.Now, *k.LastUsedAt)
		}
		if k.RevokedAt != nil {
			row.Revoked = k.RevokedAt.In(rq.Loc).Format(layoutDate)
		}
		row.CanRevoke = k.Active() && team.CanManageKey(me, k)
		row.CanEdit = row.CanRevoke && s.keyLimiter() != nil
		if k.ExpiresAt != nil {
			row.Expires = k.ExpiresAt.In(rq.Loc).Add(-time.Nanosecond).Format(layoutDate)
			row.Expired = k.Expired(rq.Now)
		}
		lim := spendLimit(budgets, k.ID)
		if lim != nil {
			row.Limit = money.Format(lim.Amount, s.currency) + " " + periodPhrase(lim.Period)
		}
		if row.CanEdit && edit == k.ID {
			f := s.settingsForm(rq, k, lim)
			d.Settings = &f
		}
		if saved := r.URL.Query().Get("saved"); saved == k.ID {
			d.Saved = k.Name
		}
		d.Keys = append(d.Keys, row)
	}
	if len(projects) > 0 {
		slices.Sort(projects)
		d.Project = project
		d.Projects = append([]option{{Value: "", Label: "All projects", Selected: project == ""}},
			options(projects, project, func(v string) string { return v })...)
	}
	if d.CanAssign {
		var ids []string
		for id, m := range names.members {
			if id == m.UserID {
				ids = append(ids, id)
			}
		}
		d.Members = options(ids, me.UserID, func(v string) string { l, _ := names.label(metering.DimMember, v); return l })
	}
	return d, nil
}

// createKey makes a key. A member makes keys for themselves; with manage_keys one may
// make a key for another member, or an admin key. The secret is shown on this response
// only.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request, rq *request) error {
	if r.PostFormValue("op") == "settings" { // one key's settings (keysettings.go)
		return s.keySettings(w, r, rq)
	}
	me := rq.actor()
	k := team.APIKey{WorkspaceID: rq.Workspace.ID, Name: strings.TrimSpace(r.PostFormValue("name")),
		Kind: team.KeyKind(r.PostFormValue("kind")), Project: strings.TrimSpace(r.PostFormValue("project")), MemberID: me.UserID}
	if k.Kind == "" {
		k.Kind = team.KindInference
	}
	if owner := r.PostFormValue("member"); owner != "" && owner != me.UserID {
		if _, err := s.accounts.Member(r.Context(), rq.Workspace.ID, owner); err != nil {
			return errs.E(errs.Invalid, "invalid_member", "the key's owner is not a member of this workspace")
		}
		k.MemberID = owner
	}
	if k.Kind == team.KindAdmin && !rq.Can(team.ActManageKeys) {
		return errRole(team.ActManageKeys)
	}
	if !team.CanManageKey(me, k) {
		return errRole(team.ActManageKeys)
	}
	created, secret, err := s.team.CreateKey(r.Context(), k)
	if errs.KindOf(err) == errs.Invalid {
		d, perr := s.keysPage(r, rq)
		if perr != nil {
			return perr
		}
		d.Error, d.FormName, d.FormProj = userMessage(err), k.Name, k.Project
		return s.render(w, r, http.StatusBadRequest, "keys", d)
	}
	if err != nil {
		return err
	}
	s.log.Info("key created in dashboard", "workspace", rq.Workspace.ID, "key", created.ID, "by", me.UserID)
	d, err := s.keysPage(r, rq)
	if err != nil {
		return err
	}
	d.NewKey, d.NewSecret = &created, secret
	return s.render(w, r, http.StatusCreated, "keys", d)
}

// revokeKey revokes a key of this workspace the viewer may manage.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.PathValue("key")
	all, err := s.team.Keys(r.Context(), rq.Workspace.ID)
	if err != nil {
		return err
	}
	var k *team.APIKey
	for i := range all {
		if all[i].ID == id {
			k = &all[i]
		}
	}
	if k == nil {
		return errs.E(errs.NotFound, "key_not_found", "this workspace has no such key")
	}
	if !team.CanManageKey(rq.actor(), *k) {
		return errRole(team.ActManageKeys)
	}
	if _, err := s.team.RevokeKey(r.Context(), rq.Workspace.ID, id); err != nil {
		return err
	}
	s.log.Info("key revoked in dashboard", "workspace", rq.Workspace.ID, "key", id, "by", rq.V.User.ID)
	http.Redirect(w, r, rq.URL("keys"), http.StatusSeeOther)
	return nil
}

// periodPhrase is how a spend limit's period reads after its amount.
func periodPhrase(p budget.Period) string {
	switch p {
	case budget.PeriodDay:
		return "per day"
	case budget.PeriodWeek:
		return "per week"
	case budget.PeriodMonth:
		return "per month"
	}
	return "in all"
}

// everFunded reports whether the workspace has ever had a ledger entry (a grant, a
// payment, a redeemed code, a charge): a workspace that never had one has never had
// credit, which the top bar and the Keys page explain instead of "Out of credit".
func (s *Server) everFunded(ctx context.Context, workspaceID string) (bool, error) {
	es, err := s.ledger.Entries(ctx, workspaceID, 0, 1)
	return len(es) > 0, err
}
