package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"spectra/internal/audit"
	"spectra/internal/errs"
	"spectra/internal/gateway"
	"spectra/internal/gateway/upstream"
	"spectra/internal/pricing"
)

// The console's Upstreams section. Every action is the gateway's, as the API's:
//
//	add or edit   gateway.PutUpstreamKeepSecret (PutUpstream)  POST   /api/v1/upstreams
//	remove        gateway.DeleteUpstream                       DELETE /api/v1/upstreams/{name}
//	test          gateway.TestUpstream                         POST   /api/v1/upstreams/{name}/test
//
// Secrets are write-only: the page shows a secret's first characters
// (gateway.SecretPrefix) and never puts it in a form; an edit that leaves the secret
// empty keeps the stored one.

// UpstreamAdmin is what the console needs of the gateway (gateway.Gateway implements it).
type UpstreamAdmin interface {
	Upstreams(ctx context.Context) ([]gateway.UpstreamView, error)
	UpstreamSecretPrefixes(ctx context.Context) map[string]string
	PutUpstreamKeepSecret(ctx context.Context, u gateway.Upstream, keep bool) (gateway.UpstreamView, bool, error)
	DeleteUpstream(ctx context.Context, name string) error
	TestUpstream(ctx context.Context, name string) (gateway.UpstreamTest, error)
}

var _ UpstreamAdmin = (*gateway.Gateway)(nil)

// upstreamForm is the add/edit form's fields as typed (never the stored secret).
type upstreamForm struct {
	Name, API, BaseURL, Models string
	Edit                       bool // editing the upstream Name (the name is fixed)
	ClearKey                   bool
}

type upstreamRow struct {
	gateway.UpstreamView
	KeyPrefix string
	Priced    []modelPrice
	Unpriced  int
}

// modelPrice is a model an upstream serves and whether it has a price in effect.
type modelPrice struct {
	Model  string
	Priced bool
}

type adminUpstreamsData struct {
	adminBase
	Available bool
	APIs      []string
	Rows      []upstreamRow
	Form      upstreamForm
	EditKey   string // the prefix of the edited upstream's secret, "" for none
	Test      *gateway.UpstreamTest
	Confirm   string // the upstream whose removal is to be confirmed
	Flash     string
	Error     string
	ErrorCode string
}

var errNoGateway = errs.E(errs.Unavailable, "gateway_unavailable", "the gateway is not running in this deployment, so upstreams cannot be managed here")

// adminUpstreams is GET /admin/upstreams: the upstreams with the models they serve and
// whether each has a price; ?edit=name fills the form with an upstream to edit.
func (s *Server) adminUpstreams(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	d := s.upstreamsData(a)
	q := r.URL.Query()
	switch q.Get("done") {
	case "saved":
		d.Flash = "Upstream " + q.Get("name") + " saved; its models are routed to it now."
	case "created":
		d.Flash = "Upstream " + q.Get("name") + " added; its models are routed to it now."
	case "removed":
		d.Flash = "Upstream " + q.Get("name") + " removed."
	}
	if name := q.Get("edit"); name != "" && s.upstreams != nil {
		views, err := s.upstreams.Upstreams(r.Context())
		if err != nil {
			return err
		}
		for _, v := range views {
			if v.Name == name && v.Source == "api" {
				d.Form = upstreamForm{Name: v.Name, API: v.API, BaseURL: v.BaseURL, Models: strings.Join(v.Models, "\n"), Edit: true}
			}
		}
	}
	return s.renderUpstreams(w, r, d, http.StatusOK)
}

func (s *Server) upstreamsData(a *adminRequest) adminUpstreamsData {
	return adminUpstreamsData{adminBase: a.base("Upstreams", "upstreams"), Available: s.upstreams != nil, APIs: upstream.APIs,
		Form: upstreamForm{API: upstream.OpenAI}}
}

// renderUpstreams loads the list into d and renders the page.
func (s *Server) renderUpstreams(w http.ResponseWriter, r *http.Request, d adminUpstreamsData, status int) error {
	if s.upstreams == nil {
		return s.render(w, r, status, "admin_upstreams", d)
	}
	ctx := r.Context()
	views, err := s.upstreams.Upstreams(ctx)
	if err != nil {
		return err
	}
	prefixes := s.upstreams.UpstreamSecretPrefixes(ctx)
	priced, err := s.pricedAt(ctx, s.now())
	if err != nil {
		return err
	}
	for _, v := range views {
		row := upstreamRow{UpstreamView: v, KeyPrefix: prefixes[v.Name]}
		for _, m := range v.Models {
			row.Priced = append(row.Priced, modelPrice{Model: m, Priced: priced(m)})
			if !priced(m) {
				row.Unpriced++
			}
		}
		d.Rows = append(d.Rows, row)
	}
	if d.Form.Edit {
		d.EditKey = prefixes[d.Form.Name]
	}
	return s.render(w, r, status, "admin_upstreams", d)
}

// pricedAt returns whether a model has a price in effect at t.
func (s *Server) pricedAt(ctx context.Context, t time.Time) (func(string) bool, error) {
	if s.prices == nil {
		return func(string) bool { return false }, nil
	}
	cat, err := s.prices.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	return func(m string) bool { _, err := cat.At(m, t); return err == nil }, nil
}

