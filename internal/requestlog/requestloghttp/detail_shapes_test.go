package requestloghttp_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"spectra/internal/httpjson/httpjsontest"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
)

// TestGetDetailShapes: the detail of a request priced at a service tier's prices and a
// context tier, with audio tokens and units, shows the price that applied as recorded
// (service tier reported and billed, the catalog, the version, the context tier), each
// term of its arithmetic, and its exact cost beside what it was charged.
func TestGetDetailShapes(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		from := t0.AddDate(0, -1, 0)
		p := pricing.Price{Model: "m-audio", Input: 2_500_000, Output: 10_000_000, AudioInput: 40_000_000, AudioOutput: 80_000_000,
			Units:         map[string]money.Amount{"web_search_call": 10_000, "image_1024x1024_high": 167_000},
			Tiers:         []pricing.Tier{{AboveInputTokens: 1000, Rates: pricing.Rates{Input: 5_000_000, Output: 20_000_000}}},
			ServiceTiers:  map[string]pricing.ServiceTier{"flex": {Rates: pricing.Rates{Input: 1_250_000, Output: 5_000_000}}},
			EffectiveFrom: from, CreatedAt: t0}
		if err := e.db.AddPrice(ctx, p); err != nil {
			t.Fatal(err)
		}
		e.meter.Invalidate()
		events := []metering.Event{
			{ID: "req_s1", WorkspaceID: e.ws, Model: "m-audio", Timestamp: t0.Add(-time.Minute), ServiceTier: "flex",
				Usage: pricing.Usage{Input: 2000, AudioInput: 500, Output: 300, AudioOutput: 100,
					Units: map[string]int64{"web_search_call": 2, "image_1024x1024_high": 1}}},
			{ID: "req_s2", WorkspaceID: e.ws, Model: "m-audio", Timestamp: t0.Add(-time.Minute), ServiceTier: "priority",
				Usage: pricing.Usage{Input: 1}},
		}
		if res, err := e.meter.Ingest(ctx, events); err != nil || res.Accepted != 2 {
			t.Fatalf("ingest: %+v %v", res, err)
		}
		type detail struct {
			Cost               string
			CostExact          string    `json:"cost_exact"`
			ServiceTier        string    `json:"service_tier"`
			Billed             string    `json:"billed_service_tier"`
			PriceList          string    `json:"price_list"`
			PriceEffectiveFrom time.Time `json:"price_effective_from"`
			ContextTier        int64     `json:"context_tier_above_input_tokens"`
			Tokens             struct {
				AudioInput     int64 `json:"audio_input"`
				AudioOutput    int64 `json:"audio_output"`
				WebSearchCalls int64 `json:"web_search_calls"`
				Units          map[string]int64
			}
			Arithmetic struct {
				ServiceTier string `json:"service_tier"`
				ContextTier int64  `json:"context_tier_above_input_tokens"`
				Lines       []struct {
					Kind, Unit, Price, Exact string
					Quantity                 int64
				}
				Exact string
			}
		}
		get := func(id string) detail {
			t.Helper()
			r := httpjsontest.Do(t, e.srv.URL, "GET", "/api/v1/workspaces/"+e.ws+"/requests/"+id, "operator", "")
			httpjsontest.Want(t, r, 200, "")
			var d detail
			if err := json.Unmarshal(r.Body, &d); err != nil {
				t.Fatal(err)
			}
			return d
		}
		// Flex's prices, then the context tier above 1,000 input tokens: input 5.00 and
		// output 20.00 per 1M (audio at them, the flex tier setting no audio rates):
		// 1,500 × 5 + 500 × 5 + 200 × 20 + 100 × 20 = 16,000 µ, plus 2 × 0.01 + 0.167.
		d := get("req_s1")
		if d.CostExact != "0.203000000000" || d.Cost != "0.203000" || d.ServiceTier != "flex" || d.Billed != "flex" || d.PriceList != "" ||
			!d.PriceEffectiveFrom.Equal(from) || d.ContextTier != 1000 || d.Arithmetic.Exact != d.CostExact ||
			d.Arithmetic.ServiceTier != "flex" || d.Arithmetic.ContextTier != 1000 || d.Tokens.AudioInput != 500 || d.Tokens.AudioOutput != 100 ||
			d.Tokens.WebSearchCalls != 2 || d.Tokens.Units["image_1024x1024_high"] != 1 {
			t.Fatalf("detail %+v", d)
		}
		want := []string{"input 1500 5.000000 0.0075", "audio_input 500 5.000000 0.0025", "output 200 20.000000 0.004", "audio_output 100 20.000000 0.002",
			"unit image_1024x1024_high 1 0.167000 0.167", "unit web_search_call 2 0.010000 0.02"}
		var got []string
		for _, l := range d.Arithmetic.Lines {
			s := l.Kind
			if l.Unit != "" {
				s += " " + l.Unit
			}
			got = append(got, s+" "+strconv.FormatInt(l.Quantity, 10)+" "+l.Price+" "+trim(l.Exact))
		}
		if len(got) != len(want) {
			t.Fatalf("lines %q; want %q", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("line %d: %q; want %q", i, got[i], want[i])
			}
		}
		// Priority has no prices of its own: billed at the default tier. One input token
		// costs 2.5 µ exactly, charged 2 or 3 by the wallet's carry.
		d = get("req_s2")
		if d.ServiceTier != "priority" || d.Billed != "default" || d.CostExact != "0.000002500000" || (d.Cost != "0.000002" && d.Cost != "0.000003") ||
			d.Arithmetic.Exact != d.CostExact || d.ContextTier != 0 {
			t.Fatalf("detail %+v", d)
		}
	})
}

// trim drops trailing zeros after the sixth decimal (the arithmetic writes at least 6).
func trim(s string) string {
	for len(s) > 0 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	return s
}
