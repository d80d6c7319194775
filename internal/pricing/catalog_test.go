package pricing

import (
	"slices"
	"testing"
	"time"

	"spectra/internal/errs"
)

func TestCatalogAt(t *testing.T) {
	t1 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	t3 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// Given out of order: NewCatalog sorts the versions of each model.
	c := NewCatalog(4, []Price{
		{Model: "a", Input: 3, EffectiveFrom: t3},
		{Model: "a", Input: 1, EffectiveFrom: t1},
		{Model: "b", Input: 9, EffectiveFrom: t2},
		{Model: "a", Input: 2, EffectiveFrom: t2},
	})
	tests := []struct {
		model string
		at    time.Time
		input int64  // the version found, by its input price
		code  string // or the error
	}{
		{"a", t1, 1, ""},
		{"a", t1.Add(-time.Microsecond), 0, "no_price_in_effect"},
		{"a", t2.Add(-time.Microsecond), 1, ""},
		{"a", t2, 2, ""},
		{"a", t3.Add(-time.Nanosecond), 2, ""},
		{"a", t3, 3, ""},
		{"a", t3.AddDate(10, 0, 0), 3, ""},
		{"a", t2.In(time.FixedZone("X", 5*3600)), 2, ""}, // the same instant in another zone
		{"b", t1, 0, "no_price_in_effect"},
		{"b", t2, 9, ""},
		{"c", t3, 0, "unknown_model"},
		{"A", t3, 0, "unknown_model"}, // model names are case-sensitive
	}
	for _, tt := range tests {
		p, err := c.At(tt.model, tt.at)
		if tt.code != "" {
			if !errs.Is(err, tt.code) || errs.KindOf(err) != errs.Invalid {
				t.Errorf("At(%s, %s) = %+v, %v; want %s", tt.model, tt.at, p, err, tt.code)
			}
			continue
		}
		if err != nil || int64(p.Input) != tt.input || p.Model != tt.model {
			t.Errorf("At(%s, %s) = %+v, %v; want the version with input %d", tt.model, tt.at, p, err, tt.input)
		}
	}
	if got := c.Models(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Models = %v", got)
	}
	var order []int64
	for _, p := range c.All() {
		order = append(order, int64(p.Input))
	}
	if !slices.Equal(order, []int64{1, 2, 3, 9}) {
		t.Errorf("All in order of model, then effective_from: %v", order)
	}
	if c.Version != 4 {
		t.Errorf("Version = %d", c.Version)
	}
}

func TestEmptyCatalog(t *testing.T) {
	c := NewCatalog(0, nil)
	if _, err := c.At("a", time.Now()); !errs.Is(err, "unknown_model") {
		t.Errorf("At on an empty catalog: %v", err)
	}
	if len(c.Models()) != 0 || len(c.All()) != 0 {
		t.Errorf("empty catalog lists %v %v", c.Models(), c.All())
	}
}

func TestPriceValidate(t *testing.T) {
	ok := Price{Model: "gpt-4o-mini", Input: 150_000, Output: 600_000, EffectiveFrom: time.Now()}
	tests := []struct {
		name   string
		change func(*Price)
		code   string
	}{
		{"valid", func(*Price) {}, ""},
		{"all zero prices", func(p *Price) { *p = Price{Model: "free", EffectiveFrom: p.EffectiveFrom} }, ""},
		{"model with path and tag", func(p *Price) { p.Model = "openai/gpt-4o:2024-08-06@eu+x" }, ""},
		{"empty model", func(p *Price) { p.Model = "" }, "invalid_model"},
		{"model with a space", func(p *Price) { p.Model = "gpt 4" }, "invalid_model"},
		{"model starting with a dash", func(p *Price) { p.Model = "-x" }, "invalid_model"},
		{"model too long", func(p *Price) { p.Model = string(make([]byte, 129)) }, "invalid_model"},
		{"negative input", func(p *Price) { p.Input = -1 }, "invalid_price"},
		{"negative cached input", func(p *Price) { p.CachedInput = -1 }, "invalid_price"},
		{"negative cache write", func(p *Price) { p.CacheWrite = -1 }, "invalid_price"},
		{"negative output", func(p *Price) { p.Output = -1 }, "invalid_price"},
		{"negative request", func(p *Price) { p.Request = -1 }, "invalid_price"},
		{"no effective_from", func(p *Price) { p.EffectiveFrom = time.Time{} }, "invalid_price"},
	}
	for _, tt := range tests {
		p := ok
		tt.change(&p)
		err := p.Validate()
		if tt.code == "" && err != nil || tt.code != "" && !errs.Is(err, tt.code) {
			t.Errorf("%s: Validate = %v; want %q", tt.name, err, tt.code)
		}
	}
	long := make([]byte, 128)
	for i := range long {
		long[i] = 'a'
	}
	if !ValidModel(string(long)) || ValidModel(string(long)+"a") {
		t.Error("model names are limited to 128 characters")
	}
}
