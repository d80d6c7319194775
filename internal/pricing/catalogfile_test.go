package pricing_test

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/pricing"
)

// TestParseCatalogFileListPrices reads the shared list-price catalog (a copy in
// testdata) and reads back its own encoding.
func TestParseCatalogFileListPrices(t *testing.T) {
	b, err := os.ReadFile("testdata/model-prices.json")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := pricing.ParseCatalogFile(b, "USD")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 12 || ps[0].Model != "gpt-4o" || ps[0].Input != 2_500_000 || ps[0].CachedInput != 1_250_000 || ps[0].Output != 10_000_000 {
		t.Fatalf("prices = %+v", ps)
	}
	again, err := pricing.ParseCatalogFile(pricing.EncodeCatalogFile(ps, "USD"), "USD")
	if err != nil || len(again) != len(ps) {
		t.Fatalf("read back: %v", err)
	}
	for i := range ps {
		if !pricing.SameCharges(ps[i], again[i]) || ps[i].Model != again[i].Model {
			t.Fatalf("read back %+v, want %+v", again[i], ps[i])
		}
	}
}

// TestParseCatalogFileListing reads GET /api/v1/prices: each model's current version,
// else its latest.
func TestParseCatalogFileListing(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v1 := pricing.Price{Model: "m1", Input: 1_000_000, Output: 2_000_000, EffectiveFrom: from, CreatedAt: from}
	v2 := v1
	v2.Input, v2.EffectiveFrom = 3_000_000, from.Add(24*time.Hour)
	listing := map[string]any{"currency": "USD", "models": []any{
		map[string]any{"model": "m1", "current": v1, "versions": []pricing.Price{v1, v2}},
		map[string]any{"model": "m2", "current": nil, "versions": []pricing.Price{{Model: "m2", Input: 5, Output: 6, MaxOutputTokens: 100}}},
	}}
	b, _ := json.Marshal(listing)
	ps, err := pricing.ParseCatalogFile(b, "USD")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Input != 1_000_000 || ps[1].Input != 5 || ps[1].MaxOutputTokens != 100 {
		t.Fatalf("prices = %+v", ps)
	}

	cat := pricing.NewCatalog(1, []pricing.Price{v1})
	d := pricing.Diff(cat, []pricing.Price{v1, v2, ps[1]}, from.Add(time.Hour))
	if d[0].Kind != pricing.DiffUnchanged || d[1].Kind != pricing.DiffChanged || d[1].Old.Input != 1_000_000 || d[2].Kind != pricing.DiffNew || d[2].Old != nil {
		t.Fatalf("diff = %+v", d)
	}
}

// TestParseCatalogFileRefusals: every bad file is refused with its code.
func TestParseCatalogFileRefusals(t *testing.T) {
	for _, c := range []struct{ name, file, code string }{
		{"not json", `{"models": [`, "invalid_json"},
		{"empty", ``, "invalid_json"},
		{"two values", `{"models":[{"model":"a","input":"1","output":"1"}]} {}`, "invalid_json"},
		{"unknown top field", `{"prices":[]}`, "unknown_field"},
		{"unknown model field", `{"models":[{"model":"a","input":"1","output":"1","discount":"5"}]}`, "unknown_field"},
		{"unknown version field", `{"models":[{"model":"a","current":{"input":"1","output":"1","colour":"red"}}]}`, "unknown_field"},
		{"wrong type", `{"models":[{"model":"a","input":1,"output":"1"}]}`, "invalid_json"},
		{"no models", `{"models":[]}`, "empty_catalog"},
		{"other currency", `{"currency":"EUR","models":[{"model":"a","input":"1","output":"1"}]}`, "currency_mismatch"},
		{"bad amount", `{"models":[{"model":"a","input":"1.5x","output":"1"}]}`, "invalid_price"},
		{"negative", `{"models":[{"model":"a","input":"-1","output":"1"}]}`, "invalid_price"},
		{"too precise", `{"models":[{"model":"a","input":"0.0000001","output":"1"}]}`, "invalid_price"},
		{"no output", `{"models":[{"model":"a","input":"1"}]}`, "missing_price"},
		{"bad model", `{"models":[{"model":"bad model","input":"1","output":"1"}]}`, "invalid_model"},
		{"twice", `{"models":[{"model":"a","input":"1","output":"1"},{"model":"a","input":"2","output":"1"}]}`, "duplicate_model"},
		{"bad max", `{"models":[{"model":"a","input":"1","output":"1","max_output_tokens":0}]}`, "invalid_max_output_tokens"},
		{"no versions", `{"models":[{"model":"a","current":null,"versions":[]}]}`, "missing_price"},
	} {
		_, err := pricing.ParseCatalogFile([]byte(c.file), "USD")
		if errs.CodeOf(err) != c.code {
			t.Errorf("%s: err = %v, want %s", c.name, err, c.code)
		}
	}
}

