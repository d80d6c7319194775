package pricing

// The shapes of a price beyond one flat rate per token kind (issue 15): context tiers,
// modality rates, named units, service tiers, price lists, and the exact cost of a request.
// docs/pricing.md says how a request is priced.

import (
	"bytes"
	"encoding/json"
	"math"
	"math/bits"
	"regexp"
	"sort"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
)

// Rates are one set of prices: per 1M tokens in micro-units, and the flat request fee.
type Rates struct {
	Input        money.Amount `json:"input,omitempty"` // per 1M uncached text input tokens
	CachedInput  money.Amount `json:"cached_input,omitempty"`
	CacheWrite   money.Amount `json:"cache_write,omitempty"`
	CacheWrite1h money.Amount `json:"cache_write_1h,omitempty"` // 0: at CacheWrite
	Output       money.Amount `json:"output,omitempty"`         // per 1M text output tokens (reasoning included)
	AudioInput   money.Amount `json:"audio_input,omitempty"`    // 0: not set, audio input tokens at Input
	AudioOutput  money.Amount `json:"audio_output,omitempty"`   // 0: at Output
	ImageInput   money.Amount `json:"image_input,omitempty"`    // 0: at Input
	ImageOutput  money.Amount `json:"image_output,omitempty"`   // 0: at Output
	Request      money.Amount `json:"request,omitempty"`
}

// Tier is a context tier: when a request's input tokens exceed AboveInputTokens, its rates
// apply to the whole request (a rate left 0 in a tier is the base rate). The highest
// exceeded threshold wins.
type Tier struct {
	AboveInputTokens int64 `json:"above_input_tokens"`
	Rates
}

// ServiceTier is a service tier's own prices ("flex", "priority", "batch"); its Tiers and
// Units, when empty, are the base version's. Its Rates are complete: a rate left 0 is 0
// (except the fallbacks every Rates has: cache_write_1h at cache_write, modalities at text).
type ServiceTier struct {
	Rates
	Tiers []Tier                  `json:"tiers,omitempty"`
	Units map[string]money.Amount `json:"units,omitempty"`
}

// Limits of a price version's shapes and of a request's units.
const (
	MaxTiers        = 16        // context tiers per version (and per service tier)
	MaxServiceTiers = 8         // service tiers per version
	MaxPriceUnits   = 64        // unit prices per version (and per service tier)
	MaxUsageUnits   = 16        // units per event
	MaxUnitCount    = 100000000 // count of one unit in one event
)

// DefaultServiceTier is the name of the base prices' service tier ("" in a Usage).
const DefaultServiceTier = "default"

// UnitWebSearchCall is the unit of the old web_search_call price and web_search_calls count.
const UnitWebSearchCall = "web_search_call"

