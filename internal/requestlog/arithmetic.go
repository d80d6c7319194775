package requestlog

import (
	"math/big"
	"strings"

	"spectra/internal/money"
	"spectra/internal/pricing"
)

// CostLine is one term of a cost: a count of tokens (or calls) times a price.
type CostLine struct {
	// Kind names the term: input, cached_input, cache_write, cache_write_1h, output,
	// request, web_search_call.
	Kind string `json:"kind"`
	// Quantity is the tokens (or requests, or calls) the term counts.
	Quantity int64 `json:"quantity"`
	// Price is per million tokens for token kinds, per request or call otherwise.
	Price money.Amount `json:"price"`
	// PerMillion says whether Price is per million (tokens) or per unit.
	PerMillion bool `json:"per_million"`
	// Exact is Quantity × Price (÷ 1,000,000 for tokens), exactly, as a decimal of the
	// currency with up to 12 decimals.
	Exact string `json:"exact"`
}

// Arithmetic is how a cost was computed from usage and a price version: the token
// terms summed exactly and rounded once, half-up, to a micro-unit, then the per-request
// fee and the per-call prices added (pricing.Cost).
type Arithmetic struct {
	Lines []CostLine `json:"lines"`
	// TokensExact is the exact sum of the token terms; TokensRounded is it rounded
	// half-up to a micro-unit.
	TokensExact   string       `json:"tokens_exact"`
	TokensRounded money.Amount `json:"tokens_rounded"`
	// Total is TokensRounded plus the per-request fee and the calls: pricing.Cost.
	Total money.Amount `json:"total"`
}

var million = big.NewInt(1_000_000)

// Explain returns the arithmetic of the cost of u at price p. Its Total is
// pricing.Cost(p, u) (or 0 when that overflows, which ingestion refuses).
func Explain(p pricing.Price, u pricing.Usage) Arithmetic {
	var a Arithmetic
	sum := new(big.Int) // in 10⁻¹² of the currency (micro-units × 10⁻⁶)
	token := func(kind string, n int64, price money.Amount) {
		if n == 0 {
			return
		}
		v := new(big.Int).Mul(big.NewInt(n), big.NewInt(int64(price)))
		sum.Add(sum, v)
		a.Lines = append(a.Lines, CostLine{Kind: kind, Quantity: n, Price: price, PerMillion: true, Exact: decimal(v, 12)})
	}
	token("input", u.Input-u.CachedInput, p.Input)
	token("cached_input", u.CachedInput, p.CachedInput)
	token("cache_write", u.CacheWrite-u.CacheWrite1h, p.CacheWrite)
	token("cache_write_1h", u.CacheWrite1h, p.CacheWrite1hOrDefault())
	token("output", u.Output, p.Output)
	a.TokensExact = decimal(sum, 12)
	q, r := new(big.Int).QuoRem(sum, million, new(big.Int))
	if r.Cmp(big.NewInt(500_000)) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if q.IsInt64() {
		a.TokensRounded = money.Amount(q.Int64())
	}
	if p.Request > 0 {
		a.Lines = append(a.Lines, CostLine{Kind: "request", Quantity: 1, Price: p.Request, Exact: decimal(big.NewInt(int64(p.Request)), 6)})
	}
	if u.WebSearchCalls > 0 && p.WebSearchCall > 0 {
		v := new(big.Int).Mul(big.NewInt(u.WebSearchCalls), big.NewInt(int64(p.WebSearchCall)))
		a.Lines = append(a.Lines, CostLine{Kind: "web_search_call", Quantity: u.WebSearchCalls, Price: p.WebSearchCall, Exact: decimal(v, 6)})
	}
	if total, err := pricing.Cost(p, u); err == nil {
		a.Total = total
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