func TestParsePrice(t *testing.T) {
	p, err := pricing.ParsePrice(" m ", map[string]string{"input": "2.5", "output": "10", "cached_input": "", "request": "0.0001"}, "8192")
	if err != nil || p.Model != "m" || p.Input != 2_500_000 || p.Output != 10_000_000 || p.Request != 100 || p.MaxOutputTokens != 8192 {
		t.Fatalf("p = %+v, %v", p, err)
	}
	for _, c := range []struct {
		text map[string]string
		max  string
		code string
	}{
		{map[string]string{"input": "1"}, "", "missing_price"},
		{map[string]string{"input": "1", "output": "x"}, "", "invalid_price"},
		{map[string]string{"input": "1", "output": "1"}, "1.5", "invalid_max_output_tokens"},
		{map[string]string{"input": "1", "output": "1"}, "0", "invalid_max_output_tokens"},
	} {
		if _, err := pricing.ParsePrice("m", c.text, c.max); errs.CodeOf(err) != c.code {
			t.Errorf("%v %q: err = %v, want %s", c.text, c.max, err, c.code)
		}
	}
	if _, err := pricing.ParsePrice("bad model", map[string]string{"input": "1", "output": "1"}, ""); errs.CodeOf(err) != "invalid_model" {
		t.Errorf("bad model: %v", err)
	}
}

// A catalog file carries the shapes: a listing of GET /api/v1/prices with modality rates,
// units, tiers and service tiers reads back the same version; its encoding too; a version
// that differs only in its shapes is a changed price in the diff; a bad shape is refused
// with its code, naming the model.
func TestParseCatalogFileShapes(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := pricing.Price{Model: "gemini-x", Input: 1_250_000, Output: 10_000_000, AudioInput: 40_000_000, ImageOutput: 30_000_000,
		Units: map[string]money.Amount{"web_search_call": 35_000},
		Tiers: []pricing.Tier{{AboveInputTokens: 200_000, Rates: pricing.Rates{Input: 2_500_000, Output: 15_000_000}}},
		ServiceTiers: map[string]pricing.ServiceTier{"flex": {Rates: pricing.Rates{Input: 625_000}, Tiers: []pricing.Tier{{AboveInputTokens: 1, Rates: pricing.Rates{Output: 1}}},
			Units: map[string]money.Amount{"x": 1}}},
		EffectiveFrom: from, CreatedAt: from}
	b, _ := json.Marshal(map[string]any{"currency": "USD", "models": []any{map[string]any{"model": "gemini-x", "current": v, "versions": []pricing.Price{v}}}})
	ps, err := pricing.ParseCatalogFile(b, "USD")
	if err != nil || len(ps) != 1 || !pricing.SameCharges(ps[0], v) {
		t.Fatalf("listing: %+v %v", ps, err)
	}
	again, err := pricing.ParseCatalogFile(pricing.EncodeCatalogFile(ps, "USD"), "USD")
	if err != nil || !pricing.SameCharges(again[0], v) {
		t.Fatalf("encoding: %+v %v", again, err)
	}
	flat := v
	flat.Units, flat.Tiers, flat.ServiceTiers = nil, nil, nil
	d := pricing.Diff(pricing.NewCatalog(1, []pricing.Price{flat}), ps, from.Add(time.Hour))
	if d[0].Kind != pricing.DiffChanged || !d[0].ShapesChanged() {
		t.Fatalf("diff %+v", d[0])
	}
	for _, c := range []struct{ entry, code string }{
		{`"tiers":[{"input":"1"}]`, "invalid_tier"},
		{`"tiers":[{"above_input_tokens":5,"input":"1"},{"above_input_tokens":5,"input":"2"}]`, "invalid_tier"},
		{`"units":{"Bad":"1"}`, "invalid_unit"},
		{`"service_tiers":{"default":{"input":"1"}}`, "invalid_service_tier"},
		{`"audio_output":"-1"`, "invalid_price"},
		{`"tiers":[{"above_input_tokens":5,"inptu":"1"}]`, "unknown_field"},
	} {
		_, err := pricing.ParseCatalogFile([]byte(`{"models":[{"model":"m","input":"1","output":"2",`+c.entry+`}]}`), "USD")
		if !errs.Is(err, c.code) {
			t.Errorf("%s: %v, want %s", c.entry, err, c.code)
		}
	}
}
