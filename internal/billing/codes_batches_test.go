package billing_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/billing/billingtest"
)

// countBatch counts a batch's codes by state from the codes themselves: what the list
// of batches (read from the batches' rows, migration 0025) must say.
func countBatch(t *testing.T, e *billingtest.Env, id string) billing.CodeBatchSummary {
	t.Helper()
	codes, err := e.Service.BatchCodes(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	s := billing.CodeBatchSummary{Count: len(codes)}
	for _, c := range codes {
		switch billing.CodeState(c, e.Clock.Now()) {
		case billing.CodeRedeemed:
			s.Redeemed++
		case billing.CodeDisabled:
			s.Disabled++
		case billing.CodeExpired:
			s.Expired++
		default:
			s.Unused++
		}
	}
	return s
}

// TestCodeBatchesCountedAsCodes: the list of batches, newest first and paged, counts
// each batch's codes by state exactly as its codes are (created in chunks, redeemed,
// disabled, raced, expired), for every page and for one batch alone.
func TestCodeBatchesCountedAsCodes(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		ws := e.Workspace(t, "Redeemer", "")
		var texts [][]string
		for i, n := range []int{450, 3, 7, 1} { // 450: several chunks of one insert
			e.Clock.Set(e.Clock.Now().Add(time.Second))
			texts = append(texts, newCodes(t, e, "1", n, time.Duration(i+1)*time.Hour))
		}
		all, err := e.Service.CodeBatches(ctx, billing.CodeBatchFilter{})
		if err != nil || len(all) != 4 || all[0].Count != 1 || all[3].Count != 450 {
			t.Fatalf("batches = %+v, %v", all, err)
		}
		// Redeem two of batch 450 and one of batch 7; disable one of batch 7; race a
		// redemption and a disabling on each of batch 3's codes.
		for _, text := range []string{texts[0][0], texts[0][1], texts[2][0]} {
			if _, err := e.Service.Redeem(ctx, ws.ID, text, ""); err != nil {
				t.Fatal(err)
			}
		}
		codes7, err := e.Service.BatchCodes(ctx, all[1].BatchID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range codes7 {
			if c.RedeemedAt == nil {
				if _, err := e.Service.DisableCode(ctx, c.ID); err != nil {
					t.Fatal(err)
				}
				if _, err := e.Service.DisableCode(ctx, c.ID); err != nil { // again: no change
					t.Fatal(err)
				}
				break
			}
		}
		codes3, err := e.Service.BatchCodes(ctx, all[2].BatchID)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i, c := range codes3 {
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = e.Service.Redeem(ctx, ws.ID, texts[1][i], "") }()
			go func() { defer wg.Done(); _, _ = e.Service.DisableCode(ctx, c.ID) }()
		}
		wg.Wait()
		check := func(when string) {
			t.Helper()
			var paged []billing.CodeBatchSummary
			before := ""
			for {
				p, err := e.Service.CodeBatches(ctx, billing.CodeBatchFilter{Before: before, Limit: 1})
				if err != nil {
					t.Fatal(err)
				}
				if len(p) == 0 {
					break
				}
				paged, before = append(paged, p...), p[0].BatchID
			}
			if len(paged) != 4 {
				t.Fatalf("%s: %d batches by pages of one", when, len(paged))
			}
			for i, b := range paged {
				if i > 0 && !b.CreatedAt.Before(paged[i-1].CreatedAt) {
					t.Errorf("%s: not newest first: %+v", when, paged)
				}
				want := countBatch(t, e, b.BatchID)
				if b.Count != want.Count || b.Redeemed != want.Redeemed || b.Disabled != want.Disabled || b.Expired != want.Expired || b.Unused != want.Unused {
					t.Errorf("%s: batch %s = %+v, its codes say %+v", when, b.BatchID, b, want)
				}
				one, err := e.Service.CodeBatches(ctx, billing.CodeBatchFilter{BatchID: b.BatchID})
				if err != nil || len(one) != 1 || one[0] != b {
					t.Errorf("%s: batch alone = %+v, %v", when, one, err)
				}
			}
		}
		check("now")
		e.Clock.Set(e.Clock.Now().Add(150 * time.Minute)) // batches 450 and 3 expired
		check("later")
		if p, err := e.Service.CodeBatches(ctx, billing.CodeBatchFilter{Before: "batch_missing"}); err != nil || len(p) != 0 {
			t.Errorf("after an unknown batch: %+v, %v", p, err)
		}
	})
}
