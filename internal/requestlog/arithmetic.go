package requestlog

import (
	"math/big"
	"slices"
	"strings"

	"spectra/internal/money"
	"spectra/internal/pricing"
)

// CostLine is one term of a cost: a count of tokens (or calls, or units) times a price.
type CostLine struct {
	// Kind names the term: input (text input, not cached), cached_input, cache_write,
	// cache_write_1h, audio_input, image_input, output (text output, reasoning
	// included), audio_output, image_output, request, or unit (Unit names it; the unit
	// web_search_call is web search calls).
	Kind string `json:"kind"`
	// Unit names the unit of a unit term.
	Unit string `json:"unit,omitempty"`
	// Quantity is the tokens (or requests, or units) the term counts.
	Quantity int64 `json:"quantity"`
	// Price is per million tokens for token kinds, per request or unit otherwise.
	Price money.Amount `json:"price"`
	// PerMillion says whether Price is per million (tokens) or per unit.
	PerMillion bool `json:"per_million"`
	// Exact is Quantity × Price (÷ 1,000,000 for tokens), exactly, as a decimal of the
	// currency with up to 12 decimals.
	Exact string `json:"exact"`
}

// Arithmetic is how a cost was computed from usage and a price version (pricing.Quote):
// the prices of the service tier billed and the context tier applied, each term exact,
// summed exactly with no rounding. The wallet is charged that exact cost against its
// sub-micro carry (metering.Batch.Charge), so the charge is it rounded down or up.
type Arithmetic struct {
	// ServiceTier is the service tier whose prices applied ("default" or the version's
	// own tier); ContextTier the threshold of the context tier applied (0: base rates).
	ServiceTier string     `json:"service_tier"`
	ContextTier int64      `json:"context_tier_above_input_tokens"`
	Lines       []CostLine `json:"lines"`
	// TokensExact is the exact sum of the token terms; TokensRounded is it rounded
	// half-up to a micro-unit.
	TokensExact   string       `json:"tokens_exact"`
	TokensRounded money.Amount `json:"tokens_rounded"`
	// Exact is every term summed exactly: the exact cost, with 12 decimals.
	Exact string `json:"exact"`
	// Total is Exact rounded half-up to a micro-unit (pricing.Cost).
	Total money.Amount `json:"total"`
}

var million = big.NewInt(1_000_000)

// Explain returns the arithmetic of the cost of u at price p, at the service tier and
// context tier pricing.Quote picks. Its Exact is the quote's exact cost and its Total
// pricing.Cost(p, u) (0 when that overflows, which ingestion refuses).
func Explain(p pricing.Price, u pricing.Usage) Arithmetic {
	var a Arithmetic
	applied := p.PricesFor(u)
	a.ServiceTier, a.ContextTier = applied.ServiceTier, applied.AboveInputTokens
	r := applied.Rates
	sum := new(big.Int) // in 10⁻¹² of the currency (micro-units × 10⁻⁶)
	token := func(kind string, n int64, price money.Amount) {
		if n == 0 {
			return
		}
		v := new(big.Int).Mul(big.NewInt(n), big.NewInt(int64(price)))
		sum.Add(sum, v)
		a.Lines = append(a.Lines, CostLine{Kind: kind, Quantity: n, Price: price, PerMillion: true, Exact: decimal(v, 12)})
	}
	token("input", u.Input-u.CachedInput-u.AudioInput-u.ImageInput, r.Input)
	token("cached_input", u.CachedInput, r.CachedInput)
	token("cache_write", u.CacheWrite-u.CacheWrite1h, r.CacheWrite)
	token("cache_write_1h", u.CacheWrite1h, r.CacheWrite1h)
	token("audio_input", u.AudioInput, r.AudioInput)
	token("image_input", u.ImageInput, r.ImageInput)
	token("output", u.Output-u.AudioOutput-u.ImageOutput, r.Output)
	token("audio_output", u.AudioOutput, r.AudioOutput)
	token("image_output", u.ImageOutput, r.ImageOutput)
	a.TokensExact = decimal(sum, 12)
	q2, rem := new(big.Int).QuoRem(sum, million, new(big.Int))
	if rem.Cmp(big.NewInt(500_000)) >= 0 {
		q2.Add(q2, big.NewInt(1))
	}
	if q2.IsInt64() {
		a.TokensRounded = money.Amount(q2.Int64())
	}
	total := new(big.Int).Set(sum)
	if r.Request > 0 {
		v := big.NewInt(int64(r.Request))
		total.Add(total, new(big.Int).Mul(v, million))
		a.Lines = append(a.Lines, CostLine{Kind: "request", Quantity: 1, Price: r.Request, Exact: decimal(v, 6)})
	}
	counts := u.UnitCounts()
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range counts {
			if !yield(k) {
				return
			}
		}
	}) {
		price, _ := applied.UnitPrice(name) // unknown: 0 here; ingestion refuses such an event
		v := new(big.Int).Mul(big.NewInt(counts[name]), big.NewInt(int64(price)))
		total.Add(total, new(big.Int).Mul(v, million))
		a.Lines = append(a.Lines, CostLine{Kind: "unit", Unit: name, Quantity: counts[name], Price: price, Exact: decimal(v, 6)})
	}
	a.Exact = decimal12(total)
	if cost, err := pricing.Cost(p, u); err == nil {
		a.Total = cost
	}
	return a
}

// decimal writes v × 10^-scale with at least 6 decimals and no trailing zeros beyond.
func decimal(v *big.Int, scale int) string {
	s := new(big.Int).Abs(v).String()
	neg := v.Sign() < 0
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	whole, frac := s[:len(s)-scale], s[len(s)-scale:]
	for len(frac) > 6 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if neg {
		whole = "-" + whole
	}
	return whole + "." + frac
}

// decimal12 writes v × 10^-12 with all 12 decimals (as pricing.Exact does).
func decimal12(v *big.Int) string {
	s := v.String()
	if len(s) <= 12 {
		s = strings.Repeat("0", 13-len(s)) + s
	}
	return s[:len(s)-12] + "." + s[len(s)-12:]
}
