package pricing

// Importing a catalog from a file: the listing of GET /api/v1/prices
// ({"currency","models":[{"model","current":{…},"versions":[…]}]}) or a list-price
// catalog such as the shared model-prices.json ({"about","currency","unit",
// "models":[{"model","provider","input","cached_input","cache_write","output"}]}),
// read into one price per model, then compared with the catalog in effect.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
)

// MaxCatalogFile bounds an imported catalog file, in bytes.
const MaxCatalogFile = 4 << 20

// MaxCatalogModels bounds the models of one imported catalog.
const MaxCatalogModels = 5000

// fileCatalog is the union of the two formats; unknown fields are refused.
type fileCatalog struct {
	About    string      `json:"about"`
	Currency string      `json:"currency"`
	Unit     string      `json:"unit"`
	Models   []fileModel `json:"models"`
}

// fileModel is one model: a list-price entry (the price fields at the top) or a
// listing's entry (current and versions).
type fileModel struct {
	Model    string          `json:"model"`
	Provider string          `json:"provider"`
	Current  json.RawMessage `json:"current"`
	Versions json.RawMessage `json:"versions"`
	filePrice
}

// filePrice is a version's fields as text, as GET /api/v1/prices writes them.
type filePrice struct {
	PriceFields
	EffectiveFrom json.RawMessage `json:"effective_from"` // ignored: the import says when
	CreatedAt     json.RawMessage `json:"created_at"`     // ignored
}

// PriceFields are a price version's fields as PUT /api/v1/prices/{model} and a catalog
// file give them: prices per million tokens (per call for web_search_call) as decimal
// strings, nil when left out; input and output are required. MaxOutputTokens, optional,
// is the model's maximum output per completion in tokens.
//
// The shapes of issue 15 are optional: audio_input, audio_output, image_input,
// image_output (per million), units ({"name": "0.010"}, per unit), tiers
// ([{"above_input_tokens": 200000, "input": "2.50", …}]) and service_tiers
// ({"flex": {"input": …, "tiers": […], "units": {…}}}).
type PriceFields struct {
	Input           *string `json:"input"`
	CachedInput     *string `json:"cached_input"`
	CacheWrite      *string `json:"cache_write"`
	Output          *string `json:"output"`
	Request         *string `json:"request"`
	CacheWrite1h    *string `json:"cache_write_1h"`
	WebSearchCall   *string `json:"web_search_call"`
	MaxOutputTokens *int64  `json:"max_output_tokens"`
	AudioInput      *string `json:"audio_input"`
	AudioOutput     *string `json:"audio_output"`
	ImageInput      *string `json:"image_input"`
	ImageOutput     *string `json:"image_output"`
	// Units, Tiers and ServiceTiers are the version's shapes as text.
	Units        map[string]string            `json:"units"`
	Tiers        []TierFields                 `json:"tiers"`
	ServiceTiers map[string]ServiceTierFields `json:"service_tiers"`
}

// RateFields are a set of rates as text (Rates), each optional ("0" when left out).
type RateFields struct {
	Input        *string `json:"input"`
	CachedInput  *string `json:"cached_input"`
	CacheWrite   *string `json:"cache_write"`
	CacheWrite1h *string `json:"cache_write_1h"`
	Output       *string `json:"output"`
	AudioInput   *string `json:"audio_input"`
	AudioOutput  *string `json:"audio_output"`
	ImageInput   *string `json:"image_input"`
	ImageOutput  *string `json:"image_output"`
	Request      *string `json:"request"`
}

// TierFields are a context tier as text (Tier); above_input_tokens is required.
type TierFields struct {
	AboveInputTokens *int64 `json:"above_input_tokens"`
	RateFields
}

// ServiceTierFields are a service tier as text (ServiceTier).
type ServiceTierFields struct {
	RateFields
	Tiers []TierFields      `json:"tiers"`
	Units map[string]string `json:"units"`
}

