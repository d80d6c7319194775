package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"spectra/internal/budget"
	"spectra/internal/errs"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// An error leaving the store names the operation; domain errors leave it unchanged.
func TestErrorsNameTheOperation(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()

		// A domain sentinel is returned as it is: callers compare it with == and read its code.
		err := db.UpdateBudget(ctx, budget.Budget{WorkspaceID: "ws_none", ID: "bud_none"})
		if err != budget.ErrNotFound || !errs.Is(err, budget.ErrNotFound.Code) {
			t.Fatalf("UpdateBudget of a missing budget = %v; want budget.ErrNotFound itself", err)
		}

		// A driver (here: context) error is wrapped with the operation and still matches.
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		_, err = db.Budgets(canceled, "ws_none")
		if err == nil || !strings.HasPrefix(err.Error(), "store: budgets: ") || !errors.Is(err, context.Canceled) {
			t.Fatalf("Budgets on a canceled context = %v; want \"store: budgets: …\" wrapping context.Canceled", err)
		}
		err = db.CreateBudget(canceled, budget.Budget{ID: "bud_x", WorkspaceID: "ws_none"})
		if err == nil || !strings.HasPrefix(err.Error(), "store: create budget: ") || !errors.Is(err, context.Canceled) {
			t.Fatalf("CreateBudget on a canceled context = %v; want \"store: create budget: …\"", err)
		}
	})
}
