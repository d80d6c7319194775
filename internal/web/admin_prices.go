package web

import (
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"spectra/internal/audit"
	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/pricing"
)

// The console's Prices section: the catalog (each model's price in effect and its
// versions, never edited, only superseded), adding a version, and importing a catalog
// file shown as a diff and confirmed before anything is written. Every write is the
// API's, metering.Service.PutPrice (PUT /api/v1/prices/{model}), with its idempotency:
// a version that repeats the one in effect is not added again. Files are read by
// pricing.ParseCatalogFile: the GET /api/v1/prices listing or a list-price catalog
// such as the shared model-prices.json.

// priceRow is one model of the catalog.
type priceRow struct {
	Model    string
	Current  *pricing.Price
	Versions int
	Upcoming *pricing.Price // the next version not yet in effect
	Shapes   string         // shapesSummary of Current
}

// versionRow is one version of a model's history.
type versionRow struct {
	pricing.Price
	State  string // "in effect", "superseded" or "scheduled"
	Shapes string // shapesSummary: its modality rates, tiers, units and service tiers in a line
}

// priceForm is the add-a-version form's fields as typed. Shapes is the JSON text of the
// version's units, tiers and service tiers (pricing.ShapesText).
type priceForm struct {
	Model, Input, CachedInput, CacheWrite, Output, Request, CacheWrite1h, WebSearchCall, MaxOutputTokens, EffectiveFrom string
	AudioInput, AudioOutput, ImageInput, ImageOutput, Shapes                                                            string
}

type adminPricesData struct {
	adminBase
	Rows     []priceRow
	Unpriced []string
	Model    string       // ?model=: its history
	History  []versionRow // newest first
	Form     priceForm
	// Import is the diff of an uploaded catalog awaiting confirmation.
	Import     []pricing.DiffLine
	ImportFile string // the parsed catalog, re-posted by the confirm step
	ImportFrom string // its effective time as typed ("" for now)
	ImportNew  int
	ImportChg  int
	ImportSame int
	// ImportWrites is ImportNew + ImportChg: the versions the confirm step adds.
	ImportWrites int
	Flash        string
	Error        string
	ErrorCode    string
	ErrorForm    string // "version" or "import"
}

// adminPrices is GET /admin/prices.
func (s *Server) adminPrices(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	d := adminPricesData{adminBase: a.base("Prices", "prices")}
	q := r.URL.Query()
	d.Model = q.Get("model")
	d.Form.Model = d.Model
	if msg := q.Get("msg"); q.Get("done") != "" && msg != "" {
		d.Flash = msg
	}
	return s.renderPrices(w, r, a, d, http.StatusOK)
}

// renderPrices loads the catalog into d and renders the page.
func (s *Server) renderPrices(w http.ResponseWriter, r *http.Request, a *adminRequest, d adminPricesData, status int) error {
	ctx := r.Context()
	cat, err := s.metering.Catalog(ctx)
	if err != nil {
		return err
	}
	byModel := map[string][]pricing.Price{}
	for _, p := range cat.All() {
		byModel[p.Model] = append(byModel[p.Model], p)
	}
	for _, m := range cat.Models() {
		row := priceRow{Model: m, Versions: len(byModel[m])}
		if cur, err := cat.At(m, a.Now); err == nil {
			row.Current = &cur
			row.Shapes = shapesSummary(cur)
		}
		for _, p := range byModel[m] {
			if p.EffectiveFrom.After(a.Now) {
				row.Upcoming = &p
				break
			}
		}
		d.Rows = append(d.Rows, row)
	}
	if d.Model != "" {
		vs := byModel[d.Model]
		cur, _ := cat.At(d.Model, a.Now)
		for i := len(vs) - 1; i >= 0; i-- {
			st := "superseded"
			switch {
			case vs[i].EffectiveFrom.After(a.Now):
				st = "scheduled"
			case vs[i].EffectiveFrom.Equal(cur.EffectiveFrom) && vs[i].CreatedAt.Equal(cur.CreatedAt):
				st = "in effect"
			}
			d.History = append(d.History, versionRow{Price: vs[i], State: st, Shapes: shapesSummary(vs[i])})
		}
		if d.Form == (priceForm{Model: d.Model}) && cur.Model != "" {
			d.Form = formOfPrice(cur)
		}
	}
	if d.Unpriced, err = s.unpricedModels(ctx, cat, a.Now); err != nil {
		return err
	}
	return s.render(w, r, status, "admin_prices", d)
}

// formOfPrice fills the form with p's prices, to supersede it.
func formOfPrice(p pricing.Price) priceForm {
	f := priceForm{Model: p.Model, Input: p.Input.String(), CachedInput: p.CachedInput.String(), CacheWrite: p.CacheWrite.String(),
		Output: p.Output.String(), Request: p.Request.String(), CacheWrite1h: p.CacheWrite1h.String(), WebSearchCall: p.WebSearchCall.String()}
	if p.MaxOutputTokens > 0 {
		f.MaxOutputTokens = itoa64(p.MaxOutputTokens)
	}
	nonZero := func(a money.Amount) string {
		if a == 0 {
			return ""
		}
		return a.String()
	}
	f.AudioInput, f.AudioOutput, f.ImageInput, f.ImageOutput = nonZero(p.AudioInput), nonZero(p.AudioOutput), nonZero(p.ImageInput), nonZero(p.ImageOutput)
	f.Shapes = pricing.ShapesText(p)
	return f
}

