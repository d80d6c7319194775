package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/team"
)

// TestRequestDetailShapes: a request with audio tokens, units and a service tier the
// version has no prices for shows them, each with its arithmetic line, billed at the
// default tier, with its exact cost (a fraction of a micro-unit) beside its charge.
func TestRequestDetailShapes(t *testing.T) {
	eachLog(t, func(t *testing.T, e *env) {
		f := e.seedFixture()
		ctx := context.Background()
		_, _, err := e.metering.PutPrice(ctx, pricing.Price{Model: "audio-test", Input: 2_500_000, Output: 10_000_000, AudioInput: 40_000_000,
			AudioOutput: 80_000_000, Units: map[string]money.Amount{"web_search_call": 10_000, "image_1024x1024_high": 167_000},
			EffectiveFrom: testNow.AddDate(0, -1, 0)})
		if err != nil {
			t.Fatal(err)
		}
		k := f.keys["member-key"]
		res, err := e.metering.Ingest(ctx, []metering.Event{{ID: "ev-audio", WorkspaceID: f.ws, KeyID: k.ID, Member: k.MemberID, Model: "audio-test",
			Timestamp: testNow.Add(-time.Minute), ServiceTier: "priority", Source: "gateway", Status: 200,
			Usage: pricing.Usage{Input: 1001, AudioInput: 400, Output: 500, AudioOutput: 100, Units: map[string]int64{"web_search_call": 2, "image_1024x1024_high": 1}}}})
		if err != nil || res.Accepted != 1 {
			t.Fatalf("ingest %+v %v", res, err)
		}
		c := e.signedIn(f.users[team.RoleMember].Email)
		st, body := c.get("/w/" + f.ws + "/requests/ev-audio")
		if st != 200 {
			t.Fatalf("detail: %d", st)
		}
		// 601 × 2.5 + 400 × 40 + 400 × 10 + 100 × 80 per million = 0.0015025 + 0.016 + 0.004 + 0.008,
		// plus 2 × 0.01 and 0.167: 0.2165025 exactly.
		for _, s := range []string{`data-tokens="audio_input">400<`, `data-tokens="audio_output">100<`, `data-unit="image_1024x1024_high">1<`,
			`data-kind="audio_input"`, `data-kind="audio_output"`, `data-kind="unit" data-unit="web_search_call"`, `data-kind="unit" data-unit="image_1024x1024_high"`,
			"0.0015025", `data-arith-total="0.216502500000"`, `data-cost-exact="0.216502500000"`, `data-service-tier="default"`, "reported <code>priority</code>",
			"no prices of its own for priority", `data-price-list="catalog"`} {
			if !strings.Contains(body, s) {
				t.Errorf("the detail does not show %q", s)
			}
		}
		if !strings.Contains(body, `data-cost="0.216502"`) && !strings.Contains(body, `data-cost="0.216503"`) {
			t.Error("the charge is not the exact cost rounded down or up")
		}
		if strings.Contains(body, "this page does not show in full") {
			t.Error("the arithmetic disagrees with the recorded exact cost")
		}
	})
}
