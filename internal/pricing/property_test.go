package pricing

// The proof for prices: over random prices (context tiers, modality rates, units,
// service tiers), price lists and usages, Quote's cost equals an independent big-rational
// computation; Round and Ceil agree with it; a unit the applied prices do not know is
// rejected. The generator is hand-rolled with a fixed seed, so a failure reproduces.

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
)

type gen struct{ r *rand.Rand }

// amount returns a rate: often 0, else of a random magnitude (rarely near the limit).
func (g gen) amount() money.Amount {
	switch g.r.IntN(10) {
	case 0, 1, 2:
		return 0
	case 3:
		return money.Amount(1 + g.r.Int64N(10))
	case 4, 5, 6, 7:
		return money.Amount(1 + g.r.Int64N(100_000_000))
	case 8:
		return money.Amount(1 + g.r.Int64N(1_000_000_000_000))
	}
	return money.Amount(1 + g.r.Int64N(math.MaxInt64/2))
}

// count returns a token count of a random magnitude (rarely huge).
func (g gen) count() int64 {
	switch g.r.IntN(10) {
	case 0, 1:
		return 0
	case 2, 3:
		return 1 + g.r.Int64N(1_000)
	case 4, 5, 6, 7:
		return 1 + g.r.Int64N(2_000_000)
	case 8:
		return 1 + g.r.Int64N(1_000_000_000_000)
	}
	return 1 + g.r.Int64N(1<<62)
}

func (g gen) below(n int64) int64 {
	if n <= 0 || g.r.IntN(3) == 0 {
		return 0
	}
	return g.r.Int64N(n + 1)
}

func (g gen) rates(nonZero bool) Rates {
	for {
		r := Rates{Input: g.amount(), CachedInput: g.amount(), CacheWrite: g.amount(), CacheWrite1h: g.amount(), Output: g.amount(),
			AudioInput: g.amount(), AudioOutput: g.amount(), ImageInput: g.amount(), ImageOutput: g.amount()}
		if g.r.IntN(3) == 0 {
			r.Request = g.amount()
		}
		if !nonZero || !r.IsZero() {
			return r
		}
	}
}

func (g gen) tiers() []Tier {
	var out []Tier
	th := int64(0)
	for range g.r.IntN(4) {
		th += 1 + g.r.Int64N(1_000_000)
		out = append(out, Tier{AboveInputTokens: th, Rates: g.rates(true)})
	}
	return out
}

var unitPool = []string{"web_search_call", "image_1024x1024_high", "image_512x512_low", "file_search:call", "code.session"}

func (g gen) units() map[string]money.Amount {
	if g.r.IntN(3) == 0 {
		return nil
	}
	out := map[string]money.Amount{}
	for _, n := range unitPool {
		if g.r.IntN(2) == 0 {
			out[n] = g.amount()
		}
	}
	return out
}