// A FieldProblem is what PriceFields.Apply found wrong with one field.
type FieldProblem struct {
	Field   string // its wire name: "input", ..., "max_output_tokens", "tiers[0].input", "units.x"
	Value   string // the amount given (empty when Missing or for max_output_tokens)
	Missing bool   // a required amount was left out
	Err     error  // why money.ParseNonNegative refused Value; nil otherwise
	// Code, when set, is the problem's own code (invalid_tier, invalid_unit,
	// invalid_service_tier) and Message what it says.
	Code, Message string
}

// Error returns the problem as an *errs.Error with the API's codes, prefixed by prefix
// (such as `model "m": `).
func (fp *FieldProblem) Error(prefix string) error {
	switch {
	case fp.Code != "":
		return errs.E(errs.Invalid, fp.Code, "%s%s", prefix, fp.Message)
	case fp.Missing:
		return errs.E(errs.Invalid, "missing_price", "%s%s is required (a decimal string per million tokens, e.g. \"2.50\")", prefix, fp.Field)
	case fp.Err != nil:
		return errs.E(errs.Invalid, "invalid_price", "%s%s %q: %s", prefix, fp.Field, fp.Value, AmountProblem(fp.Err))
	}
	return errs.E(errs.Invalid, "invalid_max_output_tokens", "%smax_output_tokens must be a whole number from 1 to %d (leave it out when the model has no known maximum)", prefix, MaxOutputTokensLimit)
}

// apply parses the rates into r, each prefixed by where in a problem.
func (f RateFields) apply(r *Rates, where string) *FieldProblem {
	vals := []*string{f.Input, f.CachedInput, f.CacheWrite, f.CacheWrite1h, f.Output, f.AudioInput, f.AudioOutput, f.ImageInput, f.ImageOutput, f.Request}
	for i, fd := range r.fields() {
		if vals[i] == nil {
			continue
		}
		a, err := money.ParseNonNegative(*vals[i])
		if err != nil {
			return &FieldProblem{Field: where + fd.name, Value: *vals[i], Err: err}
		}
		*fd.a = a
	}
	return nil
}

func applyTiers(fs []TierFields, where string) ([]Tier, *FieldProblem) {
	if fs == nil {
		return nil, nil
	}
	if len(fs) > MaxTiers {
		return nil, &FieldProblem{Field: where + "tiers", Code: "invalid_tier", Message: fmt.Sprintf("%sat most %d context tiers", where, MaxTiers)}
	}
	out := make([]Tier, len(fs))
	for i, f := range fs {
		at := fmt.Sprintf("%stiers[%d].", where, i)
		if f.AboveInputTokens == nil {
			return nil, &FieldProblem{Field: at + "above_input_tokens", Code: "invalid_tier", Message: at + "above_input_tokens is required (the input tokens a request must exceed for the tier to apply)"}
		}
		out[i].AboveInputTokens = *f.AboveInputTokens
		if fp := f.RateFields.apply(&out[i].Rates, at); fp != nil {
			return nil, fp
		}
	}
	return out, nil
}

func applyUnits(fs map[string]string, where string) (map[string]money.Amount, *FieldProblem) {
	if fs == nil {
		return nil, nil
	}
	if len(fs) > MaxPriceUnits {
		return nil, &FieldProblem{Field: where + "units", Code: "invalid_unit", Message: fmt.Sprintf("%sat most %d units", where, MaxPriceUnits)}
	}
	out := make(map[string]money.Amount, len(fs))
	for _, name := range sortedKeys(fs) {
		if !ValidUnit(name) {
			return nil, &FieldProblem{Field: where + "units", Code: "invalid_unit", Message: fmt.Sprintf("%sunit name %q is not valid (lower-case letters, digits and _.:- up to 64 characters, starting with a letter or digit)", where, name)}
		}
		a, err := money.ParseNonNegative(fs[name])
		if err != nil {
			return nil, &FieldProblem{Field: where + "units." + name, Value: fs[name], Err: err}
		}
		out[name] = a
	}
	return out, nil
}

