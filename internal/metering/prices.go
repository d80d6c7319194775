package metering

import (
	"context"
	"time"

	"spectra/internal/pricing"
)

// PutPrice adds a price version to the catalog, and drops the cached catalog so that
// the next ingest prices with it. It is the one way prices are written (the API, the
// demo and the test kits call it).
//
// A zero p.EffectiveFrom means from now; a zero p.CreatedAt means now. A put that
// repeats a version is idempotent: it returns the version already stored and created
// false. A repeat is, with an effective_from, a version at that instant with the same
// prices; without one, the version in effect now when it has the same prices. A
// different price at the same effective_from is refused (price_version_exists), as
// versions are immutable; an invalid price is refused by pricing.Price.Validate.
func (s *Service) PutPrice(ctx context.Context, p pricing.Price) (stored pricing.Price, created bool, err error) {
	fromNow, err := s.stampVersion(&p)
	if err != nil {
		return pricing.Price{}, false, err
	}
	// The store's catalog, not the cached one: another node may have added the version.
	cat, err := s.prices.Catalog(ctx)
	if err != nil {
		return pricing.Price{}, false, err
	}
	if cur, err := cat.At(p.Model, p.EffectiveFrom); err == nil && samePrices(cur, p) && (fromNow || cur.EffectiveFrom.Equal(p.EffectiveFrom)) {
		return cur, false, nil
	}
	if err := s.prices.AddPrice(ctx, p); err != nil {
		return pricing.Price{}, false, err
	}
	s.Invalidate()
	return p, true, nil
}

// samePrices reports whether two versions charge the same and cap output the same
// (pricing.SameCharges: the flat fields and the shapes).
func samePrices(a, b pricing.Price) bool { return pricing.SameCharges(a, b) }

// stampVersion completes a new price version: created now when it says no creation time,
// effective from its creation when it says no effective_from (fromNow), and validated.
func (s *Service) stampVersion(p *pricing.Price) (fromNow bool, err error) {
	if p.CreatedAt.IsZero() {
		p.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	}
	fromNow = p.EffectiveFrom.IsZero()
	if fromNow {
		p.EffectiveFrom = p.CreatedAt
	}
	return fromNow, p.Validate()
}
