package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"spectra/internal/budget"
	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/team"
)

// The Keys page's settings of one key: allowed models, rpm, tpm, project, expiry (all
// through gateway.Gateway.SetKeyLimits, the call of PATCH /api/v1/workspaces/{id}/keys/
// {key_id}, which applies them at once on this node) and a spend limit (a hard budget of
// scope key, through the budget service as on the Budgets page).

// KeyLimiter changes a key's settings and drops it from this node's key cache
// (gateway.Gateway implements it). The dashboard finds it on Deps.Upstreams, the
// gateway; without a gateway, key settings are not available.
type KeyLimiter interface {
	SetKeyLimits(ctx context.Context, workspaceID, keyID string, l team.KeyLimits) (team.APIKey, error)
}

// keyLimiter returns the gateway's KeyLimiter, or nil without a gateway.
func (s *Server) keyLimiter() KeyLimiter {
	kl, _ := s.upstreams.(KeyLimiter)
	return kl
}

// keySettingsForm is the settings form's fields as typed.
type keySettingsForm struct {
	KeyID, KeyName                    string
	Models, RPM, TPM, Project, Expiry string
	Limit, LimitPeriod                string
	LimitID                           string // the key's spend-limit budget, "" for none
	CanLimit                          bool   // may set the spend limit (manage_budgets)
	Error, ErrorCode                  string
}

// spendLimit returns the key's spend limit: its first hard budget of scope key.
func spendLimit(bs []budget.Budget, keyID string) *budget.Budget {
	for i := range bs {
		if bs[i].Scope == budget.ScopeKey && bs[i].ScopeID == keyID && bs[i].HardLimit {
			return &bs[i]
		}
	}
	return nil
}

// settingsForm fills the form from the key as it is.
func (s *Server) settingsForm(rq *request, k team.APIKey, limit *budget.Budget) keySettingsForm {
	f := keySettingsForm{KeyID: k.ID, KeyName: k.Name, Models: strings.Join(k.AllowedModels, ", "), Project: k.Project,
		LimitPeriod: string(budget.PeriodMonth), CanLimit: s.budget != nil && rq.Can(team.ActManageBudgets)}
	if k.RPM > 0 {
		f.RPM = strconv.Itoa(k.RPM)
	}
	if k.TPM > 0 {
		f.TPM = strconv.Itoa(k.TPM)
	}
	if k.ExpiresAt != nil {
		// The form's date is the last day the key works: it expires at the next midnight.
		f.Expiry = k.ExpiresAt.In(rq.Loc).Add(-time.Nanosecond).Format(time.DateOnly)
	}
	if limit != nil {
		f.Limit, f.LimitPeriod, f.LimitID = decimal(limit.Amount, s.currency), string(limit.Period), limit.ID
	}
	return f
}

// keyBudgets lists the workspace's budgets (none without the budget service).
func (s *Server) keyBudgets(ctx context.Context, ws string) ([]budget.Budget, error) {
	if s.budget == nil {
		return nil, nil
	}
	return s.budget.List(ctx, ws)
}

// parseKeySettings reads the form into KeyLimits, with the page's own messages for what
// the domain cannot name (a count that is not a number, a date that is not one).
func parseKeySettings(f keySettingsForm, loc *time.Location) (team.KeyLimits, error) {
	var l team.KeyLimits
	models := append([]string{}, splitModels(f.Models)...) // [] (every model), never nil
	l.AllowedModels = &models
	for _, c := range []struct {
		name, v string
		dst     **int
	}{{"rpm", f.RPM, &l.RPM}, {"tpm", f.TPM, &l.TPM}} {
		n := 0
		if v := strings.TrimSpace(c.v); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil {
				return l, errs.E(errs.Invalid, "invalid_"+c.name, "%s must be a whole number (empty or 0: no limit)", c.name)
			}
		}
		*c.dst = &n
	}
	project := strings.TrimSpace(f.Project)
	l.Project = &project
	l.ExpiresAt.Set = true
	if v := strings.TrimSpace(f.Expiry); v != "" {
		day, err := time.ParseInLocation(time.DateOnly, v, loc)
		if err != nil {
			return l, errs.E(errs.Invalid, "invalid_expires_at", "the expiry must be a date (YYYY-MM-DD)")
		}
		at := day.AddDate(0, 0, 1).UTC() // the key works through that whole day
		l.ExpiresAt.Time = &at
	}
	return l, l.Validate()
}

// manageableKey returns the workspace's key id, which the viewer must be allowed to
// manage (team.CanManageKey).
func (s *Server) manageableKey(ctx context.Context, rq *request, id string) (team.APIKey, error) {
	all, err := s.team.Keys(ctx, rq.Workspace.ID)
	if err != nil {
		return team.APIKey{}, err
	}
	for _, k := range all {
		if k.ID == id {
			if !team.CanManageKey(rq.actor(), k) {
				return k, errRole(team.ActManageKeys)
			}
			return k, nil
		}
	}
	return team.APIKey{}, errs.E(errs.NotFound, "key_not_found", "this workspace has no such key")
}

