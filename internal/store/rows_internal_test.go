package store

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"spectra/internal/ledger"
)

func TestWrap(t *testing.T) {
	if err := wrap("op", nil); err != nil {
		t.Fatalf("wrap(nil) = %v", err)
	}
	// Domain errors, bare or wrapped, pass as they are.
	if err := wrap("op", ledger.ErrInsufficient); err != ledger.ErrInsufficient {
		t.Fatalf("wrap(ErrInsufficient) = %v; want it unchanged", err)
	}
	inner := fmt.Errorf("hold h1: %w", ledger.ErrHoldNotFound)
	if err := wrap("op", inner); err != inner {
		t.Fatalf("wrap of a wrapped domain error = %v; want it unchanged", err)
	}
	// A driver error gets the operation; an inner operation's name is kept.
	err := wrap("budgets", sql.ErrNoRows)
	if err.Error() != "store: budgets: "+sql.ErrNoRows.Error() || !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("wrap(ErrNoRows) = %q", err)
	}
	if again := wrap("outer", err); again != err {
		t.Fatalf("wrap of a named error = %q; want the inner name kept", again)
	}
}
