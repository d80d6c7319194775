package api

import (
	"errors"
	"net/http"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/pricing"
)

// priceRequest is the body of PUT /api/v1/prices/{model}: prices per million tokens as
// decimal strings. input and output are required; the others default to "0".
// cache_write_1h (per million 1-hour cache-write tokens; "0" prices them at cache_write)
// and web_search_call (per call) are optional too.
// max_output_tokens, optional, is the model's maximum output per completion in tokens.
type priceRequest struct {
	MaxOutputTokens *int64  `json:"max_output_tokens"`
	Input           *string `json:"input"`
	CachedInput     *string `json:"cached_input"`
	CacheWrite      *string `json:"cache_write"`
	Output          *string `json:"output"`
	Request         *string `json:"request"`
	CacheWrite1h    *string `json:"cache_write_1h"`
	WebSearchCall   *string `json:"web_search_call"`
	EffectiveFrom   *string `json:"effective_from"`
}

// price builds the version the request describes for model, created now; its
// EffectiveFrom is zero (from now) unless the request sets effective_from.
func (b priceRequest) price(model string, now time.Time) (pricing.Price, error) {
	p := pricing.Price{Model: model, CreatedAt: now.UTC().Truncate(time.Microsecond)}
	fields := []struct {
		name     string
		value    *string
		dst      *money.Amount
		required bool
	}{
		{"input", b.Input, &p.Input, true},
		{"cached_input", b.CachedInput, &p.CachedInput, false},
		{"cache_write", b.CacheWrite, &p.CacheWrite, false},
		{"output", b.Output, &p.Output, true},
		{"request", b.Request, &p.Request, false},
		{"cache_write_1h", b.CacheWrite1h, &p.CacheWrite1h, false},
		{"web_search_call", b.WebSearchCall, &p.WebSearchCall, false},
	}
	for _, f := range fields {
		if f.value == nil {
			if f.required {
				return p, errs.E(errs.Invalid, "missing_price", "%s is required (a decimal string per million tokens, e.g. \"2.50\")", f.name)
			}
			continue
		}
		a, err := money.ParseNonNegative(*f.value)
		if err != nil {
			return p, errs.E(errs.Invalid, "invalid_price", "%s: %s", f.name, amountProblem(err))
		}
		*f.dst = a
	}
	if b.MaxOutputTokens != nil {
		if *b.MaxOutputTokens < 1 || *b.MaxOutputTokens > pricing.MaxOutputTokensLimit {
			return p, errs.E(errs.Invalid, "invalid_max_output_tokens", "max_output_tokens must be a whole number from 1 to %d (leave it out when the model has no known maximum)", pricing.MaxOutputTokensLimit)
		}
		p.MaxOutputTokens = *b.MaxOutputTokens
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

// amountProblem says what is wrong with an amount that money.Parse refused.
func amountProblem(err error) string {
	for _, e := range []error{money.ErrEmpty, money.ErrSyntax, money.ErrPrecision, money.ErrOverflow, money.ErrNegative, money.ErrNotPositive} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "not a decimal amount"
}

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
