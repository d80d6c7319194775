package web

import (
	"context"
	"encoding/csv"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// Consecutive usage entries of one local day become one row; a top-up between them,
// or local midnight (not UTC's), starts another; every row's balance is the row
// below's plus its amount.
func TestTransactionsGroupUsageByLocalDay(t *testing.T) {
	loc, _ := time.LoadLocation("America/New_York")
	at := func(d, h, m int) time.Time { return time.Date(2026, 12, d, h, m, 0, 0, loc) }
	balance := money.Amount(100_000_000)
	var entries []ledger.Entry // built oldest first, then reversed
	add := func(kind ledger.Kind, amount money.Amount, note string, ts time.Time) {
		balance += amount
		entries = append(entries, ledger.Entry{Cursor: int64(len(entries) + 1), TransferID: int64(len(entries) + 1), Kind: kind, Amount: amount,
			BalanceAfter: balance, Note: note, CreatedAt: ts})
	}
	add(ledger.KindGrant, 0, "Welcome credit", at(3, 9, 0))
	add(ledger.KindUsage, -1_000, "", at(4, 10, 0))
	add(ledger.KindUsage, -2_000, "", at(4, 23, 30)) // 5 Dec 04:30 UTC: still 4 Dec in New York
	add(ledger.KindUsage, -3_000, "", at(5, 0, 10))
	add(ledger.KindPayment, 50_000_000, "Bank transfer REF-7", at(5, 12, 0))
	add(ledger.KindUsage, -4_000, "", at(5, 13, 0))
	add(ledger.KindUsage, -5_000, "", at(5, 18, 0))
	add(ledger.KindPayment, 10_000_000, "Redemption code …WXYZ", at(5, 19, 0))
	g := txGrouper{loc: loc}
	for i := len(entries) - 1; i >= 0; i-- {
		g.add(entries[i])
	}
	type want struct {
		kind   string
		day    int
		amount money.Amount
		n      int
	}
	wants := []want{{txCode, 5, 10_000_000, 1}, {txUsage, 5, -9_000, 2}, {txPayment, 5, 50_000_000, 1}, {txUsage, 5, -3_000, 1},
		{txUsage, 4, -3_000, 2}, {txGrant, 3, 0, 1}}
	if len(g.rows) != len(wants) {
		t.Fatalf("%d rows, want %d: %+v", len(g.rows), len(wants), g.rows)
	}
	for i, w := range wants {
		r := g.rows[i]
		if r.Kind != w.kind || r.Day.Day() != w.day || r.Amount != w.amount || r.Transfers != w.n {
			t.Errorf("row %d: %s %v %s ×%d, want %+v", i, r.Kind, r.Day, r.Amount, r.Transfers, w)
		}
		if i+1 < len(g.rows) && r.BalanceAfter != g.rows[i+1].BalanceAfter+r.Amount {
			t.Errorf("row %d: balance %s is not the row below's %s plus %s", i, r.BalanceAfter, g.rows[i+1].BalanceAfter, r.Amount)
		}
	}
	if g.rows[0].BalanceAfter != balance {
		t.Errorf("newest balance %s, want %s", g.rows[0].BalanceAfter, balance)
	}
	// Labels and notes say what each row is.
	g.rows[1].Requests = 1234
	for r, want := range map[*txRow][2]string{
		&g.rows[0]: {"Redemption code", "Redemption code …WXYZ"},
		&g.rows[1]: {"Usage: 1,234 requests, 5 Dec", "Charged in 2 ledger transfers, #6 to #7"},
		&g.rows[2]: {"Top-up by bank transfer", "Bank transfer REF-7"},
		&g.rows[5]: {"Credit granted", "Welcome credit"},
	} {
		if l, n := txLabel(*r); l != want[0] || n != want[1] {
			t.Errorf("label %q, note %q; want %q", l, n, want)
		}
	}
	// 5 Dec has two usage rows, split by the top-up: each says it is part of the day.
	g.rows[3].Requests, g.rows[3].Split = 1234, true
	if l, _ := txLabel(g.rows[3]); l != "Usage: part of 5 Dec (1,234 requests that day)" {
		t.Errorf("a split day's row: %q", l)
	}
	if got := g.rows[1].Shown(loc); got != "Sat 5 Dec" {
		t.Errorf("a day of usage shows %q", got)
	}
}

// txEnv is a workspace in New York with a grant, top-ups, a code and usage committed
// in several batches over three local days, one of them late in the evening (the next
// day in UTC).
func txEnv(t *testing.T, e *env) (fixture, *client) {
	f := e.seedFixture()
	ctx := context.Background()
	for _, c := range []struct {
		key, note string
		amount    money.Amount
	}{{"bank-1", "Bank transfer REF-1", 20 * money.Scale}, {"code-1", "Redemption code …ABCD", 5 * money.Scale}} {
		if _, _, err := e.ledger.Credit(ctx, f.ws, c.amount, c.key, c.note); err != nil {
			t.Fatal(err)
		}
	}
	loc, _ := time.LoadLocation("America/New_York")
	k := f.keys["member-key"]
	for i, ts := range []time.Time{time.Date(2025, 6, 15, 9, 0, 0, 0, loc), time.Date(2025, 6, 15, 10, 0, 0, 0, loc),
		time.Date(2025, 6, 15, 11, 0, 0, 0, loc)} {
		e.clock.Set(ts.Add(time.Second))
		ev := metering.Event{ID: "tx-" + itoa64(int64(i)), WorkspaceID: f.ws, KeyID: k.ID, Member: k.MemberID, Project: k.Project,
			Model: "gpt-test", Timestamp: ts, Usage: pricing.Usage{Input: 1000, Output: 100}}
		if res, err := e.metering.Ingest(ctx, []metering.Event{ev}); err != nil || res.Accepted != 1 {
			t.Fatalf("ingest: %+v %v", res, err)
		}
	}
	e.clock.Set(testNow)
	return f, e.signedIn("billing@acme.test")
}

func TestTransactionsPage(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f, c := txEnv(t, e)
		st, body := c.get("/w/" + f.ws + "/billing")
		if st != http.StatusOK {
			t.Fatalf("billing: %d %s", st, body)
		}
		for _, want := range []string{"Top-up by bank transfer", "Redemption code …ABCD", "Credit granted", "Welcome credit",
			"Charged in 3 ledger transfers", "Usage: "} {
			if !strings.Contains(body, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		// The three commits of 15 June are one row, dated by New York's day.
		if n := strings.Count(body, `data-kind="usage"`); n != 2 {
			t.Errorf("%d usage rows, want 2 (the fixture's ingest and the three commits of the same day)", n)
		}

		st, body = c.get("/w/" + f.ws + "/billing?kind=code")
		if st != http.StatusOK || !strings.Contains(body, "Redemption code …ABCD") || strings.Contains(body, "Bank transfer REF-1") ||
			strings.Contains(body, `data-kind="usage"`) {
			t.Errorf("kind=code: %d, shows other kinds or not the code", st)
		}
		if !strings.Contains(body, `href="/w/`+f.ws+`/billing/transactions.csv?kind=code"`) {
			t.Error("the CSV link does not carry the filter")
		}
		st, body = c.get("/w/" + f.ws + "/billing?kind=bogus")
		if st != http.StatusBadRequest || !strings.Contains(body, "must be one of usage, payment, code, grant, refund or expiry") {
			t.Errorf("kind=bogus: %d, want 400 with the reason", st)
		}
		st, _ = c.get("/w/" + f.ws + "/billing/transactions.csv?kind=bogus")
		if st != http.StatusBadRequest {
			t.Errorf("CSV kind=bogus: %d, want 400", st)
		}
	})
}

// The CSV has the page's rows with exact amounts; its amounts add up to the balance.
func TestTransactionsCSV(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f, c := txEnv(t, e)
		st, body := c.get("/w/" + f.ws + "/billing/transactions.csv")
		if st != http.StatusOK {
			t.Fatalf("csv: %d %s", st, body)
		}
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(recs[0], ","); got != "time,day,kind,description,note,amount,balance_after,currency,requests,transfers,first_transfer_id,last_transfer_id" {
			t.Fatalf("header %s", got)
		}
		var sum money.Amount
		kinds := map[string]int{}
		for i, r := range recs[1:] {
			a, err := money.Parse(r[5])
			if err != nil {
				t.Fatalf("row %d amount %q: %v", i, r[5], err)
			}
			sum += a
			kinds[r[2]]++
			if i+2 < len(recs) {
				after, _ := money.Parse(r[6])
				below, _ := money.Parse(recs[i+2][6])
				if after != below+a {
					t.Errorf("row %d: balance %s is not %s + %s", i, after, below, a)
				}
			}
			if _, err := time.Parse(time.RFC3339, r[0]); err != nil || !strings.HasSuffix(r[0], "-04:00") {
				t.Errorf("row %d time %q is not in the workspace's zone", i, r[0])
			}
		}
		b, err := e.ledger.Balance(context.Background(), f.ws)
		if err != nil {
			t.Fatal(err)
		}
		if sum != b.Balance {
			t.Errorf("the CSV's amounts add to %s; the balance is %s", sum, b.Balance)
		}
		if kinds[txUsage] != 2 || kinds[txPayment] != 1 || kinds[txCode] != 1 || kinds[txGrant] != 1 {
			t.Errorf("kinds %v", kinds)
		}
		_, body = c.get("/w/" + f.ws + "/billing/transactions.csv?kind=usage")
		recs, _ = csv.NewReader(strings.NewReader(body)).ReadAll()
		if len(recs) != 3 || recs[1][2] != txUsage || recs[1][1] != "2025-06-15" || recs[1][8] == "" || recs[1][9] != "3" {
			t.Errorf("usage CSV: %v", recs)
		}
		// Every role that sees billing may export it; another workspace's owner may not.
		if st, _ := e.signedIn(string(team.RoleViewer) + "@acme.test").get("/w/" + f.ws + "/billing/transactions.csv"); st != http.StatusOK {
			t.Errorf("a viewer exports transactions: %d", st)
		}
		out := e.client()
		out.login("owner@globex.test", testPassword)
		if st, body := out.get("/w/" + f.ws + "/billing/transactions.csv"); st != http.StatusNotFound || strings.Contains(body, "REF-1") {
			t.Errorf("another workspace's owner exports transactions: %d", st)
		}
	})
}

