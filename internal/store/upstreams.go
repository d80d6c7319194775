package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"spectra/internal/gateway/upstream"
)

// PutUpstream stores r (an empty API as "openai"), replacing an upstream of the same name (its created_at is kept),
// and reports whether it was created now.
func (db *DB) PutUpstream(ctx context.Context, r upstream.Record) (_ bool, err error) {
	defer wrapErr(&err, "put upstream")
	models, err := json.Marshal(r.Models)
	if err != nil {
		return false, err
	}
	api := r.API
	if api == "" {
		api = upstream.OpenAI
	}
	var created bool
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE upstreams SET base_url = ?, secret = ?, models = ?, api = ?, updated_at = ? WHERE name = ?`),
			r.BaseURL, r.Secret, string(models), api, micros(r.UpdatedAt), r.Name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			created = false
			return nil
		}
		res, err = tx.ExecContext(ctx, db.q(`INSERT INTO upstreams (name, base_url, secret, models, api, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`),
			r.Name, r.BaseURL, r.Secret, string(models), api, micros(r.CreatedAt), micros(r.UpdatedAt))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errRetry // a concurrent put of the same name won; run again to update it
		}
		created = true
		return nil
	})
	return created, err
}

// Upstreams returns every stored upstream, ordered by name.
func (db *DB) Upstreams(ctx context.Context) (_ []upstream.Record, err error) {
	defer wrapErr(&err, "upstreams")
	rows, err := db.read.QueryContext(ctx, `SELECT name, api, base_url, secret, models, created_at, updated_at FROM upstreams ORDER BY name`)
	return collect(rows, err, scanUpstream)
}

func scanUpstream(row scanner) (upstream.Record, error) {
	var r upstream.Record
	var models string
	var created, updated int64
	if err := row.Scan(&r.Name, &r.API, &r.BaseURL, &r.Secret, &models, &created, &updated); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(models), &r.Models); err != nil {
		return r, fmt.Errorf("upstream %s: decode models: %w", r.Name, err)
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return r, nil
}

// DeleteUpstream removes an upstream (upstream.ErrNotFound when there is none).
func (db *DB) DeleteUpstream(ctx context.Context, name string) (err error) {
	defer wrapErr(&err, "delete upstream")
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM upstreams WHERE name = ?`), name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return upstream.ErrNotFound
		}
		return nil
	})
}
