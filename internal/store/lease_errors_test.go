package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// Errors leaving the hold and lease methods name the operation; their domain errors
// are returned as they are (issue 12, item 7).
func TestLeaseErrorsNameTheOperation(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		expires := time.Now().Add(time.Hour)
		lease := ledger.Lease{ID: "l1", WorkspaceID: "ws_none", Node: "n1", Min: 1, ExpiresAt: expires}

		// Domain errors: compared with ==, code and message intact.
		if err := db.AdjustHold(ctx, "h_none", 1, expires, true); err != ledger.ErrHoldNotFound {
			t.Fatalf("AdjustHold of a missing hold = %v; want ledger.ErrHoldNotFound itself", err)
		}
		if _, err := db.ResizeLease(ctx, lease); err != ledger.ErrHoldNotFound {
			t.Fatalf("ResizeLease of a missing lease = %v; want ledger.ErrHoldNotFound itself", err)
		}
		if _, err := db.ReleaseNodeLeases(ctx, ""); !errs.Is(err, "invalid_node") || strings.HasPrefix(err.Error(), "store: ") {
			t.Fatalf("ReleaseNodeLeases without a node = %v; want the invalid_node error unchanged", err)
		}

		// Driver (here: context) errors get the operation and still match.
		for _, c := range []struct {
			op  string
			err error
		}{
			{"adjust hold", db.AdjustHold(canceled, "h1", 1, expires, true)},
			{"reserve lease", second(db.ReserveLease(canceled, lease))},
			{"resize lease", second(db.ResizeLease(canceled, lease))},
			{"publish leases", second(db.PublishLeases(canceled, []ledger.Lease{lease}))},
			{"lease reclaims", second(db.LeaseReclaims(canceled, "n1"))},
			{"release node leases", second(db.ReleaseNodeLeases(canceled, "n1"))},
		} {
			if c.err == nil || !strings.HasPrefix(c.err.Error(), "store: "+c.op+": ") || !errors.Is(c.err, context.Canceled) {
				t.Errorf("%s on a canceled context = %v; want \"store: %s: …\" wrapping context.Canceled", c.op, c.err, c.op)
			}
		}
	})
}

func second[T any](_ T, err error) error { return err }