func (g gen) price() Price {
	p := Price{Model: "m", EffectiveFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p.setBase(g.rates(false))
	p.Units = g.units()
	if _, ok := p.Units[UnitWebSearchCall]; !ok && g.r.IntN(2) == 0 {
		p.WebSearchCall = g.amount()
	}
	p.Tiers = g.tiers()
	for _, name := range []string{"flex", "priority", "batch"} {
		if g.r.IntN(2) == 0 {
			continue
		}
		if p.ServiceTiers == nil {
			p.ServiceTiers = map[string]ServiceTier{}
		}
		st := ServiceTier{Rates: g.rates(true)}
		if g.r.IntN(2) == 0 {
			st.Tiers = g.tiers()
		}
		if g.r.IntN(2) == 0 {
			st.Units = g.units()
		}
		p.ServiceTiers[name] = st
	}
	return p
}

func (g gen) usage() Usage {
	u := Usage{Input: g.count(), Output: g.count(), CacheWrite: g.count()}
	u.CachedInput = g.below(u.Input)
	u.AudioInput = g.below(u.Input - u.CachedInput)
	u.ImageInput = g.below(u.Input - u.CachedInput - u.AudioInput)
	u.AudioOutput = g.below(u.Output)
	u.ImageOutput = g.below(u.Output - u.AudioOutput)
	u.Reasoning = g.below(u.Output - u.AudioOutput - u.ImageOutput)
	u.CacheWrite1h = g.below(u.CacheWrite)
	pool := append(unitPool, "never_priced")
	if g.r.IntN(2) == 0 {
		u.Units = map[string]int64{}
		for _, n := range pool {
			if g.r.IntN(3) == 0 {
				c := int64(0)
				if g.r.IntN(6) != 0 {
					c = 1 + g.r.Int64N(1_000)
				}
				if g.r.IntN(20) == 0 {
					c = MaxUnitCount
				}
				u.Units[n] = c
			}
		}
	}
	if g.r.IntN(4) == 0 {
		if n, ok := u.Units[UnitWebSearchCall]; ok {
			u.WebSearchCalls = n
		} else {
			u.WebSearchCalls = 1 + g.r.Int64N(10)
		}
	}
	u.ServiceTier = []string{"", "default", "flex", "priority", "batch", "scale"}[g.r.IntN(6)]
	return u
}

// ---- the reference, written apart from the code under test ----

// refRates is a set of rates by kind.
type refRates map[string]int64

func refOf(r Rates) refRates {
	return refRates{"in": int64(r.Input), "cached": int64(r.CachedInput), "cw": int64(r.CacheWrite), "cw1h": int64(r.CacheWrite1h), "out": int64(r.Output),
		"ain": int64(r.AudioInput), "aout": int64(r.AudioOutput), "iin": int64(r.ImageInput), "iout": int64(r.ImageOutput), "req": int64(r.Request)}
}

// refPrice is what the reference prices with, taken from the Price's fields directly.
type refPrice struct {
	base  refRates
	tiers []struct {
		above int64
		rates refRates
	}
	units map[string]int64
}

func refSelect(p Price, serviceTier string) (refPrice, string) {
	baseUnits := map[string]int64{}
	for k, v := range p.Units {
		baseUnits[k] = int64(v)
	}
	if _, ok := baseUnits["web_search_call"]; !ok && p.WebSearchCall > 0 {
		baseUnits["web_search_call"] = int64(p.WebSearchCall)
	}
	tiersOf := func(ts []Tier) (out []struct {
		above int64
		rates refRates
	}) {
		for _, t := range ts {
			out = append(out, struct {
				above int64
				rates refRates
			}{t.AboveInputTokens, refOf(t.Rates)})
		}
		return out
	}
	rp := refPrice{base: refRates{"in": int64(p.Input), "cached": int64(p.CachedInput), "cw": int64(p.CacheWrite), "cw1h": int64(p.CacheWrite1h),
		"out": int64(p.Output), "ain": int64(p.AudioInput), "aout": int64(p.AudioOutput), "iin": int64(p.ImageInput), "iout": int64(p.ImageOutput),
		"req": int64(p.Request)}, tiers: tiersOf(p.Tiers), units: baseUnits}
	st, ok := p.ServiceTiers[serviceTier]
	if serviceTier == "" || serviceTier == "default" || !ok {
		return rp, "default"
	}
	own := refPrice{base: refOf(st.Rates), tiers: rp.tiers, units: rp.units}
	if len(st.Tiers) > 0 {
		own.tiers = tiersOf(st.Tiers)
	}
	if len(st.Units) > 0 {
		own.units = map[string]int64{}
		for k, v := range st.Units {
			own.units[k] = int64(v)
		}
	}
	return own, serviceTier
}

// refQuote is the exact cost of u at p as a rational number of micro-units; unknown names
// a unit of u (count > 0) that the applied prices lack.
func refQuote(p Price, u Usage) (total *big.Rat, serviceTier string, above int64, unknown bool) {
	rp, serviceTier := refSelect(p, u.ServiceTier)
	var tier refRates
	for _, t := range rp.tiers {
		if u.Input > t.above && t.above >= above {
			above, tier = t.above, t.rates
		}
	}
	rate := func(kind string) int64 {
		if tier != nil && tier[kind] != 0 {
			return tier[kind]
		}
		return rp.base[kind]
	}
	price := func(kind string) int64 {
		v := rate(kind)
		if v != 0 {
			return v
		}
		switch kind {
		case "cw1h":
			return rate("cw")
		case "ain", "iin":
			return rate("in")
		case "aout", "iout":
			return rate("out")
		}
		return 0
	}
	total = new(big.Rat)
	line := func(tokens int64, kind string) {
		n := new(big.Int).Mul(big.NewInt(tokens), big.NewInt(price(kind)))
		total.Add(total, new(big.Rat).SetFrac(n, big.NewInt(1_000_000)))
	}
	line(u.Input-u.CachedInput-u.AudioInput-u.ImageInput, "in")
	line(u.CachedInput, "cached")
	line(u.CacheWrite-u.CacheWrite1h, "cw")
	line(u.CacheWrite1h, "cw1h")
	line(u.AudioInput, "ain")
	line(u.ImageInput, "iin")
	line(u.Output-u.AudioOutput-u.ImageOutput, "out")
	line(u.AudioOutput, "aout")
	line(u.ImageOutput, "iout")
	total.Add(total, new(big.Rat).SetInt64(price("req")))
	counts := map[string]int64{}
	for k, v := range u.Units {
		counts[k] = v
	}
	if _, ok := counts["web_search_call"]; !ok {
		counts["web_search_call"] = u.WebSearchCalls
	}
	for name, n := range counts {
		if n == 0 {
			continue
		}
		v, ok := rp.units[name]
		if !ok {
			unknown = true
			continue
		}
		total.Add(total, new(big.Rat).SetInt(new(big.Int).Mul(big.NewInt(n), big.NewInt(v))))
	}
	return total, serviceTier, above, unknown
}

// refAdjust is a × (10000+bp) / 10000 rounded half-up, at most MaxInt64.
func refAdjust(a money.Amount, bp int64) money.Amount {
	n := new(big.Int).Mul(big.NewInt(int64(a)), big.NewInt(10000+bp))
	n.Mul(n, big.NewInt(2)).Add(n, big.NewInt(10000)).Quo(n, big.NewInt(20000))
	if !n.IsInt64() {
		return money.Max
	}
	return money.Amount(n.Int64())
}

func refAdjustRates(r Rates, bp int64) Rates {
	return Rates{Input: refAdjust(r.Input, bp), CachedInput: refAdjust(r.CachedInput, bp), CacheWrite: refAdjust(r.CacheWrite, bp),
		CacheWrite1h: refAdjust(r.CacheWrite1h, bp), Output: refAdjust(r.Output, bp), AudioInput: refAdjust(r.AudioInput, bp),
		AudioOutput: refAdjust(r.AudioOutput, bp), ImageInput: refAdjust(r.ImageInput, bp), ImageOutput: refAdjust(r.ImageOutput, bp),
		Request: refAdjust(r.Request, bp)}
}

// refAdjustPrice adjusts a deep copy of p field by field.
func refAdjustPrice(p Price, bp int64) Price {
	q := p
	q.Input, q.CachedInput, q.CacheWrite, q.CacheWrite1h, q.Output = refAdjust(p.Input, bp), refAdjust(p.CachedInput, bp), refAdjust(p.CacheWrite, bp), refAdjust(p.CacheWrite1h, bp), refAdjust(p.Output, bp)
	q.AudioInput, q.AudioOutput, q.ImageInput, q.ImageOutput = refAdjust(p.AudioInput, bp), refAdjust(p.AudioOutput, bp), refAdjust(p.ImageInput, bp), refAdjust(p.ImageOutput, bp)
	q.Request, q.WebSearchCall = refAdjust(p.Request, bp), refAdjust(p.WebSearchCall, bp)
	units := func(m map[string]money.Amount) map[string]money.Amount {
		if m == nil {
			return nil
		}
		out := map[string]money.Amount{}
		for k, v := range m {
			out[k] = refAdjust(v, bp)
		}
		return out
	}
	tiers := func(ts []Tier) []Tier {
		var out []Tier
		for _, t := range ts {
			out = append(out, Tier{AboveInputTokens: t.AboveInputTokens, Rates: refAdjustRates(t.Rates, bp)})
		}
		return out
	}
	q.Units, q.Tiers = units(p.Units), tiers(p.Tiers)
	if p.ServiceTiers != nil {
		q.ServiceTiers = map[string]ServiceTier{}
		for k, st := range p.ServiceTiers {
			q.ServiceTiers[k] = ServiceTier{Rates: refAdjustRates(st.Rates, bp), Tiers: tiers(st.Tiers), Units: units(st.Units)}
		}
	}
	return q
}

func exactRat(x Exact) *big.Rat {
	r := new(big.Rat).SetInt64(int64(x.Micro))
	return r.Add(r, big.NewRat(x.Frac, 1_000_000))
}

func TestQuoteProperty(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(15, 2026))}
	limit := new(big.Rat).Add(new(big.Rat).SetInt64(math.MaxInt64), big.NewRat(1, 1))
	half := big.NewRat(1, 2)
	const n = 30_000
	var quoted, overflowed, unknowns, listed, tiered, serviceTiered int
	for i := range n {
		p := g.price()
		if err := p.Validate(); err != nil {
			t.Fatalf("#%d: generated price invalid: %v (%+v)", i, err, p)
		}
		u := g.usage()
		if err := u.Validate(); err != nil {
			t.Fatalf("#%d: generated usage invalid: %v (%+v)", i, err, u)
		}
		priced := p
		if g.r.IntN(3) == 0 { // through a price list's adjustment
			bp := MinAdjustBP + g.r.Int64N(MaxAdjustBP-MinAdjustBP+1)
			if g.r.IntN(2) == 0 {
				bp = []int64{-1500, -5000, 1000, 1, -1, 9999}[g.r.IntN(6)]
			}
			l := PriceList{Name: "l", AdjustBP: bp}
			cat := NewCatalog(1, []Price{p}).WithLists([]PriceList{l}, map[string]string{"ws": "l"})
			got, list, err := cat.ForWorkspace("ws", "m", p.EffectiveFrom)
			if wantList := map[bool]string{true: "", false: "l"}[bp == 0]; err != nil || list != wantList {
				t.Fatalf("#%d: ForWorkspace %q %v", i, list, err)
			}
			priced = refAdjustPrice(p, bp)
			if !SameCharges(got, priced) {
				t.Fatalf("#%d: Adjusted(%d)\n got %+v\nwant %+v", i, bp, got, priced)
			}
			listed++
		}
		want, wantTier, wantAbove, unknown := refQuote(priced, u)
		q, err := priced.Quote(u)
		fits := want.Cmp(limit) < 0 // floor(want) ≤ MaxInt64
		switch {
		case unknown:
			if !errs.Is(err, "unknown_unit") && !(errs.Is(err, "cost_overflow") && !fits) {
				t.Fatalf("#%d: a unit the price lacks: %+v %v\nprice %+v\nusage %+v", i, q, err, priced, u)
			}
			unknowns++
			continue
		case !fits:
			if !errs.Is(err, "cost_overflow") {
				t.Fatalf("#%d: %s does not fit, got %+v %v", i, want.FloatString(6), q, err)
			}
			overflowed++
			continue
		case err != nil:
			t.Fatalf("#%d: %v\nprice %+v\nusage %+v", i, err, priced, u)
		}
		quoted++
		if exactRat(q.Cost).Cmp(want) != 0 || q.Cost.Frac < 0 || q.Cost.Frac >= 1_000_000 {
			t.Fatalf("#%d: Quote %s (%+v), want %s\nprice %+v\nusage %+v", i, q.Cost, q.Cost, want.FloatString(12), priced, u)
		}
		if q.ServiceTier != wantTier || q.AboveInputTokens != wantAbove {
			t.Fatalf("#%d: tiers %q/%d, want %q/%d", i, q.ServiceTier, q.AboveInputTokens, wantTier, wantAbove)
		}
		if wantAbove > 0 {
			tiered++
		}
		if wantTier != "default" {
			serviceTiered++
		}
		// Round is half-up, Ceil up, both of the exact cost; Cost is Round.
		rounded := new(big.Rat).Add(want, half)
		fl := new(big.Int).Quo(rounded.Num(), rounded.Denom())
		ce := new(big.Int).Quo(new(big.Int).Add(want.Num(), new(big.Int).Sub(want.Denom(), big.NewInt(1))), want.Denom())
		c, cerr := Cost(priced, u)
		if fl.IsInt64() {
			if q.Cost.Round() != money.Amount(fl.Int64()) || cerr != nil || c != q.Cost.Round() {
				t.Fatalf("#%d: Round %d / Cost %d %v, want %s", i, q.Cost.Round(), c, cerr, fl)
			}
		} else if !errs.Is(cerr, "cost_overflow") {
			t.Fatalf("#%d: Cost of %s: %d %v", i, fl, c, cerr)
		}
		if ce.IsInt64() && q.Cost.Ceil() != money.Amount(ce.Int64()) {
			t.Fatalf("#%d: Ceil %d, want %s", i, q.Cost.Ceil(), ce)
		}
		if q.Cost.Ceil() < q.Cost.Round() || q.Cost.Round() < q.Cost.Micro || q.Cost.Ceil()-q.Cost.Micro > 1 {
			t.Fatalf("#%d: Micro %d Round %d Ceil %d", i, q.Cost.Micro, q.Cost.Round(), q.Cost.Ceil())
		}
		// The string reads back.
		if back, err := ParseExact(q.Cost.String()); err != nil || back != q.Cost {
			t.Fatalf("#%d: %s reads back as %+v %v", i, q.Cost, back, err)
		}
		// The hold bound is never below the charge.
		if m, err := MaxCost(priced, u); err == nil && cerr == nil && m < c {
			t.Fatalf("#%d: MaxCost %d < Cost %d", i, m, c)
		}
	}
	t.Logf("%d quoted (%d context-tiered, %d service-tiered), %d overflowed, %d unknown units, %d through a price list", quoted, tiered, serviceTiered, overflowed, unknowns, listed)
	if quoted < n/3 || tiered < n/50 || serviceTiered < n/50 || unknowns < n/50 || overflowed == 0 || listed < n/5 {
		t.Fatal("the generator does not cover the shapes")
	}
}
