package billing_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/billing/billingtest"
	"spectra/internal/store/storetest"
)

// TestCodeStatesAndDisable: a batch's codes are listed with their state (unused,
// redeemed by whom, expired, disabled) and counted by state; a disabled code is refused
// at redemption with code_disabled; a redeemed code cannot be disabled; disabling twice
// changes nothing.
func TestCodeStatesAndDisable(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		ws := e.Workspace(t, "Redeemer", "")
		texts := newCodes(t, e, "5", 3, time.Hour)
		if _, err := e.Service.Redeem(ctx, ws.ID, texts[0], ""); err != nil {
			t.Fatal(err)
		}
		batches, err := e.Service.CodeBatches(ctx, billing.CodeBatchFilter{})
		if err != nil || len(batches) != 1 {
			t.Fatalf("batches = %+v, %v", batches, err)
		}
		b := batches[0]
		if b.Count != 3 || b.Redeemed != 1 || b.Unused != 2 || b.Disabled != 0 || b.Amount != billingtest.Amount("5") || b.Note != "launch promo" {
			t.Fatalf("batch = %+v", b)
		}
		codes, err := e.Service.Codes(ctx, billing.CodeFilter{BatchID: b.BatchID})
		if err != nil || len(codes) != 3 {
			t.Fatalf("codes = %+v, %v", codes, err)
		}
		var redeemed, unused billing.Code
		for _, c := range codes {
			if c.RedeemedAt != nil {
				redeemed = c
			} else if unused.ID == "" {
				unused = c
			}
		}
		if redeemed.RedeemedBy != ws.ID || redeemed.RedeemedByName != "Redeemer" || billing.CodeState(redeemed, e.Clock.Now()) != billing.CodeRedeemed {
			t.Fatalf("redeemed code = %+v", redeemed)
		}

		d, err := e.Service.DisableCode(ctx, unused.ID)
		if err != nil || d.DisabledAt == nil || d.RedeemedAt != nil || billing.CodeState(d, e.Clock.Now()) != billing.CodeDisabled {
			t.Fatalf("disable = %+v, %v", d, err)
		}
		again, err := e.Service.DisableCode(ctx, unused.ID)
		if err != nil || !again.DisabledAt.Equal(*d.DisabledAt) {
			t.Fatalf("disable again = %+v, %v", again, err)
		}
		_, err = e.Service.DisableCode(ctx, redeemed.ID)
		storetest.WantCode(t, err, "code_already_redeemed")
		_, err = e.Service.DisableCode(ctx, "code_missing")
		storetest.WantCode(t, err, "code_not_found")

		// Which text is the disabled code's? Its hint says; try each unredeemed text.
		refused := 0
		for _, tx := range texts[1:] {
			if _, err := e.Service.Redeem(ctx, ws.ID, tx, ""); err != nil {
				storetest.WantCode(t, err, "code_disabled")
				refused++
			}
		}
		if refused != 1 {
			t.Fatalf("%d redemptions refused, want the disabled code's only", refused)
		}

		e.Clock.Set(e.Clock.Now().Add(2 * time.Hour))
		newCodes(t, e, "1", 2, time.Hour)
		batches, err = e.Service.CodeBatches(ctx, billing.CodeBatchFilter{})
		if err != nil || len(batches) != 2 || batches[1].BatchID != b.BatchID {
			t.Fatalf("batches = %+v, %v", batches, err)
		}
		if o := batches[1]; o.Redeemed != 2 || o.Disabled != 1 || o.Expired != 0 || o.Unused != 0 {
			t.Fatalf("old batch = %+v", o)
		}
		if n := batches[0]; n.Count != 2 || n.Unused != 2 {
			t.Fatalf("new batch = %+v", n)
		}
		// Paging: the page after the newest batch holds the older one.
		page, err := e.Service.CodeBatches(ctx, billing.CodeBatchFilter{Before: batches[0].BatchID, Limit: 1})
		if err != nil || len(page) != 1 || page[0].BatchID != b.BatchID {
			t.Fatalf("second page = %+v, %v", page, err)
		}
		one, err := e.Service.CodeBatches(ctx, billing.CodeBatchFilter{BatchID: b.BatchID})
		if err != nil || len(one) != 1 || one[0] != batches[1] {
			t.Fatalf("one batch = %+v, %v", one, err)
		}
		_, err = e.Service.Codes(ctx, billing.CodeFilter{BatchID: "batch_missing"})
		storetest.WantCode(t, err, "code_batch_not_found")
		e.Verify(t)
	})
}

// TestCodeExpiredAndPaging: an unredeemed code past its expiry is expired; codes page
// by id, and BatchCodes returns every code of a batch across pages.
func TestCodeExpiredAndPaging(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		newCodes(t, e, "2", 250, time.Hour)
		e.Clock.Set(e.Clock.Now().Add(time.Hour))
		batches, err := e.Service.CodeBatches(ctx, billing.CodeBatchFilter{})
		if err != nil || len(batches) != 1 || batches[0].Expired != 250 || batches[0].Unused != 0 {
			t.Fatalf("batches = %+v, %v", batches, err)
		}
		first, err := e.Service.Codes(ctx, billing.CodeFilter{BatchID: batches[0].BatchID, Limit: 100})
		if err != nil || len(first) != 100 || billing.CodeState(first[0], e.Clock.Now()) != billing.CodeExpired {
			t.Fatalf("first page: %d, %v", len(first), err)
		}
		next, err := e.Service.Codes(ctx, billing.CodeFilter{BatchID: batches[0].BatchID, After: first[99].ID, Limit: 100})
		if err != nil || len(next) != 100 || next[0].ID <= first[99].ID {
			t.Fatalf("second page: %d, %v", len(next), err)
		}
		all, err := e.Service.BatchCodes(ctx, batches[0].BatchID)
		if err != nil || len(all) != 250 {
			t.Fatalf("all: %d, %v", len(all), err)
		}
	})
}

// TestDisableRacesRedeem: of a redemption and a disabling at once, exactly one wins:
// the code is either redeemed (and credited) or disabled (and not), never both.
func TestDisableRacesRedeem(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		ws := e.Workspace(t, "A", "")
		for range 5 {
			e.Clock.Set(e.Clock.Now().Add(time.Second)) // the new batch is the newest
			text := newCodes(t, e, "1", 1, time.Hour)[0]
			batches, err := e.Service.CodeBatches(ctx, billing.CodeBatchFilter{Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			codes, err := e.Service.Codes(ctx, billing.CodeFilter{BatchID: batches[0].BatchID})
			if err != nil {
				t.Fatal(err)
			}
			before := e.Balance(t, ws.ID).Balance
			var wg sync.WaitGroup
			var redeemErr, disableErr error
			wg.Add(2)
			go func() { defer wg.Done(); _, redeemErr = e.Service.Redeem(ctx, ws.ID, text, "") }()
			go func() { defer wg.Done(); _, disableErr = e.Service.DisableCode(ctx, codes[0].ID) }()
			wg.Wait()
			credited := e.Balance(t, ws.ID).Balance - before
			switch {
			case redeemErr == nil && disableErr != nil:
				storetest.WantCode(t, disableErr, "code_already_redeemed")
				if credited != billingtest.Amount("1") {
					t.Fatalf("redeemed but credited %s", credited)
				}
			case redeemErr != nil && disableErr == nil:
				storetest.WantCode(t, redeemErr, "code_disabled")
				if credited != 0 {
					t.Fatalf("disabled but credited %s", credited)
				}
			default:
				t.Fatalf("redeem %v, disable %v", redeemErr, disableErr)
			}
		}
		e.Verify(t)
	})
}