// Apply parses the fields into p, in wire order (input, cached_input, cache_write,
// output, request, cache_write_1h, web_search_call, then max_output_tokens), and returns
// the first problem: a required amount left out, an amount that is not a non-negative
// decimal, or max_output_tokens outside 1..MaxOutputTokensLimit. Fields left out keep
// p's values.
func (f PriceFields) Apply(p *Price) *FieldProblem {
	fields := []struct {
		name     string
		value    *string
		dst      *money.Amount
		required bool
	}{
		{"input", f.Input, &p.Input, true},
		{"cached_input", f.CachedInput, &p.CachedInput, false},
		{"cache_write", f.CacheWrite, &p.CacheWrite, false},
		{"output", f.Output, &p.Output, true},
		{"request", f.Request, &p.Request, false},
		{"cache_write_1h", f.CacheWrite1h, &p.CacheWrite1h, false},
		{"web_search_call", f.WebSearchCall, &p.WebSearchCall, false},
		{"audio_input", f.AudioInput, &p.AudioInput, false},
		{"audio_output", f.AudioOutput, &p.AudioOutput, false},
		{"image_input", f.ImageInput, &p.ImageInput, false},
		{"image_output", f.ImageOutput, &p.ImageOutput, false},
	}
	for _, fd := range fields {
		if fd.value == nil {
			if fd.required {
				return &FieldProblem{Field: fd.name, Missing: true}
			}
			continue
		}
		a, err := money.ParseNonNegative(*fd.value)
		if err != nil {
			return &FieldProblem{Field: fd.name, Value: *fd.value, Err: err}
		}
		*fd.dst = a
	}
	if f.MaxOutputTokens != nil {
		if *f.MaxOutputTokens < 1 || *f.MaxOutputTokens > MaxOutputTokensLimit {
			return &FieldProblem{Field: "max_output_tokens"}
		}
		p.MaxOutputTokens = *f.MaxOutputTokens
	}
	var fp *FieldProblem
	if f.Units != nil {
		if p.Units, fp = applyUnits(f.Units, ""); fp != nil {
			return fp
		}
	}
	if f.Tiers != nil {
		if p.Tiers, fp = applyTiers(f.Tiers, ""); fp != nil {
			return fp
		}
	}
	if f.ServiceTiers != nil {
		if len(f.ServiceTiers) > MaxServiceTiers {
			return &FieldProblem{Field: "service_tiers", Code: "invalid_service_tier", Message: fmt.Sprintf("at most %d service tiers", MaxServiceTiers)}
		}
		p.ServiceTiers = make(map[string]ServiceTier, len(f.ServiceTiers))
		for _, name := range sortedKeys(f.ServiceTiers) {
			sf := f.ServiceTiers[name]
			if !ValidServiceTier(name) || name == DefaultServiceTier {
				return &FieldProblem{Field: "service_tiers", Code: "invalid_service_tier", Message: fmt.Sprintf("service tier name %q is not valid (lower-case letters, digits and _- up to 32 characters; \"default\" is the base prices)", name)}
			}
			where := "service_tiers." + name + "."
			var st ServiceTier
			if fp = sf.RateFields.apply(&st.Rates, where); fp != nil {
				return fp
			}
			if st.Tiers, fp = applyTiers(sf.Tiers, where); fp != nil {
				return fp
			}
			if st.Units, fp = applyUnits(sf.Units, where); fp != nil {
				return fp
			}
			p.ServiceTiers[name] = st
		}
	}
	return nil
}

// listingVersion is a version of GET /api/v1/prices, read strictly.
type listingVersion struct {
	Model string `json:"model"`
	filePrice
}

