package metering_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/pricing"
	"spectra/internal/store/storetest"
)

// PutPrice adds a version and drops the cached catalog, so the very next ingest prices
// with it; a repeat of a version is idempotent (the stored one, created false).
func TestPutPrice(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.catalog(t)
		ws := e.Workspace(t, 0)
		if _, err := e.Meter.Catalog(ctx); err != nil { // cached now
			t.Fatal(err)
		}

		// Without effective_from: in effect from now, and priced at once.
		p := pricing.Price{Model: "gpt-new", Input: 1_000_000, Output: 2_000_000, MaxOutputTokens: 4096}
		got, created, err := e.Meter.PutPrice(ctx, p)
		if err != nil || !created {
			t.Fatalf("put: %+v %v %v", got, created, err)
		}
		if !got.EffectiveFrom.Equal(e.Clock.Now()) || !got.CreatedAt.Equal(e.Clock.Now()) || got.MaxOutputTokens != 4096 {
			t.Fatalf("put stored %+v, want it in effect from now", got)
		}
		first := got
		res := e.ingest(t, []metering.Event{{ID: "e1", WorkspaceID: ws, Model: "gpt-new", Timestamp: e.Clock.Now(), Usage: pricing.Usage{Input: 1_000_000}}})
		if res.Accepted != 1 || res.Events[0].Cost != 1_000_000 {
			t.Fatalf("the cached catalog was not dropped: %+v", res)
		}

		// The same prices again, later and without effective_from: the version in effect.
		e.Clock.Advance(time.Hour)
		got, created, err = e.Meter.PutPrice(ctx, p)
		if err != nil || created || !reflect.DeepEqual(got, first) {
			t.Fatalf("repeat: %+v %v %v; want %+v, not created", got, created, err, first)
		}
		// Other prices from now are a new version; so is another max_output_tokens.
		p.Output = 3_000_000
		if got, created, err = e.Meter.PutPrice(ctx, p); err != nil || !created || !got.EffectiveFrom.Equal(e.Clock.Now()) {
			t.Fatalf("new prices: %+v %v %v", got, created, err)
		}
		e.Clock.Advance(time.Hour)
		p.MaxOutputTokens = 0
		if _, created, err = e.Meter.PutPrice(ctx, p); err != nil || !created {
			t.Fatalf("without max_output_tokens: %v %v", created, err)
		}

		// With effective_from: a repeat is the same instant and prices.
		at := e.Clock.Now().Add(24 * time.Hour)
		q := pricing.Price{Model: "gpt-new", Input: 5, Output: 6, EffectiveFrom: at}
		if _, created, err = e.Meter.PutPrice(ctx, q); err != nil || !created {
			t.Fatalf("future: %v %v", created, err)
		}
		e.Clock.Advance(time.Minute)
		if got, created, err = e.Meter.PutPrice(ctx, q); err != nil || created || !got.EffectiveFrom.Equal(at) {
			t.Fatalf("future repeat: %+v %v %v", got, created, err)
		}
		// The prices in effect then, from a later instant, are a new version.
		q.EffectiveFrom = at.Add(time.Hour)
		if _, created, err = e.Meter.PutPrice(ctx, q); err != nil || !created {
			t.Fatalf("same prices, later effective_from: %v %v", created, err)
		}
		q.Output = 7
		_, _, err = e.Meter.PutPrice(ctx, q)
		storetest.WantCode(t, err, "price_version_exists")

		_, _, err = e.Meter.PutPrice(ctx, pricing.Price{Model: "bad model", Input: 1})
		storetest.WantCode(t, err, "invalid_model")
		_, _, err = e.Meter.PutPrice(ctx, pricing.Price{Model: "neg", Input: -1})
		storetest.WantCode(t, err, "invalid_price")

		cat, err := e.Meter.Catalog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		for _, v := range cat.All() {
			if v.Model == "gpt-new" {
				n++
			}
		}
		if n != 5 {
			t.Fatalf("gpt-new has %d versions, want 5", n)
		}
	})
}
