package store_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/money"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

var billT0 = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

func billWorkspace(t *testing.T, db *store.DB, id string) {
	t.Helper()
	if err := db.CreateWorkspace(context.Background(), team.Workspace{ID: id, Name: id, Timezone: "UTC", CreatedAt: billT0}); err != nil {
		t.Fatal(err)
	}
}

func billDoc(ws, key string, total money.Amount) billing.Invoice {
	return billing.Invoice{Kind: billing.KindStatement, WorkspaceID: ws, Currency: "USD", Total: total, Subtotal: total,
		Seller: billing.Party{Name: "Seller"}, Buyer: billing.Party{Name: ws}, Timezone: "UTC", Period: "2026-02",
		Lines: []billing.Line{{Kind: billing.LineModel, Description: "m", Requests: 1, InputTokens: 2, Amount: total},
			{Kind: billing.LineProject, Description: "p", Requests: 1, Amount: total}},
		IssuedAt: billT0, Series: "SPEC-2026", SourceKey: key}
}

// Concurrent issuers get consecutive numbers: 50 goroutines, some racing on the same
// source key, leave numbers 1..N for the N distinct documents.
func TestBillingIssueGaplessConcurrently(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		billWorkspace(t, db, "ws_a")
		var wg sync.WaitGroup
		var mu sync.Mutex
		byKey := map[string]map[string]bool{}
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprintf("statement:ws_a:%d", i%40) // ten keys issued twice
				inv, _, err := db.IssueInvoice(ctx, billDoc("ws_a", key, money.Amount(i+1)))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if byKey[key] == nil {
					byKey[key] = map[string]bool{}
				}
				byKey[key][inv.Number] = true
				mu.Unlock()
			}()
		}
		wg.Wait()
		var numbers []string
		for key, nums := range byKey {
			if len(nums) != 1 {
				t.Fatalf("key %s got numbers %v", key, nums)
			}
			for n := range nums {
				numbers = append(numbers, n)
			}
		}
		sort.Strings(numbers)
		for i, n := range numbers {
			if want := billing.FormatNumber("SPEC-2026", int64(i+1)); n != want {
				t.Fatalf("numbers %v: position %d is %s, want %s", numbers, i, n, want)
			}
		}
		if len(numbers) != 40 {
			t.Fatalf("%d documents, want 40", len(numbers))
		}
		// A refused issue gives its number back.
		_, _, err := db.IssueInvoice(ctx, billing.Invoice{Kind: billing.KindCreditNote, WorkspaceID: "ws_a", Currency: "USD", Total: 1_000_000_000,
			Subtotal: 1_000_000_000, OriginalID: "inv_missing", Timezone: "UTC", IssuedAt: billT0, Series: "SPEC-2026", SourceKey: "credit_note:x:y"})
		if !errs.Is(err, "invoice_not_found") {
			t.Fatalf("credit note of a missing invoice: %v", err)
		}
		inv, _, err := db.IssueInvoice(ctx, billDoc("ws_a", "statement:ws_a:next", 1))
		if err != nil || inv.Number != "SPEC-2026-000041" {
			t.Fatalf("after a refused issue: %s %v", inv.Number, err)
		}
		// Another series counts on its own.
		doc := billDoc("ws_a", "statement:ws_a:2027", 1)
		doc.Series = "SPEC-2027"
		if inv, _, err := db.IssueInvoice(ctx, doc); err != nil || inv.Number != "SPEC-2027-000001" {
			t.Fatalf("new series: %s %v", inv.Number, err)
		}
	})
}

func TestBillingInvoicesAreImmutable(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		billWorkspace(t, db, "ws_a")
		inv, _, err := db.IssueInvoice(ctx, billDoc("ws_a", "statement:ws_a:2026-02", 5))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`UPDATE billing_invoices SET total = 1, subtotal = 1 WHERE id = ?`,
			`DELETE FROM billing_invoices WHERE id = ?`,
			`UPDATE billing_invoice_lines SET amount = 1 WHERE invoice_id = ?`,
			`DELETE FROM billing_invoice_lines WHERE invoice_id = ?`,
		} {
			if _, err := db.RawExec(ctx, q, inv.ID); err == nil {
				t.Errorf("%s: allowed", q)
			}
		}
		got, err := db.Invoice(ctx, "ws_a", inv.ID)
		if err != nil || got.Total != 5 || len(got.Lines) != 2 || got.Lines[0].Amount != 5 || got.Number != inv.Number || got.Buyer.Name != "ws_a" {
			t.Fatalf("after tampering: %+v %v", got, err)
		}
	})
}