// ParseCatalogFile reads a catalog file into one price per model (file order), for
// the deployment's currency. A listing's model takes its current version, else its
// latest. Prices are per million tokens as decimal strings; input and output are
// required. Errors (errs.Invalid): invalid_json, unknown_field, empty_catalog,
// too_many_models, currency_mismatch, duplicate_model, invalid_model, missing_price,
// invalid_price, invalid_max_output_tokens — each naming the model at fault.
func ParseCatalogFile(data []byte, currency string) ([]Price, error) {
	if len(data) > MaxCatalogFile {
		return nil, errs.E(errs.Invalid, "file_too_large", "the catalog file is larger than %d MB", MaxCatalogFile>>20)
	}
	var f fileCatalog
	if err := strictDecode(data, &f); err != nil {
		return nil, err
	}
	if f.Currency != "" && !strings.EqualFold(f.Currency, currency) {
		return nil, errs.E(errs.Invalid, "currency_mismatch", "the file's prices are in %s; this deployment's currency is %s", f.Currency, currency)
	}
	if len(f.Models) == 0 {
		return nil, errs.E(errs.Invalid, "empty_catalog", `the file has no models: expected {"models":[{"model":"…","input":"…","output":"…"}, …]}`)
	}
	if len(f.Models) > MaxCatalogModels {
		return nil, errs.E(errs.Invalid, "too_many_models", "a catalog file holds at most %d models", MaxCatalogModels)
	}
	out := make([]Price, 0, len(f.Models))
	seen := map[string]bool{}
	for i, m := range f.Models {
		fp, err := m.price(i)
		if err != nil {
			return nil, err
		}
		p, err := fp.toPrice(m.Model)
		if err != nil {
			return nil, err
		}
		if seen[p.Model] {
			return nil, errs.E(errs.Invalid, "duplicate_model", "model %q appears twice in the file", p.Model)
		}
		seen[p.Model] = true
		out = append(out, p)
	}
	return out, nil
}

// price returns the fields of model entry i: its own, or its listing's version.
func (m fileModel) price(i int) (filePrice, error) {
	listing := isSet(m.Current) || isSet(m.Versions)
	if !listing {
		return m.filePrice, nil
	}
	if m.Input != nil || m.Output != nil {
		return filePrice{}, errs.E(errs.Invalid, "invalid_json", "model %q: either prices or current/versions, not both", m.Model)
	}
	raw := m.Current
	if !isSet(raw) {
		var vs []json.RawMessage
		if err := strictDecode(m.Versions, &vs); err != nil {
			return filePrice{}, err
		}
		if len(vs) == 0 {
			return filePrice{}, errs.E(errs.Invalid, "missing_price", "model %q has no current price and no versions", m.Model)
		}
		raw = vs[len(vs)-1]
	}
	var v listingVersion
	if err := strictDecode(raw, &v); err != nil {
		return filePrice{}, err
	}
	if v.Model != "" && v.Model != m.Model {
		return filePrice{}, errs.E(errs.Invalid, "invalid_json", "models[%d]: the version is of %q, not %q", i, v.Model, m.Model)
	}
	return v.filePrice, nil
}

func isSet(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

// toPrice parses the fields of model's version, with the API's codes and rules.
func (f filePrice) toPrice(model string) (Price, error) {
	p := Price{Model: model}
	if !ValidModel(model) {
		return p, errs.E(errs.Invalid, "invalid_model", "model name %q is not valid (letters, digits and ._:/@+- up to 128 characters)", model)
	}
	if fp := f.Apply(&p); fp != nil {
		return p, fp.Error(fmt.Sprintf("model %q: ", model))
	}
	check := p
	check.EffectiveFrom = time.Unix(1, 0) // the import sets it; the rest is checked now
	if err := check.Validate(); err != nil {
		if e, ok := err.(*errs.Error); ok && e.Code != "invalid_model" {
			return p, errs.E(e.Kind, e.Code, "model %q: %s", model, e.Message)
		}
		return p, err
	}
	return p, nil
}

// AmountProblem says what is wrong with an amount that money's parsers refused.
func AmountProblem(err error) string {
	for _, e := range []error{money.ErrEmpty, money.ErrSyntax, money.ErrPrecision, money.ErrOverflow, money.ErrNegative, money.ErrNotPositive} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "not a decimal amount"
}

// strictDecode decodes one JSON value into v, refusing unknown fields and trailing data,
// with invalid_json or unknown_field.
func strictDecode(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return errs.E(errs.Invalid, "unknown_field", "the file has a field this catalog format does not know: %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		case errors.As(err, &syn):
			return errs.E(errs.Invalid, "invalid_json", "the file is not valid JSON (at byte %d): %s", syn.Offset, syn.Error())
		case errors.As(err, &typ):
			return errs.E(errs.Invalid, "invalid_json", "field %s must be %s, not a JSON %s", typ.Field, typeName(typ), typ.Value)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return errs.E(errs.Invalid, "invalid_json", "the file is empty or cut short")
		}
		return errs.E(errs.Invalid, "invalid_json", "the file is not a catalog: %s", err.Error())
	}
	if _, err := d.Token(); err != io.EOF {
		return errs.E(errs.Invalid, "invalid_json", "the file holds more than one JSON value")
	}
	return nil
}

