package pricing

import (
	"math"
	"math/big"
	"testing"

	"pgregory.net/rapid"

	"spectra/internal/errs"
	"spectra/internal/money"
)

// refCost is the formula computed with big integers: Σ tokens × price, divided by
// 1e6 and rounded once, half-up, plus the request fee. ok is false when it does not fit.
func refCost(p Price, u Usage) (money.Amount, bool) {
	term := func(tokens int64, price money.Amount) *big.Int {
		return new(big.Int).Mul(big.NewInt(tokens), big.NewInt(int64(price)))
	}
	sum := new(big.Int)
	sum.Add(sum, term(u.Input-u.CachedInput, p.Input))
	sum.Add(sum, term(u.CachedInput, p.CachedInput))
	write1h := p.CacheWrite1h
	if write1h == 0 {
		write1h = p.CacheWrite
	}
	sum.Add(sum, term(u.CacheWrite-u.CacheWrite1h, p.CacheWrite))
	sum.Add(sum, term(u.CacheWrite1h, write1h))
	sum.Add(sum, term(u.Output, p.Output))
	sum.Add(sum, big.NewInt(500_000))
	sum.Quo(sum, big.NewInt(1_000_000))
	sum.Add(sum, big.NewInt(int64(p.Request)))
	sum.Add(sum, term(u.WebSearchCalls, p.WebSearchCall))
	if !sum.IsInt64() {
		return 0, false
	}
	return money.Amount(sum.Int64()), true
}

func TestCost(t *testing.T) {
	// Prices per million tokens in micro-units: 2.50 input, 1.25 cached, 3.75 cache write, 10.00 output.
	p := Price{Model: "m", Input: 2_500_000, CachedInput: 1_250_000, CacheWrite: 3_750_000, Output: 10_000_000}
	withFee := p
	withFee.Request = 1_000 // 0.001 per request
	tests := []struct {
		name string
		p    Price
		u    Usage
		want money.Amount
	}{
		{"nothing", p, Usage{}, 0},
		{"one million input", p, Usage{Input: 1_000_000}, 2_500_000},
		{"input with cached part", p, Usage{Input: 1_000_000, CachedInput: 400_000}, 600_000*5/2 + 400_000*5/4},
		{"all cached", p, Usage{Input: 1_000, CachedInput: 1_000}, 1_250},
		{"cache write", p, Usage{CacheWrite: 2_000}, 7_500},
		{"output includes reasoning", p, Usage{Output: 3_000, Reasoning: 2_000}, 30_000},
		{"reasoning is not charged twice", p, Usage{Output: 3_000, Reasoning: 3_000}, 30_000},
		{"everything", p, Usage{Input: 1_234_567, CachedInput: 34_567, CacheWrite: 1_000, Output: 98_765, Reasoning: 5}, 3_000_000 + 43_209 + 3_750 + 987_650},
		// 1 token at 2.50/M is 2.5 micro-units: half-up gives 3.
		{"half rounds up", p, Usage{Input: 1}, 3},
		// 1 token at 1.25/M is 1.25 micro-units: rounds down to 1.
		{"below half rounds down", p, Usage{Input: 1, CachedInput: 1}, 1},
		{"just below half", Price{Input: 499_999}, Usage{Input: 1}, 0},
		{"exactly half", Price{Input: 500_000}, Usage{Input: 1}, 1},
		{"just above half", Price{Input: 500_001}, Usage{Input: 1}, 1},
		// Rounded once at the end, not per term: 0.4 + 0.4 = 0.8 → 1 (per-term rounding would give 0).
		{"rounded once", Price{Input: 400_000, Output: 400_000}, Usage{Input: 1, Output: 1}, 1},
		{"request fee alone", withFee, Usage{}, 1_000},
		{"request fee added after rounding", withFee, Usage{Input: 1}, 1_003},
		{"zero price", Price{}, Usage{Input: 1 << 40, Output: 1 << 40}, 0},
		{"largest exact cost", Price{Input: money.Max}, Usage{Input: 1_000_000}, money.Max},
		{"large tokens and prices", Price{Input: 1 << 40, Output: 1 << 40}, Usage{Input: 1 << 40, Output: 1 << 40}, money.Amount(1 << 81 / 1_000_000)},
	}
	for _, tt := range tests {
		got, err := Cost(tt.p, tt.u)
		if err != nil || got != tt.want {
			t.Errorf("%s: Cost = %d, %v; want %d", tt.name, got, err, tt.want)
		}
		if ref, ok := refCost(tt.p, tt.u); !ok || ref != tt.want {
			t.Errorf("%s: reference = %d, %v; the table is wrong", tt.name, ref, ok)
		}
	}
}

