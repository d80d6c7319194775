package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"spectra/internal/store"
)

func verifyCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	asJSON := fs.Bool("json", false, "print the report as JSON")
	return func(ctx context.Context, e *env) error { return verify(ctx, e, *asJSON) }
}

// verify runs every consistency check and prints each with its count and problems.
// Exit code: 0 when all pass, 1 on any difference, 2 when the checks could not run.
func verify(ctx context.Context, e *env, asJSON bool) error {
	db, err := openStore(ctx, e, false)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer db.Close()
	rep, err := db.Verify(ctx)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("verify: %w", err)}
	}
	billingChecks, err := db.VerifyBilling(ctx)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("verify billing: %w", err)}
	}
	rep.Checks = append(rep.Checks, billingChecks...)
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return &exitError{code: 2, err: err}
		}
	} else {
		printReport(e, db, rep)
	}
	if failed := failedChecks(rep); failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("verify: %d of %d checks found differences", failed, len(rep.Checks))}
	}
	return nil
}

func printReport(e *env, db *store.DB, rep store.VerifyReport) {
	fmt.Fprintf(e.stdout, "Verifying the %s database %s\n", db.Dialect(), redactDSN(e.cfg.Database))
	for _, c := range rep.Checks {
		status := "ok  "
		if len(c.Problems) > 0 {
			status = "FAIL"
		}
		fmt.Fprintf(e.stdout, "  %s  %s (%d checked", status, c.Name, c.Checked)
		if n := len(c.Problems); n > 0 {
			fmt.Fprintf(e.stdout, ", %d problem(s)", n)
		}
		fmt.Fprintln(e.stdout, ")")
		for _, p := range c.Problems {
			fmt.Fprintf(e.stdout, "          %s\n", p)
		}
	}
	if rep.OK() {
		fmt.Fprintf(e.stdout, "All %d checks passed.\n", len(rep.Checks))
	}
}

func failedChecks(rep store.VerifyReport) int {
	n := 0
	for _, c := range rep.Checks {
		if len(c.Problems) > 0 {
			n++
		}
	}
	return n
}