func typeName(e *json.UnmarshalTypeError) string {
	switch e.Type.Kind().String() {
	case "string", "ptr":
		return "a string"
	case "slice":
		return "a list"
	case "struct":
		return "an object"
	}
	return "a " + e.Type.Kind().String()
}

// The kinds of a model in a CatalogDiff.
const (
	DiffNew       = "new"
	DiffChanged   = "changed"
	DiffUnchanged = "unchanged"
)

// DiffLine is one imported model against the catalog: Old is the version in effect at
// the import's time (nil for a new model).
type DiffLine struct {
	Kind string
	New  Price
	Old  *Price
}

// ShapesChanged reports whether the line's new version differs from the old one in its
// modality rates, units, tiers or service tiers (what the import's table does not show).
func (l DiffLine) ShapesChanged() bool {
	if l.Old == nil {
		return l.New.ShapesJSON() != "" || l.New.AudioInput != 0 || l.New.AudioOutput != 0 || l.New.ImageInput != 0 || l.New.ImageOutput != 0
	}
	o, n := *l.Old, l.New
	return o.ShapesJSON() != n.ShapesJSON() || o.AudioInput != n.AudioInput || o.AudioOutput != n.AudioOutput ||
		o.ImageInput != n.ImageInput || o.ImageOutput != n.ImageOutput
}

// Diff compares imported prices with cat at t: each is new (no price in effect),
// changed (SameCharges false) or unchanged.
func Diff(cat *Catalog, imported []Price, t time.Time) []DiffLine {
	out := make([]DiffLine, 0, len(imported))
	for _, p := range imported {
		l := DiffLine{Kind: DiffNew, New: p}
		if cur, err := cat.At(p.Model, t); err == nil {
			l.Old = &cur
			l.Kind = DiffChanged
			if SameCharges(cur, p) {
				l.Kind = DiffUnchanged
			}
		}
		out = append(out, l)
	}
	return out
}

// SameCharges reports whether two versions charge the same and cap output the same:
// every flat field, and the same units, tiers and service tiers (ShapesJSON).
func SameCharges(a, b Price) bool {
	return a.Base() == b.Base() && a.MaxOutputTokens == b.MaxOutputTokens && a.WebSearchCall == b.WebSearchCall &&
		a.ShapesJSON() == b.ShapesJSON()
}

// EncodeCatalogFile writes prices in the list-price format ParseCatalogFile reads back:
// what a confirm step re-posts.
func EncodeCatalogFile(prices []Price, currency string) []byte {
	type entry struct {
		Model           string                  `json:"model"`
		Input           string                  `json:"input"`
		CachedInput     string                  `json:"cached_input"`
		CacheWrite      string                  `json:"cache_write"`
		Output          string                  `json:"output"`
		Request         string                  `json:"request"`
		CacheWrite1h    string                  `json:"cache_write_1h"`
		WebSearchCall   string                  `json:"web_search_call"`
		MaxOutputTokens *int64                  `json:"max_output_tokens,omitempty"`
		AudioInput      money.Amount            `json:"audio_input,omitempty"`
		AudioOutput     money.Amount            `json:"audio_output,omitempty"`
		ImageInput      money.Amount            `json:"image_input,omitempty"`
		ImageOutput     money.Amount            `json:"image_output,omitempty"`
		Units           map[string]money.Amount `json:"units,omitempty"`
		Tiers           []Tier                  `json:"tiers,omitempty"`
		ServiceTiers    map[string]ServiceTier  `json:"service_tiers,omitempty"`
	}
	out := struct {
		Currency string  `json:"currency"`
		Models   []entry `json:"models"`
	}{Currency: currency}
	for _, p := range prices {
		e := entry{Model: p.Model, Input: p.Input.String(), CachedInput: p.CachedInput.String(), CacheWrite: p.CacheWrite.String(),
			Output: p.Output.String(), Request: p.Request.String(), CacheWrite1h: p.CacheWrite1h.String(), WebSearchCall: p.WebSearchCall.String(),
			AudioInput: p.AudioInput, AudioOutput: p.AudioOutput, ImageInput: p.ImageInput, ImageOutput: p.ImageOutput,
			Units: p.Units, Tiers: p.Tiers, ServiceTiers: p.ServiceTiers}
		if p.MaxOutputTokens > 0 {
			m := p.MaxOutputTokens
			e.MaxOutputTokens = &m
		}
		out.Models = append(out.Models, e)
	}
	b, err := json.Marshal(out)
	if err != nil {
		panic(fmt.Sprintf("pricing: encode catalog: %v", err)) // strings and ints only
	}
	return b
}

