package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"spectra/internal/metering"
	"spectra/internal/team"
)

// UpdateWorkspace applies the set fields of u to workspace id in one transaction. A
// timezone that differs from the stored one is written and the workspace's daily
// rollups are rebuilt from its hourly ones by the new zone's days in that transaction
// (see rebuildDaily): the workspace row is locked first (FOR UPDATE on PostgreSQL), so
// the change waits for the ingest transactions that wrote days in the old zone, and
// those that follow read the new one. The same zone again changes nothing. A price
// list that differs from the stored one is checked to exist and written, and the
// catalog's version moves (bumpCatalogVersion) in that transaction, so that events
// priced before the change are refused by ApplyEvents and priced again. Errors:
// invalid_timezone, invalid_price_list, errs.NotFound workspace_not_found and
// price_list_not_found.
func (db *DB) UpdateWorkspace(ctx context.Context, id string, u team.WorkspaceUpdate) (err error) {
	defer wrapErr(&err, "update workspace")
	if err := u.Validate(); err != nil {
		return err
	}
	var loc *time.Location
	if u.Timezone != nil {
		if loc, err = metering.LoadZone(*u.Timezone); err != nil {
			return err
		}
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		query := `SELECT timezone, COALESCE(price_list, '') FROM workspaces WHERE id = ?`
		if db.dialect == Postgres {
			query += ` FOR UPDATE`
		}
		var tz, list string
		err := tx.QueryRowContext(ctx, db.q(query), id).Scan(&tz, &list)
		if errors.Is(err, sql.ErrNoRows) {
			return errWorkspaceNotFound
		}
		if err != nil {
			return err
		}
		if u.Timezone != nil && *u.Timezone != tz {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE workspaces SET timezone = ? WHERE id = ?`), *u.Timezone, id); err != nil {
				return err
			}
			if err := db.rebuildDaily(ctx, tx, id, loc); err != nil {
				return err
			}
		}
		if u.PriceList.Set && u.PriceList.Name != list {
			return db.assignPriceList(ctx, tx, id, u.PriceList.Name)
		}
		return nil
	})
}
