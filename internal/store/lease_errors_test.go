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

// Errors leaving the ledger's methods (ledger.go) name the operation; their domain
// errors are returned as they are.
func TestLedgerErrorsNameTheOperation(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		expires := time.Now().Add(time.Hour)
		hold := ledger.Hold{ID: "h1", WorkspaceID: "ws_none", Amount: 1, ExpiresAt: expires}
		transfer := ledger.TransferRequest{Key: "refund-1", Kind: ledger.KindRefund, From: ledger.Wallet("ws_none"),
			To: ledger.Refunds, Amount: 1, WorkspaceID: "ws_none"}

		// Domain errors: compared with ==, code and message intact.
		if err := db.Release(ctx, "h_none"); err != ledger.ErrHoldNotFound {
			t.Fatalf("Release of a missing hold = %v; want ledger.ErrHoldNotFound itself", err)
		}
		for name, err := range map[string]error{
			"Balance":  second(db.Balance(ctx, "ws_none")),
			"Reserve":  second(db.Reserve(ctx, hold)),
			"Transfer": third(db.Transfer(ctx, transfer)),
		} {
			if !errs.Is(err, "workspace_not_found") || strings.HasPrefix(err.Error(), "store: ") {
				t.Errorf("%s of a missing workspace = %v; want the workspace_not_found error unchanged", name, err)
			}
		}

		// Driver (here: context) errors get the operation and still match.
		for _, c := range []struct {
			op  string
			err error
		}{
			{"transfer", third(db.Transfer(canceled, transfer))},
			{"balance", second(db.Balance(canceled, "ws_none"))},
			{"entries", second(db.Entries(canceled, "ws_none", 0, 10))},
			{"reserve", second(db.Reserve(canceled, hold))},
			{"release", db.Release(canceled, "h1")},
			{"release expired holds", second(db.ReleaseExpired(canceled, expires))},
		} {
			if c.err == nil || !strings.HasPrefix(c.err.Error(), "store: "+c.op+": ") || !errors.Is(c.err, context.Canceled) {
				t.Errorf("%s on a canceled context = %v; want \"store: %s: …\" wrapping context.Canceled", c.op, c.err, c.op)
			}
		}
	})
}

func third[T, U any](_ T, _ U, err error) error { return err }