var (
	unitName        = regexp.MustCompile(`^[a-z0-9][a-z0-9_.:-]{0,63}$`)
	serviceTierName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	priceListName   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

// ValidUnit reports whether name is an acceptable unit name.
func ValidUnit(name string) bool { return unitName.MatchString(name) }

// ValidServiceTier reports whether name is an acceptable service tier name ("default" included).
func ValidServiceTier(name string) bool { return serviceTierName.MatchString(name) }

// ValidPriceList reports whether name is an acceptable price list name.
func ValidPriceList(name string) bool { return priceListName.MatchString(name) }

// ValidPriceListName is ValidPriceList.
func ValidPriceListName(name string) bool { return ValidPriceList(name) }

// Base returns the version's base rates: its flat fields.
func (p Price) Base() Rates {
	return Rates{Input: p.Input, CachedInput: p.CachedInput, CacheWrite: p.CacheWrite, CacheWrite1h: p.CacheWrite1h, Output: p.Output,
		AudioInput: p.AudioInput, AudioOutput: p.AudioOutput, ImageInput: p.ImageInput, ImageOutput: p.ImageOutput, Request: p.Request}
}

// setBase sets the version's flat fields from r.
func (p *Price) setBase(r Rates) {
	p.Input, p.CachedInput, p.CacheWrite, p.CacheWrite1h, p.Output = r.Input, r.CachedInput, r.CacheWrite, r.CacheWrite1h, r.Output
	p.AudioInput, p.AudioOutput, p.ImageInput, p.ImageOutput, p.Request = r.AudioInput, r.AudioOutput, r.ImageInput, r.ImageOutput, r.Request
}

// BaseUnits returns the version's unit prices: Units, with the old WebSearchCall field as
// the unit "web_search_call" when Units lacks it and WebSearchCall is set (> 0).
func (p Price) BaseUnits() map[string]money.Amount {
	if p.WebSearchCall <= 0 {
		return p.Units
	}
	if _, ok := p.Units[UnitWebSearchCall]; ok {
		return p.Units
	}
	out := make(map[string]money.Amount, len(p.Units)+1)
	for k, v := range p.Units {
		out[k] = v
	}
	out[UnitWebSearchCall] = p.WebSearchCall
	return out
}

// fields lists the rates by wire name, in wire order.
func (r *Rates) fields() []struct {
	name string
	a    *money.Amount
} {
	return []struct {
		name string
		a    *money.Amount
	}{{"input", &r.Input}, {"cached_input", &r.CachedInput}, {"cache_write", &r.CacheWrite}, {"cache_write_1h", &r.CacheWrite1h},
		{"output", &r.Output}, {"audio_input", &r.AudioInput}, {"audio_output", &r.AudioOutput}, {"image_input", &r.ImageInput},
		{"image_output", &r.ImageOutput}, {"request", &r.Request}}
}

// IsZero reports whether every rate is 0.
func (r Rates) IsZero() bool { return r == Rates{} }

// over returns r with every non-zero rate of t in place of r's (a tier over its base).
func (r Rates) over(t Rates) Rates {
	pick := func(base, tier money.Amount) money.Amount {
		if tier != 0 {
			return tier
		}
		return base
	}
	return Rates{Input: pick(r.Input, t.Input), CachedInput: pick(r.CachedInput, t.CachedInput), CacheWrite: pick(r.CacheWrite, t.CacheWrite),
		CacheWrite1h: pick(r.CacheWrite1h, t.CacheWrite1h), Output: pick(r.Output, t.Output), AudioInput: pick(r.AudioInput, t.AudioInput),
		AudioOutput: pick(r.AudioOutput, t.AudioOutput), ImageInput: pick(r.ImageInput, t.ImageInput), ImageOutput: pick(r.ImageOutput, t.ImageOutput),
		Request: pick(r.Request, t.Request)}
}

// effective resolves the fallbacks: cache_write_1h at cache_write, audio and image input at
// input, audio and image output at output, each when 0.
func (r Rates) effective() Rates {
	or := func(a, b money.Amount) money.Amount {
		if a != 0 {
			return a
		}
		return b
	}
	r.CacheWrite1h = or(r.CacheWrite1h, r.CacheWrite)
	r.AudioInput = or(r.AudioInput, r.Input)
	r.ImageInput = or(r.ImageInput, r.Input)
	r.AudioOutput = or(r.AudioOutput, r.Output)
	r.ImageOutput = or(r.ImageOutput, r.Output)
	return r
}

func (r Rates) validate(where string) error {
	for _, f := range r.fields() {
		if *f.a < 0 {
			return errs.E(errs.Invalid, "invalid_price", "%s%s price must not be negative", where, f.name)
		}
	}
	return nil
}

func validateTiers(tiers []Tier, where string) error {
	if len(tiers) > MaxTiers {
		return errs.E(errs.Invalid, "invalid_tier", "%sat most %d context tiers", where, MaxTiers)
	}
	prev := int64(0)
	for i, t := range tiers {
		if t.AboveInputTokens <= prev {
			if i == 0 {
				return errs.E(errs.Invalid, "invalid_tier", "%stiers[0].above_input_tokens must be greater than 0", where)
			}
			return errs.E(errs.Invalid, "invalid_tier", "%stiers[%d].above_input_tokens (%d) must be greater than the tier before's (%d): thresholds strictly increase", where, i, t.AboveInputTokens, prev)
		}
		if t.Rates.IsZero() {
			return errs.E(errs.Invalid, "invalid_tier", "%stiers[%d] (above %d input tokens) sets no price", where, i, t.AboveInputTokens)
		}
		if err := t.Rates.validate(where + "tiers[" + itoa(int64(i)) + "]."); err != nil {
			return err
		}
		prev = t.AboveInputTokens
	}
	return nil
}

func validateUnitPrices(units map[string]money.Amount, where string) error {
	if len(units) > MaxPriceUnits {
		return errs.E(errs.Invalid, "invalid_unit", "%sat most %d units", where, MaxPriceUnits)
	}
	for _, name := range sortedKeys(units) {
		if !ValidUnit(name) {
			return errs.E(errs.Invalid, "invalid_unit", "%sunit name %q is not valid (lower-case letters, digits and _.:- up to 64 characters, starting with a letter or digit)", where, name)
		}
		if units[name] < 0 {
			return errs.E(errs.Invalid, "invalid_price", "%sunits.%s price must not be negative", where, name)
		}
	}
	return nil
}

// validateShapes checks the shapes of p beyond its flat fields.
func (p Price) validateShapes() error {
	if err := validateTiers(p.Tiers, ""); err != nil {
		return err
	}
	if err := validateUnitPrices(p.Units, ""); err != nil {
		return err
	}
	if v, ok := p.Units[UnitWebSearchCall]; ok && p.WebSearchCall != 0 && v != p.WebSearchCall {
		return errs.E(errs.Invalid, "invalid_unit", "web_search_call (%s) and units.web_search_call (%s) differ; give one", p.WebSearchCall, v)
	}
	if len(p.ServiceTiers) > MaxServiceTiers {
		return errs.E(errs.Invalid, "invalid_service_tier", "at most %d service tiers", MaxServiceTiers)
	}
	for _, name := range sortedKeys(p.ServiceTiers) {
		st := p.ServiceTiers[name]
		if !ValidServiceTier(name) || name == DefaultServiceTier {
			return errs.E(errs.Invalid, "invalid_service_tier", "service tier name %q is not valid (lower-case letters, digits and _- up to 32 characters; \"default\" is the base prices)", name)
		}
		if st.Rates.IsZero() && len(st.Tiers) == 0 && len(st.Units) == 0 {
			return errs.E(errs.Invalid, "invalid_service_tier", "service tier %q sets no price", name)
		}
		where := "service_tiers." + name + "."
		if err := st.Rates.validate(where); err != nil {
			return err
		}
		if err := validateTiers(st.Tiers, where); err != nil {
			return err
		}
		if err := validateUnitPrices(st.Units, where); err != nil {
			return err
		}
	}
	return nil
}

// validateShapes checks the modality, unit and service tier fields of u.
func (u Usage) validateShapes() error {
	switch {
	case u.AudioInput < 0 || u.AudioOutput < 0 || u.ImageInput < 0 || u.ImageOutput < 0:
		return errs.E(errs.Invalid, "negative_tokens", "token counts must not be negative")
	case u.CachedInput <= u.Input && (u.AudioInput > u.Input-u.CachedInput || u.ImageInput > u.Input-u.CachedInput-u.AudioInput):
		return errs.E(errs.Invalid, "modality_exceeds_input", "audio (%d) and image (%d) input tokens exceed the uncached input tokens (%d input, %d cached)", u.AudioInput, u.ImageInput, u.Input, u.CachedInput)
	case u.AudioOutput > u.Output || u.ImageOutput > u.Output-u.AudioOutput:
		return errs.E(errs.Invalid, "modality_exceeds_output", "audio (%d) and image (%d) output tokens exceed the output tokens (%d)", u.AudioOutput, u.ImageOutput, u.Output)
	case u.ServiceTier != "" && !ValidServiceTier(u.ServiceTier):
		return errs.E(errs.Invalid, "invalid_service_tier", "service tier %q is not valid (lower-case letters, digits and _- up to 32 characters)", u.ServiceTier)
	case len(u.Units) > MaxUsageUnits:
		return errs.E(errs.Invalid, "invalid_unit", "at most %d units per event", MaxUsageUnits)
	}
	for name, n := range u.Units {
		if !ValidUnit(name) {
			return errs.E(errs.Invalid, "invalid_unit", "unit name %q is not valid (lower-case letters, digits and _.:- up to 64 characters, starting with a letter or digit)", name)
		}
		if n < 0 || n > MaxUnitCount {
			return errs.E(errs.Invalid, "invalid_unit", "units.%s must be a whole number from 0 to %d", name, MaxUnitCount)
		}
	}
	if n, ok := u.Units[UnitWebSearchCall]; ok && u.WebSearchCalls != 0 && n != u.WebSearchCalls {
		return errs.E(errs.Invalid, "invalid_unit", "web_search_calls (%d) and units.web_search_call (%d) differ; give one", u.WebSearchCalls, n)
	}
	if u.WebSearchCalls > MaxUnitCount {
		return errs.E(errs.Invalid, "invalid_unit", "web_search_calls must be a whole number from 0 to %d", MaxUnitCount)
	}
	return nil
}

// UnitCounts returns u's units with the old WebSearchCalls field as the unit
// "web_search_call" (when Units lacks it): the counts a request is charged for. Zero
// counts are left out.
func (u Usage) UnitCounts() map[string]int64 {
	if len(u.Units) == 0 && u.WebSearchCalls == 0 {
		return nil
	}
	out := make(map[string]int64, len(u.Units)+1)
	for k, n := range u.Units {
		if n != 0 {
			out[k] = n
		}
	}
	if _, ok := u.Units[UnitWebSearchCall]; !ok && u.WebSearchCalls != 0 {
		out[UnitWebSearchCall] = u.WebSearchCalls
	}
	return out
}

// Exact is an exact non-negative amount: Micro + Frac/1e6 micro-units (0 ≤ Frac < 1e6).
type Exact struct {
	Micro money.Amount
	Frac  int64
}

// ExactOf returns a as an Exact.
func ExactOf(a money.Amount) Exact { return Exact{Micro: a} }

// Round returns x rounded half-up to a micro-unit (money.Max when that does not fit).
func (x Exact) Round() money.Amount {
	if x.Frac >= 500_000 && x.Micro < money.Max {
		return x.Micro + 1
	}
	return x.Micro
}

// Ceil returns x rounded up to a micro-unit (money.Max when that does not fit).
func (x Exact) Ceil() money.Amount {
	if x.Frac > 0 && x.Micro < money.Max {
		return x.Micro + 1
	}
	return x.Micro
}

// IsZero reports whether x is 0.
func (x Exact) IsZero() bool { return x == Exact{} }

// Cmp compares x and y: -1, 0 or +1.
func (x Exact) Cmp(y Exact) int {
	switch {
	case x.Micro < y.Micro || (x.Micro == y.Micro && x.Frac < y.Frac):
		return -1
	case x == y:
		return 0
	}
	return 1
}

// String formats x in currency units with 12 decimals, e.g. "0.000000200000".
func (x Exact) String() string {
	m := uint64(x.Micro)
	if x.Micro < 0 { // not an Exact's value; shown, not hidden
		return "-" + Exact{Micro: -x.Micro, Frac: x.Frac}.String()
	}
	return strconvU(m/money.Scale) + "." + pad6(m%money.Scale) + pad6(uint64(x.Frac))
}

// MarshalText encodes x as its String, so JSON carries "0.000000200000".
func (x Exact) MarshalText() ([]byte, error) { return []byte(x.String()), nil }

// UnmarshalText parses x with ParseExact.
func (x *Exact) UnmarshalText(b []byte) error {
	v, err := ParseExact(string(b))
	if err != nil {
		return err
	}
	*x = v
	return nil
}

// ParseExact reads a non-negative decimal with at most 12 decimals, such as
// "0.000000200000" or "1.5", into an Exact. Errors: invalid_exact.
func ParseExact(s string) (Exact, error) {
	bad := errs.E(errs.Invalid, "invalid_exact", "%q is not an exact amount (a non-negative decimal with at most 12 decimals)", s)
	ip, fp, _ := strings.Cut(s, ".")
	if ip == "" || len(fp) > 12 || !allDigits(ip) || !allDigits(fp) || (strings.Contains(s, ".") && fp == "") {
		return Exact{}, bad
	}
	fp += strings.Repeat("0", 12-len(fp))
	m, err := money.ParseNonNegative(ip + "." + fp[:6])
	if err != nil {
		return Exact{}, bad
	}
	var frac int64
	for _, c := range fp[6:] {
		frac = frac*10 + int64(c-'0')
	}
	return Exact{Micro: m, Frac: frac}, nil
}

// AddExact returns a+b; cost_overflow when it does not fit.
func AddExact(a, b Exact) (Exact, error) {
	f := a.Frac + b.Frac
	m, err := money.Add(a.Micro, b.Micro)
	if err != nil {
		return Exact{}, ErrCostOverflow
	}
	if f >= 1_000_000 {
		f -= 1_000_000
		if m, err = money.Add(m, 1); err != nil {
			return Exact{}, ErrCostOverflow
		}
	}
	return Exact{Micro: m, Frac: f}, nil
}

// Quote is how a request was priced.
type Quote struct {
	Cost             Exact
	ServiceTier      string // the service tier whose prices applied: "default" or a key of Price.ServiceTiers
	AboveInputTokens int64  // the context tier applied (its threshold); 0: base rates
}

// unitPrices are the unit prices that apply: m, and for the unit "web_search_call" when m
// lacks it, webSearch when above 0 (the version's old field). No map is built per request.
type unitPrices struct {
	m         map[string]money.Amount
	webSearch money.Amount
}

func (u unitPrices) get(name string) (money.Amount, bool) {
	if a, ok := u.m[name]; ok {
		return a, true
	}
	if name == UnitWebSearchCall && u.webSearch > 0 {
		return u.webSearch, true
	}
	return 0, false
}

// applied returns the prices of service tier name: the tier's own when the version has
// them, else the base prices; the name returned is the one that applied.
func (p Price) applied(name string) (Rates, []Tier, unitPrices, string) {
	base := unitPrices{m: p.Units, webSearch: p.WebSearchCall}
	if name != "" && name != DefaultServiceTier {
		if st, ok := p.ServiceTiers[name]; ok {
			tiers, units := st.Tiers, base
			if len(tiers) == 0 {
				tiers = p.Tiers
			}
			if len(st.Units) > 0 {
				units = unitPrices{m: st.Units}
			}
			return st.Rates, tiers, units, name
		}
	}
	return p.Base(), p.Tiers, base, DefaultServiceTier
}

// contextTier returns the tier whose threshold input exceeds, the highest such; ok false: none.
func contextTier(tiers []Tier, input int64) (Tier, bool) {
	for i := len(tiers) - 1; i >= 0; i-- {
		if input > tiers[i].AboveInputTokens {
			return tiers[i], true
		}
	}
	return Tier{}, false
}

// Applied is what Quote prices a usage with: the service tier and context tier it picks,
// their rates with the fallbacks resolved, and their unit prices.
type Applied struct {
	ServiceTier      string // "default" or a key of Price.ServiceTiers
	AboveInputTokens int64  // the context tier's threshold; 0: the base rates
	Rates            Rates  // effective: a rate left 0 is the one it falls back to
	units            unitPrices
}

// UnitPrice returns the applied price of one unit called name; false: the prices do not
// know it (unknown_unit).
func (a Applied) UnitPrice(name string) (money.Amount, bool) { return a.units.get(name) }

// PricesFor returns the prices that apply to u: the service tier's (the default's when the
// version has no own prices for u.ServiceTier), with the context tier whose threshold
// u.Input exceeds (the highest) laid over them.
func (p Price) PricesFor(u Usage) Applied {
	base, tiers, units, name := p.applied(u.ServiceTier)
	a := Applied{ServiceTier: name, Rates: base, units: units}
	if t, ok := contextTier(tiers, u.Input); ok {
		a.Rates = base.over(t.Rates)
		a.AboveInputTokens = t.AboveInputTokens
	}
	a.Rates = a.Rates.effective()
	return a
}

// Quote prices u at p (PricesFor): Σ tokens × rate / 1e6 exactly plus the request fee plus
// Σ units × unit price, with no rounding. u should be valid (Usage.Validate). Errors:
// unknown_unit (a unit the applied prices do not know: never priced 0), cost_overflow,
// and the Usage's own codes when its counts are inconsistent.
func (p Price) Quote(u Usage) (Quote, error) {
	a := p.PricesFor(u)
	c, err := exactCost(a.Rates, a.units, u)
	if err != nil {
		return Quote{}, err
	}
	return Quote{Cost: c, ServiceTier: a.ServiceTier, AboveInputTokens: a.AboveInputTokens}, nil
}

// exactCost is Σ tokens × rate / 1e6 + request + Σ units × unit price, exactly. r is effective.
func exactCost(r Rates, units unitPrices, u Usage) (Exact, error) {
	switch {
	case u.Input < 0 || u.CachedInput < 0 || u.CacheWrite < 0 || u.Output < 0 || u.CacheWrite1h < 0 || u.AudioInput < 0 || u.AudioOutput < 0 || u.ImageInput < 0 || u.ImageOutput < 0:
		return Exact{}, errs.E(errs.Invalid, "negative_tokens", "token counts must not be negative")
	case u.CachedInput > u.Input:
		return Exact{}, errs.E(errs.Invalid, "cached_exceeds_input", "cached_input_tokens (%d) exceeds input_tokens (%d)", u.CachedInput, u.Input)
	case u.CacheWrite1h > u.CacheWrite:
		return Exact{}, errs.E(errs.Invalid, "cache_write_1h_exceeds_cache_write", "cache_write_1h_tokens (%d) exceeds cache_write_tokens (%d)", u.CacheWrite1h, u.CacheWrite)
	case u.AudioInput > u.Input-u.CachedInput || u.ImageInput > u.Input-u.CachedInput-u.AudioInput:
		return Exact{}, errs.E(errs.Invalid, "modality_exceeds_input", "audio (%d) and image (%d) input tokens exceed the uncached input tokens (%d input, %d cached)", u.AudioInput, u.ImageInput, u.Input, u.CachedInput)
	case u.AudioOutput > u.Output || u.ImageOutput > u.Output-u.AudioOutput:
		return Exact{}, errs.E(errs.Invalid, "modality_exceeds_output", "audio (%d) and image (%d) output tokens exceed the output tokens (%d)", u.AudioOutput, u.ImageOutput, u.Output)
	}
	// Each subtraction below is of a part not above what remains: none wraps.
	text := u.Input - u.CachedInput - u.AudioInput - u.ImageInput
	textOut := u.Output - u.AudioOutput - u.ImageOutput
	var hi, lo uint64
	overflow := false
	add := func(tokens int64, price money.Amount) {
		h, l := bits.Mul64(uint64(tokens), uint64(price))
		var c uint64
		lo, c = bits.Add64(lo, l, 0)
		hi, c = bits.Add64(hi, h, c)
		if c != 0 {
			overflow = true
		}
	}
	add(text, r.Input)
	add(u.CachedInput, r.CachedInput)
	add(u.CacheWrite-u.CacheWrite1h, r.CacheWrite)
	add(u.CacheWrite1h, r.CacheWrite1h)
	add(u.AudioInput, r.AudioInput)
	add(u.ImageInput, r.ImageInput)
	add(textOut, r.Output)
	add(u.AudioOutput, r.AudioOutput)
	add(u.ImageOutput, r.ImageOutput)
	if overflow || hi >= 1_000_000 {
		return Exact{}, ErrCostOverflow
	}
	q, rem := bits.Div64(hi, lo, 1_000_000)
	if q > math.MaxInt64 {
		return Exact{}, ErrCostOverflow
	}
	total, err := money.Add(money.Amount(q), r.Request)
	if err != nil {
		return Exact{}, ErrCostOverflow
	}
	if len(u.Units) == 0 && u.WebSearchCalls == 0 {
		return Exact{Micro: total, Frac: int64(rem)}, nil
	}
	counts := u.UnitCounts()
	for _, name := range sortedKeys(counts) {
		n := counts[name]
		price, ok := units.get(name)
		if !ok {
			return Exact{}, errs.E(errs.Invalid, "unknown_unit", "the price has no price for the unit %q (%d of them in the request); add it to the version's units", name, n)
		}
		if n < 0 {
			return Exact{}, errs.E(errs.Invalid, "invalid_unit", "units.%s must not be negative", name)
		}
		h, l := bits.Mul64(uint64(n), uint64(price))
		if h != 0 || l > math.MaxInt64 {
			return Exact{}, ErrCostOverflow
		}
		if total, err = money.Add(total, money.Amount(l)); err != nil {
			return Exact{}, ErrCostOverflow
		}
	}
	return Exact{Micro: total, Frac: int64(rem)}, nil
}

// MaxCost returns the highest cost u could have at p, rounded up: the most of its quotes
// at every service tier (the default's and each of the version's) and every context tier
// (the base rates and each tier's, whatever u.Input), with every uncached input token at
// the highest of the input, audio input and image input rates, and every output token at
// the highest output rate (a gateway's hold does not know the modalities yet). A service
// tier that does not know one of u's units is left out; unknown_unit when none knows them all.
func MaxCost(p Price, u Usage) (money.Amount, error) {
	names := append([]string{DefaultServiceTier}, sortedKeys(p.ServiceTiers)...)
	var best Exact
	var firstErr error
	found := false
	for _, name := range names {
		base, tiers, units, _ := p.applied(name)
		candidates := []Rates{base}
		for _, t := range tiers {
			candidates = append(candidates, base.over(t.Rates))
		}
		for _, r := range candidates {
			e := r.effective()
			in := max(e.Input, e.AudioInput, e.ImageInput)
			out := max(e.Output, e.AudioOutput, e.ImageOutput)
			e.Input, e.AudioInput, e.ImageInput = in, in, in
			e.Output, e.AudioOutput, e.ImageOutput = out, out, out
			c, err := exactCost(e, units, u)
			if err != nil {
				if errs.Is(err, "unknown_unit") {
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				return 0, err
			}
			if !found || c.Cmp(best) > 0 {
				best, found = c, true
			}
		}
	}
	if !found {
		return 0, firstErr
	}
	if best.Frac > 0 && best.Micro == money.Max {
		return 0, ErrCostOverflow
	}
	return best.Ceil(), nil
}

// PriceList is a named set of prices for some workspaces: a percentage adjustment of the
// catalog and/or overriding versions for some models.
type PriceList struct {
	Name      string    `json:"name"`      // ^[a-z0-9][a-z0-9._-]{0,63}$ (invalid_price_list)
	AdjustBP  int64     `json:"adjust_bp"` // adjust_percent in basis points (-15 % = -1500); > -10000 and ≤ 100000; 0 = none
	Prices    []Price   `json:"prices"`    // overriding versions (Model + EffectiveFrom each)
	CreatedAt time.Time `json:"created_at"`
}

// Limits of a price list's adjustment, in basis points.
const (
	MinAdjustBP = -9999  // > -100 %
	MaxAdjustBP = 100000 // +1000 %
)

// Validate checks a price list. Errors: invalid_price_list, invalid_adjust_percent,
// duplicate_price (two versions of one model at one effective_from), and each version's.
func (l PriceList) Validate() error {
	if !ValidPriceList(l.Name) {
		return errs.E(errs.Invalid, "invalid_price_list", "price list name %q is not valid (lower-case letters, digits and ._- up to 64 characters, starting with a letter or digit)", l.Name)
	}
	if l.AdjustBP < MinAdjustBP || l.AdjustBP > MaxAdjustBP {
		return errs.E(errs.Invalid, "invalid_adjust_percent", "adjust_percent must be greater than -100 and at most 1000")
	}
	seen := map[string]bool{}
	for _, p := range l.Prices {
		if err := p.Validate(); err != nil {
			return err
		}
		k := p.Model + "\x00" + p.EffectiveFrom.UTC().Format(time.RFC3339Nano)
		if seen[k] {
			return errs.E(errs.Invalid, "duplicate_price", "model %q has two versions effective from %s in the list", p.Model, p.EffectiveFrom.UTC().Format(time.RFC3339))
		}
		seen[k] = true
	}
	return nil
}

// adjust returns a × (10000+bp)/10000 rounded half-up to a micro-unit (money.Max when
// that does not fit). a ≥ 0, bp > -10000.
func adjust(a money.Amount, bp int64) money.Amount {
	if bp == 0 || a <= 0 {
		return a
	}
	h, l := bits.Mul64(uint64(a), uint64(10000+bp))
	l, c := bits.Add64(l, 5000, 0)
	h += c
	if h >= 10000 {
		return money.Max
	}
	q, _ := bits.Div64(h, l, 10000)
	if q > math.MaxInt64 {
		return money.Max
	}
	return money.Amount(q)
}

func (r Rates) adjusted(bp int64) Rates {
	for _, f := range r.fields() {
		*f.a = adjust(*f.a, bp)
	}
	return r
}

func adjustTiers(ts []Tier, bp int64) []Tier {
	if ts == nil {
		return nil
	}
	out := make([]Tier, len(ts))
	for i, t := range ts {
		out[i] = Tier{AboveInputTokens: t.AboveInputTokens, Rates: t.Rates.adjusted(bp)}
	}
	return out
}

func adjustUnits(us map[string]money.Amount, bp int64) map[string]money.Amount {
	if us == nil {
		return nil
	}
	out := make(map[string]money.Amount, len(us))
	for k, v := range us {
		out[k] = adjust(v, bp)
	}
	return out
}

// Adjusted returns p with every rate, unit price and tier × (10000+AdjustBP)/10000, each
// rounded half-up to a micro-unit. max_output_tokens and the thresholds are unchanged.
func (l PriceList) Adjusted(p Price) Price {
	bp := l.AdjustBP
	if bp == 0 {
		return p
	}
	p.setBase(p.Base().adjusted(bp))
	p.WebSearchCall = adjust(p.WebSearchCall, bp)
	p.Units = adjustUnits(p.Units, bp)
	p.Tiers = adjustTiers(p.Tiers, bp)
	if p.ServiceTiers != nil {
		sts := make(map[string]ServiceTier, len(p.ServiceTiers))
		for k, st := range p.ServiceTiers {
			sts[k] = ServiceTier{Rates: st.Rates.adjusted(bp), Tiers: adjustTiers(st.Tiers, bp), Units: adjustUnits(st.Units, bp)}
		}
		p.ServiceTiers = sts
	}
	return p
}

// VersionAt returns the list's own version of model in effect at t: the latest whose
// EffectiveFrom is not after t.
func (l PriceList) VersionAt(model string, t time.Time) (Price, bool) {
	var out Price
	found := false
	for _, p := range l.Prices {
		if p.Model == model && !p.EffectiveFrom.After(t) && (!found || p.EffectiveFrom.After(out.EffectiveFrom)) {
			out, found = p, true
		}
	}
	return out, found
}

// WithLists returns a copy of c that also knows the price lists and which workspace has
// which (workspace id → list name).
func (c *Catalog) WithLists(lists []PriceList, assigned map[string]string) *Catalog {
	out := *c
	out.lists = make(map[string]*priceList, len(lists))
	for _, l := range lists {
		pl := &priceList{PriceList: l, byModel: map[string][]Price{}}
		for _, p := range l.Prices {
			pl.byModel[p.Model] = append(pl.byModel[p.Model], p)
		}
		for _, vs := range pl.byModel {
			sort.SliceStable(vs, func(i, j int) bool { return vs[i].EffectiveFrom.Before(vs[j].EffectiveFrom) })
		}
		out.lists[l.Name] = pl
	}
	out.assigned = make(map[string]string, len(assigned))
	for ws, name := range assigned {
		if name != "" {
			out.assigned[ws] = name
		}
	}
	return &out
}

type priceList struct {
	PriceList
	byModel map[string][]Price
}

// Lists returns the catalog's price lists, by name.
func (c *Catalog) Lists() []PriceList {
	out := make([]PriceList, 0, len(c.lists))
	for _, name := range sortedKeys(c.lists) {
		out = append(out, c.lists[name].PriceList)
	}
	return out
}

// List returns the price list called name.
func (c *Catalog) List(name string) (PriceList, bool) {
	l, ok := c.lists[name]
	if !ok {
		return PriceList{}, false
	}
	return l.PriceList, true
}

// AssignedList returns the name of workspace ws's price list ("" none).
func (c *Catalog) AssignedList(ws string) string { return c.assigned[ws] }

// ForWorkspace returns the price that applies to ws's request for model at t: the
// workspace's list's own version in effect at t when it has one, else the catalog's
// (adjusted by the list's AdjustBP), and the name of the list that applied ("" = the
// catalog as it is). Errors: At's, and unknown_price_list when ws is assigned a list the
// catalog does not hold.
func (c *Catalog) ForWorkspace(ws, model string, t time.Time) (Price, string, error) {
	name := c.assigned[ws]
	if name == "" {
		p, err := c.At(model, t)
		return p, "", err
	}
	l, ok := c.lists[name]
	if !ok {
		return Price{}, "", errs.E(errs.Invalid, "unknown_price_list", "workspace %q is assigned the price list %q, which does not exist", ws, name)
	}
	if vs := l.byModel[model]; len(vs) > 0 {
		i := sort.Search(len(vs), func(i int) bool { return vs[i].EffectiveFrom.After(t) })
		if i > 0 {
			return vs[i-1], name, nil
		}
	}
	p, err := c.At(model, t)
	if err != nil {
		return Price{}, "", err
	}
	if l.AdjustBP == 0 {
		return p, "", nil
	}
	return l.Adjusted(p), name, nil
}

// shapesJSON is the canonical JSON of a version's units, tiers and service tiers ("" when
// it has none): what the store keeps and compares.
type shapesJSON struct {
	Units        map[string]money.Amount `json:"units,omitempty"`
	Tiers        []Tier                  `json:"tiers,omitempty"`
	ServiceTiers map[string]ServiceTier  `json:"service_tiers,omitempty"`
}

// ShapesJSON returns the canonical JSON text of p's units, tiers and service tiers, ""
// when it has none (map keys sorted, amounts as decimal strings, zero rates left out).
func (p Price) ShapesJSON() string {
	if len(p.Units) == 0 && len(p.Tiers) == 0 && len(p.ServiceTiers) == 0 {
		return ""
	}
	b, err := json.Marshal(shapesJSON{Units: p.Units, Tiers: p.Tiers, ServiceTiers: p.ServiceTiers})
	if err != nil {
		panic("pricing: encode shapes: " + err.Error()) // amounts, ints and strings only
	}
	return string(b)
}

// SetShapesJSON reads text written by ShapesJSON into p's units, tiers and service tiers.
func (p *Price) SetShapesJSON(text string) error {
	p.Units, p.Tiers, p.ServiceTiers = nil, nil, nil
	if text == "" {
		return nil
	}
	var s shapesJSON
	d := json.NewDecoder(bytes.NewReader([]byte(text)))
	d.DisallowUnknownFields()
	if err := d.Decode(&s); err != nil {
		return errs.E(errs.Internal, "invalid_price_shapes", "stored price shapes of %q are not readable: %v", p.Model, err)
	}
	p.Units, p.Tiers, p.ServiceTiers = s.Units, s.Tiers, s.ServiceTiers
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func strconvU(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func pad6(n uint64) string {
	s := strconvU(n)
	return strings.Repeat("0", 6-len(s)) + s
}

func itoa(n int64) string { return strconvU(uint64(n)) }
