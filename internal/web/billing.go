package web

import (
	"net/http"
	"strconv"

	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/metering"
)

// billingPageSize is how many ledger entries one page of the billing page shows.
const billingPageSize = 50

// entryRow is one ledger entry as the billing page shows it.
type entryRow struct {
	ledger.Entry
	Time  string
	Label string
}

// billingData is what the billing page shows.
type billingData struct {
	pageBase
	Entries  []entryRow
	NextURL  string
	FirstURL string
	Paged    bool
	Month    metering.Totals
	GrantAPI string
	Bill     *billingPanel // nil when the deployment has no billing service
}

// kindLabels say what each kind of transfer means to a person.
var kindLabels = map[ledger.Kind]string{
	ledger.KindGrant:   "Credit granted",
	ledger.KindPayment: "Top-up",
	ledger.KindUsage:   "Usage",
	ledger.KindRefund:  "Refund",
}

// billing shows the balance, the ledger's transactions with the balance after each, and
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
	entries, err := s.ledger.Entries(r.Context(), rq.Workspace.ID, before, billingPageSize+1)
	if err != nil {
		return billingData{}, err
	}
	d := billingData{pageBase: rq.base("Billing", "billing"), Paged: before > 0, FirstURL: rq.URL("billing")}
	if len(entries) > billingPageSize {
		entries = entries[:billingPageSize]
		d.NextURL = rq.URL("billing") + "?before=" + strconv.FormatInt(entries[len(entries)-1].Cursor, 10)
	}
	for _, e := range entries {
		label := kindLabels[e.Kind]
		if label == "" {
			label = string(e.Kind)
		}
		d.Entries = append(d.Entries, entryRow{Entry: e, Time: e.CreatedAt.In(rq.Loc).Format(layoutDateTime), Label: label})
	}
	month := monthStart(rq.Now, rq.Loc)
	if d.Month, err = rq.totalsBetween(r.Context(), month, ceilHour(rq.Now), metering.Filter{}); err != nil {
		return billingData{}, err
	}
	d.GrantAPI = "/api/v1/workspaces/" + rq.Workspace.ID + "/grants"
	if s.bill != nil {
		if d.Bill, err = s.loadBillingPanel(r, rq); err != nil {
			return billingData{}, err
		}
	}
	return d, nil
}
