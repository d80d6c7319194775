package store

import (
	"context"
	"database/sql"
	"errors"
)

// Setting returns a stored setting and whether it exists.
func (db *DB) Setting(ctx context.Context, name string) (_ string, _ bool, err error) {
	defer wrapErr(&err, "setting")
	var v string
	err = db.read.QueryRowContext(ctx, db.q(`SELECT value FROM settings WHERE name = ?`), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

// SetSettingIfAbsent stores value under name unless a value is already there, and
// returns the value that is stored now and whether it was set by this call.
func (db *DB) SetSettingIfAbsent(ctx context.Context, name, value string) (_ string, _ bool, err error) {
	defer wrapErr(&err, "set setting if absent")
	var stored string
	var created bool
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`), name, value)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		created = n == 1
		return tx.QueryRowContext(ctx, db.q(`SELECT value FROM settings WHERE name = ?`), name).Scan(&stored)
	})
	return stored, created, err
}

// SetSetting stores value under name, replacing any earlier value.
func (db *DB) SetSetting(ctx context.Context, name, value string) (err error) {
	defer wrapErr(&err, "set setting")
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`), name, value)
		return err
	})
}
