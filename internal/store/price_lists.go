package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"spectra/internal/errs"
	"spectra/internal/pricing"
)

// Price lists (migration 0026): price_lists holds each list and its adjustment,
// price_list_prices its overriding versions (a version's prices as JSON in data, the
// shape of GET /api/v1/prices, so that every field a version has is kept), and
// workspaces.price_list the list a workspace is priced by. Every write here and every
// assignment moves the catalog's version (bumpCatalogVersion) in its transaction.

var errPriceListNotFound = errs.E(errs.NotFound, "price_list_not_found", "no such price list")

// catalogVersionSetting is the counter of price list writes: qCatalogVersion adds it to
// the number of catalog versions, so the catalog's version moves with every price, list,
// list version and assignment written (both only grow).
const catalogVersionSetting = "price_lists_version"

// bumpCatalogVersion moves the catalog's version, in tx.
func (db *DB) bumpCatalogVersion(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO settings (name, value) VALUES (?, '1')
		ON CONFLICT (name) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)`), catalogVersionSetting)
	return err
}

// versionData is the JSON a list version is kept as: the version without its creation
// time (a column of its own), so that two puts of the same prices keep the same text.
func versionData(p pricing.Price) (string, error) {
	p.CreatedAt = time.Time{}
	p.EffectiveFrom = p.EffectiveFrom.UTC()
	b, err := json.Marshal(p)
	return string(b), err
}

// CreatePriceList stores l with its versions and moves the catalog's version, unless a
// list with its name exists: then nothing is written and that list is returned with
// created false.
func (db *DB) CreatePriceList(ctx context.Context, l pricing.PriceList) (_ pricing.PriceList, created bool, err error) {
	defer wrapErr(&err, "create price list")
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`INSERT INTO price_lists (name, adjust_bp, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`),
			l.Name, l.AdjustBP, micros(l.CreatedAt))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			created = false
			return nil
		}
		created = true
		for _, p := range l.Prices {
			if err := db.insertListVersion(ctx, tx, l.Name, p); err != nil {
				return err
			}
		}
		return db.bumpCatalogVersion(ctx, tx)
	})
	if err != nil || created {
		return l, created, err
	}
	stored, err := db.PriceList(ctx, l.Name)
	return stored, false, err
}

func (db *DB) insertListVersion(ctx context.Context, tx *sql.Tx, name string, p pricing.Price) error {
	data, err := versionData(p)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO price_list_prices (list_name, model, effective_from, created_at, data) VALUES (?, ?, ?, ?, ?)`),
		name, p.Model, micros(p.EffectiveFrom), micros(p.CreatedAt), data)
	return err
}

// AddPriceListVersion stores version p in list name and moves the catalog's version.
// The same prices again change nothing; different ones at the same model and
// effective_from are price_version_exists. Errors: price_list_not_found.
func (db *DB) AddPriceListVersion(ctx context.Context, name string, p pricing.Price) (created bool, err error) {
	defer wrapErr(&err, "add price list version")
	data, err := versionData(p)
	if err != nil {
		return false, err
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		query := `SELECT created_at FROM price_lists WHERE name = ?`
		if db.dialect == Postgres {
			query += ` FOR SHARE`
		}
		var listCreated int64
		err := tx.QueryRowContext(ctx, db.q(query), name).Scan(&listCreated)
		if errors.Is(err, sql.ErrNoRows) {
			return errPriceListNotFound
		}
		if err != nil {
			return err
		}
		// A version added after the list was made is created after it: the versions
		// created with the list are those created at its creation time.
		createdAt := max(micros(p.CreatedAt), listCreated+1)
		res, err := tx.ExecContext(ctx, db.q(`INSERT INTO price_list_prices (list_name, model, effective_from, created_at, data) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (list_name, model, effective_from) DO NOTHING`), name, p.Model, micros(p.EffectiveFrom), createdAt, data)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			created = true
			return db.bumpCatalogVersion(ctx, tx)
		}
		var old string
		if err := tx.QueryRowContext(ctx, db.q(`SELECT data FROM price_list_prices WHERE list_name = ? AND model = ? AND effective_from = ?`),
			name, p.Model, micros(p.EffectiveFrom)).Scan(&old); err != nil {
			return err
		}
		if old != data {
			return errs.E(errs.Conflict, "price_version_exists", "price list %q already has a different price for model %q effective from %s; versions are immutable, add one with a later effective_from",
				name, p.Model, p.EffectiveFrom.UTC().Format(time.RFC3339))
		}
		return nil
	})
	return created, err
}

// PriceLists returns every list with its versions (by model, then effective_from), by name.
func (db *DB) PriceLists(ctx context.Context) (_ []pricing.PriceList, err error) {
	defer wrapErr(&err, "price lists")
	return db.priceLists(ctx, "")
}

