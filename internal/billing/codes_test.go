package billing_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/billing/billingtest"
	"spectra/internal/errs"
	"spectra/internal/store/storetest"
)

func newCodes(t *testing.T, e *billingtest.Env, amount string, n int, ttl time.Duration) []string {
	t.Helper()
	b, err := e.Service.CreateCodes(context.Background(), billing.CodeBatchRequest{Amount: billingtest.Amount(amount), Count: n,
		ExpiresAt: e.Clock.Now().Add(ttl), Note: "launch promo"})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Codes) != n || b.Currency != "USD" {
		t.Fatalf("batch = %+v", b)
	}
	return b.Codes
}

func TestRedeemConcurrentCreditsOnce(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		a, b := e.Workspace(t, "A", ""), e.Workspace(t, "B", "")
		code := newCodes(t, e, "25.00", 1, 24*time.Hour)[0]
		var wg sync.WaitGroup
		results := make([]error, 20)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ws := a.ID
				if i%2 == 1 {
					ws = b.ID
				}
				// One address each, so that the 19 losers do not lock each other out.
				_, results[i] = e.Service.Redeem(ctx, ws, code, fmt.Sprintf("198.51.100.%d:5000", i))
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range results {
			switch {
			case err == nil:
				ok++
			case !errs.Is(err, "code_already_redeemed"):
				t.Errorf("unexpected error %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d redemptions succeeded, want exactly 1", ok)
		}
		total := e.Balance(t, a.ID).Balance + e.Balance(t, b.ID).Balance
		if total != billingtest.Amount("25") {
			t.Fatalf("credited %s in total, want 25", total)
		}
		for _, ws := range []string{a.ID, b.ID} {
			list, err := e.Service.Invoices(ctx, billing.InvoiceFilter{WorkspaceID: ws, Kind: billing.KindReceipt})
			if err != nil {
				t.Fatal(err)
			}
			if e.Balance(t, ws).Balance > 0 && (len(list) != 1 || list[0].Total != billingtest.Amount("25") || list[0].PaymentMethod != billing.MethodCode) {
				t.Errorf("receipts of the redeeming workspace = %+v", list)
			}
		}
		e.Verify(t)
	})
}

func TestRedeemRefusals(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		ws := e.Workspace(t, "A", "")
		codes := newCodes(t, e, "10", 3, time.Hour)

		// Typed loosely: lower case, spaces instead of dashes, O for 0.
		loose := strings.ToLower(strings.ReplaceAll(codes[0], "-", " "))
		loose = strings.ReplaceAll(loose, "0", "o")
		p, err := e.Service.Redeem(ctx, ws.ID, loose, "")
		if err != nil {
			t.Fatal(err)
		}
		if p.Amount != billingtest.Amount("10") || p.ReceiptNumber == "" || p.Method != billing.MethodCode {
			t.Fatalf("payment = %+v", p)
		}
		_, err = e.Service.Redeem(ctx, ws.ID, codes[0], "")
		storetest.WantCode(t, err, "code_already_redeemed")
		_, err = e.Service.Redeem(ctx, ws.ID, "AAAA-BBBB-CCCC-DDDD", "")
		storetest.WantCode(t, err, "code_not_found")
		_, err = e.Service.Redeem(ctx, ws.ID, "not a code", "")
		storetest.WantCode(t, err, "code_not_found")
		_, err = e.Service.Redeem(ctx, "ws_missing", codes[1], "")
		storetest.WantCode(t, err, "workspace_not_found")

		e.Clock.Set(e.Clock.Now().Add(time.Hour))
		_, err = e.Service.Redeem(ctx, ws.ID, codes[1], "")
		storetest.WantCode(t, err, "code_expired")
		if got := e.Balance(t, ws.ID).Balance; got != billingtest.Amount("10") {
			t.Fatalf("balance %s, want 10", got)
		}
	})
}

func TestRedeemRateLimit(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		a, b, c := e.Workspace(t, "A", ""), e.Workspace(t, "B", ""), e.Workspace(t, "C", "")
		good := newCodes(t, e, "5", 2, 48*time.Hour)
		// Ten failures for workspace A, from several addresses.
		for i := range 10 {
			_, err := e.Service.Redeem(ctx, a.ID, "ZZZZ-ZZZZ-ZZZZ-ZZZ"+string(rune('0'+i)), "203.0.113."+string(rune('0'+i))+":1")
			storetest.WantCode(t, err, "code_not_found")
		}
		// A is locked out, even with a good code.
		_, err := e.Service.Redeem(ctx, a.ID, good[0], "192.0.2.1:1")
		storetest.WantCode(t, err, "too_many_attempts")
		if errs.KindOf(err) != errs.RateLimited {
			t.Errorf("kind %s, want rate_limited", errs.KindOf(err))
		}
		// Ten failures from one address, spread over workspaces, lock that address out.
		for i := range 10 {
			ws := b.ID
			if i%2 == 0 {
				ws = c.ID
			}
			if i >= 5 && ws == b.ID {
				ws = c.ID
			}
			_, _ = e.Service.Redeem(ctx, ws, "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "198.51.100.9:1234")
		}
		_, err = e.Service.Redeem(ctx, b.ID, good[0], "198.51.100.9:999")
		storetest.WantCode(t, err, "too_many_attempts")
		// Workspace B from another address still may (its own failures are under the limit).
		if _, err := e.Service.Redeem(ctx, b.ID, good[0], "192.0.2.50:1"); err != nil {
			t.Fatalf("B from a clean address: %v", err)
		}
		// After the window, A may again.
		e.Clock.Set(e.Clock.Now().Add(16 * time.Minute))
		if _, err := e.Service.Redeem(ctx, a.ID, good[1], "192.0.2.1:1"); err != nil {
			t.Fatalf("A after the window: %v", err)
		}
		if got := e.Balance(t, a.ID).Balance; got != billingtest.Amount("5") {
			t.Fatalf("A's balance %s, want 5", got)
		}
	})
}

func TestCreateCodesRefusals(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		now := e.Clock.Now()
		for _, c := range []struct {
			r    billing.CodeBatchRequest
			code string
		}{
			{billing.CodeBatchRequest{Amount: 0, Count: 1, ExpiresAt: now.Add(time.Hour)}, "invalid_amount"},
			{billing.CodeBatchRequest{Amount: 1, Count: 0, ExpiresAt: now.Add(time.Hour)}, "invalid_count"},
			{billing.CodeBatchRequest{Amount: 1, Count: 1001, ExpiresAt: now.Add(time.Hour)}, "invalid_count"},
			{billing.CodeBatchRequest{Amount: 1, Count: 1, ExpiresAt: now}, "invalid_expiry"},
			{billing.CodeBatchRequest{Amount: 1, Count: 1, ExpiresAt: now.Add(time.Hour), Note: strings.Repeat("x", 501)}, "invalid_note"},
		} {
			_, err := e.Service.CreateCodes(ctx, c.r)
			storetest.WantCode(t, err, c.code)
		}
		// A large batch: all distinct, none stored in clear.
		codes := newCodes(t, e, "1", 500, time.Hour)
		seen := map[string]bool{}
		for _, c := range codes {
			if seen[c] || len(c) != 19 {
				t.Fatalf("code %q repeated or malformed", c)
			}
			seen[c] = true
		}
		if _, err := e.DB.CodeByHash(ctx, codes[0]); !errs.Is(err, "code_not_found") {
			t.Fatalf("a code's text found as its own hash: %v", err)
		}
	})
}