// Concurrent credit notes never credit more than the original's total.
func TestBillingCreditNotesNeverExceed(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		billWorkspace(t, db, "ws_a")
		orig, _, err := db.IssueInvoice(ctx, billDoc("ws_a", "statement:ws_a:2026-02", 10))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cn := billing.Invoice{Kind: billing.KindCreditNote, WorkspaceID: "ws_a", Currency: "USD", Total: 3, Subtotal: 3, OriginalID: orig.ID,
					Timezone: "UTC", IssuedAt: billT0, Series: "SPEC-2026", SourceKey: fmt.Sprintf("credit_note:%s:%d", orig.ID, i)}
				_, _, err := db.IssueInvoice(ctx, cn)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case !errs.Is(err, "credit_exceeds_invoice"):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		credited, err := db.CreditedTotal(ctx, orig.ID)
		if ok != 3 || credited != 9 || err != nil {
			t.Fatalf("%d credit notes, %d credited (%v); want 3 and 9", ok, credited, err)
		}
		next, _, _ := db.IssueInvoice(ctx, billDoc("ws_a", "statement:ws_a:after", 1))
		if next.Number != "SPEC-2026-000005" {
			t.Fatalf("next number %s: refused credit notes took numbers", next.Number)
		}
	})
}

// A payment credited earlier without a receipt (ledger.Service.Credit) gets one on replay.
func TestBillingRecordPaymentIssuesMissingReceipt(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		billWorkspace(t, db, "ws_a")
		tr, _, err := ledger.NewService(db, time.Now).Credit(ctx, "ws_a", 7_000_000, "manual:OLD", "Bank transfer OLD")
		if err != nil {
			t.Fatal(err)
		}
		rec := billDoc("ws_a", "", 7_000_000)
		rec.Kind, rec.Lines = billing.KindReceipt, []billing.Line{{Kind: billing.LinePayment, Description: "top-up", Amount: 7_000_000}}
		p, created, err := db.RecordPayment(ctx, billing.PaymentRecord{Method: billing.MethodManual, Receipt: rec,
			Transfer: ledger.TransferRequest{Key: "payment:manual:OLD", Kind: ledger.KindPayment, From: ledger.Payments, To: ledger.Wallet("ws_a"),
				Amount: 7_000_000, WorkspaceID: "ws_a", Note: "Bank transfer OLD"}})
		if err != nil || created || p.TransferID != tr.ID || p.ReceiptNumber != "SPEC-2026-000001" {
			t.Fatalf("RecordPayment = %+v, %v, %v", p, created, err)
		}
		b, _ := db.Balance(ctx, "ws_a")
		if b.Balance != 7_000_000 {
			t.Fatalf("balance %d: credited twice", b.Balance)
		}
		report, err := db.Verify(ctx)
		if err != nil || !report.OK() {
			t.Fatalf("verify: %+v %v", report, err)
		}
	})
}

func TestBillingVerify(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		billWorkspace(t, db, "ws_a")
		if _, _, err := db.IssueInvoice(ctx, billDoc("ws_a", "statement:ws_a:1", 5)); err != nil {
			t.Fatal(err)
		}
		checks, err := db.VerifyBilling(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range checks {
			if len(c.Problems) > 0 {
				t.Fatalf("clean database: %+v", c)
			}
		}
		// A payment without a receipt and a skipped number are found.
		if _, _, err := ledger.NewService(db, time.Now).Credit(ctx, "ws_a", 3, "bare", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RawExec(ctx, `UPDATE billing_counters SET last_seq = last_seq + 1`); err != nil {
			t.Fatal(err)
		}
		checks, err = db.VerifyBilling(ctx)
		if err != nil {
			t.Fatal(err)
		}
		problems := 0
		for _, c := range checks {
			problems += len(c.Problems)
		}
		if problems != 2 {
			t.Fatalf("want 2 problems, got %+v", checks)
		}
	})
}