// PriceList returns list name with its versions. Errors: price_list_not_found.
func (db *DB) PriceList(ctx context.Context, name string) (_ pricing.PriceList, err error) {
	defer wrapErr(&err, "price list")
	ls, err := db.priceLists(ctx, name)
	if err != nil {
		return pricing.PriceList{}, err
	}
	if len(ls) == 0 {
		return pricing.PriceList{}, errPriceListNotFound
	}
	return ls[0], nil
}

// priceLists reads the list called only, or every list when only is "".
func (db *DB) priceLists(ctx context.Context, only string) ([]pricing.PriceList, error) {
	where, args := "", []any{}
	if only != "" {
		where, args = ` WHERE name = ?`, []any{only}
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT name, adjust_bp, created_at FROM price_lists`+where+` ORDER BY name`), args...)
	lists, err := collect(rows, err, func(row scanner) (pricing.PriceList, error) {
		var l pricing.PriceList
		var created int64
		err := row.Scan(&l.Name, &l.AdjustBP, &created)
		l.CreatedAt, l.Prices = fromMicros(created), []pricing.Price{}
		return l, err
	})
	if err != nil || len(lists) == 0 {
		return lists, err
	}
	byName := make(map[string]*pricing.PriceList, len(lists))
	for i := range lists {
		byName[lists[i].Name] = &lists[i]
	}
	if only != "" {
		where = ` WHERE list_name = ?`
	}
	rows, err = db.read.QueryContext(ctx, db.q(`SELECT list_name, created_at, data FROM price_list_prices`+where+` ORDER BY list_name, model, effective_from`), args...)
	err = eachRow(rows, err, func(row scanner) error {
		var name, data string
		var created int64
		if err := row.Scan(&name, &created, &data); err != nil {
			return err
		}
		var p pricing.Price
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			return errs.E(errs.Internal, "invalid_price_list_version", "a stored version of price list %q is not readable: %v", name, err)
		}
		p.CreatedAt, p.EffectiveFrom = fromMicros(created), p.EffectiveFrom.UTC()
		if l := byName[name]; l != nil { // a list created after the first read: left for the next
			l.Prices = append(l.Prices, p)
		}
		return nil
	})
	return lists, err
}

// PriceListWorkspaces returns the ids of the workspaces assigned list name, sorted.
func (db *DB) PriceListWorkspaces(ctx context.Context, name string) (_ []string, err error) {
	defer wrapErr(&err, "price list workspaces")
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT id FROM workspaces WHERE price_list = ? ORDER BY id`), name)
	return collect(rows, err, scanString)
}

// assignedLists returns every workspace's list, by workspace id (those on the catalog
// left out).
func (db *DB) assignedLists(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	rows, err := db.read.QueryContext(ctx, `SELECT id, price_list FROM workspaces WHERE price_list IS NOT NULL`)
	err = eachRow(rows, err, func(row scanner) error {
		var id, list string
		if err := row.Scan(&id, &list); err != nil {
			return err
		}
		out[id] = list
		return nil
	})
	return out, err
}

// assignPriceList sets workspace id's list (name "": the catalog) in tx, after checking
// that the list exists, and moves the catalog's version. The workspace row is locked.
func (db *DB) assignPriceList(ctx context.Context, tx *sql.Tx, id, name string) error {
	var list any
	if name != "" {
		query := `SELECT 1 FROM price_lists WHERE name = ?`
		if db.dialect == Postgres {
			query += ` FOR SHARE`
		}
		var one int
		err := tx.QueryRowContext(ctx, db.q(query), name).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.NotFound, "price_list_not_found", "no price list %q; create it first (POST /api/v1/price-lists)", name)
		}
		if err != nil {
			return err
		}
		list = name
	}
	if _, err := tx.ExecContext(ctx, db.q(`UPDATE workspaces SET price_list = ? WHERE id = ?`), list, id); err != nil {
		return err
	}
	return db.bumpCatalogVersion(ctx, tx)
}

// catalogWithLists adds the lists and the assignments to cat.
func (db *DB) catalogWithLists(ctx context.Context, cat *pricing.Catalog) (*pricing.Catalog, error) {
	lists, err := db.priceLists(ctx, "")
	if err != nil {
		return nil, err
	}
	assigned, err := db.assignedLists(ctx)
	if err != nil {
		return nil, err
	}
	if len(lists) == 0 && len(assigned) == 0 {
		return cat, nil
	}
	sort.Slice(lists, func(i, j int) bool { return lists[i].Name < lists[j].Name })
	return cat.WithLists(lists, assigned), nil
}
