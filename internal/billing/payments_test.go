package billing_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"

	"spectra/internal/billing"
	"spectra/internal/billing/billingtest"
	"spectra/internal/errs"
	"spectra/internal/store/storetest"
)

func TestManualPaymentIsIdempotentByReference(t *testing.T) {
	billingtest.Each(t, billingtest.Options{Configure: func(c *billing.Config) { c.TaxRateBasisPoints, c.TaxName = 2000, "VAT" }},
		func(t *testing.T, e *billingtest.Env) {
			ctx := context.Background()
			ws, other := e.Workspace(t, "Acme", "Europe/Paris"), e.Workspace(t, "Other", "")
			if _, err := e.Service.SetBillingDetails(ctx, ws.ID, billing.Party{Name: "Acme SAS", Line1: "1 rue X", City: "Paris", Country: "fr", TaxID: "FR1"}); err != nil {
				t.Fatal(err)
			}
			m := billing.ManualPayment{Amount: billingtest.Amount("120.00"), Reference: "WIRE-2026-001", Note: "March prepayment"}
			p, created, err := e.Service.RecordManualPayment(ctx, ws.ID, m)
			if err != nil || !created {
				t.Fatalf("first: %+v %v %v", p, created, err)
			}
			again, created, err := e.Service.RecordManualPayment(ctx, ws.ID, m)
			if err != nil || created || again.TransferID != p.TransferID || again.ReceiptNumber != p.ReceiptNumber {
				t.Fatalf("replay: %+v %v %v (first %+v)", again, created, err, p)
			}
			_, _, err = e.Service.RecordManualPayment(ctx, ws.ID, billing.ManualPayment{Amount: billingtest.Amount("12.00"), Reference: m.Reference, Note: m.Note})
			storetest.WantCode(t, err, "idempotency_conflict")
			_, _, err = e.Service.RecordManualPayment(ctx, other.ID, m)
			storetest.WantCode(t, err, "idempotency_conflict")
			_, _, err = e.Service.RecordManualPayment(ctx, ws.ID, billing.ManualPayment{Amount: 1})
			storetest.WantCode(t, err, "invalid_reference")
			_, _, err = e.Service.RecordManualPayment(ctx, ws.ID, billing.ManualPayment{Reference: "x"})
			storetest.WantCode(t, err, "invalid_amount")
			_, _, err = e.Service.RecordManualPayment(ctx, "ws_missing", billing.ManualPayment{Amount: 1, Reference: "y"})
			storetest.WantCode(t, err, "workspace_not_found")
			if b := e.Balance(t, ws.ID).Balance; b != billingtest.Amount("120") {
				t.Fatalf("balance %s, want 120", b)
			}

			rec, err := e.Service.Invoice(ctx, ws.ID, p.ReceiptID)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Kind != billing.KindReceipt || rec.Total != billingtest.Amount("120") || rec.Tax != billingtest.Amount("20") ||
				rec.Subtotal != billingtest.Amount("100") || rec.TaxName != "VAT" || rec.Buyer.Name != "Acme SAS" || rec.Buyer.Country != "FR" ||
				rec.Seller.Name != e.Config.Seller.Name || rec.PaymentReference != "WIRE-2026-001" || rec.TransferID != p.TransferID ||
				rec.Number != "SPEC-2026-000001" || len(rec.Lines) != 1 || rec.Lines[0].Amount != rec.Total {
				t.Fatalf("receipt = %+v", rec)
			}
			// Details edited later do not change an issued receipt.
			if _, err := e.Service.SetBillingDetails(ctx, ws.ID, billing.Party{Name: "Renamed"}); err != nil {
				t.Fatal(err)
			}
			rec2, _ := e.Service.Invoice(ctx, ws.ID, p.ReceiptID)
			if rec2.Buyer.Name != "Acme SAS" {
				t.Fatalf("issued receipt's buyer changed to %q", rec2.Buyer.Name)
			}
			// The receipt is not visible from another workspace.
			_, err = e.Service.Invoice(ctx, other.ID, p.ReceiptID)
			storetest.WantCode(t, err, "invoice_not_found")
		})
}

// Fifty receipts issued at once take the numbers 1..50: none skipped, none twice.
func TestNumbersAreGaplessUnderConcurrency(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		ctx := context.Background()
		wss := []string{e.Workspace(t, "A", "").ID, e.Workspace(t, "B", "").ID, e.Workspace(t, "C", "").ID}
		var wg sync.WaitGroup
		numbers := make([]string, 50)
		failures := make([]error, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Every fifth call replays an earlier reference: it must not take a number.
				ref := fmt.Sprintf("REF-%d", i)
				p, _, err := e.Service.RecordManualPayment(ctx, wss[i%3], billing.ManualPayment{Amount: billingtest.Amount("1"), Reference: ref})
				numbers[i], failures[i] = p.ReceiptNumber, err
				if i%5 == 0 {
					if q, _, err := e.Service.RecordManualPayment(ctx, wss[i%3], billing.ManualPayment{Amount: billingtest.Amount("1"), Reference: ref}); err != nil || q.ReceiptNumber != p.ReceiptNumber {
						failures[i] = fmt.Errorf("replay of %s: %v, %s vs %s", ref, err, q.ReceiptNumber, p.ReceiptNumber)
					}
				}
			}()
		}
		wg.Wait()
		for _, err := range failures {
			if err != nil {
				t.Fatal(err)
			}
		}
		sort.Strings(numbers)
		for i, n := range numbers {
			if want := fmt.Sprintf("SPEC-2026-%06d", i+1); n != want {
				t.Fatalf("numbers[%d] = %s, want %s (all: %v)", i, n, want, numbers)
			}
		}
	})
}

// Without a PDF renderer a document is still listed, but its PDF is refused with a clear code.
func TestInvoicePDFWithoutRenderer(t *testing.T) {
	billingtest.Each(t, billingtest.Options{NoStripe: true, Configure: func(c *billing.Config) { c.RenderPDF = nil }},
		func(t *testing.T, e *billingtest.Env) {
			ctx := context.Background()
			ws := e.Workspace(t, "NoPDF", "UTC")
			p, _, err := e.Service.RecordManualPayment(ctx, ws.ID, billing.ManualPayment{Amount: billingtest.Amount("10.00"), Reference: "WIRE-1"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Service.Invoice(ctx, ws.ID, p.ReceiptID); err != nil {
				t.Fatalf("the receipt exists: %v", err)
			}
			if _, _, err := e.Service.InvoicePDF(ctx, ws.ID, p.ReceiptID); !errs.Is(err, "pdf_unavailable") {
				t.Fatalf("InvoicePDF without a renderer = %v; want pdf_unavailable", err)
			}
		})
}
