package store

import (
	"database/sql"
	"errors"

	"spectra/internal/errs"
)

// scanner is one row to scan: a *sql.Row or the current row of a *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// collect scans every row of a query's result with scan, closes the rows and returns
// the first error: the query's (err), a scan's or the iteration's. The list is never
// nil (no rows is an empty list, which JSON renders as []).
//
//	rows, err := db.read.QueryContext(ctx, q, args...)
//	return collect(rows, err, scanThing)
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// eachRow calls fn with every row of a query's result, closes the rows and returns the
// first error: the query's (err), fn's or the iteration's. It is collect for loops that
// fold rows into something other than a list (a map, a sum).
func eachRow(rows *sql.Rows, err error, fn func(scanner) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// scanString scans a one-column row of text.
func scanString(row scanner) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}

// scanInt64 scans a one-column row of an integer.
func scanInt64(row scanner) (int64, error) {
	var n int64
	err := row.Scan(&n)
	return n, err
}

// opError is an error that left the store, with the operation that failed.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return "store: " + e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// wrap names op in an error leaving the store ("store: list budgets: <driver error>").
// Domain errors (*errs.Error, among them the domain packages' sentinels such as
// ledger.ErrInsufficient) pass unchanged, so callers still compare them with == and
// read their code and message; an error already named by an inner operation keeps
// that name. Wrapped errors still match errors.Is and errors.As.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var domain *errs.Error
	var named *opError
	if errors.As(err, &domain) || errors.As(err, &named) {
		return err
	}
	return &opError{op: op, err: err}
}

// wrapErr is wrap for a deferred call on a named error result:
//
//	func (db *DB) ListBudgets(…) (_ []budget.Budget, err error) {
//		defer wrapErr(&err, "list budgets")
func wrapErr(err *error, op string) {
	*err = wrap(op, *err)
}
