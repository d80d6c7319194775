// Package pricing holds the price catalog and the cost of a usage record.
//
// Prices are per million tokens, in micro-units of currency. The exact cost of an event
// (Price.Quote) is Σ tokens × price / 1e6 computed exactly in 128 bits, plus the
// per-request fee and the per-unit prices, kept with no rounding (Exact); Cost is that
// rounded once, half-up, to a whole micro-unit. docs/pricing.md has the whole rule.
package pricing

import (
	"context"
	"regexp"
	"sort"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
)

// Price is one version of a model's prices, in effect from EffectiveFrom until the next
// version of the same model.
type Price struct {
	Model       string       `json:"model"`
	Input       money.Amount `json:"input"`        // per 1M uncached input tokens
	CachedInput money.Amount `json:"cached_input"` // per 1M cached input tokens
	CacheWrite  money.Amount `json:"cache_write"`  // per 1M cache-write tokens (Anthropic: its 5-minute writes)
	Output      money.Amount `json:"output"`       // per 1M output tokens (reasoning included)
	Request     money.Amount `json:"request"`      // flat fee per request
	// CacheWrite1h is per 1M cache-write tokens kept for an hour (Anthropic's 1-hour
	// cache, Usage.CacheWrite1h). 0: not set, those tokens are priced at CacheWrite.
	CacheWrite1h money.Amount `json:"cache_write_1h"`
	// WebSearchCall is per web search call a request made (Usage.WebSearchCalls), a flat
	// amount per call, not per million.
	WebSearchCall money.Amount `json:"web_search_call"`
	// MaxOutputTokens is the most output tokens the model produces in one completion
	// (0: not set). The gateway holds that many for a request that sets no limit of its
	// own, instead of its configured default.
	MaxOutputTokens int64     `json:"max_output_tokens,omitempty"`
	EffectiveFrom   time.Time `json:"effective_from"`
	CreatedAt       time.Time `json:"created_at"`
	// Modality rates per 1M tokens (0: not set, priced at Input / Output).
	AudioInput  money.Amount `json:"audio_input,omitempty"`
	AudioOutput money.Amount `json:"audio_output,omitempty"`
	ImageInput  money.Amount `json:"image_input,omitempty"`
	ImageOutput money.Amount `json:"image_output,omitempty"`
	// Units are per-unit prices by unit name ("web_search_call", "image_1024x1024_high");
	// WebSearchCall is the unit "web_search_call" when Units lacks it.
	Units map[string]money.Amount `json:"units,omitempty"`
	// Tiers are the context tiers, thresholds strictly increasing.
	Tiers []Tier `json:"tiers,omitempty"`
	// ServiceTiers are the service tiers with their own prices, by name.
	ServiceTiers map[string]ServiceTier `json:"service_tiers,omitempty"`
}

// MaxOutputTokensLimit bounds a price's max_output_tokens.
const MaxOutputTokensLimit = 100_000_000

var modelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$`)

// ValidModel reports whether name is an acceptable model name.
func ValidModel(name string) bool { return modelName.MatchString(name) }

// Validate checks a price version. It returns an *errs.Error with code invalid_model,
// invalid_price (a negative price), invalid_max_output_tokens, invalid_tier,
// invalid_unit or invalid_service_tier.
func (p Price) Validate() error {
	if !ValidModel(p.Model) {
		return errs.E(errs.Invalid, "invalid_model", "model name %q is not valid (letters, digits and ._:/@+- up to 128 characters)", p.Model)
	}
	if err := p.Base().validate(""); err != nil {
		return err
	}
	if p.WebSearchCall < 0 {
		return errs.E(errs.Invalid, "invalid_price", "web_search_call price must not be negative")
	}
	if err := p.validateShapes(); err != nil {
		return err
	}
	if p.MaxOutputTokens < 0 || p.MaxOutputTokens > MaxOutputTokensLimit {
		return errs.E(errs.Invalid, "invalid_max_output_tokens", "max_output_tokens must be a whole number from 1 to %d", MaxOutputTokensLimit)
	}
	if p.EffectiveFrom.IsZero() {
		return errs.E(errs.Invalid, "invalid_price", "effective_from is required")
	}
	return nil
}

// Usage is the token counts of one request, in OpenAI's meaning: Input includes
// CachedInput (cache reads), CacheWrite is apart from Input, CacheWrite includes
// CacheWrite1h, and Output includes Reasoning.
type Usage struct {
	Input       int64
	CachedInput int64
	CacheWrite  int64
	Output      int64
	Reasoning   int64
	// CacheWrite1h is the part of CacheWrite written to a 1-hour cache (Anthropic's
	// ephemeral_1h_input_tokens), priced at Price.CacheWrite1h.
	CacheWrite1h int64
	// WebSearchCalls is the number of web searches the provider ran for the request
	// (Anthropic's server_tool_use.web_search_requests; the unit "web_search_call"),
	// priced at Price.WebSearchCall each.
	WebSearchCalls int64
	// AudioInput and ImageInput are the parts of Input (uncached, so at most Input −
	// CachedInput together) that were audio and image; AudioOutput and ImageOutput the
	// parts of Output.
	AudioInput  int64
	AudioOutput int64
	ImageInput  int64
	ImageOutput int64
	// Units are counts of named units ("web_search_call" merges with WebSearchCalls).
	Units map[string]int64
	// ServiceTier is the service tier as the provider reported it ("" = default).
	ServiceTier string
}

// Validate checks that counts are non-negative and consistent.
func (u Usage) Validate() error {
	switch {
	case u.Input < 0 || u.CachedInput < 0 || u.CacheWrite < 0 || u.Output < 0 || u.Reasoning < 0 || u.CacheWrite1h < 0 || u.WebSearchCalls < 0:
		return errs.E(errs.Invalid, "negative_tokens", "token counts must not be negative")
	case u.CachedInput > u.Input:
		return errs.E(errs.Invalid, "cached_exceeds_input", "cached_input_tokens (%d) exceeds input_tokens (%d)", u.CachedInput, u.Input)
	case u.Reasoning > u.Output:
		return errs.E(errs.Invalid, "reasoning_exceeds_output", "reasoning_tokens (%d) exceeds output_tokens (%d)", u.Reasoning, u.Output)
	case u.CacheWrite1h > u.CacheWrite:
		return errs.E(errs.Invalid, "cache_write_1h_exceeds_cache_write", "cache_write_1h_tokens (%d) exceeds cache_write_tokens (%d)", u.CacheWrite1h, u.CacheWrite)
	}
	return u.validateShapes()
}

// ErrCostOverflow is returned by Cost when the cost does not fit in an Amount.
var ErrCostOverflow = errs.E(errs.Invalid, "cost_overflow", "the cost of this usage is too large to represent")

// Cost returns the cost of u at p (Price.Quote) rounded once, half-up, to a micro-unit:
// the exact token cost rounded, plus the request fee and the units.
func Cost(p Price, u Usage) (money.Amount, error) {
	q, err := p.Quote(u)
	if err != nil {
		return 0, err
	}
	if q.Cost.Frac >= 500_000 && q.Cost.Micro == money.Max {
		return 0, ErrCostOverflow
	}
	return q.Cost.Round(), nil
}

// CacheWrite1hOrDefault is the price of a 1-hour cache write: CacheWrite1h, or CacheWrite
// when it is not set.
func (p Price) CacheWrite1hOrDefault() money.Amount {
	if p.CacheWrite1h > 0 {
		return p.CacheWrite1h
	}
	return p.CacheWrite
}

// Catalog is an immutable snapshot of every price version, for lookups by model and time.
type Catalog struct {
	Version int64 // a store-defined number that changes whenever a price is added
	byModel map[string][]Price
	// lists and assigned are the price lists (by name) and workspace id → list name (WithLists).
	lists    map[string]*priceList
	assigned map[string]string
}

// NewCatalog builds a catalog snapshot from price versions in any order.
func NewCatalog(version int64, prices []Price) *Catalog {
	c := &Catalog{Version: version, byModel: map[string][]Price{}}
	for _, p := range prices {
		c.byModel[p.Model] = append(c.byModel[p.Model], p)
	}
	for _, vs := range c.byModel {
		sort.SliceStable(vs, func(i, j int) bool { return vs[i].EffectiveFrom.Before(vs[j].EffectiveFrom) })
	}
	return c
}

// At returns the price of model in effect at t: the latest version whose EffectiveFrom is
// not after t. It returns an *errs.Error with code unknown_model or no_price_in_effect.
func (c *Catalog) At(model string, t time.Time) (Price, error) {
	vs := c.byModel[model]
	if len(vs) == 0 {
		return Price{}, errs.E(errs.Invalid, "unknown_model", "model %q has no price in the catalog", model)
	}
	i := sort.Search(len(vs), func(i int) bool { return vs[i].EffectiveFrom.After(t) })
	if i == 0 {
		return Price{}, errs.E(errs.Invalid, "no_price_in_effect", "model %q has no price in effect at %s", model, t.UTC().Format(time.RFC3339))
	}
	return vs[i-1], nil
}

// Models returns the names of all models with at least one price version, sorted.
func (c *Catalog) Models() []string {
	out := make([]string, 0, len(c.byModel))
	for m := range c.byModel {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// All returns every price version, ordered by model and then EffectiveFrom.
func (c *Catalog) All() []Price {
	var out []Price
	for _, m := range c.Models() {
		out = append(out, c.byModel[m]...)
	}
	return out
}

// Store persists price versions. Implemented by internal/store.
type Store interface {
	ListStore // the price lists (liststore.go)
	// AddPrice stores a new price version. Versions are never edited.
	AddPrice(ctx context.Context, p Price) error
	// Catalog returns a snapshot of every price version.
	Catalog(ctx context.Context) (*Catalog, error)
}
