package billing_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"spectra/internal/billing"
	"spectra/internal/billing/billingtest"
	"spectra/internal/ids"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store/storetest"
)

var march = billing.Month{Year: 2026, Month: time.March}

// pricesFor sets the models' prices from the start of 2026.
func pricesFor(t testing.TB, e *billingtest.Env) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.Price(t, "gpt-4o", "2.50", "10.00", from)
	e.Price(t, "mini", "0.15", "0.60", from)
	e.Price(t, "embed", "0.02", "0", from)
}

// ingest applies events and returns them as priced.
func ingest(t testing.TB, e *billingtest.Env, events []metering.Event) []metering.Event {
	res, err := e.Meter.Ingest(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) > 0 {
		t.Fatalf("rejected: %+v", res.Rejected)
	}
	return res.Events
}

// inMonth is the statement's rule: an event counts in the month that holds the start of its hour.
func inMonth(ts time.Time, m billing.Month, loc *time.Location) bool {
	h := ts.Truncate(time.Hour)
	return !h.Before(m.Start(loc)) && h.Before(m.End(loc))
}

// A month's statement total is exactly the cost of that month's events, and its model
// and project lines split the same total — for random events around the month's edges,
// in time zones with whole-hour, DST and half-hour offsets.
func TestStatementTotalEqualsTheMonthsUsage(t *testing.T) {
	billingtest.Each(t, billingtest.Options{}, func(t *testing.T, e *billingtest.Env) {
		pricesFor(t, e)
		windowStart := time.Date(2026, 2, 27, 0, 0, 0, 0, time.UTC)
		rapid.Check(t, func(rt *rapid.T) {
			tz := rapid.SampledFrom([]string{"UTC", "America/New_York", "Asia/Tokyo", "Asia/Kolkata", "Pacific/Honolulu"}).Draw(rt, "tz")
			e.Clock.Set(windowStart)
			ws := e.Workspace(t, "WS", tz)
			n := rapid.IntRange(0, 40).Draw(rt, "events")
			events := make([]metering.Event, n)
			for i := range events {
				in := rapid.Int64Range(0, 2_000_000).Draw(rt, "input")
				events[i] = metering.Event{ID: ids.New("ev"), WorkspaceID: ws.ID,
					Model:     rapid.SampledFrom([]string{"gpt-4o", "mini", "embed"}).Draw(rt, "model"),
					Project:   rapid.SampledFrom([]string{"", "search", "chat"}).Draw(rt, "project"),
					Timestamp: windowStart.Add(time.Duration(rapid.Int64Range(0, int64(37*24*time.Hour)).Draw(rt, "offset"))),
					Usage: pricing.Usage{Input: in, CachedInput: rapid.Int64Range(0, in).Draw(rt, "cached"),
						Output: rapid.Int64Range(0, 500_000).Draw(rt, "output")}}
			}
			e.Clock.Set(time.Date(2026, 4, 6, 0, 0, 0, 0, time.UTC))
			priced := ingest(t, e, events)
			loc, _ := time.LoadLocation(tz)
			var want money.Amount
			var requests int64
			for _, ev := range priced {
				if inMonth(ev.Timestamp, march, loc) {
					want += ev.Cost
					requests++
				}
			}
			inv, created, err := e.Service.IssueStatement(context.Background(), ws.ID, march)
			if err != nil || !created {
				rt.Fatalf("IssueStatement: %v, %v", created, err)
			}
			var models, projects money.Amount
			var modelRequests int64
			for _, l := range inv.Lines {
				switch l.Kind {
				case billing.LineModel:
					models += l.Amount
					modelRequests += l.Requests
				case billing.LineProject:
					projects += l.Amount
				}
			}
			if inv.Total != want || models != want || projects != want || modelRequests != requests || inv.Subtotal != want || inv.Tax != 0 {
				rt.Fatalf("%s: total %s, model lines %s, project lines %s, requests %d; want %s over %d requests",
					tz, inv.Total, models, projects, modelRequests, want, requests)
			}
		})
	})
}