func TestCostOverflow(t *testing.T) {
	tests := []struct {
		name string
		p    Price
		u    Usage
	}{
		{"one micro-unit past the maximum", Price{Input: money.Max}, Usage{Input: 1_000_001}},
		{"rounding past the maximum", Price{Input: money.Max, Output: 500_000}, Usage{Input: 1_000_000, Output: 1}},
		{"request fee past the maximum", Price{Input: money.Max, Request: 1}, Usage{Input: 1_000_000}},
		{"huge products", Price{Input: money.Max, Output: money.Max}, Usage{Input: math.MaxInt64, Output: math.MaxInt64}},
		// Σ = 1e6·2⁶⁴ − 499,999: the quotient is 2⁶⁴−1 and half-up rounding must not wrap it to 0.
		{"rounding at the 64-bit edge", Price{Input: 4_000_000, Output: 3_500_001}, Usage{Input: 1<<62 - 1, Output: 1}},
		{"128-bit high word too large", Price{Input: money.Max}, Usage{Input: math.MaxInt64}},
	}
	for _, tt := range tests {
		got, err := Cost(tt.p, tt.u)
		if err != ErrCostOverflow || errs.CodeOf(err) != "cost_overflow" {
			t.Errorf("%s: Cost = %d, %v; want cost_overflow", tt.name, got, err)
		}
		if ref, ok := refCost(tt.p, tt.u); ok {
			t.Errorf("%s: reference = %d fits; the table is wrong", tt.name, ref)
		}
	}
}

func TestUsageValidate(t *testing.T) {
	tests := []struct {
		u    Usage
		code string
	}{
		{Usage{}, ""},
		{Usage{Input: 10, CachedInput: 10, Output: 5, Reasoning: 5, CacheWrite: 1}, ""},
		{Usage{Input: -1}, "negative_tokens"},
		{Usage{CachedInput: -1}, "negative_tokens"},
		{Usage{CacheWrite: -1}, "negative_tokens"},
		{Usage{Output: -1}, "negative_tokens"},
		{Usage{Reasoning: -1}, "negative_tokens"},
		{Usage{Input: 10, CachedInput: 11}, "cached_exceeds_input"},
		{Usage{Output: 10, Reasoning: 11}, "reasoning_exceeds_output"},
	}
	for _, tt := range tests {
		err := tt.u.Validate()
		if tt.code == "" && err != nil || tt.code != "" && !errs.Is(err, tt.code) {
			t.Errorf("%+v: Validate = %v; want %q", tt.u, err, tt.code)
		}
		if tt.code != "" && errs.KindOf(err) != errs.Invalid {
			t.Errorf("%+v: kind %s; want invalid", tt.u, errs.KindOf(err))
		}
	}
}

func genPrice(t *rapid.T) Price {
	amount := func(label string) money.Amount {
		return money.Amount(rapid.OneOf(rapid.Int64Range(0, 100_000_000), rapid.Int64Range(0, math.MaxInt64)).Draw(t, label))
	}
	return Price{Model: "m", Input: amount("input"), CachedInput: amount("cached"), CacheWrite: amount("cache_write"),
		Output: amount("output"), Request: amount("request")}
}

func genUsage(t *rapid.T) Usage {
	count := func(label string) int64 {
		return rapid.OneOf(rapid.Int64Range(0, 10_000_000), rapid.Int64Range(0, math.MaxInt64)).Draw(t, label)
	}
	u := Usage{Input: count("input"), CacheWrite: count("cache_write"), Output: count("output")}
	u.CachedInput = rapid.Int64Range(0, u.Input).Draw(t, "cached")
	u.Reasoning = rapid.Int64Range(0, u.Output).Draw(t, "reasoning")
	return u
}

