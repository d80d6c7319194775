package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"spectra/internal/store"
)

// openStore opens the configured database. Unless create is set, it refuses a SQLite
// file that does not exist yet rather than creating an empty one.
func openStore(ctx context.Context, e *env, create bool) (*store.DB, error) {
	return openStoreAt(ctx, e, create, nil)
}

// openStoreAt is openStore with the store's clock (nil: time.Now).
func openStoreAt(ctx context.Context, e *env, create bool, now func() time.Time) (*store.DB, error) {
	dsn := e.cfg.Database
	if path, ok := sqlitePath(dsn); ok && !create {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s (run 'spectra migrate' or 'spectra serve' to create it)", path)
		}
	}
	db, err := store.Open(ctx, dsn, store.Options{Now: now})
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", redactDSN(dsn), err)
	}
	return db, nil
}

// sqlitePath returns the file a SQLite DSN names.
func sqlitePath(dsn string) (string, bool) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return "", false
	}
	return strings.TrimPrefix(dsn, "sqlite:"), true
}