func TestStatementIssuing(t *testing.T) {
	billingtest.Each(t, billingtest.Options{Configure: func(c *billing.Config) { c.TaxRateBasisPoints, c.TaxName = 2000, "VAT" }},
		func(t *testing.T, e *billingtest.Env) {
			ctx := context.Background()
			pricesFor(t, e)
			e.Clock.Set(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
			ny := e.Workspace(t, "New York", "America/New_York")
			tokyo := e.Workspace(t, "Tokyo", "Asia/Tokyo")
			idle := e.Workspace(t, "Idle", "UTC")
			if _, err := e.Service.SetBillingDetails(ctx, ny.ID, billing.Party{Name: "NY Corp", Line1: "5th Avenue", City: "New York", Country: "US", TaxID: "US-EIN-1"}); err != nil {
				t.Fatal(err)
			}
			ev := func(ws, model, project string, ts time.Time, in, out int64) metering.Event {
				return metering.Event{ID: ids.New("ev"), WorkspaceID: ws, Model: model, Project: project, Timestamp: ts,
					Usage: pricing.Usage{Input: in, Output: out}}
			}
			e.Clock.Set(time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC))
			ingest(t, e, []metering.Event{
				ev(ny.ID, "gpt-4o", "search", time.Date(2026, 3, 1, 4, 59, 0, 0, time.UTC), 1_000_000, 0), // 28 Feb in New York
				ev(ny.ID, "gpt-4o", "search", time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC), 1_000_000, 100_000),
				ev(ny.ID, "mini", "", time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), 3, 7),
				ev(ny.ID, "gpt-4o", "chat", time.Date(2026, 3, 19, 0, 0, 0, 0, time.UTC), 0, 1_000_000),
				ev(tokyo.ID, "mini", "x", time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), 1_000_000, 0),
			})
			e.Clock.Set(time.Date(2026, 3, 31, 23, 30, 0, 0, time.UTC))
			ingest(t, e, []metering.Event{ev(ny.ID, "embed", "search", time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC), 5_000_000, 0)}) // still March in NY
			// Before the month has ended in New York: refused.
			_, _, err := e.Service.IssueStatement(ctx, ny.ID, march)
			storetest.WantCode(t, err, "month_not_ended")

			// 1 April 01:00 UTC: the month is over in Tokyo and UTC, not yet in New York.
			e.Clock.Set(time.Date(2026, 4, 1, 1, 0, 0, 0, time.UTC))
			run, err := e.Service.IssueStatements(ctx, march)
			if err != nil || run.Issued != 1 || run.NoUsage != 1 || run.NotEnded != 1 {
				t.Fatalf("first run: %+v, %v", run, err)
			}
			// 1 April 05:00 UTC: now New York too; Tokyo's is not issued twice.
			e.Clock.Set(time.Date(2026, 4, 1, 5, 0, 0, 0, time.UTC))
			run, err = e.Service.IssueStatements(ctx, march)
			if err != nil || run.Issued != 1 || run.AlreadyIssued != 1 || run.NoUsage != 1 {
				t.Fatalf("second run: %+v, %v", run, err)
			}
			list, err := e.Service.Invoices(ctx, billing.InvoiceFilter{WorkspaceID: ny.ID, Kind: billing.KindStatement})
			if err != nil || len(list) != 1 {
				t.Fatalf("NY statements: %+v, %v", list, err)
			}
			st, err := e.Service.Invoice(ctx, ny.ID, list[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			// 1M input + 100k output on gpt-4o = 2.50 + 1.00; 3 in + 7 out on mini = 0.00000045 + 0.0000042 = 0.00000465,
			// charged 0.000004 (the running total rounded down; 0.65 µ carried); 1M output on gpt-4o = 10.00; 5M embed input = 0.10.
			want := billingtest.Amount("13.600004")
			if st.Total != want || st.Tax != 0 || st.TaxRateBP != 0 || st.Number != "SPEC-2026-000002" || st.Period != "2026-03" ||
				st.Buyer.Name != "NY Corp" || st.Seller.TaxID != "GB123456789" || st.Timezone != "America/New_York" {
				t.Fatalf("statement = %+v", st)
			}
			var lines []string
			for _, l := range st.Lines {
				if l.Kind.CreditLine() {
					continue // TestStatementCreditLines
				}
				lines = append(lines, fmt.Sprintf("%s %s %d %d %d %s", l.Kind, l.Description, l.Requests, l.InputTokens, l.OutputTokens, l.Amount))
			}
			wantLines := []string{
				"model embed 1 5000000 0 0.100000",
				"model gpt-4o 2 1000000 1100000 13.500000",
				"model mini 1 3 7 0.000004",
				"project (no project) 1 0 0 0.000004",
				"project chat 1 0 0 10.000000",
				"project search 2 0 0 3.600000",
			}
			// Project lines carry tokens too; compare the parts that identify them.
			for i := range lines {
				if i >= len(wantLines) {
					break
				}
				if strings.HasPrefix(wantLines[i], "project") {
					f := strings.Fields(lines[i])
					lines[i] = strings.Join([]string{f[0], strings.Join(f[1:len(f)-4], " "), f[len(f)-4], "0", "0", f[len(f)-1]}, " ")
				}
			}
			if strings.Join(lines, "\n") != strings.Join(wantLines, "\n") {
				t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
			}
			again, created, err := e.Service.IssueStatement(ctx, ny.ID, march)
			if err != nil || created || again.ID != st.ID {
				t.Fatalf("issuing again: %v %v %v", again.ID, created, err)
			}
			// Usage recorded late for March does not change the issued statement.
			ingest(t, e, []metering.Event{ev(ny.ID, "gpt-4o", "late", time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC), 1_000_000, 0)})
			again, _, _ = e.Service.IssueStatement(ctx, ny.ID, march)
			if again.Total != want {
				t.Fatalf("statement changed to %s", again.Total)
			}
			_, _, err = e.Service.IssueStatement(ctx, idle.ID, billing.Month{Year: 2026, Month: time.May})
			storetest.WantCode(t, err, "month_not_ended")

			// The PDF reads back the statement's total.
			_, pdf, err := e.Service.InvoicePDF(ctx, ny.ID, st.ID)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "st.pdf")
			os.WriteFile(path, pdf, 0o600)
			out, err := exec.Command("pdftotext", "-layout", path, "-").CombinedOutput()
			if err != nil {
				t.Fatalf("pdftotext: %v %s", err, out)
			}
			wantLine(t, string(out), `Total usage\s+USD 13\.600004\s*$`)
			wantLine(t, string(out), `SPEC-2026-000002`)
			e.Verify(t)
		})
}

