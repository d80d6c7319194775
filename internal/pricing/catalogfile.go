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
type PriceFields struct {
	Input           *string `json:"input"`
	CachedInput     *string `json:"cached_input"`
	CacheWrite      *string `json:"cache_write"`
	Output          *string `json:"output"`
	Request         *string `json:"request"`
	CacheWrite1h    *string `json:"cache_write_1h"`
	WebSearchCall   *string `json:"web_search_call"`
	MaxOutputTokens *int64  `json:"max_output_tokens"`
}

// A FieldProblem is what PriceFields.Apply found wrong with one field.
type FieldProblem struct {
	Field   string // its wire name: "input", ..., "max_output_tokens"
	Value   string // the amount given (empty when Missing or for max_output_tokens)
	Missing bool   // a required amount was left out
	Err     error  // why money.ParseNonNegative refused Value; nil otherwise
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
		switch {
		case fp.Missing:
			return p, errs.E(errs.Invalid, "missing_price", "model %q: %s is required (a decimal string per million tokens, e.g. \"2.50\")", model, fp.Field)
		case fp.Err != nil:
			return p, errs.E(errs.Invalid, "invalid_price", "model %q: %s %q: %s", model, fp.Field, fp.Value, AmountProblem(fp.Err))
		default:
			return p, errs.E(errs.Invalid, "invalid_max_output_tokens", "model %q: max_output_tokens must be a whole number from 1 to %d", model, MaxOutputTokensLimit)
		}
	}
	check := p
	check.EffectiveFrom = time.Unix(1, 0) // the import sets it; the rest is checked now
	if err := check.Validate(); err != nil {
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

// SameCharges reports whether two versions charge the same and cap output the same.
func SameCharges(a, b Price) bool {
	return a.Input == b.Input && a.CachedInput == b.CachedInput && a.CacheWrite == b.CacheWrite &&
		a.Output == b.Output && a.Request == b.Request && a.MaxOutputTokens == b.MaxOutputTokens &&
		a.CacheWrite1h == b.CacheWrite1h && a.WebSearchCall == b.WebSearchCall
}

// EncodeCatalogFile writes prices in the list-price format ParseCatalogFile reads back:
// what a confirm step re-posts.
func EncodeCatalogFile(prices []Price, currency string) []byte {
	type entry struct {
		Model           string `json:"model"`
		Input           string `json:"input"`
		CachedInput     string `json:"cached_input"`
		CacheWrite      string `json:"cache_write"`
		Output          string `json:"output"`
		Request         string `json:"request"`
		CacheWrite1h    string `json:"cache_write_1h"`
		WebSearchCall   string `json:"web_search_call"`
		MaxOutputTokens *int64 `json:"max_output_tokens,omitempty"`
	}
	out := struct {
		Currency string  `json:"currency"`
		Models   []entry `json:"models"`
	}{Currency: currency}
	for _, p := range prices {
		e := entry{Model: p.Model, Input: p.Input.String(), CachedInput: p.CachedInput.String(), CacheWrite: p.CacheWrite.String(),
			Output: p.Output.String(), Request: p.Request.String(), CacheWrite1h: p.CacheWrite1h.String(), WebSearchCall: p.WebSearchCall.String()}
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

// ParsePrice reads one version of model from form text: text holds the price fields
// by their API names (input, cached_input, cache_write, output, request,
// cache_write_1h, web_search_call) as decimal strings, an empty one taken as absent
// (input and output are required); maxOutputTokens is "" or a whole number. The codes
// are the API's (missing_price, invalid_price, invalid_max_output_tokens, invalid_model).
func ParsePrice(model string, text map[string]string, maxOutputTokens string) (Price, error) {
	get := func(k string) *string {
		if v := strings.TrimSpace(text[k]); v != "" {
			return &v
		}
		return nil
	}
	f := filePrice{PriceFields: PriceFields{Input: get("input"), CachedInput: get("cached_input"), CacheWrite: get("cache_write"),
		Output: get("output"), Request: get("request"), CacheWrite1h: get("cache_write_1h"), WebSearchCall: get("web_search_call")}}
	if m := strings.TrimSpace(maxOutputTokens); m != "" {
		var n int64
		if _, err := fmt.Sscan(m, &n); err != nil || fmt.Sprint(n) != m {
			return Price{Model: model}, errs.E(errs.Invalid, "invalid_max_output_tokens", "max_output_tokens must be a whole number from 1 to %d (leave it empty when the model has no known maximum)", MaxOutputTokensLimit)
		}
		f.MaxOutputTokens = &n
	}
	return f.toPrice(strings.TrimSpace(model))
}
