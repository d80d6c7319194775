package web

import (
	"net/http"
	"strconv"

	"spectra/internal/errs"
	"spectra/internal/metering"
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
	Bill     *billingPanel // nil when the deployment has no billing service
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
	if s.bill != nil {
		if d.Bill, err = s.loadBillingPanel(r, rq); err != nil {
			return billingData{}, err
		}
	}
	return d, nil
}