// keySettings is POST /w/{ws}/keys with op=settings: saves one key's settings and its
// spend limit, then shows the keys page again (a 400 with the form as typed and the
// reason on bad input).
func (s *Server) keySettings(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	k, err := s.manageableKey(ctx, rq, r.PostFormValue("key"))
	if err != nil {
		return err
	}
	if !k.Active() {
		return errs.E(errs.Invalid, "key_revoked", "this key is revoked: its settings no longer matter")
	}
	kl := s.keyLimiter()
	if kl == nil {
		return errNoGateway
	}
	bs, err := s.keyBudgets(ctx, rq.Workspace.ID)
	if err != nil {
		return err
	}
	f := s.settingsForm(rq, k, spendLimit(bs, k.ID))
	shownExpiry := f.Expiry // the key's last day as the form showed it
	f.Models, f.RPM, f.TPM = r.PostFormValue("models"), r.PostFormValue("rpm"), r.PostFormValue("tpm")
	f.Project, f.Expiry = r.PostFormValue("project"), r.PostFormValue("expiry")
	if f.CanLimit {
		f.Limit, f.LimitPeriod = strings.TrimSpace(r.PostFormValue("limit")), r.PostFormValue("limit_period")
	}
	fail := func(err error) error {
		status := http.StatusBadRequest
		switch {
		case errs.CodeOf(err) == team.ErrLimitsLoosen:
			status = http.StatusForbidden
		case errs.KindOf(err) != errs.Invalid:
			return err
		}
		d, perr := s.keysPage(r, rq)
		if perr != nil {
			return perr
		}
		var e *errs.Error
		if errors.As(err, &e) {
			f.ErrorCode = e.Code
		}
		f.Error = userMessage(err)
		switch f.ErrorCode { // the form's words, not the API's field names
		case "invalid_rpm":
			f.Error = "Requests per minute must be a whole number from 0 to 1000000000 (empty or 0: no limit)."
		case "invalid_tpm":
			f.Error = "Tokens per minute must be a whole number from 0 to 1000000000000 (empty or 0: no limit)."
		}
		d.Settings = &f
		return s.render(w, r, status, "keys", d)
	}
	l, err := parseKeySettings(f, rq.Loc)
	if err != nil {
		return fail(err)
	}
	if shownExpiry != "" && strings.TrimSpace(f.Expiry) == shownExpiry {
		// The expiry's day unchanged: the key keeps its expiry as it is (one set through
		// the API need not be at a midnight; the day's end would lift it).
		l.ExpiresAt = team.OptionalTime{}
	}
	if !rq.Can(team.ActManageKeys) { // one's own key: its limits may only get stricter
		if err := l.OnlyTightens(k); err != nil {
			return fail(err)
		}
	}
	// The spend limit is read before anything is written, so bad input changes nothing.
	var amount money.Amount
	if f.CanLimit && f.Limit != "" {
		if amount, err = money.ParsePositive(f.Limit); err != nil {
			return fail(errs.E(errs.Invalid, "invalid_amount", "the spend limit must be an amount greater than zero, such as 25.00 (empty: no limit)"))
		}
		b := budget.Budget{Name: "x", Scope: budget.ScopeKey, ScopeID: k.ID, Amount: amount, Period: budget.Period(f.LimitPeriod)}
		if err := b.Validate(); err != nil {
			return fail(err)
		}
	}
	if _, err := kl.SetKeyLimits(ctx, rq.Workspace.ID, k.ID, l); err != nil {
		return fail(err)
	}
	if f.CanLimit {
		if err := s.saveSpendLimit(ctx, rq, k, f, amount); err != nil {
			return fail(err)
		}
	}
	s.log.Info("key settings changed in dashboard", "workspace", rq.Workspace.ID, "key", k.ID, "by", rq.V.User.ID)
	http.Redirect(w, r, rq.URL("keys")+"?saved="+k.ID, http.StatusSeeOther)
	return nil
}

// saveSpendLimit creates, changes or (amount 0) deletes the key's spend limit.
func (s *Server) saveSpendLimit(ctx context.Context, rq *request, k team.APIKey, f keySettingsForm, amount money.Amount) error {
	ws := rq.Workspace.ID
	period := budget.Period(f.LimitPeriod)
	switch {
	case f.LimitID == "" && amount == 0:
		return nil
	case f.LimitID == "":
		_, err := s.budget.Create(ctx, budget.Budget{WorkspaceID: ws, Name: "Spend limit of key " + k.Name, Scope: budget.ScopeKey,
			ScopeID: k.ID, Amount: amount, Period: period, Thresholds: budget.DefaultThresholds, HardLimit: true})
		return err
	case amount == 0:
		return s.budget.Delete(ctx, ws, f.LimitID)
	}
	_, err := s.budget.Update(ctx, ws, f.LimitID, budget.Update{Amount: &amount, Period: &period})
	return err
}
