package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"spectra/internal/audit"
	"spectra/internal/errs"
	"spectra/internal/pricing"
	"spectra/internal/team"
)

// The console's Price lists section: every list (its adjustment of the catalog, its own
// versions, the workspaces on it), making one (an adjustment, an overriding version, or
// both), adding a version to one, and (on a workspace's page) assigning a list. Every
// write is the API's: metering.Service.CreatePriceList and AddPriceListVersion (POST
// /api/v1/price-lists and …/prices), team.Service.UpdateWorkspace (PATCH
// /api/v1/workspaces/{id} {"price_list"}), with their idempotency and codes, and each is
// recorded in the audit log.

// listRow is one list of the page's table.
type listRow struct {
	pricing.PriceList
	Adjust     string // FormatAdjustPercent, "0" when none
	Workspaces int
}

// AdjustLabel is the adjustment as the page shows it: "-15 %", "+12.5 %", "none".
func (r listRow) AdjustLabel() string {
	switch {
	case r.AdjustBP == 0:
		return "none"
	case r.AdjustBP > 0:
		return "+" + r.Adjust + " %"
	}
	return r.Adjust + " %"
}

// listWorkspace is a workspace on a list.
type listWorkspace struct {
	ID, Name string
}

// listForm is the make-a-list form's fields as typed.
type listForm struct {
	Name, Adjust string
	Version      priceForm // an overriding version (optional: Model empty)
}

type adminPriceListsData struct {
	adminBase
	Lists []listRow
	// List is the list ?name= shows (nil: the index), with its versions newest first and
	// the workspaces on it.
	List       *listRow
	Versions   []versionRow
	Workspaces []listWorkspace
	Form       listForm
	Version    priceForm // the add-a-version form of List
	Flash      string
	Error      string
	ErrorCode  string
	ErrorForm  string // "list" or "version"
}

// ListURL is the page of list name.
func (adminPriceListsData) ListURL(name string) string {
	return "/admin/price-lists/" + url.PathEscape(name)
}

// listFlashes are the messages of ?done= after an action.
var listFlashes = map[string]string{
	"created":      "Price list created.",
	"same":         "This list already exists with exactly these prices: nothing was changed.",
	"version":      "Version added.",
	"version_same": "The list already has this version: nothing was added.",
}

// adminPriceLists is GET /admin/price-lists: every list and the form to make one.
func (s *Server) adminPriceLists(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	d := adminPriceListsData{adminBase: a.base("Price lists", "price-lists")}
	return s.renderPriceLists(w, r, a, d, http.StatusOK)
}

// adminPriceList is GET /admin/price-lists/{name}: one list, its versions, the
// workspaces on it and the form to add a version.
func (s *Server) adminPriceList(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	d := adminPriceListsData{adminBase: a.base("Price lists", "price-lists")}
	if f, ok := listFlashes[r.URL.Query().Get("done")]; ok {
		d.Flash = f
	}
	return s.renderPriceList(w, r, a, d, r.PathValue("name"), http.StatusOK)
}

// renderPriceLists loads every list into d and renders the index.
func (s *Server) renderPriceLists(w http.ResponseWriter, r *http.Request, a *adminRequest, d adminPriceListsData, status int) error {
	lists, err := s.metering.PriceLists(r.Context())
	if err != nil {
		return err
	}
	for _, l := range lists {
		ids, err := s.metering.PriceListWorkspaces(r.Context(), l.Name)
		if err != nil {
			return err
		}
		d.Lists = append(d.Lists, listRow{PriceList: l, Adjust: pricing.FormatAdjustPercent(l.AdjustBP), Workspaces: len(ids)})
	}
	return s.render(w, r, status, "admin_price_lists", d)
}

// maxListWorkspaces bounds the workspaces a list's page names (the count is exact).
const maxListWorkspaces = 200

// renderPriceList loads list name into d and renders its page; an unknown list is 404.
func (s *Server) renderPriceList(w http.ResponseWriter, r *http.Request, a *adminRequest, d adminPriceListsData, name string, status int) error {
	ctx := r.Context()
	l, err := s.metering.PriceList(ctx, name)
	if err != nil {
		return err
	}
	ids, err := s.metering.PriceListWorkspaces(ctx, l.Name)
	if err != nil {
		return err
	}
	d.adminBase = a.base(l.Name, "price-lists")
	d.List = &listRow{PriceList: l, Adjust: pricing.FormatAdjustPercent(l.AdjustBP), Workspaces: len(ids)}
	for i := len(l.Prices) - 1; i >= 0; i-- {
		p := l.Prices[i]
		st := "superseded"
		if p.EffectiveFrom.After(a.Now) {
			st = "scheduled"
		} else if cur, ok := l.VersionAt(p.Model, a.Now); ok && cur.EffectiveFrom.Equal(p.EffectiveFrom) {
			st = "in effect"
		}
		d.Versions = append(d.Versions, versionRow{Price: p, State: st})
	}
	for i, id := range ids {
		if i == maxListWorkspaces {
			break
		}
		ws := listWorkspace{ID: id, Name: id}
		if got, err := s.team.Workspace(ctx, id); err == nil {
			ws.Name = got.Name
		}
		d.Workspaces = append(d.Workspaces, ws)
	}
	return s.render(w, r, status, "admin_price_lists", d)
}

