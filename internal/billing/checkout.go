package billing

import (
	"context"
	"errors"
	"strings"

	"github.com/stripe/stripe-go/v82"

	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/text"
)

// Metadata keys Spectra puts on Stripe objects.
const (
	metaWorkspace = "workspace_id"
	metaPurpose   = "spectra_purpose"
	metaCharge    = "spectra_charge"

	purposeCheckout     = "checkout"
	purposeAutoRecharge = "auto_recharge"
)

// CheckoutSession is a Stripe Checkout session to send the user to.
type CheckoutSession struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// ErrCheckoutNotFound is returned by ConfirmCheckout for a session of another workspace.
var ErrCheckoutNotFound = errs.E(errs.NotFound, "checkout_not_found", "no such Checkout session for this workspace")

// CheckAmount checks a recharge amount against the configured bounds and the currency's
// minor unit.
func (s *Service) CheckAmount(a money.Amount) error {
	switch {
	case a <= 0:
		return errs.E(errs.Invalid, "invalid_amount", "amount must be greater than zero")
	case a < s.cfg.MinRecharge:
		return errs.E(errs.Invalid, "amount_below_minimum", "the smallest recharge is %s", money.FormatExact(s.cfg.MinRecharge, s.cfg.Currency))
	case a > s.cfg.MaxRecharge:
		return errs.E(errs.Invalid, "amount_above_maximum", "the largest recharge is %s", money.FormatExact(s.cfg.MaxRecharge, s.cfg.Currency))
	}
	_, err := ToMinor(a, s.cfg.Currency)
	return err
}

// Checkout creates a Stripe Checkout session that charges amount to top up a
// workspace, and returns where to send the user. The session carries the workspace id
// (client_reference_id and metadata), is in the deployment's currency, and saves the
// card for later off-session charges (auto-recharge). Errors: ErrStripeNotConfigured,
// amount errors (invalid_amount, amount_below_minimum, amount_above_maximum),
// workspace_not_found, ErrStripeUnavailable.
func (s *Service) Checkout(ctx context.Context, workspaceID string, amount money.Amount) (CheckoutSession, error) {
	if s.stripe == nil {
		return CheckoutSession{}, ErrStripeNotConfigured
	}
	if err := s.CheckAmount(amount); err != nil {
		return CheckoutSession{}, err
	}
	ws, err := s.teams.Workspace(ctx, workspaceID)
	if err != nil {
		return CheckoutSession{}, err
	}
	ar, err := s.store.AutoRecharge(ctx, ws.ID)
	if err != nil {
		return CheckoutSession{}, err
	}
	minor, _ := ToMinor(amount, s.cfg.Currency)
	currency := strings.ToLower(s.cfg.Currency)
	meta := map[string]string{metaWorkspace: ws.ID, metaPurpose: purposeCheckout}
	p := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		ClientReferenceID: stripe.String(ws.ID),
		SuccessURL:        stripe.String(s.returnURL(ws.ID, "checkout=success&session_id={CHECKOUT_SESSION_ID}")),
		CancelURL:         stripe.String(s.returnURL(ws.ID, "checkout=cancelled")),
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:   stripe.String(currency),
				UnitAmount: stripe.Int64(minor),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{
					Name: stripe.String("Prepaid balance for " + ws.Name),
				},
			},
		}},
		Metadata: meta,
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{
			SetupFutureUsage: stripe.String(string(stripe.PaymentIntentSetupFutureUsageOffSession)),
			Metadata:         meta,
		},
		// The credit must arrive in the deployment's currency: no conversion to the
		// buyer's local currency.
		AdaptivePricing: &stripe.CheckoutSessionCreateAdaptivePricingParams{Enabled: stripe.Bool(false)},
	}
	if ar.StripeCustomer != "" {
		p.Customer = stripe.String(ar.StripeCustomer)
	} else {
		p.CustomerCreation = stripe.String(string(stripe.CheckoutSessionCustomerCreationAlways))
	}
	sess, err := s.stripe.createCheckoutSession(ctx, p)
	if err != nil {
		s.log.Error("billing: Stripe refused to create a Checkout session", "workspace_id", ws.ID, "amount", amount.String(), "err", err)
		return CheckoutSession{}, ErrStripeUnavailable
	}
	s.log.Info("billing: Checkout session created", "workspace_id", ws.ID, "session_id", sess.ID, "amount", amount.String(), "currency", s.cfg.Currency)
	return CheckoutSession{ID: sess.ID, URL: sess.URL}, nil
}

// returnURL is the page Checkout sends the user back to, with query added.
func (s *Service) returnURL(workspaceID, query string) string {
	path := strings.ReplaceAll(s.cfg.CheckoutReturnPath, "{workspace_id}", workspaceID)
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return s.cfg.PublicURL + path + sep + query
}