// adminSaveUpstream is POST /admin/upstreams: add an upstream, or edit one (edit=yes);
// an empty secret keeps the stored one unless clear_key is set.
func (s *Server) adminSaveUpstream(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	if s.upstreams == nil {
		return errNoGateway
	}
	ctx := r.Context()
	f := upstreamForm{Name: strings.TrimSpace(r.PostFormValue("name")), API: r.PostFormValue("api"), BaseURL: strings.TrimSpace(r.PostFormValue("base_url")),
		Models: r.PostFormValue("models"), Edit: r.PostFormValue("edit") == "yes", ClearKey: r.PostFormValue("clear_key") == "yes"}
	key := strings.TrimSpace(r.PostFormValue("api_key"))
	before := s.upstreamView(ctx, f.Name)
	if !f.Edit && before != nil {
		return s.upstreamFailed(w, r, a, f, errs.E(errs.Conflict, "upstream_exists", "an upstream named %q exists already: edit it from the list, or choose another name", f.Name))
	}
	if f.Edit && before == nil {
		return s.upstreamFailed(w, r, a, f, errs.E(errs.NotFound, "upstream_not_found", "no upstream named %q: it may have been removed meanwhile", f.Name))
	}
	u := gateway.Upstream{Name: f.Name, API: f.API, BaseURL: f.BaseURL, APIKey: key, Models: splitModels(f.Models)}
	v, created, err := s.upstreams.PutUpstreamKeepSecret(ctx, u, f.Edit && !f.ClearKey)
	if err != nil {
		return s.upstreamFailed(w, r, a, f, err)
	}
	secret := "kept"
	switch {
	case key != "":
		secret = "set"
	case f.ClearKey || !v.HasAPIKey:
		secret = "none"
	}
	e := audit.Entry{Action: "upstream.put", Target: "upstream " + v.Name, After: upstreamFields(v, secret)}
	if before != nil {
		e.Before = upstreamFields(*before, map[bool]string{true: "set", false: "none"}[before.HasAPIKey])
	}
	s.audit(ctx, a, e)
	done := "saved"
	if created {
		done = "created"
	}
	http.Redirect(w, r, "/admin/upstreams?done="+done+"&name="+url.QueryEscape(v.Name), http.StatusSeeOther)
	return nil
}

// upstreamFields is an upstream as the audit log records it: never its secret, only
// whether it has one (secret: "set", "kept" or "none").
func upstreamFields(v gateway.UpstreamView, secret string) map[string]string {
	return map[string]string{"api": v.API, "base_url": v.BaseURL, "models": strings.Join(v.Models, ","), "secret": secret}
}

// upstreamView returns the listed upstream named name, or nil.
func (s *Server) upstreamView(ctx context.Context, name string) *gateway.UpstreamView {
	views, err := s.upstreams.Upstreams(ctx)
	if err != nil {
		return nil
	}
	for _, v := range views {
		if v.Name == name {
			return &v
		}
	}
	return nil
}

// splitModels reads the models field: names separated by lines, commas or spaces.
func splitModels(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' || r == '\t' })
}

// upstreamFailed shows the page again with the form as typed (never the secret) and
// the domain's error.
func (s *Server) upstreamFailed(w http.ResponseWriter, r *http.Request, a *adminRequest, f upstreamForm, err error) error {
	switch errs.KindOf(err) {
	case errs.Invalid, errs.Conflict, errs.NotFound:
	default:
		return err
	}
	d := s.upstreamsData(a)
	d.Form = f
	if f.API == "" {
		d.Form.API = upstream.OpenAI
	}
	d.Error, d.ErrorCode = userMessage(err), errs.CodeOf(err)
	return s.renderUpstreams(w, r, d, statusOf(err))
}

// adminTestUpstream is POST /admin/upstreams/{name}/test: gateway.TestUpstream, shown
// on the page (latency, status, error, listed models).
func (s *Server) adminTestUpstream(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	if s.upstreams == nil {
		return errNoGateway
	}
	res, err := s.upstreams.TestUpstream(r.Context(), r.PathValue("name"))
	if err != nil {
		return s.upstreamFailed(w, r, a, upstreamForm{}, err)
	}
	d := s.upstreamsData(a)
	d.Test = &res
	return s.renderUpstreams(w, r, d, http.StatusOK)
}

// adminDeleteUpstream is POST /admin/upstreams/{name}/delete: asks to confirm, then
// gateway.DeleteUpstream.
func (s *Server) adminDeleteUpstream(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	if s.upstreams == nil {
		return errNoGateway
	}
	ctx := r.Context()
	name := r.PathValue("name")
	before := s.upstreamView(ctx, name)
	if r.PostFormValue("confirm") != "yes" {
		if before == nil {
			return s.upstreamFailed(w, r, a, upstreamForm{}, upstream.ErrNotFound)
		}
		d := s.upstreamsData(a)
		d.Confirm = name
		return s.renderUpstreams(w, r, d, http.StatusOK)
	}
	if err := s.upstreams.DeleteUpstream(ctx, name); err != nil {
		return s.upstreamFailed(w, r, a, upstreamForm{}, err)
	}
	e := audit.Entry{Action: "upstream.delete", Target: "upstream " + name}
	if before != nil {
		e.Before = upstreamFields(*before, map[bool]string{true: "set", false: "none"}[before.HasAPIKey])
	}
	s.audit(ctx, a, e)
	http.Redirect(w, r, "/admin/upstreams?done=removed&name="+url.QueryEscape(name), http.StatusSeeOther)
	return nil
}

// unpricedModels lists the models upstreams serve that have no price in effect at t
// (the gateway refuses their requests), sorted.
func (s *Server) unpricedModels(ctx context.Context, cat *pricing.Catalog, t time.Time) ([]string, error) {
	if s.upstreams == nil {
		return nil, nil
	}
	views, err := s.upstreams.Upstreams(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range views {
		for _, m := range v.Models {
			if _, err := cat.At(m, t); err != nil && !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
