package store

import (
	"context"
	"database/sql"

	"spectra/internal/errs"
	"spectra/internal/pricing"
)

// AddPrice stores a new price version. The same version again is accepted and changes
// nothing; another price for the same model and effective_from is a conflict.
func (db *DB) AddPrice(ctx context.Context, p pricing.Price) (err error) {
	defer wrapErr(&err, "add price")
	shapes := p.ShapesJSON()
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`INSERT INTO prices (model, input, cached_input, cache_write, output, request, max_output_tokens, cache_write_1h, web_search_call,
			audio_input, audio_output, image_input, image_output, shapes, effective_from, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, effective_from) DO NOTHING`),
			p.Model, int64(p.Input), int64(p.CachedInput), int64(p.CacheWrite), int64(p.Output), int64(p.Request), nullPositive(p.MaxOutputTokens),
			int64(p.CacheWrite1h), int64(p.WebSearchCall), int64(p.AudioInput), int64(p.AudioOutput), int64(p.ImageInput), int64(p.ImageOutput), shapes,
			micros(p.EffectiveFrom), micros(p.CreatedAt))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		old, err := scanPrice(tx.QueryRowContext(ctx, db.q(`SELECT `+priceColumns+` FROM prices WHERE model = ? AND effective_from = ?`), p.Model, micros(p.EffectiveFrom)))
		if err != nil {
			return err
		}
		if !pricing.SameCharges(old, p) {
			return errs.E(errs.Conflict, "price_version_exists", "model %q already has a different price effective from %s; versions are immutable, add one with a later effective_from", p.Model, p.EffectiveFrom.UTC().Format("2006-01-02T15:04:05Z07:00"))
		}
		return nil
	})
}

// priceColumns are the columns scanPrice reads, in its order.
const priceColumns = `id, model, input, cached_input, cache_write, output, request, max_output_tokens, cache_write_1h, web_search_call,
	audio_input, audio_output, image_input, image_output, shapes, effective_from, created_at`

// Catalog returns every price version, with the price lists and the workspaces'
// assignments (price_lists.go); its Version is qCatalogVersion (the number of versions,
// never edited or removed, plus a counter of list writes), which ApplyEvents checks so
// that no event is priced with a stale catalog. The version is read first: what
// follows is at least as new as it.
func (db *DB) Catalog(ctx context.Context) (_ *pricing.Catalog, err error) {
	defer wrapErr(&err, "catalog")
	var version int64
	if err := db.read.QueryRowContext(ctx, qCatalogVersion).Scan(&version); err != nil {
		return nil, err
	}
	ps, err := db.catalogPrices(ctx)
	if err != nil {
		return nil, err
	}
	return db.catalogWithLists(ctx, pricing.NewCatalog(version, ps))
}

// catalogPrices returns every version of the catalog's table.
func (db *DB) catalogPrices(ctx context.Context) ([]pricing.Price, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+priceColumns+` FROM prices`)
	return collect(rows, err, scanPrice)
}

func scanPrice(row scanner) (pricing.Price, error) {
	var p pricing.Price
	var id, from, created int64
	var maxOut sql.NullInt64
	var shapes string
	if err := row.Scan(&id, &p.Model, &p.Input, &p.CachedInput, &p.CacheWrite, &p.Output, &p.Request, &maxOut, &p.CacheWrite1h, &p.WebSearchCall,
		&p.AudioInput, &p.AudioOutput, &p.ImageInput, &p.ImageOutput, &shapes, &from, &created); err != nil {
		return p, err
	}
	p.MaxOutputTokens = maxOut.Int64
	p.EffectiveFrom, p.CreatedAt = fromMicros(from), fromMicros(created)
	if err := p.SetShapesJSON(shapes); err != nil {
		return p, err
	}
	return p, nil
}

// nullPositive stores 0 (not set) as NULL.
func nullPositive(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: n > 0} }