// Pages split the list between rows, never inside one, and the next page carries the
// filter: every grant appears once over the pages.
func TestTransactionsPaging(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f, c := txEnv(t, e)
	for i := range txChunk + 10 { // more than one read of the ledger
		if _, _, err := e.ledger.Grant(context.Background(), f.ws, money.Scale, "g-"+itoa64(int64(i)), "Grant "+itoa64(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	next := "/w/" + f.ws + "/billing?kind=grant"
	pages := 0
	for next != "" && pages < 20 {
		st, body := c.get(next)
		if st != http.StatusOK {
			t.Fatalf("%s: %d", next, st)
		}
		pages++
		for _, m := range regexp.MustCompile(`<td class="note">(Grant \d+|Welcome credit)</td>`).FindAllStringSubmatch(body, -1) {
			seen[m[1]]++
		}
		if strings.Contains(body, `data-kind="usage"`) {
			t.Error("a usage row on the grants' pages")
		}
		next = ""
		if m := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(body); m != nil {
			next = html.UnescapeString(m[1])
			if !strings.Contains(next, "kind=grant") {
				t.Errorf("the next page %s drops the filter", next)
			}
		}
	}
	if pages != (txChunk+11+billingPageSize-1)/billingPageSize || len(seen) != txChunk+11 {
		t.Errorf("%d pages, %d distinct grants, want %d", pages, len(seen), txChunk+11)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s shown %d times", k, n)
		}
	}
}

// A day of live gateway traffic, a commit per request, is one row even when it spans
// several reads of the ledger.
func TestTransactionsGroupManyCommits(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	k := f.keys["member-key"]
	loc, _ := time.LoadLocation("America/New_York")
	start := time.Date(2025, 6, 14, 8, 0, 0, 0, loc)
	n := txChunk + 20
	for i := range n {
		ts := start.Add(time.Duration(i) * time.Minute)
		e.clock.Set(ts.Add(time.Second))
		ev := metering.Event{ID: "live-" + itoa64(int64(i)), WorkspaceID: f.ws, KeyID: k.ID, Member: k.MemberID, Model: "gpt-test",
			Timestamp: ts, Usage: pricing.Usage{Input: 100, Output: 10}}
		if res, err := e.metering.Ingest(context.Background(), []metering.Event{ev}); err != nil || res.Accepted != 1 {
			t.Fatalf("ingest: %+v %v", res, err)
		}
	}
	e.clock.Set(testNow)
	st, body := e.signedIn("viewer@acme.test").get("/w/" + f.ws + "/billing?kind=usage")
	if st != http.StatusOK {
		t.Fatalf("%d", st)
	}
	want := "Charged in " + formatInt(int64(n)) + " ledger transfers"
	if !strings.Contains(body, want) {
		t.Errorf("no row says %q", want)
	}
}

// A day with more commits than a page may read is cut at the scan limit: the row on
// each side of the cut says it is part of the day, and the parts add up to the day.
func TestTransactionsScanLimitSplitsADay(t *testing.T) {
	defer func(n int) { txScanLimit = n }(txScanLimit)
	txScanLimit = 100
	e := newEnv(t, storetest.SQLite)
	f := e.seedFixture()
	k := f.keys["member-key"]
	loc, _ := time.LoadLocation("America/New_York")
	start := time.Date(2025, 6, 14, 8, 0, 0, 0, loc)
	var want money.Amount
	for i := range 150 {
		ts := start.Add(time.Duration(i) * time.Minute)
		e.clock.Set(ts.Add(time.Second))
		ev := metering.Event{ID: "cut-" + itoa64(int64(i)), WorkspaceID: f.ws, KeyID: k.ID, Member: k.MemberID, Model: "gpt-test",
			Timestamp: ts, Usage: pricing.Usage{Input: 100, Output: 10}}
		res, err := e.metering.Ingest(context.Background(), []metering.Event{ev})
		if err != nil || res.Accepted != 1 {
			t.Fatalf("ingest: %+v %v", res, err)
		}
		want -= res.Events[0].Cost
	}
	e.clock.Set(testNow)
	rq := &request{s: e.srv, Workspace: team.Workspace{ID: f.ws}, Loc: loc}
	first, next, err := e.srv.transactions(context.Background(), rq, txUsage, 0, billingPageSize)
	if err != nil || next == 0 || len(first) == 0 {
		t.Fatalf("first page: %d rows, next %d, %v", len(first), next, err)
	}
	second, _, err := e.srv.transactions(context.Background(), rq, txUsage, next, billingPageSize)
	if err != nil || len(second) == 0 {
		t.Fatalf("second page: %d rows, %v", len(second), err)
	}
	a, b := first[len(first)-1], second[0]
	if !a.Split || !b.Split || !a.Day.Equal(b.Day) || !strings.HasPrefix(a.Label, "Usage: part of 14 Jun") {
		t.Errorf("the cut day's rows: %q (split %v) and %q (split %v)", a.Label, a.Split, b.Label, b.Split)
	}
	if got := a.Amount + b.Amount; got != want {
		t.Errorf("the parts add to %s, the day's commits to %s", got, want)
	}
	if a.Transfers+b.Transfers != 150 {
		t.Errorf("the parts hold %d + %d transfers, want 150", a.Transfers, b.Transfers)
	}
}
