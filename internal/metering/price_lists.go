package metering

import (
	"context"
	"time"

	"spectra/internal/errs"
	"spectra/internal/pricing"
)

// Price lists: a named list over the catalog (pricing.PriceList) that the operator
// assigns to workspaces (team.WorkspaceUpdate.PriceList). Like PutPrice, every write here
// drops the cached catalog, so that the next ingest prices with it; another node's
// cached catalog is refused by ApplyEvents (the catalog's version moved) and reloaded.
//
// A list's adjustment is fixed when it is made: a different adjustment is a new list and
// a reassignment, so that every recorded price stays explainable by the list it names.
// Its versions are immutable, as the catalog's: a later effective_from supersedes one.

// CreatePriceList makes list l: its name, its adjustment (AdjustBP) and its overriding
// versions (each with its model; a zero EffectiveFrom is from now). It returns the list
// as stored and created true; a repeat of the request that made a list returns that list
// and created false: the same adjustment and the same versions as it was made with
// (a version without effective_from repeats one of the same model and prices). Any other
// list under a taken name is errs.Conflict price_list_exists. Errors: pricing.PriceList's
// Validate (invalid_price_list, invalid_adjust_percent, the versions' codes).
func (s *Service) CreatePriceList(ctx context.Context, l pricing.PriceList) (stored pricing.PriceList, created bool, err error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	l.CreatedAt = now
	asked := make([]pricing.Price, len(l.Prices)) // as given: a zero EffectiveFrom is "from now"
	copy(asked, l.Prices)
	for i := range l.Prices {
		l.Prices[i].CreatedAt = now
		if l.Prices[i].EffectiveFrom.IsZero() {
			l.Prices[i].EffectiveFrom = now
		}
	}
	if err := l.Validate(); err != nil {
		return pricing.PriceList{}, false, err
	}
	stored, created, err = s.prices.CreatePriceList(ctx, l)
	if err != nil {
		return pricing.PriceList{}, false, err
	}
	if created {
		s.Invalidate()
		return stored, true, nil
	}
	if !sameRequest(stored, l.AdjustBP, asked) {
		return pricing.PriceList{}, false, errs.E(errs.Conflict, "price_list_exists",
			"a price list named %q already exists with other prices; lists are never edited: add a version to it (POST /api/v1/price-lists/%s/prices) or make a list with another name", l.Name, l.Name)
	}
	return stored, false, nil
}

// sameRequest reports whether list stored was made by a request for adjustment bp and
// versions asked: the versions it was made with (those created at its creation time)
// match asked one for one.
func sameRequest(stored pricing.PriceList, bp int64, asked []pricing.Price) bool {
	if stored.AdjustBP != bp {
		return false
	}
	var initial []pricing.Price
	for _, p := range stored.Prices {
		if p.CreatedAt.Equal(stored.CreatedAt) {
			initial = append(initial, p)
		}
	}
	if len(initial) != len(asked) {
		return false
	}
	used := make([]bool, len(initial))
	for _, a := range asked {
		found := false
		for i, p := range initial {
			if !used[i] && p.Model == a.Model && pricing.SameCharges(p, a) && (a.EffectiveFrom.IsZero() || a.EffectiveFrom.Equal(p.EffectiveFrom)) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// AddPriceListVersion adds version p to list name, immutable as the catalog's versions
// are: a zero p.EffectiveFrom is from now, a zero p.CreatedAt now. It returns the
// version and created true; a repeat (the same prices at the same effective_from, or
// without one the list's own version in effect now with the same prices) returns the
// stored version and created false. Errors: p's Validate codes, errs.NotFound
// price_list_not_found, errs.Conflict price_version_exists.
func (s *Service) AddPriceListVersion(ctx context.Context, name string, p pricing.Price) (stored pricing.Price, created bool, err error) {
	fromNow, err := s.stampVersion(&p)
	if err != nil {
		return pricing.Price{}, false, err
	}
	l, err := s.prices.PriceList(ctx, name)
	if err != nil {
		return pricing.Price{}, false, err
	}
	if cur, ok := l.VersionAt(p.Model, p.EffectiveFrom); ok && pricing.SameCharges(cur, p) && (fromNow || cur.EffectiveFrom.Equal(p.EffectiveFrom)) {
		return cur, false, nil
	}
	created, err = s.prices.AddPriceListVersion(ctx, name, p)
	if err != nil {
		return pricing.Price{}, false, err
	}
	s.Invalidate()
	return p, created, nil
}

// PriceLists returns every price list with its versions, by name.
func (s *Service) PriceLists(ctx context.Context) ([]pricing.PriceList, error) {
	return s.prices.PriceLists(ctx)
}

// PriceList returns list name with its versions. Errors: invalid_price_list (a name no
// list could have), errs.NotFound price_list_not_found.
func (s *Service) PriceList(ctx context.Context, name string) (pricing.PriceList, error) {
	if !pricing.ValidPriceList(name) {
		return pricing.PriceList{}, errs.E(errs.NotFound, "price_list_not_found", "no price list %q", name)
	}
	return s.prices.PriceList(ctx, name)
}

// PriceListWorkspaces returns the ids of the workspaces on list name, sorted.
func (s *Service) PriceListWorkspaces(ctx context.Context, name string) ([]string, error) {
	return s.prices.PriceListWorkspaces(ctx, name)
}