// shapesSummary says in a line what a version prices beyond its flat rates: modality
// rates, context tiers, units and service tiers ("" when nothing).
func shapesSummary(p pricing.Price) string {
	var parts []string
	for _, m := range []struct {
		name string
		a    money.Amount
	}{{"audio in", p.AudioInput}, {"audio out", p.AudioOutput}, {"image in", p.ImageInput}, {"image out", p.ImageOutput}} {
		if m.a != 0 {
			parts = append(parts, m.name+" "+m.a.String())
		}
	}
	for _, t := range p.Tiers {
		parts = append(parts, "above "+money.GroupDigits(itoa64(t.AboveInputTokens))+" input tokens: tier")
	}
	if len(p.Units) > 0 {
		names := make([]string, 0, len(p.Units))
		for n := range p.Units {
			names = append(names, n)
		}
		sort.Strings(names)
		parts = append(parts, "units: "+strings.Join(names, ", "))
	}
	if len(p.ServiceTiers) > 0 {
		names := make([]string, 0, len(p.ServiceTiers))
		for n := range p.ServiceTiers {
			names = append(names, n)
		}
		sort.Strings(names)
		parts = append(parts, "service tiers: "+strings.Join(names, ", "))
	}
	return strings.Join(parts, " · ")
}

// effectiveFrom reads the form's effective time: "" is now (the zero time, which
// PutPrice makes now), else a UTC date-time from a datetime-local input or RFC 3339.
func effectiveFrom(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Microsecond), nil
		}
	}
	return time.Time{}, errs.E(errs.Invalid, "invalid_effective_from", "the effective time must be a date and time (UTC) such as 2026-01-01T00:00, or empty for now")
}

// adminAddPrice is POST /admin/prices: a new version of a model (PutPrice).
func (s *Server) adminAddPrice(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f := priceForm{Model: v("model"), Input: v("input"), CachedInput: v("cached_input"), CacheWrite: v("cache_write"), Output: v("output"),
		Request: v("request"), CacheWrite1h: v("cache_write_1h"), WebSearchCall: v("web_search_call"), MaxOutputTokens: v("max_output_tokens"),
		EffectiveFrom: v("effective_from"), AudioInput: v("audio_input"), AudioOutput: v("audio_output"), ImageInput: v("image_input"),
		ImageOutput: v("image_output"), Shapes: v("shapes")}
	d := adminPricesData{adminBase: a.base("Prices", "prices"), Form: f, Model: f.Model}
	p, err := pricing.ParsePrice(f.Model, map[string]string{"input": f.Input, "cached_input": f.CachedInput, "cache_write": f.CacheWrite,
		"output": f.Output, "request": f.Request, "cache_write_1h": f.CacheWrite1h, "web_search_call": f.WebSearchCall,
		"audio_input": f.AudioInput, "audio_output": f.AudioOutput, "image_input": f.ImageInput, "image_output": f.ImageOutput, "shapes": f.Shapes}, f.MaxOutputTokens)
	if err == nil {
		p.EffectiveFrom, err = effectiveFrom(f.EffectiveFrom)
	}
	if err != nil {
		return s.pricesFailed(w, r, a, d, "version", err)
	}
	stored, created, err := s.putPrice(r, a, p)
	if err != nil {
		return s.pricesFailed(w, r, a, d, "version", err)
	}
	msg := "The version of " + stored.Model + " in effect from " + stored.EffectiveFrom.UTC().Format("2006-01-02 15:04") + " UTC already has these prices: nothing was added."
	if created {
		msg = "New version of " + stored.Model + " added, in effect from " + stored.EffectiveFrom.UTC().Format("2006-01-02 15:04") + " UTC."
	}
	http.Redirect(w, r, "/admin/prices?model="+url.QueryEscape(stored.Model)+"&done=version&msg="+url.QueryEscape(msg), http.StatusSeeOther)
	return nil
}

// putPrice adds version p (metering.Service.PutPrice) and records it in the audit log
// when it was added.
func (s *Server) putPrice(r *http.Request, a *adminRequest, p pricing.Price) (pricing.Price, bool, error) {
	ctx := r.Context()
	cat, err := s.metering.Catalog(ctx)
	if err != nil {
		return pricing.Price{}, false, err
	}
	at := p.EffectiveFrom
	if at.IsZero() {
		at = a.Now
	}
	var before map[string]string
	if cur, err := cat.At(p.Model, at); err == nil {
		before = priceFields(cur)
	}
	stored, created, err := s.metering.PutPrice(ctx, p)
	if err != nil || !created {
		return stored, created, err
	}
	s.audit(ctx, a, audit.Entry{Action: "price.put", Target: "model " + stored.Model,
		IdempotencyKey: stored.Model + "@" + stored.EffectiveFrom.Format(time.RFC3339Nano) + "@" + stored.CreatedAt.Format(time.RFC3339Nano),
		Before:         before, After: priceFields(stored)})
	return stored, true, nil
}