// TestCostMatchesReference: Cost equals the big-integer formula, or reports overflow exactly
// when the reference does not fit.
func TestCostMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p, u := genPrice(t), genUsage(t)
		got, err := Cost(p, u)
		want, ok := refCost(p, u)
		switch {
		case !ok && err != ErrCostOverflow:
			t.Fatalf("Cost = %d, %v; want cost_overflow", got, err)
		case ok && (err != nil || got != want):
			t.Fatalf("Cost = %d, %v; want %d", got, err, want)
		}
	})
}

// TestCostMonotonic: more tokens of any kind never cost less.
func TestCostMonotonic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		amount := func(label string) money.Amount {
			return money.Amount(rapid.Int64Range(0, 1_000_000_000).Draw(t, label))
		}
		count := func(label string) int64 { return rapid.Int64Range(0, 1<<40).Draw(t, label) }
		p := Price{Input: amount("input"), CachedInput: amount("cached"), CacheWrite: amount("cache_write"), Output: amount("output"), Request: amount("request")}
		u := Usage{Input: count("input"), CacheWrite: count("cache_write"), Output: count("output")}
		u.CachedInput = rapid.Int64Range(0, u.Input).Draw(t, "cached")
		base, err := Cost(p, u)
		if err != nil {
			t.Fatalf("Cost(%+v, %+v): %v", p, u, err)
		}
		more := rapid.Int64Range(1, 1<<30).Draw(t, "more")
		grown := map[string]Usage{}
		v := u
		v.Input += more
		grown["input"] = v
		v = u
		v.Input += more
		v.CachedInput += more
		grown["cached_input"] = v
		v = u
		v.CacheWrite += more
		grown["cache_write"] = v
		v = u
		v.Output += more
		grown["output"] = v
		for name, g := range grown {
			c, err := Cost(p, g)
			if err != nil {
				t.Fatalf("Cost with more %s: %v", name, err)
			}
			if c < base {
				t.Fatalf("%d more %s tokens cost %d, less than %d", more, name, c, base)
			}
		}
		// Moving tokens from uncached to cached never costs more when cached is the cheaper price.
		if p.CachedInput <= p.Input && u.CachedInput < u.Input {
			v := u
			v.CachedInput++
			if c, _ := Cost(p, v); c > base {
				t.Fatalf("caching one more token raised the cost from %d to %d", base, c)
			}
		}
	})
}

// FuzzCost compares Cost with the big-integer reference on arbitrary inputs.
func FuzzCost(f *testing.F) {
	f.Add(int64(1_000_000), int64(0), int64(0), int64(0), int64(0), int64(2_500_000), int64(1_250_000), int64(0), int64(10_000_000), int64(0))
	f.Add(int64(1), int64(1), int64(0), int64(1), int64(1), int64(500_000), int64(499_999), int64(1), int64(1), int64(7))
	f.Add(int64(1<<62-1), int64(0), int64(0), int64(1), int64(0), int64(4_000_000), int64(0), int64(0), int64(3_500_001), int64(0))
	f.Add(int64(math.MaxInt64), int64(5), int64(math.MaxInt64), int64(math.MaxInt64), int64(3), int64(math.MaxInt64), int64(1), int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, in, cached, cacheWrite, out, reasoning, pIn, pCached, pWrite, pOut, pReq int64) {
		u := Usage{Input: in, CachedInput: cached, CacheWrite: cacheWrite, Output: out, Reasoning: reasoning}
		p := Price{Model: "m", Input: money.Amount(pIn), CachedInput: money.Amount(pCached), CacheWrite: money.Amount(pWrite),
			Output: money.Amount(pOut), Request: money.Amount(pReq)}
		if u.Validate() != nil || pIn < 0 || pCached < 0 || pWrite < 0 || pOut < 0 || pReq < 0 {
			t.Skip() // Cost's contract: valid usage and non-negative prices
		}
		got, err := Cost(p, u)
		want, ok := refCost(p, u)
		switch {
		case !ok && err != ErrCostOverflow:
			t.Fatalf("Cost(%+v, %+v) = %d, %v; want cost_overflow", p, u, got, err)
		case ok && (err != nil || got != want):
			t.Fatalf("Cost(%+v, %+v) = %d, %v; want %d", p, u, got, err, want)
		}
	})
}
