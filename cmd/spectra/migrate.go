package main

import (
	"context"
	"flag"
	"fmt"
)

func migrateCommand(*flag.FlagSet) func(context.Context, *env) error { return migrate }

// migrate applies pending migrations and prints each one, then the schema version.
func migrate(ctx context.Context, e *env) error {
	db, err := openStore(ctx, e, true)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	for _, name := range applied {
		fmt.Fprintf(e.stdout, "applied %s\n", name)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	all, err := db.Migrations()
	if err != nil {
		return err
	}
	latest := "none"
	if len(all) > 0 {
		latest = all[len(all)-1].Name
	}
	if len(applied) == 0 {
		fmt.Fprintf(e.stdout, "nothing to apply: the %s database is at %s\n", db.Dialect(), latest)
	} else {
		fmt.Fprintf(e.stdout, "%d applied: the %s database is at %s\n", len(applied), db.Dialect(), latest)
	}
	return nil
}