// versionOfForm reads an overriding version from the form's fields under prefix.
func versionOfForm(r *http.Request, prefix string) (priceForm, pricing.Price, error) {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(prefix + k)) }
	f := priceForm{Model: v("model"), Input: v("input"), CachedInput: v("cached_input"), CacheWrite: v("cache_write"), Output: v("output"),
		Request: v("request"), MaxOutputTokens: v("max_output_tokens"), EffectiveFrom: v("effective_from")}
	p, err := pricing.ParsePrice(f.Model, map[string]string{"input": f.Input, "cached_input": f.CachedInput, "cache_write": f.CacheWrite,
		"output": f.Output, "request": f.Request}, f.MaxOutputTokens)
	if err == nil {
		p.EffectiveFrom, err = effectiveFrom(f.EffectiveFrom)
	}
	return f, p, err
}

// adminCreatePriceList is POST /admin/price-lists: a new list (CreatePriceList).
func (s *Server) adminCreatePriceList(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	ctx := r.Context()
	d := adminPriceListsData{adminBase: a.base("Price lists", "price-lists")}
	d.Form = listForm{Name: strings.TrimSpace(r.PostFormValue("name")), Adjust: strings.TrimSpace(r.PostFormValue("adjust_percent"))}
	failed := func(err error) error {
		switch errs.KindOf(err) {
		case errs.Invalid, errs.Conflict, errs.NotFound:
		default:
			return err
		}
		d.Error, d.ErrorCode, d.ErrorForm = userMessage(err), errs.CodeOf(err), "list"
		return s.renderPriceLists(w, r, a, d, statusOf(err))
	}
	l := pricing.PriceList{Name: d.Form.Name}
	if !pricing.ValidPriceList(l.Name) {
		return failed(errs.E(errs.Invalid, "invalid_price_list", "the name must be lower-case letters, digits and ._- (up to 64, starting with a letter or digit), such as enterprise-2026"))
	}
	if d.Form.Adjust != "" {
		bp, err := pricing.ParseAdjustPercent(strings.TrimSuffix(d.Form.Adjust, "%"))
		if err != nil {
			return failed(err)
		}
		l.AdjustBP = bp
	}
	if strings.TrimSpace(r.PostFormValue("v_model")) != "" {
		f, p, err := versionOfForm(r, "v_")
		d.Form.Version = f
		if err != nil {
			return failed(err)
		}
		l.Prices = []pricing.Price{p}
	}
	stored, created, err := s.metering.CreatePriceList(ctx, l)
	if err != nil {
		return failed(err)
	}
	flash := "same"
	if created {
		flash = "created"
		after := map[string]string{"name": stored.Name, "adjust_percent": pricing.FormatAdjustPercent(stored.AdjustBP)}
		for _, p := range stored.Prices {
			after["version "+p.Model] = priceFieldsText(p)
		}
		s.audit(ctx, a, audit.Entry{Action: "price_list.create", Target: "price list " + stored.Name, IdempotencyKey: "price-list:" + stored.Name, After: after})
	}
	http.Redirect(w, r, "/admin/price-lists/"+url.PathEscape(stored.Name)+"?done="+flash, http.StatusSeeOther)
	return nil
}

// priceFieldsText is a version's prices in one line for the audit log.
func priceFieldsText(p pricing.Price) string {
	return "from " + p.EffectiveFrom.UTC().Format(time.RFC3339) + ": input " + p.Input.String() + ", cached " + p.CachedInput.String() +
		", cache write " + p.CacheWrite.String() + ", output " + p.Output.String() + ", request " + p.Request.String()
}

// adminAddListVersion is POST /admin/price-lists/{name}/prices: a new version of the
// list (AddPriceListVersion).
func (s *Server) adminAddListVersion(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	ctx := r.Context()
	name := r.PathValue("name")
	f, p, err := versionOfForm(r, "")
	d := adminPriceListsData{Version: f}
	if err == nil {
		var created bool
		if p, created, err = s.metering.AddPriceListVersion(ctx, name, p); err == nil {
			flash := "version_same"
			if created {
				flash = "version"
				s.audit(ctx, a, audit.Entry{Action: "price_list.version", Target: "price list " + name + " model " + p.Model,
					IdempotencyKey: "price-list:" + name + ":" + p.Model + "@" + p.EffectiveFrom.Format(time.RFC3339Nano),
					After:          map[string]string{"model": p.Model, "prices": priceFieldsText(p)}})
			}
			http.Redirect(w, r, "/admin/price-lists/"+url.PathEscape(name)+"?done="+flash, http.StatusSeeOther)
			return nil
		}
	}
	switch errs.KindOf(err) {
	case errs.Invalid, errs.Conflict:
	default:
		return err // an unknown list: 404
	}
	d.Error, d.ErrorCode, d.ErrorForm = userMessage(err), errs.CodeOf(err), "version"
	return s.renderPriceList(w, r, a, d, name, statusOf(err))
}

// adminAssignPriceList is POST /admin/workspaces/{ws}/price-list: the workspace's price
// list (team.UpdateWorkspace, as PATCH /api/v1/workspaces/{id} {"price_list"}); "" is
// the catalog.
func (s *Server) adminAssignPriceList(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	ctx := r.Context()
	id := r.PathValue("ws")
	name := strings.TrimSpace(r.PostFormValue("price_list"))
	before, err := s.team.Workspace(ctx, id)
	if errs.KindOf(err) == errs.NotFound {
		return errNoWorkspace
	}
	if err != nil {
		return err
	}
	after, err := s.team.UpdateWorkspace(ctx, id, team.WorkspaceUpdate{PriceList: team.SetName(name)})
	if err != nil {
		return s.actionFailed(w, r, a, adminWorkspaceData{}, "price_list", err)
	}
	s.metering.Invalidate()
	if after.PriceList != before.PriceList {
		s.audit(ctx, a, audit.Entry{Action: "workspace.price_list", WorkspaceID: id, Target: id,
			Before: map[string]string{"price_list": before.PriceList}, After: map[string]string{"price_list": after.PriceList}})
	}
	done(w, r, id, "price_list", "")
	return nil
}
