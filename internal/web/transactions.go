package web

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
)

// The Billing page's transactions are a view of the ledger, never a second copy of it:
// every row is one ledger entry of the wallet, or a run of consecutive usage entries of
// one day in the workspace's time zone gathered into one row (live gateway traffic posts
// a usage transfer per commit, hundreds a day). A row's amount is the sum of its
// entries and its balance is the balance after its newest entry, so each row's balance
// is the row below's plus its amount, as in the ledger.

// Transaction kinds, as the page and its CSV name them. A top-up by a redemption code
// is a payment in the ledger; it is told apart by the note billing gives it.
const (
	txUsage   = "usage"
	txPayment = "payment"
	txCode    = "code"
	txGrant   = "grant"
	txRefund  = "refund"
	txExpiry  = "expiry" // a credit lot's remaining, taken out at its expiry
)

// txKinds are the kind filter's choices, in the order the page offers them.
var txKinds = []option{{Value: "", Label: "All transactions"}, {Value: txUsage, Label: "Usage"}, {Value: txPayment, Label: "Top-ups"},
	{Value: txCode, Label: "Redemption codes"}, {Value: txGrant, Label: "Credit granted"}, {Value: txRefund, Label: "Refunds"}, {Value: txExpiry, Label: "Expired credit"}}

// errTxKind rejects an unknown kind filter.
var errTxKind = errs.E(errs.Invalid, "invalid_kind", "kind must be one of usage, payment, code, grant, refund or expiry (or empty for all)")

// parseTxKind reads the kind filter ("" for every kind).
func parseTxKind(q url.Values) (string, error) {
	k := q.Get("kind")
	for _, o := range txKinds {
		if o.Value == k {
			return k, nil
		}
	}
	return "", errTxKind
}

// txKindOf says which kind of transaction an entry is.
func txKindOf(e ledger.Entry) string {
	switch e.Kind {
	case ledger.KindUsage:
		return txUsage
	case ledger.KindGrant:
		return txGrant
	case ledger.KindRefund:
		return txRefund
	case ledger.KindPayment:
		if strings.HasPrefix(e.Note, "Redemption code") {
			return txCode
		}
		return txPayment
	}
	return string(e.Kind)
}

// kindLabels say what each kind of transfer means to a person (the Overview's recent
// activity).
var kindLabels = map[ledger.Kind]string{
	ledger.KindGrant:   "Credit granted",
	ledger.KindPayment: "Top-up",
	ledger.KindUsage:   "Usage",
	ledger.KindRefund:  "Refund",
	ledger.KindExpiry:  "Credit expired",
}

// paymentLabels name a top-up by the way it was paid, from the note billing writes.
var paymentLabels = []struct{ prefix, label string }{
	{"Stripe Checkout", "Top-up by card"},
	{"Auto-recharge", "Auto-recharge by card"},
	{"Bank transfer", "Top-up by bank transfer"},
}

// txRow is one row of the transactions list (and of its CSV).
type txRow struct {
	Kind         string
	Label        string    // what the row is: "Usage: 1,234 requests, 5 Dec", "Top-up by card"
	Note         string    // the ledger's note; for usage, which transfers it gathers
	Time         time.Time // the newest entry's time
	Day          time.Time // usage: local midnight of the day gathered
	Amount       money.Amount
	BalanceAfter money.Amount
	Transfers    int   // ledger transfers in the row
	Requests     int64 // usage: the day's requests (from the rollups)
	Split        bool  // usage: the row has part of its day (a top-up came between, or a page boundary)
	FirstID      int64 // the oldest transfer's id
	LastID       int64 // the newest transfer's id
	cursor       int64 // the oldest entry's cursor: the next page starts before it
}

// Shown is the row's time as the list shows it: the day for a day of usage, the date
// and time otherwise.
func (t txRow) Shown(loc *time.Location) string {
	if t.Kind == txUsage {
		return t.Day.Format(layoutDay)
	}
	return t.Time.In(loc).Format(layoutDateTime)
}

// txGrouper gathers entries, newest first, into rows.
type txGrouper struct {
	loc  *time.Location
	rows []txRow
}

