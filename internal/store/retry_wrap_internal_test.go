package store

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// A wrapped error still asks tx for a retry: an exported method called inside another
// one's transaction (or wrapping an inner step) must not hide errRetry or PostgreSQL's
// serialization failures and deadlocks from retryable.
func TestRetryableThroughWrap(t *testing.T) {
	for _, err := range []error{
		errRetry,
		fmt.Errorf("%w: lost a race", errRetry),
		&pgconn.PgError{Code: "40001"},
		&pgconn.PgError{Code: "40P01"},
	} {
		if w := wrap("reserve lease", err); !retryable(w) {
			t.Errorf("retryable(wrap(%v)) = false; want true", err)
		}
	}
	if retryable(wrap("reserve lease", &pgconn.PgError{Code: "23505"})) {
		t.Error("a unique violation is not a retry")
	}
}