// ShapesText is the form text of a version's units, tiers and service tiers: a JSON object
// {"units": {…}, "tiers": […], "service_tiers": {…}} as the API writes them, indented; ""
// when the version has none.
func ShapesText(p Price) string {
	if p.ShapesJSON() == "" {
		return ""
	}
	b, err := json.MarshalIndent(shapesJSON{Units: p.Units, Tiers: p.Tiers, ServiceTiers: p.ServiceTiers}, "", "  ")
	if err != nil {
		panic("pricing: encode shapes: " + err.Error())
	}
	return string(b)
}

// ParsePrice reads one version of model from form text: text holds the price fields
// by their API names (input, cached_input, cache_write, output, request,
// cache_write_1h, web_search_call, audio_input, audio_output, image_input,
// image_output) as decimal strings, an empty one taken as absent (input and output are
// required), and "shapes", the JSON object ShapesText writes (units, tiers,
// service_tiers; empty: none); maxOutputTokens is "" or a whole number. The codes are
// the API's (missing_price, invalid_price, invalid_max_output_tokens, invalid_model,
// invalid_tier, invalid_unit, invalid_service_tier) and invalid_shapes for shapes that
// are not such an object.
func ParsePrice(model string, text map[string]string, maxOutputTokens string) (Price, error) {
	get := func(k string) *string {
		if v := strings.TrimSpace(text[k]); v != "" {
			return &v
		}
		return nil
	}
	f := filePrice{PriceFields: PriceFields{Input: get("input"), CachedInput: get("cached_input"), CacheWrite: get("cache_write"),
		Output: get("output"), Request: get("request"), CacheWrite1h: get("cache_write_1h"), WebSearchCall: get("web_search_call"),
		AudioInput: get("audio_input"), AudioOutput: get("audio_output"), ImageInput: get("image_input"), ImageOutput: get("image_output")}}
	if sh := strings.TrimSpace(text["shapes"]); sh != "" {
		var shapes struct {
			Units        map[string]string            `json:"units"`
			Tiers        []TierFields                 `json:"tiers"`
			ServiceTiers map[string]ServiceTierFields `json:"service_tiers"`
		}
		if err := strictDecode([]byte(sh), &shapes); err != nil {
			msg := err.Error()
			if e, ok := err.(*errs.Error); ok {
				msg = e.Message
			}
			return Price{Model: model}, errs.E(errs.Invalid, "invalid_shapes", "the tiers, units and service tiers must be a JSON object {\"units\": {…}, \"tiers\": […], \"service_tiers\": {…}}: %s", strings.ReplaceAll(msg, "the file", "it"))
		}
		f.Units, f.Tiers, f.ServiceTiers = shapes.Units, shapes.Tiers, shapes.ServiceTiers
	}
	if m := strings.TrimSpace(maxOutputTokens); m != "" {
		var n int64
		if _, err := fmt.Sscan(m, &n); err != nil || fmt.Sprint(n) != m {
			return Price{Model: model}, errs.E(errs.Invalid, "invalid_max_output_tokens", "max_output_tokens must be a whole number from 1 to %d (leave it empty when the model has no known maximum)", MaxOutputTokensLimit)
		}
		f.MaxOutputTokens = &n
	}
	return f.toPrice(strings.TrimSpace(model))
}