// add takes the next (older) entry: it joins the last row when both are usage of the
// same local day, and starts a row otherwise. It reports whether it started one.
func (g *txGrouper) add(e ledger.Entry) bool {
	kind := txKindOf(e)
	local := e.CreatedAt.In(g.loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, g.loc)
	if n := len(g.rows); n > 0 && kind == txUsage && g.rows[n-1].Kind == txUsage && g.rows[n-1].Day.Equal(day) {
		r := &g.rows[n-1]
		r.Amount += e.Amount
		r.Transfers++
		r.FirstID, r.cursor = e.TransferID, e.Cursor
		return false
	}
	g.rows = append(g.rows, txRow{Kind: kind, Note: e.Note, Time: e.CreatedAt, Day: day, Amount: e.Amount, BalanceAfter: e.BalanceAfter,
		Transfers: 1, FirstID: e.TransferID, LastID: e.TransferID, cursor: e.Cursor})
	return true
}

// txScanLimit bounds the ledger entries one page reads; a page that reaches it ends
// there (a day's usage may then continue on the next page). A variable for tests.
var txScanLimit = 20_000

// txChunk is how many entries one read of the ledger takes (the most Entries gives).
const txChunk = 500

// transactions reads the ledger before cursor (0: from the newest) and returns up to
// limit rows of the given kind ("" for all), newest first, with the cursor of the next
// page (0 when there is none). limit <= 0 reads everything (the CSV).
func (s *Server) transactions(ctx context.Context, rq *request, kind string, before int64, limit int) ([]txRow, int64, error) {
	g := txGrouper{loc: rq.Loc}
	// A page that starts inside a day of usage (the previous page stopped at its scan
	// limit) says that its first row is a part of the day.
	var joinDay time.Time
	if before > 0 {
		prev, err := s.ledger.Entries(ctx, rq.Workspace.ID, before+1, 1)
		if err != nil {
			return nil, 0, err
		}
		if len(prev) == 1 && prev[0].Cursor == before && prev[0].Kind == ledger.KindUsage {
			jg := txGrouper{loc: rq.Loc}
			jg.add(prev[0])
			joinDay = jg.rows[0].Day
		}
	}
	scanned := 0
	var next int64
	var out []txRow
	// flush moves the finished rows (all but the last, which may still grow) to out.
	flush := func(all bool) {
		done := len(g.rows)
		if !all {
			done--
		}
		for _, r := range g.rows[:max(done, 0)] {
			if kind == "" || r.Kind == kind {
				out = append(out, r)
			}
		}
		g.rows = g.rows[max(done, 0):]
	}
read:
	for {
		entries, err := s.ledger.Entries(ctx, rq.Workspace.ID, before, txChunk)
		if err != nil {
			return nil, 0, err
		}
		if len(entries) == 0 {
			flush(true)
			break
		}
		for _, e := range entries {
			started := g.add(e)
			if scanned == 0 && g.rows[0].Kind == txUsage && g.rows[0].Day.Equal(joinDay) {
				g.rows[0].Split = true
			}
			if started {
				flush(false)
				if limit > 0 && len(out) >= limit {
					// The row just started is the first of the next page.
					return s.withRequests(ctx, rq, out[:limit], out[limit-1].cursor)
				}
			}
			before = e.Cursor
			scanned++
			if limit > 0 && scanned >= txScanLimit {
				if n := len(g.rows); n > 0 && g.rows[n-1].Kind == txUsage {
					g.rows[n-1].Split = true // its day goes on on the next page
				}
				flush(true)
				next = before
				break read
			}
		}
	}
	if limit > 0 && len(out) > limit {
		next, out = out[limit-1].cursor, out[:limit]
	}
	return s.withRequests(ctx, rq, out, next)
}

