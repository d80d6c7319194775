package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"spectra/internal/billing"
	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/team"
)

// stripeCheckoutOrigin is where Stripe Checkout pages live; the Recharge form's answer
// redirects there, so the pages' CSP lets forms go there.
const stripeCheckoutOrigin = "https://checkout.stripe.com"

// flash is the outcome of a billing form (or of the return from Checkout), shown next
// to the form.
type flash struct {
	OK     bool
	Text   string
	Status int // the HTTP status of a rejection
}

// amountOption is one preset amount of the Recharge form.
type amountOption struct {
	Value, Label string
	Checked      bool
}

// autoForm is the auto-recharge form's values, as decimals.
type autoForm struct {
	Enabled                       bool
	Threshold, Amount, MonthlyCap string
}

// noticeRow is one notice as the billing page shows it.
type noticeRow struct {
	billing.Notice
	Time string
}

// billingPanel is what the billing page shows when billing is configured.
type billingPanel struct {
	Options      billing.RechargeOptions
	Presets      []amountOption
	Min, Max     string // the recharge bounds, as decimals
	Step         string // the currency's minor unit, for the custom amount field
	CustomAmount string
	CustomPicked bool
	CanManage    bool
	Auto         billing.AutoRecharge
	AutoForm     autoForm
	PausedUntil  string
	Details      billing.Party
	Notices      []noticeRow

	// Outcomes of the forms, each shown in its own section.
	Recharge, Redeem, AutoMsg, DetailsMsg *flash
}

// decimal writes a as a plain decimal with the currency's usual decimals (more only
// when the micro-units need them): 50_000_000 → "50.00".
func decimal(a money.Amount, currency string) string {
	s := money.FormatExact(a, currency)
	s = strings.TrimPrefix(s, strings.ToUpper(currency)+" ")
	return strings.ReplaceAll(s, ",", "")
}

// loadBillingPanel reads the workspace's billing settings, details and notices.
func (s *Server) loadBillingPanel(r *http.Request, rq *request) (*billingPanel, error) {
	ctx := r.Context()
	o := s.bill.Options()
	cur := o.Currency
	p := &billingPanel{Options: o, Min: decimal(o.MinRecharge, cur), Max: decimal(o.MaxRecharge, cur),
		Step: "1", CanManage: rq.Can(team.ActManageBilling)}
	if o.MinorDigits > 0 {
		p.Step = "0." + strings.Repeat("0", o.MinorDigits-1) + "1"
	}
	for i, a := range o.Presets {
		p.Presets = append(p.Presets, amountOption{Value: decimal(a, cur), Label: money.Format(a, cur), Checked: i == len(o.Presets)/2})
	}
	var err error
	if p.Auto, err = s.bill.AutoRecharge(ctx, rq.Workspace.ID); err != nil {
		return nil, err
	}
	p.AutoForm = autoForm{Enabled: p.Auto.Enabled}
	if p.Auto.Threshold != 0 || p.Auto.Amount != 0 || p.Auto.MonthlyCap != 0 {
		p.AutoForm.Threshold, p.AutoForm.Amount, p.AutoForm.MonthlyCap = decimal(p.Auto.Threshold, cur), decimal(p.Auto.Amount, cur), decimal(p.Auto.MonthlyCap, cur)
	}
	if p.Auto.PausedUntil != nil {
		p.PausedUntil = rq.Date(*p.Auto.PausedUntil)
	}
	if p.Details, err = s.bill.BillingDetails(ctx, rq.Workspace.ID); err != nil {
		return nil, err
	}
	notices, err := s.bill.Notices(ctx, rq.Workspace.ID)
	if err != nil {
		return nil, err
	}
	for _, n := range notices {
		p.Notices = append(p.Notices, noticeRow{Notice: n, Time: n.CreatedAt.In(rq.Loc).Format(layoutDateTime)})
	}
	return p, nil
}

// reloadBar reads the top bar again, after a credit changed the balance.
func (rq *request) reloadBar(ctx context.Context) {
	<-rq.barDone
	rq.bar, rq.barErr = rq.s.topBar(ctx, rq)
}

