package api

import (
	"net/http"
	"time"

	"spectra/internal/errs"
	"spectra/internal/pricing"
)

// priceRequest is the body of PUT /api/v1/prices/{model}: prices per million tokens as
// decimal strings. input and output are required; the others default to "0".
// cache_write_1h (per million 1-hour cache-write tokens; "0" prices them at cache_write)
// and web_search_call (per call) are optional too.
// max_output_tokens, optional, is the model's maximum output per completion in tokens.
// The shapes are optional too: audio_input, audio_output, image_input, image_output (per
// million), units (per unit), tiers and service_tiers (pricing.PriceFields,
// docs/pricing.md); pricing.Price.Validate checks them (invalid_tier, invalid_unit,
// invalid_service_tier).
type priceRequest struct {
	pricing.PriceFields
	EffectiveFrom *string `json:"effective_from"`
}

// price builds the version the request describes for model, created now; its
// EffectiveFrom is zero (from now) unless the request sets effective_from.
func (b priceRequest) price(model string, now time.Time) (pricing.Price, error) {
	p := pricing.Price{Model: model, CreatedAt: now.UTC().Truncate(time.Microsecond)}
	if fp := b.Apply(&p); fp != nil {
		return p, fp.Error("")
	}
	if b.EffectiveFrom != nil { // else zero: metering.Service.PutPrice makes it now
		t, err := time.Parse(time.RFC3339Nano, *b.EffectiveFrom)
		if err != nil {
			return p, errs.E(errs.Invalid, "invalid_effective_from", "effective_from must be an RFC 3339 time such as 2025-01-01T00:00:00Z")
		}
		p.EffectiveFrom = t.UTC().Truncate(time.Microsecond)
	}
	return p, nil
}

// amountProblem says what is wrong with an amount that money.Parse refused
// (pricing.AmountProblem).
func amountProblem(err error) string { return pricing.AmountProblem(err) }

// putPrice adds a price version (metering.Service.PutPrice): 201 with the new version,
// or 200 with the existing one when the request repeats it — the same effective_from and
// prices, or, without effective_from, the same prices as the version in effect now.
func (s *Server) putPrice(w http.ResponseWriter, r *http.Request) error {
	var body priceRequest
	if err := decodeBody(w, r, MaxBody, &body); err != nil {
		return err
	}
	p, err := body.price(r.PathValue("model"), s.now())
	if err != nil {
		return err
	}
	stored, created, err := s.metering.PutPrice(r.Context(), p)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	WriteJSON(w, status, stored)
	return nil
}

// modelPrices is one model of the catalog listing.
type modelPrices struct {
	Model    string          `json:"model"`
	Current  *pricing.Price  `json:"current"`  // the version in effect now, or null
	Versions []pricing.Price `json:"versions"` // every version, oldest effective_from first
}

// listPrices returns the catalog grouped by model.
func (s *Server) listPrices(w http.ResponseWriter, r *http.Request) error {
	cat, err := s.prices.Catalog(r.Context())
	if err != nil {
		return err
	}
	now := s.now()
	out := struct {
		Currency string        `json:"currency"`
		Models   []modelPrices `json:"models"`
	}{Currency: s.currency, Models: []modelPrices{}}
	byModel := map[string]int{}
	for _, p := range cat.All() {
		i, ok := byModel[p.Model]
		if !ok {
			i = len(out.Models)
			byModel[p.Model] = i
			out.Models = append(out.Models, modelPrices{Model: p.Model})
		}
		out.Models[i].Versions = append(out.Models[i].Versions, p)
	}
	for i := range out.Models {
		if cur, err := cat.At(out.Models[i].Model, now); err == nil {
			out.Models[i].Current = &cur
		}
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}