// withRequests labels the rows, counting each usage day's requests in the rollups.
func (s *Server) withRequests(ctx context.Context, rq *request, rows []txRow, next int64) ([]txRow, int64, error) {
	var first, last time.Time
	for _, r := range rows {
		if r.Kind != txUsage {
			continue
		}
		if first.IsZero() || r.Day.Before(first) {
			first = r.Day
		}
		if r.Day.After(last) {
			last = r.Day
		}
	}
	var perDay map[time.Time]int64
	if !first.IsZero() {
		var err error
		if perDay, err = rq.dailyRequests(ctx, first, last.AddDate(0, 0, 1)); err != nil {
			return nil, 0, err
		}
	}
	rowsOfDay := map[time.Time]int{}
	for _, r := range rows {
		if r.Kind == txUsage {
			rowsOfDay[r.Day]++
		}
	}
	for i := range rows {
		r := &rows[i]
		if r.Kind == txUsage {
			r.Requests = perDay[r.Day]
			r.Split = r.Split || rowsOfDay[r.Day] > 1
		}
		r.Label, r.Note = txLabel(*r)
	}
	return rows, next, nil
}

// txLabel says what a row is, and its note.
func txLabel(r txRow) (label, note string) {
	switch r.Kind {
	case txUsage:
		requests := formatInt(r.Requests) + " requests"
		if r.Requests == 1 {
			requests = "1 request"
		}
		label = "Usage: " + requests + ", " + r.Day.Format("2 Jan")
		if r.Split {
			// The count is the day's; the row has only part of its charges.
			label = "Usage: part of " + r.Day.Format("2 Jan") + " (" + requests + " that day)"
		}
		if r.Transfers == 1 {
			return label, "Charged in ledger transfer #" + itoa64(r.LastID)
		}
		return label, "Charged in " + formatInt(int64(r.Transfers)) + " ledger transfers, #" + itoa64(r.FirstID) + " to #" + itoa64(r.LastID)
	case txCode:
		return "Redemption code", r.Note
	case txGrant:
		return "Credit granted", r.Note
	case txRefund:
		return "Refund", r.Note
	case txExpiry:
		return "Credit expired", r.Note
	case txPayment:
		for _, p := range paymentLabels {
			if strings.HasPrefix(r.Note, p.prefix) {
				return p.label, r.Note
			}
		}
		return "Top-up", r.Note
	}
	return r.Kind, r.Note
}

// dailyRequests counts the requests of each local day in [start, end), both local
// midnights, from the daily rollups (in spans that stay under the bucket limit).
func (rq *request) dailyRequests(ctx context.Context, start, end time.Time) (map[time.Time]int64, error) {
	out := map[time.Time]int64{}
	for from := start; from.Before(end); {
		to := from.AddDate(0, 0, metering.MaxBuckets-10)
		if to.After(end) {
			to = end
		}
		bs, err := rq.usage(ctx, from, to, 24*time.Hour, nil, metering.Filter{})
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			l := b.Start.In(rq.Loc)
			out[time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, rq.Loc)] += sumBuckets([]metering.Bucket{b}).Requests
		}
		from = to
	}
	return out, nil
}

// txQuery is the query string of the transactions list for a kind ("" for all).
func txQuery(kind string) string {
	if kind == "" {
		return ""
	}
	return "?" + url.Values{"kind": {kind}}.Encode()
}

// transactionsCSV exports the transactions list with the same kind filter, every row
// of the ledger, newest first: the same rows the page shows, with exact amounts.
func (s *Server) transactionsCSV(w http.ResponseWriter, r *http.Request, rq *request) error {
	kind, err := parseTxKind(r.URL.Query())
	if err != nil {
		return err
	}
	rows, _, err := s.transactions(r.Context(), rq, kind, 0, 0)
	if err != nil {
		return err
	}
	name := "spectra-transactions-" + rq.Workspace.ID
	if kind != "" {
		name += "-" + kind
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	h.Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write([]string{"time", "day", "kind", "description", "note", "amount", "balance_after", "currency", "requests", "transfers", "first_transfer_id", "last_transfer_id"})
	for _, t := range rows {
		day, requests := "", ""
		if t.Kind == txUsage {
			day, requests = t.Day.Format(time.DateOnly), itoa64(t.Requests)
		}
		cw.Write([]string{t.Time.In(rq.Loc).Format(time.RFC3339), day, t.Kind, csvSafe(t.Label), csvSafe(t.Note), t.Amount.String(), t.BalanceAfter.String(),
			s.currency, requests, strconv.Itoa(t.Transfers), itoa64(t.FirstID), itoa64(t.LastID)})
	}
	cw.Flush()
	return cw.Error()
}