// rejection turns a domain error into a flash with its status; an internal error is
// returned as is, for the error page.
func (s *Server) rejection(w http.ResponseWriter, err error) (*flash, error) {
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind == errs.Internal {
		return nil, err
	}
	st := statusOf(err)
	if st == http.StatusTooManyRequests {
		retryAfter(w, s.rateLimitWait(err))
	}
	return &flash{Text: userMessage(err), Status: st}, nil
}

// renderBilling renders the billing page with one form's outcome set by set.
func (s *Server) renderBilling(w http.ResponseWriter, r *http.Request, rq *request, status int, set func(*billingPanel)) error {
	if s.bill == nil {
		return errBillingOff
	}
	d, err := s.billingPage(r, rq)
	if err != nil {
		return err
	}
	set(d.Bill)
	return s.render(w, r, status, "billing", d)
}

// errBillingOff answers a billing form on a deployment without billing.
var errBillingOff = errs.E(errs.Unavailable, "billing_not_configured", "billing is not set up on this deployment")

// confirmCheckout handles the return from Stripe Checkout: it confirms the session
// (crediting it when paid, once, whatever the webhook does) and says what happened.
func (s *Server) confirmCheckout(r *http.Request, rq *request) *flash {
	res, err := s.bill.ConfirmCheckout(r.Context(), rq.Workspace.ID, r.URL.Query().Get("session_id"))
	if err != nil {
		if statusOf(err) == http.StatusInternalServerError {
			s.log.Error("dashboard: confirm Checkout", "workspace", rq.Workspace.ID, "err", err)
		}
		return &flash{Text: userMessage(err), Status: statusOf(err)}
	}
	switch {
	case res.Credited && res.Payment != nil:
		rq.reloadBar(r.Context())
		bar, _ := rq.Bar()
		return &flash{OK: true, Text: "Payment received: " + money.Format(res.Payment.Amount, s.currency) + " added (receipt " +
			res.Payment.ReceiptNumber + "). Your available balance is now " + money.Format(bar.Available, s.currency) + "."}
	case res.Paid:
		return &flash{Text: "Your payment was received but could not be credited automatically; the operator has been told. Nothing more is needed from you."}
	}
	return &flash{OK: true, Text: "Your payment is still being processed. The balance goes up as soon as Stripe confirms it."}
}

// parseAmountField parses a decimal amount from a form; empty is zero.
func parseAmountField(v, code, what string) (money.Amount, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	a, err := money.Parse(v)
	if err != nil {
		return 0, errs.E(errs.Invalid, code, "%s must be an amount such as 50.00", what)
	}
	return a, nil
}

// checkout starts a Stripe Checkout top-up of the amount picked (a preset, or the
// custom amount) and sends the browser to Stripe.
func (s *Server) checkout(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.bill == nil {
		return errBillingOff
	}
	pick, custom := r.PostFormValue("amount"), strings.TrimSpace(r.PostFormValue("custom_amount"))
	raw := pick
	if pick == "custom" || pick == "" {
		raw = custom
	}
	amount, err := parseAmountField(raw, "invalid_amount", "the amount")
	if err == nil && amount == 0 {
		err = errs.E(errs.Invalid, "invalid_amount", "pick an amount or enter one")
	}
	var sess billing.CheckoutSession
	if err == nil {
		sess, err = s.bill.Checkout(r.Context(), rq.Workspace.ID, amount)
	}
	if err != nil {
		f, ferr := s.rejection(w, err)
		if ferr != nil {
			return ferr
		}
		return s.renderBilling(w, r, rq, f.Status, func(p *billingPanel) {
			p.Recharge, p.CustomAmount, p.CustomPicked = f, custom, pick == "custom" || pick == ""
			if !p.CustomPicked {
				for i := range p.Presets {
					p.Presets[i].Checked = p.Presets[i].Value == pick
				}
			}
		})
	}
	s.log.Info("checkout started in dashboard", "workspace", rq.Workspace.ID, "session", sess.ID, "by", rq.V.User.ID)
	http.Redirect(w, r, sess.URL, http.StatusSeeOther)
	return nil
}

