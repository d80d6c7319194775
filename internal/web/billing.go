package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
)

// billingPageSize is how many ledger entries one page of the billing page shows.
const billingPageSize = 50

// billingData is what the billing page shows.
type billingData struct {
	pageBase
	Entries  []txRow
	NextURL  string
	FirstURL string
	Paged    bool
	Kind     string   // the kind filter ("" for all)
	Kinds    []option // the kind filter's choices
	CSVURL   string   // the same list as CSV
	Month    metering.Totals
	GrantAPI string
	Credit   creditPanel
	Bill     *billingPanel // nil when the deployment has no billing service
}

// creditPanel is the balance by kind of credit, and the credit lots behind it.
type creditPanel struct {
	Paid, Promotional, Expiring money.Amount // unexpired credit left; the part expiring within 30 days
	Lots                        []lotRow     // the open lots in spend order, then the latest closed ones
	Hidden                      int          // closed lots not shown (older than the last shownClosedLots)
	API                         string       // GET …/credits, which lists every lot
}

// lotRow is one credit lot as the Billing page shows it.
type lotRow struct {
	ID                               int64
	Kind                             string // "paid" or "promotional"
	Source                           string // "Grant", "Top-up", "Balance before credit lots"
	Amount, Remaining, Used, Expired money.Amount
	Expires                          string // the expiry in the workspace's time zone, "Never"
	Added                            string
	State                            string // "open", "spent" or "expired"
	Soon                             bool   // open and expiring within 30 days
}

// shownClosedLots is how many spent or expired lots the page lists after the open ones.
const shownClosedLots = 10

// creditPanel reads the wallet's split by kind of credit and its lots.
func (s *Server) creditPanel(ctx context.Context, rq *request) (creditPanel, error) {
	b, err := s.ledger.Balance(ctx, rq.Workspace.ID)
	if err != nil {
		return creditPanel{}, err
	}
	lots, err := s.ledger.Lots(ctx, rq.Workspace.ID)
	if err != nil {
		return creditPanel{}, err
	}
	p := creditPanel{Paid: b.Paid, Promotional: b.Promotional, Expiring: b.ExpiringWithin30Days,
		API: "/api/v1/workspaces/" + rq.Workspace.ID + "/credits"}
	closed := 0
	for _, l := range lots {
		if !l.Open() {
			if closed++; closed > shownClosedLots {
				p.Hidden++
				continue
			}
		}
		p.Lots = append(p.Lots, lotRowOf(l, rq.Now, rq.Loc))
	}
	return p, nil
}

// lotSources name what made a lot.
var lotSources = map[ledger.Kind]string{ledger.KindGrant: "Grant", ledger.KindPayment: "Top-up or code",
	ledger.KindMigrated: "Balance before credit lots"}

func lotRowOf(l ledger.Lot, now time.Time, loc *time.Location) lotRow {
	r := lotRow{ID: l.ID, Kind: string(l.Kind), Source: lotSources[l.Source], Amount: l.Amount, Remaining: l.Remaining,
		Used: l.Used, Expired: l.Expired, Expires: "Never", Added: l.CreatedAt.In(loc).Format(layoutDateTime), State: "open"}
	if r.Source == "" {
		r.Source = string(l.Source)
	}
	if l.ExpiresAt != nil {
		r.Expires = l.ExpiresAt.In(loc).Format(layoutDateTime)
		r.Soon = l.Open() && l.ExpiresAt.Before(now.Add(30*24*time.Hour))
	}
	switch {
	case l.Open():
	case l.Expired > 0:
		r.State = "expired"
	default:
		r.State = "spent"
	}
	return r
}

// billing shows the balance, the ledger's transactions (see transactions.go) with the
// balance after each, filtered by kind, and
// the places where recharge, auto-recharge and invoices live. Coming back from Stripe
// Checkout (?checkout=success&session_id=…) it confirms the payment first, so the page
// shows the new balance; ?checkout=cancelled says nothing was charged.
func (s *Server) billing(w http.ResponseWriter, r *http.Request, rq *request) error {
	var back *flash
	status := http.StatusOK
	if s.bill != nil {
		switch r.URL.Query().Get("checkout") {
		case "success":
			back = s.confirmCheckout(r, rq)
			if !back.OK {
				status = back.Status
			}
		case "cancelled":
			back = &flash{Text: "Checkout was cancelled: nothing was charged. You can start again whenever you like."}
		}
	}
	d, err := s.billingPage(r, rq)
	if err != nil {
		return err
	}
	if d.Bill != nil {
		d.Bill.Recharge = back
	}
	return s.render(w, r, status, "billing", d)
}

// billingPage gathers the billing page's data.
func (s *Server) billingPage(r *http.Request, rq *request) (billingData, error) {
	var before int64
	if c := r.URL.Query().Get("before"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n <= 0 {
			return billingData{}, errs.E(errs.Invalid, "invalid_cursor", "the page cursor is not valid; start from the first page")
		}
		before = n
	}
	kind, err := parseTxKind(r.URL.Query())
	if err != nil {
		return billingData{}, err
	}
	rows, next, err := s.transactions(r.Context(), rq, kind, before, billingPageSize)
	if err != nil {
		return billingData{}, err
	}
	q := txQuery(kind)
	d := billingData{pageBase: rq.base("Billing", "billing"), Paged: before > 0, FirstURL: rq.URL("billing") + q, Entries: rows,
		Kind: kind, CSVURL: rq.URL("billing/transactions.csv") + q}
	for _, o := range txKinds {
		o.Selected = o.Value == kind
		d.Kinds = append(d.Kinds, o)
	}
	if next > 0 {
		sep := "?"
		if q != "" {
			sep = "&"
		}
		d.NextURL = rq.URL("billing") + q + sep + "before=" + strconv.FormatInt(next, 10)
	}
	month := monthStart(rq.Now, rq.Loc)
	if d.Month, err = rq.totalsBetween(r.Context(), month, ceilHour(rq.Now), metering.Filter{}); err != nil {
		return billingData{}, err
	}
	d.GrantAPI = "/api/v1/workspaces/" + rq.Workspace.ID + "/grants"
	if d.Credit, err = s.creditPanel(r.Context(), rq); err != nil {
		return billingData{}, err
	}
	if s.bill != nil {
		if d.Bill, err = s.loadBillingPanel(r, rq); err != nil {
			return billingData{}, err
		}
	}
	return d, nil
}