// priceFields is a version as the audit log records it.
func priceFields(p pricing.Price) map[string]string {
	m := map[string]string{"input": p.Input.String(), "cached_input": p.CachedInput.String(), "cache_write": p.CacheWrite.String(),
		"output": p.Output.String(), "request": p.Request.String(), "effective_from": p.EffectiveFrom.UTC().Format(time.RFC3339)}
	if p.CacheWrite1h != 0 {
		m["cache_write_1h"] = p.CacheWrite1h.String()
	}
	if p.WebSearchCall != 0 {
		m["web_search_call"] = p.WebSearchCall.String()
	}
	if p.MaxOutputTokens != 0 {
		m["max_output_tokens"] = itoa64(p.MaxOutputTokens)
	}
	for k, a := range map[string]money.Amount{"audio_input": p.AudioInput, "audio_output": p.AudioOutput, "image_input": p.ImageInput, "image_output": p.ImageOutput} {
		if a != 0 {
			m[k] = a.String()
		}
	}
	if sh := p.ShapesJSON(); sh != "" {
		m["shapes"] = sh
	}
	return m
}

// pricesFailed shows the page again with the form as typed and the domain's error.
func (s *Server) pricesFailed(w http.ResponseWriter, r *http.Request, a *adminRequest, d adminPricesData, form string, err error) error {
	switch errs.KindOf(err) {
	case errs.Invalid, errs.Conflict, errs.NotFound:
	default:
		return err
	}
	d.Error, d.ErrorCode, d.ErrorForm = userMessage(err), errs.CodeOf(err), form
	return s.renderPrices(w, r, a, d, statusOf(err))
}

var errNoCatalogFile = errs.E(errs.Invalid, "missing_file", "choose a catalog file (JSON) to import")

// adminImportPrices is POST /admin/prices/import. Without confirm=yes it reads the
// uploaded file and shows the diff against the catalog in effect, writing nothing;
// the confirm step re-posts the parsed catalog (in the list-price format), read and
// checked again, and adds a version for each new or changed model.
func (s *Server) adminImportPrices(w http.ResponseWriter, r *http.Request, a *adminRequest) error {
	ctx := r.Context()
	from := strings.TrimSpace(r.PostFormValue("effective_from"))
	d := adminPricesData{adminBase: a.base("Prices", "prices"), ImportFrom: from}
	var data []byte
	confirm := r.PostFormValue("confirm") == "yes"
	if confirm {
		data = []byte(r.PostFormValue("catalog"))
	} else {
		file, _, err := r.FormFile("file")
		if err != nil {
			return s.pricesFailed(w, r, a, d, "import", errNoCatalogFile)
		}
		defer file.Close()
		if data, err = io.ReadAll(io.LimitReader(file, pricing.MaxCatalogFile+1)); err != nil {
			return s.pricesFailed(w, r, a, d, "import", errNoCatalogFile)
		}
	}
	prices, err := pricing.ParseCatalogFile(data, s.currency)
	if err != nil {
		return s.pricesFailed(w, r, a, d, "import", err)
	}
	at, err := effectiveFrom(from)
	if err != nil {
		return s.pricesFailed(w, r, a, d, "import", err)
	}
	cat, err := s.metering.Catalog(ctx)
	if err != nil {
		return err
	}
	when := at
	if when.IsZero() {
		when = a.Now
	}
	diff := pricing.Diff(cat, prices, when)
	if !confirm {
		d.Import, d.ImportFile = diff, string(pricing.EncodeCatalogFile(prices, s.currency))
		for _, l := range diff {
			switch l.Kind {
			case pricing.DiffNew:
				d.ImportNew++
			case pricing.DiffChanged:
				d.ImportChg++
			default:
				d.ImportSame++
			}
		}
		d.ImportWrites = d.ImportNew + d.ImportChg
		return s.renderPrices(w, r, a, d, http.StatusOK)
	}
	added := 0
	for _, l := range diff {
		if l.Kind == pricing.DiffUnchanged {
			continue
		}
		p := l.New
		p.EffectiveFrom = at
		_, created, err := s.putPrice(r, a, p)
		if err != nil {
			return s.pricesFailed(w, r, a, d, "import", err)
		}
		if created {
			added++
		}
	}
	msg := "Imported: " + itoa64(int64(added)) + " new versions, " + itoa64(int64(len(diff)-added)) + " models unchanged."
	http.Redirect(w, r, "/admin/prices?done=import&msg="+url.QueryEscape(msg), http.StatusSeeOther)
	return nil
}