// redeem credits a redemption code to the workspace.
func (s *Server) redeem(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.bill == nil {
		return errBillingOff
	}
	p, err := s.bill.Redeem(r.Context(), rq.Workspace.ID, r.PostFormValue("code"), clientIP(r))
	if err != nil {
		f, ferr := s.rejection(w, err)
		if ferr != nil {
			return ferr
		}
		return s.renderBilling(w, r, rq, f.Status, func(b *billingPanel) { b.Redeem = f })
	}
	s.log.Info("code redeemed in dashboard", "workspace", rq.Workspace.ID, "receipt", p.ReceiptNumber, "by", rq.V.User.ID)
	rq.reloadBar(r.Context())
	return s.renderBilling(w, r, rq, http.StatusOK, func(b *billingPanel) {
		b.Redeem = &flash{OK: true, Text: "Code redeemed: " + money.Format(p.Amount, s.currency) + " added (receipt " + p.ReceiptNumber + ")."}
	})
}

// setAutoRecharge saves the auto-recharge settings.
func (s *Server) setAutoRecharge(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.bill == nil {
		return errBillingOff
	}
	form := autoForm{Enabled: r.PostFormValue("enabled") != "", Threshold: strings.TrimSpace(r.PostFormValue("threshold")),
		Amount: strings.TrimSpace(r.PostFormValue("amount")), MonthlyCap: strings.TrimSpace(r.PostFormValue("monthly_cap"))}
	set := billing.AutoRechargeSettings{Enabled: form.Enabled}
	var err error
	for _, f := range []struct {
		v          string
		dst        *money.Amount
		code, what string
	}{{form.Threshold, &set.Threshold, "invalid_threshold", "the threshold"}, {form.Amount, &set.Amount, "invalid_amount", "the amount"},
		{form.MonthlyCap, &set.MonthlyCap, "invalid_monthly_cap", "the monthly cap"}} {
		if err == nil {
			*f.dst, err = parseAmountField(f.v, f.code, f.what)
		}
	}
	if err == nil {
		_, err = s.bill.SetAutoRecharge(r.Context(), rq.Workspace.ID, set)
	}
	if err != nil {
		f, ferr := s.rejection(w, err)
		if ferr != nil {
			return ferr
		}
		return s.renderBilling(w, r, rq, f.Status, func(b *billingPanel) { b.AutoMsg, b.AutoForm = f, form })
	}
	s.log.Info("auto-recharge set in dashboard", "workspace", rq.Workspace.ID, "enabled", set.Enabled, "by", rq.V.User.ID)
	msg := "Auto-recharge is off."
	if set.Enabled {
		msg = "Auto-recharge is on."
	}
	return s.renderBilling(w, r, rq, http.StatusOK, func(b *billingPanel) { b.AutoMsg = &flash{OK: true, Text: "Saved. " + msg} })
}

// setBillingDetails saves the name, address and tax id printed on new documents.
func (s *Server) setBillingDetails(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.bill == nil {
		return errBillingOff
	}
	v := r.PostFormValue
	p := billing.Party{Name: v("name"), Email: v("email"), Line1: v("line1"), Line2: v("line2"), City: v("city"),
		PostalCode: v("postal_code"), Region: v("region"), Country: v("country"), TaxID: v("tax_id")}
	if _, err := s.bill.SetBillingDetails(r.Context(), rq.Workspace.ID, p); err != nil {
		f, ferr := s.rejection(w, err)
		if ferr != nil {
			return ferr
		}
		return s.renderBilling(w, r, rq, f.Status, func(b *billingPanel) { b.DetailsMsg, b.Details = f, p })
	}
	s.log.Info("billing details set in dashboard", "workspace", rq.Workspace.ID, "by", rq.V.User.ID)
	return s.renderBilling(w, r, rq, http.StatusOK, func(b *billingPanel) {
		b.DetailsMsg = &flash{OK: true, Text: "Saved. Documents issued from now on carry these details."}
	})
}

// dismissNotice hides a notice of this workspace.
func (s *Server) dismissNotice(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.bill == nil {
		return errBillingOff
	}
	if err := s.bill.DismissNotice(r.Context(), rq.Workspace.ID, r.PathValue("notice")); err != nil {
		return err
	}
	http.Redirect(w, r, rq.URL("billing"), http.StatusSeeOther)
	return nil
}
