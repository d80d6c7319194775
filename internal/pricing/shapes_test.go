package pricing

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
)

// usd parses a decimal amount for a test.
func usd(t testing.TB, s string) money.Amount {
	t.Helper()
	a, err := money.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A Gemini-2.5-Pro-like version: 1.25 / 10.00 per 1M, and above 200k input tokens 2.50 /
// 15.00 for the whole request; cached input 0.31, 0.625 above.
func tieredPrice(t testing.TB) Price {
	return Price{Model: "gemini-2.5-pro", Input: usd(t, "1.25"), CachedInput: usd(t, "0.31"), Output: usd(t, "10"),
		Tiers:         []Tier{{AboveInputTokens: 200_000, Rates: Rates{Input: usd(t, "2.50"), CachedInput: usd(t, "0.625"), Output: usd(t, "15")}}},
		EffectiveFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func TestQuoteContextTier(t *testing.T) {
	p := tieredPrice(t)
	for _, c := range []struct {
		name  string
		u     Usage
		want  string
		above int64
	}{
		// At the threshold: not above it. 200,000 × 1.25 + 1,000 × 10 = 250,000 + 10,000 µ.
		{"at the threshold", Usage{Input: 200_000, Output: 1_000}, "0.260000000000", 0},
		// One token more: the whole request at the tier: 200,001 × 2.50 + 1,000 × 15 = 500,002.5 + 15,000.
		{"above", Usage{Input: 200_001, Output: 1_000}, "0.515002500000", 200_000},
		// Cached reads at the tier's cached price: 1 × 2.5 + 200,000 × 0.625 = 2.5 + 125,000.
		{"cached above", Usage{Input: 200_001, CachedInput: 200_000}, "0.125002500000", 200_000},
	} {
		q, err := p.Quote(c.u)
		if err != nil || q.Cost.String() != c.want || q.AboveInputTokens != c.above || q.ServiceTier != "default" {
			t.Errorf("%s: %+v %v, want %s above %d", c.name, q, err, c.want, c.above)
		}
	}
	// The highest exceeded threshold wins; a rate a tier leaves 0 is the base rate.
	p.Tiers = append(p.Tiers, Tier{AboveInputTokens: 1_000_000, Rates: Rates{Input: usd(t, "5")}})
	q, err := p.Quote(Usage{Input: 1_000_001, Output: 1})
	// 1,000,001 × 5 + 1 × 10 (base output: the tier leaves output 0).
	if err != nil || q.AboveInputTokens != 1_000_000 || q.Cost.String() != "5.000015000000" {
		t.Fatalf("second tier: %+v %v", q, err)
	}
}

func TestQuoteModalitiesUnitsServiceTiers(t *testing.T) {
	// gpt-4o-audio-like: text 2.50 / 10.00, audio 40 / 80 per 1M; web search 0.01 per call,
	// an image unit at 0.167; flex at half the text prices with its own search price.
	p := Price{Model: "m", Input: usd(t, "2.50"), CachedInput: usd(t, "1.25"), Output: usd(t, "10"), AudioInput: usd(t, "40"), AudioOutput: usd(t, "80"),
		Request: 100, Units: map[string]money.Amount{"web_search_call": usd(t, "0.01"), "image_1024x1024_high": usd(t, "0.167")},
		ServiceTiers:  map[string]ServiceTier{"flex": {Rates: Rates{Input: usd(t, "1.25"), Output: usd(t, "5")}, Units: map[string]money.Amount{"web_search_call": usd(t, "0.005")}}},
		EffectiveFrom: time.Unix(0, 0)}
	// 1,000 input of which 100 cached and 600 audio: 300 text × 2.5 + 100 × 1.25 + 600 × 40
	// = 750 + 125 + 24,000; 500 output of which 200 audio: 300 × 10 + 200 × 80 = 3,000 + 16,000;
	// + 100 fee + 2 searches × 10,000 + 1 image × 167,000.
	u := Usage{Input: 1_000, CachedInput: 100, AudioInput: 600, Output: 500, AudioOutput: 200,
		Units: map[string]int64{"web_search_call": 2, "image_1024x1024_high": 1}}
	q, err := p.Quote(u)
	if err != nil || q.Cost != (Exact{Micro: 750 + 125 + 24_000 + 3_000 + 16_000 + 100 + 20_000 + 167_000}) || q.ServiceTier != "default" {
		t.Fatalf("default: %+v %v", q, err)
	}
	// Image tokens with no image price: at the text rates.
	if q, _ := p.Quote(Usage{Input: 1_000, ImageInput: 1_000, Output: 1_000, ImageOutput: 1_000}); q.Cost.Micro != 2_500+10_000+100 {
		t.Fatalf("image at text: %+v", q)
	}
	// flex: its own rates (audio falls back to its own input/output), its own units.
	u.ServiceTier = "flex"
	q, err = p.Quote(u)
	// 300 × 1.25 + 100 × 0 (flex sets no cached price) + 600 × 1.25 + 300 × 5 + 200 × 5 + 0 fee
	// + 2 × 5,000; the image unit is unknown to flex's units.
	if !errs.Is(err, "unknown_unit") {
		t.Fatalf("flex with an image: %+v %v", q, err)
	}
	delete(u.Units, "image_1024x1024_high")
	q, err = p.Quote(u)
	if err != nil || q.ServiceTier != "flex" || q.Cost.String() != "0.013625000000" {
		t.Fatalf("flex: %+v %v (%s)", q, err, q.Cost)
	}
	// A tier the version has no prices for is billed at the default tier, and says so.
	u.ServiceTier = "priority"
	if q, err = p.Quote(u); err != nil || q.ServiceTier != "default" {
		t.Fatalf("priority: %+v %v", q, err)
	}
	// A unit the price does not know is rejected, never priced at 0.
	if _, err := p.Quote(Usage{Units: map[string]int64{"code_interpreter_session": 1}}); !errs.Is(err, "unknown_unit") {
		t.Fatalf("unknown unit: %v", err)
	}
	// The old web_search_calls count is the unit web_search_call.
	if q, err := p.Quote(Usage{WebSearchCalls: 3}); err != nil || q.Cost.Micro != 100+30_000 {
		t.Fatalf("web_search_calls: %+v %v", q, err)
	}
	// A version with no web search price does not know the unit (it cost 0 before issue 15).
	if _, err := (Price{Input: 1}).Quote(Usage{WebSearchCalls: 1}); !errs.Is(err, "unknown_unit") {
		t.Fatalf("no search price: %v", err)
	}
	// A zero count of an unknown unit costs nothing and is no error.
	if _, err := (Price{Input: 1}).Quote(Usage{Units: map[string]int64{"x": 0}}); err != nil {
		t.Fatalf("zero count: %v", err)
	}
}

// The 10-token embedding at 0.02 per 1M costs 0.2 micro-units: kept exactly.
func TestExact(t *testing.T) {
	q, err := Price{Input: usd(t, "0.02")}.Quote(Usage{Input: 10})
	if err != nil || q.Cost != (Exact{Frac: 200_000}) || q.Cost.String() != "0.000000200000" || q.Cost.Round() != 0 || q.Cost.Ceil() != 1 {
		t.Fatalf("embedding: %+v %v %s", q, err, q.Cost)
	}
	for _, c := range []struct {
		x          Exact
		s          string
		round, cei money.Amount
	}{
		{Exact{}, "0.000000000000", 0, 0},
		{Exact{Micro: 1_234_567, Frac: 5}, "1.234567000005", 1_234_567, 1_234_568},
		{Exact{Micro: 3, Frac: 499_999}, "0.000003499999", 3, 4},
		{Exact{Micro: 3, Frac: 500_000}, "0.000003500000", 4, 4},
		{Exact{Micro: money.Max, Frac: 999_999}, "9223372036854.775807999999", money.Max, money.Max},
	} {
		if c.x.String() != c.s || c.x.Round() != c.round || c.x.Ceil() != c.cei {
			t.Errorf("%+v: %s %d %d", c.x, c.x.String(), c.x.Round(), c.x.Ceil())
		}
		back, err := ParseExact(c.s)
		if err != nil || back != c.x {
			t.Errorf("ParseExact(%s) = %+v %v", c.s, back, err)
		}
		b, _ := json.Marshal(c.x)
		var j Exact
		if err := json.Unmarshal(b, &j); err != nil || j != c.x || string(b) != `"`+c.s+`"` {
			t.Errorf("json %s: %+v %v", b, j, err)
		}
	}
	for _, s := range []string{"", "-1", "1.", ".5", "1.0000000000001", "1e3", "x", "99999999999999999"} {
		if _, err := ParseExact(s); !errs.Is(err, "invalid_exact") {
			t.Errorf("ParseExact(%q): %v", s, err)
		}
	}
	if x, _ := ParseExact("1.5"); x != (Exact{Micro: 1_500_000}) {
		t.Errorf("1.5: %+v", x)
	}
	s, err := AddExact(Exact{Micro: 1, Frac: 600_000}, Exact{Micro: 2, Frac: 400_000})
	if err != nil || s != (Exact{Micro: 4}) {
		t.Fatalf("carry: %+v %v", s, err)
	}
	if _, err := AddExact(Exact{Micro: money.Max, Frac: 600_000}, Exact{Frac: 400_000}); !errs.Is(err, "cost_overflow") {
		t.Fatalf("overflow: %v", err)
	}
	if _, err := Cost(Price{Input: money.Max, Request: 1}, Usage{Input: 1_000_000}); !errs.Is(err, "cost_overflow") {
		t.Fatalf("cost overflow: %v", err)
	}
	if _, err := (Price{Units: map[string]money.Amount{"u": money.Max}}).Quote(Usage{Units: map[string]int64{"u": 2}}); !errs.Is(err, "cost_overflow") {
		t.Fatalf("unit overflow: %v", err)
	}
	if (Exact{Micro: 1}).Cmp(Exact{Frac: 999_999}) != 1 || (Exact{Frac: 1}).Cmp(Exact{Frac: 2}) != -1 || (Exact{}).Cmp(Exact{}) != 0 {
		t.Fatal("Cmp")
	}
}

func TestPriceShapeValidation(t *testing.T) {
	ok := tieredPrice(t)
	ok.Units = map[string]money.Amount{"web_search_call": 10_000}
	ok.ServiceTiers = map[string]ServiceTier{"flex": {Rates: Rates{Input: 1}}, "batch": {Units: map[string]money.Amount{"x": 1}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(p *Price)
		code string
	}{
		{"negative audio", func(p *Price) { p.AudioInput = -1 }, "invalid_price"},
		{"negative image output", func(p *Price) { p.ImageOutput = -1 }, "invalid_price"},
		{"negative tier rate", func(p *Price) { p.Tiers[0].Output = -1 }, "invalid_price"},
		{"negative unit", func(p *Price) { p.Units["web_search_call"] = -1 }, "invalid_price"},
		{"negative service tier rate", func(p *Price) { p.ServiceTiers["flex"] = ServiceTier{Rates: Rates{Input: -5}} }, "invalid_price"},
		{"zero threshold", func(p *Price) { p.Tiers[0].AboveInputTokens = 0 }, "invalid_tier"},
		{"negative threshold", func(p *Price) { p.Tiers[0].AboveInputTokens = -1 }, "invalid_tier"},
		{"equal thresholds", func(p *Price) { p.Tiers = append(p.Tiers, Tier{AboveInputTokens: 200_000, Rates: Rates{Input: 1}}) }, "invalid_tier"},
		{"decreasing thresholds", func(p *Price) { p.Tiers = append(p.Tiers, Tier{AboveInputTokens: 100, Rates: Rates{Input: 1}}) }, "invalid_tier"},
		{"empty tier", func(p *Price) { p.Tiers[0].Rates = Rates{} }, "invalid_tier"},
		{"too many tiers", func(p *Price) {
			for i := range MaxTiers {
				p.Tiers = append(p.Tiers, Tier{AboveInputTokens: int64(300_000 + i), Rates: Rates{Input: 1}})
			}
		}, "invalid_tier"},
		{"service tier's tier", func(p *Price) {
			p.ServiceTiers["flex"] = ServiceTier{Rates: Rates{Input: 1}, Tiers: []Tier{{AboveInputTokens: 5}, {AboveInputTokens: 6, Rates: Rates{Input: 1}}}}
		}, "invalid_tier"},
		{"unit name", func(p *Price) { p.Units["Web Search"] = 1 }, "invalid_unit"},
		{"unit name leading dash", func(p *Price) { p.Units["-x"] = 1 }, "invalid_unit"},
		{"unit name too long", func(p *Price) { p.Units[strings.Repeat("a", 65)] = 1 }, "invalid_unit"},
		{"units disagree", func(p *Price) { p.WebSearchCall = 5 }, "invalid_unit"},
		{"service tier unit", func(p *Price) { p.ServiceTiers["batch"] = ServiceTier{Units: map[string]money.Amount{"A": 1}} }, "invalid_unit"},
		{"service tier name", func(p *Price) { p.ServiceTiers["Flex"] = ServiceTier{Rates: Rates{Input: 1}} }, "invalid_service_tier"},
		{"service tier default", func(p *Price) { p.ServiceTiers["default"] = ServiceTier{Rates: Rates{Input: 1}} }, "invalid_service_tier"},
		{"empty service tier", func(p *Price) { p.ServiceTiers["priority"] = ServiceTier{} }, "invalid_service_tier"},
	} {
		p := ok
		p.Tiers = append([]Tier(nil), ok.Tiers...)
		p.Units = map[string]money.Amount{"web_search_call": 10_000}
		p.ServiceTiers = map[string]ServiceTier{"flex": ok.ServiceTiers["flex"], "batch": ok.ServiceTiers["batch"]}
		c.edit(&p)
		if err := p.Validate(); !errs.Is(err, c.code) {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
}

func TestUsageShapeValidation(t *testing.T) {
	if err := (Usage{Input: 10, CachedInput: 4, AudioInput: 3, ImageInput: 3, Output: 5, AudioOutput: 2, ImageOutput: 3,
		Units: map[string]int64{"web_search_call": 2}, WebSearchCalls: 2, ServiceTier: "flex"}).Validate(); err != nil {
		t.Fatalf("valid: %v", err)
	}
	many := map[string]int64{}
	for i := range MaxUsageUnits + 1 {
		many[string(rune('a'+i))] = 1
	}
	for _, c := range []struct {
		name string
		u    Usage
		code string
	}{
		{"audio over uncached", Usage{Input: 10, CachedInput: 4, AudioInput: 7}, "modality_exceeds_input"},
		{"audio+image over", Usage{Input: 10, AudioInput: 6, ImageInput: 5}, "modality_exceeds_input"},
		{"image over output", Usage{Output: 10, ImageOutput: 11}, "modality_exceeds_output"},
		{"audio+image over output", Usage{Output: 10, AudioOutput: 6, ImageOutput: 5}, "modality_exceeds_output"},
		{"negative audio", Usage{AudioInput: -1}, "negative_tokens"},
		{"unit name", Usage{Units: map[string]int64{"Bad": 1}}, "invalid_unit"},
		{"unit count", Usage{Units: map[string]int64{"x": MaxUnitCount + 1}}, "invalid_unit"},
		{"negative unit", Usage{Units: map[string]int64{"x": -1}}, "invalid_unit"},
		{"too many units", Usage{Units: many}, "invalid_unit"},
		{"search counts disagree", Usage{Units: map[string]int64{"web_search_call": 1}, WebSearchCalls: 2}, "invalid_unit"},
		{"service tier", Usage{ServiceTier: "Flex!"}, "invalid_service_tier"},
	} {
		if err := c.u.Validate(); !errs.Is(err, c.code) {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
		// Quote refuses inconsistent counts too rather than pricing nonsense.
		if c.code == "modality_exceeds_input" || c.code == "modality_exceeds_output" {
			if _, err := (Price{Input: 1}).Quote(c.u); !errs.Is(err, c.code) {
				t.Errorf("%s: Quote %v", c.name, err)
			}
		}
	}
}

func TestAdjustedAndForWorkspace(t *testing.T) {
	p := tieredPrice(t)
	p.Units = map[string]money.Amount{"web_search_call": 10_000}
	p.WebSearchCall = 10_000
	p.Request = 3
	p.ServiceTiers = map[string]ServiceTier{"flex": {Rates: Rates{Input: 1}}}
	l := PriceList{Name: "enterprise-2026", AdjustBP: -1500}
	a := l.Adjusted(p)
	// 1.25 × 0.85 = 1.0625; 0.31 × 0.85 = 0.2635; 2.50 → 2.125; 0.01 → 0.0085; 3 µ → 2.55 → 3; 1 µ → 0.85 → 1.
	if a.Input != 1_062_500 || a.CachedInput != 263_500 || a.Tiers[0].Input != 2_125_000 || a.Tiers[0].AboveInputTokens != 200_000 ||
		a.Units["web_search_call"] != 8_500 || a.WebSearchCall != 8_500 || a.Request != 3 || a.ServiceTiers["flex"].Input != 1 || a.Output != 8_500_000 {
		t.Fatalf("adjusted: %+v", a)
	}
	if p.Input != 1_250_000 || p.Tiers[0].Input != 2_500_000 || p.Units["web_search_call"] != 10_000 {
		t.Fatal("Adjusted changed its argument")
	}
	// Half-up: 5 µ × 0.9 = 4.5 → 5; 5 µ × 0.89 = 4.45 → 4.
	if got := (PriceList{AdjustBP: -1000}).Adjusted(Price{Input: 5}).Input; got != 5 {
		t.Fatalf("half: %d", got)
	}
	if got := (PriceList{AdjustBP: -1100}).Adjusted(Price{Input: 5}).Input; got != 4 {
		t.Fatalf("below half: %d", got)
	}
	if got := (PriceList{AdjustBP: MaxAdjustBP}).Adjusted(Price{Input: money.Max}).Input; got != money.Max {
		t.Fatalf("saturates: %d", got)
	}

	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	other := Price{Model: "gpt", Input: 100, Output: 200, EffectiveFrom: t0}
	own := Price{Model: "gpt", Input: 50, Output: 60, EffectiveFrom: t0.Add(48 * time.Hour)}
	cat := NewCatalog(7, []Price{p, other}).WithLists([]PriceList{
		{Name: "enterprise-2026", AdjustBP: -1500, Prices: []Price{own}},
		{Name: "own-only", Prices: []Price{own}},
	}, map[string]string{"ws-e": "enterprise-2026", "ws-o": "own-only", "ws-gone": "deleted", "ws-none": ""})
	if cat.Version != 7 || len(cat.Lists()) != 2 || cat.AssignedList("ws-e") != "enterprise-2026" {
		t.Fatalf("WithLists: %d %v", cat.Version, cat.Lists())
	}
	at := t0.Add(24 * time.Hour)
	for _, c := range []struct {
		ws, model string
		t         time.Time
		input     money.Amount
		list      string
	}{
		{"ws-none", "gpt", at, 100, ""},
		{"ws-other", "gpt", at, 100, ""},
		{"ws-e", "gpt", at, 85, "enterprise-2026"},                     // before the list's own version: adjusted catalog
		{"ws-e", "gpt", at.Add(48 * time.Hour), 50, "enterprise-2026"}, // the list's own version, not adjusted
		{"ws-e", "gemini-2.5-pro", at, 1_062_500, "enterprise-2026"},
		{"ws-o", "gemini-2.5-pro", at, 1_250_000, ""}, // no adjustment, no own version: the catalog as it is
		{"ws-o", "gpt", at.Add(48 * time.Hour), 50, "own-only"},
	} {
		got, list, err := cat.ForWorkspace(c.ws, c.model, c.t)
		if err != nil || got.Input != c.input || list != c.list {
			t.Errorf("%s %s: %d %q %v, want %d %q", c.ws, c.model, got.Input, list, err, c.input, c.list)
		}
	}
	if _, _, err := cat.ForWorkspace("ws-gone", "gpt", at); !errs.Is(err, "unknown_price_list") {
		t.Fatalf("gone: %v", err)
	}
	if _, _, err := cat.ForWorkspace("ws-e", "nope", at); !errs.Is(err, "unknown_model") {
		t.Fatalf("unknown model: %v", err)
	}
	if _, _, err := cat.ForWorkspace("ws-e", "gpt", t0.Add(-time.Hour)); !errs.Is(err, "no_price_in_effect") {
		t.Fatalf("before: %v", err)
	}
	// The catalog without lists is unchanged by WithLists.
	if _, list, _ := NewCatalog(7, []Price{other}).ForWorkspace("ws-e", "gpt", at); list != "" {
		t.Fatal("lists leaked")
	}

	for _, c := range []struct {
		l    PriceList
		code string
	}{
		{PriceList{Name: "Bad Name"}, "invalid_price_list"},
		{PriceList{Name: "a", AdjustBP: -10000}, "invalid_adjust_percent"},
		{PriceList{Name: "a", AdjustBP: MaxAdjustBP + 1}, "invalid_adjust_percent"},
		{PriceList{Name: "a", Prices: []Price{own, own}}, "duplicate_price"},
		{PriceList{Name: "a", Prices: []Price{{Model: "m", Input: -1, EffectiveFrom: t0}}}, "invalid_price"},
	} {
		if err := c.l.Validate(); !errs.Is(err, c.code) {
			t.Errorf("%+v: %v, want %s", c.l, err, c.code)
		}
	}
	if err := (PriceList{Name: "enterprise-2026", AdjustBP: -1500, Prices: []Price{own}}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestMaxCost(t *testing.T) {
	p := tieredPrice(t)
	p.AudioOutput = usd(t, "80")
	p.ServiceTiers = map[string]ServiceTier{"priority": {Rates: Rates{Input: usd(t, "5"), Output: usd(t, "20")}}}
	// 1,000 input, 100 output held, every output token possibly audio: default base
	// 1,000 × 1.25 + 100 × 80 = 9,250; default above 200k 1,000 × 2.50 + 100 × 80 (the tier
	// leaves audio output at the base's 80) = 10,500; priority (its rates complete, audio at
	// its own output) 1,000 × 5 + 100 × 20 = 7,000; priority above 200k (the base's tiers)
	// 2,500 + 1,500 = 4,000. The most: 10,500.
	got, err := MaxCost(p, Usage{Input: 1_000, Output: 100})
	if err != nil || got != 10_500 {
		t.Fatalf("MaxCost = %d %v", got, err)
	}
	c, _ := Cost(p, Usage{Input: 1_000, Output: 100})
	if c > got {
		t.Fatalf("cost %d above max %d", c, got)
	}
	// Rounded up: 1 token at 1.25 is 1.25 µ, at most 2.5 µ (the tier) → 3.
	if got, _ := MaxCost(Price{Input: 1_250_000, Tiers: []Tier{{AboveInputTokens: 5, Rates: Rates{Input: 2_500_000}}}}, Usage{Input: 1}); got != 3 {
		t.Fatalf("ceil: %d", got)
	}
	if _, err := MaxCost(p, Usage{Units: map[string]int64{"x": 1}}); !errs.Is(err, "unknown_unit") {
		t.Fatalf("unknown unit: %v", err)
	}
}

func TestShapesJSON(t *testing.T) {
	p := tieredPrice(t)
	if (Price{}).ShapesJSON() != "" {
		t.Fatal("empty")
	}
	p.Units = map[string]money.Amount{"b": 1, "a": 2}
	p.ServiceTiers = map[string]ServiceTier{"flex": {Rates: Rates{Input: 1}, Units: map[string]money.Amount{"a": 1}}}
	s := p.ShapesJSON()
	want := `{"units":{"a":"0.000002","b":"0.000001"},"tiers":[{"above_input_tokens":200000,"input":"2.500000","cached_input":"0.625000","output":"15.000000"}],"service_tiers":{"flex":{"input":"0.000001","units":{"a":"0.000001"}}}}`
	if s != want {
		t.Fatalf("ShapesJSON:\n%s\nwant\n%s", s, want)
	}
	var q Price
	if err := q.SetShapesJSON(s); err != nil || q.ShapesJSON() != s {
		t.Fatalf("round trip: %v %s", err, q.ShapesJSON())
	}
	if err := q.SetShapesJSON(`{"nope":1}`); err == nil {
		t.Fatal("unknown field read")
	}
	// An empty map or list is no shape: the same charges as none.
	a, b := Price{Units: map[string]money.Amount{}}, Price{}
	if !SameCharges(a, b) || SameCharges(p, tieredPrice(t)) {
		t.Fatal("SameCharges")
	}
}

// BenchmarkQuote prices a plain request and a shaped one; neither allocates.
func BenchmarkQuote(b *testing.B) {
	plain := Price{Input: 2_500_000, CachedInput: 1_250_000, Output: 10_000_000, WebSearchCall: 10_000}
	shaped := tieredPrice(b)
	shaped.ServiceTiers = map[string]ServiceTier{"flex": {Rates: Rates{Input: 1, Output: 2}}}
	u := Usage{Input: 250_000, CachedInput: 1_000, Output: 700, Reasoning: 300, ServiceTier: "flex"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := plain.Quote(u); err != nil {
			b.Fatal(err)
		}
		if _, err := shaped.Quote(u); err != nil {
			b.Fatal(err)
		}
	}
}

// Counts so large that a careless subtraction would wrap are refused, not priced.
func TestQuoteModalityNoWrap(t *testing.T) {
	const max = int64(^uint64(0) >> 1)
	for _, u := range []Usage{
		{Input: max, CachedInput: max, AudioInput: max, ImageInput: max},
		{Input: max, AudioInput: max, ImageInput: max},
		{Output: max, AudioOutput: max, ImageOutput: max},
	} {
		if _, err := (Price{Input: 1, Output: 1}).Quote(u); !errs.Is(err, "modality_exceeds_input") && !errs.Is(err, "modality_exceeds_output") {
			t.Errorf("%+v: %v", u, err)
		}
		if err := u.Validate(); !errs.Is(err, "modality_exceeds_input") && !errs.Is(err, "modality_exceeds_output") {
			t.Errorf("validate %+v: %v", u, err)
		}
	}
}

// A list's own version in effect at t is its latest not after t, whatever the order the
// versions are held in; another model's versions never answer.
func TestPriceListVersionAt(t *testing.T) {
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mar := jan.AddDate(0, 2, 0)
	l := PriceList{Name: "ent", Prices: []Price{
		{Model: "m", Input: 3, EffectiveFrom: mar},
		{Model: "m", Input: 1, EffectiveFrom: jan},
		{Model: "other", Input: 9, EffectiveFrom: jan.AddDate(0, 1, 0)},
	}}
	for _, tc := range []struct {
		at    time.Time
		input money.Amount
		ok    bool
	}{
		{jan.Add(-time.Nanosecond), 0, false},
		{jan, 1, true},
		{mar.Add(-time.Nanosecond), 1, true},
		{mar, 3, true},
		{mar.AddDate(1, 0, 0), 3, true},
	} {
		p, ok := l.VersionAt("m", tc.at)
		if ok != tc.ok || p.Input != tc.input {
			t.Fatalf("VersionAt(m, %s) = %v %v, want input %d %v", tc.at, p.Input, ok, tc.input, tc.ok)
		}
	}
	if _, ok := l.VersionAt("none", mar); ok {
		t.Fatal("a model without own versions has one")
	}
}