func TestCreditNotes(t *testing.T) {
	billingtest.Each(t, billingtest.Options{Configure: func(c *billing.Config) { c.TaxRateBasisPoints, c.TaxName = 2000, "VAT" }},
		func(t *testing.T, e *billingtest.Env) {
			ctx := context.Background()
			ws := e.Workspace(t, "Acme", "")
			p, _, err := e.Service.RecordManualPayment(ctx, ws.ID, billing.ManualPayment{Amount: billingtest.Amount("120"), Reference: "W1"})
			if err != nil {
				t.Fatal(err)
			}
			cn, created, err := e.Service.IssueCreditNote(ctx, ws.ID, p.ReceiptID, billing.CreditNoteRequest{Amount: billingtest.Amount("60"), Reason: "double payment", IdempotencyKey: "k1"})
			if err != nil || !created {
				t.Fatal(err)
			}
			if cn.Kind != billing.KindCreditNote || cn.Total != billingtest.Amount("60") || cn.Tax != billingtest.Amount("10") || cn.OriginalNumber != p.ReceiptNumber ||
				cn.Number != "SPEC-2026-000002" || cn.TaxName != "VAT" {
				t.Fatalf("credit note = %+v", cn)
			}
			again, created, err := e.Service.IssueCreditNote(ctx, ws.ID, p.ReceiptID, billing.CreditNoteRequest{Amount: billingtest.Amount("60"), Reason: "double payment", IdempotencyKey: "k1"})
			if err != nil || created || again.ID != cn.ID {
				t.Fatalf("replay: %v %v", created, err)
			}
			_, _, err = e.Service.IssueCreditNote(ctx, ws.ID, p.ReceiptID, billing.CreditNoteRequest{Amount: billingtest.Amount("50"), Reason: "double payment", IdempotencyKey: "k1"})
			storetest.WantCode(t, err, "idempotency_conflict")
			_, _, err = e.Service.IssueCreditNote(ctx, ws.ID, p.ReceiptID, billing.CreditNoteRequest{Amount: billingtest.Amount("60.000001"), Reason: "more"})
			storetest.WantCode(t, err, "credit_exceeds_invoice")
			rest, _, err := e.Service.IssueCreditNote(ctx, ws.ID, p.ReceiptID, billing.CreditNoteRequest{Reason: "the rest"})
			if err != nil || rest.Total != billingtest.Amount("60") {
				t.Fatalf("rest: %+v %v", rest, err)
			}
			_, _, err = e.Service.IssueCreditNote(ctx, ws.ID, p.ReceiptID, billing.CreditNoteRequest{Reason: "nothing left"})
			storetest.WantCode(t, err, "credit_exceeds_invoice")
			_, _, err = e.Service.IssueCreditNote(ctx, ws.ID, cn.ID, billing.CreditNoteRequest{Reason: "x"})
			storetest.WantCode(t, err, "invalid_credit_note_target")
			_, _, err = e.Service.IssueCreditNote(ctx, ws.ID, p.ReceiptID, billing.CreditNoteRequest{})
			storetest.WantCode(t, err, "invalid_reason")
			_, _, err = e.Service.IssueCreditNote(ctx, ws.ID, "inv_missing", billing.CreditNoteRequest{Reason: "x"})
			storetest.WantCode(t, err, "invoice_not_found")
			// Credit notes are documents: the balance is unchanged.
			if b := e.Balance(t, ws.ID).Balance; b != billingtest.Amount("120") {
				t.Fatalf("balance %s", b)
			}
			all, _ := e.Service.Invoices(ctx, billing.InvoiceFilter{WorkspaceID: ws.ID})
			if len(all) != 3 {
				t.Fatalf("%d documents, want 3", len(all))
			}
		})
}

// wantLine asserts that some line of text matches the pattern.
func wantLine(t *testing.T, text, pattern string) {
	t.Helper()
	if !regexp.MustCompile(`(?m)` + pattern).MatchString(text) {
		t.Errorf("no line matches %q in:\n%s", pattern, text)
	}
}