// CheckoutResult is what ConfirmCheckout found.
type CheckoutResult struct {
	SessionID string   `json:"session_id"`
	Paid      bool     `json:"paid"`
	Credited  bool     `json:"credited"` // the wallet holds this payment (now or before)
	Payment   *Payment `json:"payment,omitempty"`
}

// ConfirmCheckout asks Stripe about a Checkout session the user just returned from and
// credits it when it is paid — the same credit as the webhook's, under the same key, so
// whichever comes first posts it and the other changes nothing. The return page can so
// show the new balance without waiting for the webhook. Errors: ErrStripeNotConfigured,
// ErrCheckoutNotFound (another workspace's session), ErrStripeUnavailable.
func (s *Service) ConfirmCheckout(ctx context.Context, workspaceID, sessionID string) (CheckoutResult, error) {
	if s.stripe == nil {
		return CheckoutResult{}, ErrStripeNotConfigured
	}
	if !strings.HasPrefix(sessionID, "cs_") || len(sessionID) > 255 || text.Problem(sessionID, false) != "" {
		return CheckoutResult{}, ErrCheckoutNotFound
	}
	sess, err := s.stripe.checkoutSession(ctx, sessionID)
	var se *stripe.Error
	if errors.As(err, &se) && se.HTTPStatusCode == 404 {
		return CheckoutResult{}, ErrCheckoutNotFound
	}
	if err != nil {
		s.log.Error("billing: retrieve Checkout session", "session_id", sessionID, "err", err)
		return CheckoutResult{}, ErrStripeUnavailable
	}
	if sessionWorkspace(sess) != workspaceID {
		return CheckoutResult{}, ErrCheckoutNotFound
	}
	res := CheckoutResult{SessionID: sess.ID, Paid: sess.PaymentStatus == stripe.CheckoutSessionPaymentStatusPaid}
	if !res.Paid {
		return res, nil
	}
	out, err := s.applyCheckoutSession(ctx, sess, "return page")
	if err != nil {
		return res, err
	}
	res.Credited = out.Outcome == OutcomeCredited || out.Outcome == OutcomeDuplicate
	res.Payment = out.Payment
	return res, nil
}

// sessionWorkspace is the workspace a session pays for: its client_reference_id, or its
// metadata when that is missing; "" when they disagree.
func sessionWorkspace(sess *stripe.CheckoutSession) string {
	ref, meta := sess.ClientReferenceID, sess.Metadata[metaWorkspace]
	switch {
	case ref == "":
		return meta
	case meta != "" && meta != ref:
		return ""
	}
	return ref
}

// applyCheckoutSession credits a paid session once, by its id.
func (s *Service) applyCheckoutSession(ctx context.Context, sess *stripe.CheckoutSession, via string) (WebhookResult, error) {
	log := s.log.With("session_id", sess.ID, "via", via)
	if sess.Mode != "" && sess.Mode != stripe.CheckoutSessionModePayment {
		return WebhookResult{Outcome: OutcomeIgnored, Reason: "not a payment-mode session"}, nil
	}
	if sess.ClientReferenceID == "" && sess.Metadata[metaWorkspace] == "" {
		log.Info("billing: Checkout session names no workspace: not Spectra's, ignored")
		return WebhookResult{Outcome: OutcomeIgnored, Reason: "not a Spectra session"}, nil
	}
	wsID := sessionWorkspace(sess)
	if wsID == "" {
		log.Error("billing: Checkout session refused, nothing credited: it names two different workspaces",
			"client_reference_id", sess.ClientReferenceID, "metadata_workspace_id", sess.Metadata[metaWorkspace], "amount_total", sess.AmountTotal, "currency", string(sess.Currency))
		return WebhookResult{Outcome: OutcomeRefused, Reason: "two workspaces"}, nil
	}
	if cid := customerID(sess.Customer); cid != "" {
		defer func() {
			if err := s.store.SetStripeCustomer(ctx, wsID, cid, s.issuedNow()); err != nil && errs.KindOf(err) != errs.NotFound {
				log.Error("billing: save Stripe customer", "workspace_id", wsID, "err", err)
			}
		}()
	}
	p, created, refused, err := s.creditStripe(ctx, log, wsID, sess.ID, sess.AmountTotal, string(sess.Currency), MethodCheckout, "Stripe Checkout "+sess.ID)
	if err != nil {
		return WebhookResult{}, err
	}
	if refused != "" {
		return WebhookResult{Outcome: OutcomeRefused, Reason: refused}, nil
	}
	if !created {
		return WebhookResult{Outcome: OutcomeDuplicate, Payment: &p}, nil
	}
	return WebhookResult{Outcome: OutcomeCredited, Payment: &p}, nil
}
