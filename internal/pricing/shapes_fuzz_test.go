package pricing

import (
	"testing"
	"time"
)

// FuzzPriceJSON decodes arbitrary text as a price version's JSON fields (PUT
// /api/v1/prices, a catalog file's entry) and checks: no panic; a version that validates
// keeps its shapes through the store's text (ShapesJSON) and through a catalog file
// (EncodeCatalogFile, ParseCatalogFile); and it can be quoted without panicking.
func FuzzPriceJSON(f *testing.F) {
	for _, s := range []string{
		`{"input":"1","output":"2"}`,
		`{"input":"1.25","output":"10","audio_input":"40","image_output":"30","units":{"web_search_call":"0.01"}}`,
		`{"input":"1","output":"2","tiers":[{"above_input_tokens":200000,"input":"2.5"},{"above_input_tokens":1000000,"output":"20"}]}`,
		`{"input":"1","output":"2","service_tiers":{"flex":{"input":"0.5","tiers":[{"above_input_tokens":5,"input":"1"}],"units":{"x":"1"}}}}`,
		`{"input":"1","output":"2","tiers":[{"above_input_tokens":0}]}`,
		`{"input":"1","output":"2","units":{"A":"-1"}}`,
		`{"input":"1","output":"2","service_tiers":{"default":{}}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var fp filePrice
		if err := strictDecode([]byte(s), &fp); err != nil {
			return
		}
		p, err := fp.toPrice("m")
		if err != nil {
			return
		}
		p.EffectiveFrom = time.Unix(1, 0)
		if err := p.Validate(); err != nil {
			t.Fatalf("toPrice accepted an invalid version: %v", err)
		}
		var back Price
		if err := back.SetShapesJSON(p.ShapesJSON()); err != nil || back.ShapesJSON() != p.ShapesJSON() {
			t.Fatalf("shapes %s read back as %s: %v", p.ShapesJSON(), back.ShapesJSON(), err)
		}
		again, err := ParseCatalogFile(EncodeCatalogFile([]Price{p}, "USD"), "USD")
		if err != nil || len(again) != 1 || !SameCharges(again[0], p) {
			t.Fatalf("catalog file round trip: %v %+v vs %+v", err, again, p)
		}
		for _, u := range []Usage{{}, {Input: 300_000, CachedInput: 1, AudioInput: 2, Output: 10, ImageOutput: 3, ServiceTier: "flex"},
			{Input: 1 << 40, Output: 1 << 40, Units: map[string]int64{"web_search_call": 1, "x": 2}}} {
			if q, err := p.Quote(u); err == nil && (q.Cost.Frac < 0 || q.Cost.Frac >= 1_000_000 || q.Cost.Micro < 0) {
				t.Fatalf("quote %+v", q)
			}
			_, _ = MaxCost(p, u)
		}
	})
}
