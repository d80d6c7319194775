package billing

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"spectra/internal/errs"
	"spectra/internal/money"
)

// Webhook outcomes.
const (
	OutcomeCredited  = "credited"  // money posted now
	OutcomeDuplicate = "duplicate" // posted before (a retry, or the other event of the pair); nothing changed
	OutcomeRecorded  = "recorded"  // state saved (a card, a failed charge), no money moved
	OutcomeIgnored   = "ignored"   // not an event Spectra acts on
	OutcomeRefused   = "refused"   // authentic, but nothing credited (unknown workspace, other currency…); logged
)

// WebhookResult says what one Stripe event did.
type WebhookResult struct {
	EventID string   `json:"event_id"`
	Type    string   `json:"type"`
	Outcome string   `json:"outcome"`
	Reason  string   `json:"reason,omitempty"`
	Payment *Payment `json:"-"`
}

// HandleStripeWebhook verifies and applies one Stripe webhook call. The signature is
// checked with the webhook secret by stripe-go's webhook package and its timestamp
// against the service's clock. Money is credited once per Checkout session or
// PaymentIntent id — never per event id — so retries, duplicates and the
// completed/async_payment_succeeded pair credit once, in any order.
//
// The header must carry exactly one t= timestamp (ErrSignatureTimestamp otherwise), so
// the timestamp whose age is checked is the one the signature covers.
//
// An error means Stripe should retry (internal) or the call is not authentic
// (ErrInvalidSignature, ErrSignatureTimestamp, ErrSignatureTooOld, ErrInvalidPayload) or not accepted at all
// (ErrWebhookNotConfigured). An authentic event that cannot be credited (unknown
// workspace, another currency) is not an error: it is logged and answered with
// OutcomeRefused, since retrying would not change it.
func (s *Service) HandleStripeWebhook(ctx context.Context, payload []byte, signature string) (WebhookResult, error) {
	if s.cfg.StripeWebhookSecret == "" {
		s.log.Error("billing: Stripe webhook refused: SPECTRA_STRIPE_WEBHOOK_SECRET is not set")
		return WebhookResult{}, ErrWebhookNotConfigured
	}
	ev, err := verifyEvent(payload, signature, s.cfg.StripeWebhookSecret, s.now(), s.cfg.WebhookTolerance, s.log)
	if err != nil {
		return WebhookResult{}, err
	}
	res, err := s.applyEvent(ctx, ev)
	res.EventID, res.Type = ev.ID, string(ev.Type)
	if err != nil {
		s.log.Error("billing: Stripe webhook failed; Stripe will retry", "event_id", ev.ID, "type", ev.Type, "err", err)
		return res, err
	}
	s.log.Info("billing: Stripe webhook", "event_id", ev.ID, "type", ev.Type, "outcome", res.Outcome, "reason", res.Reason)
	return res, nil
}

// verifyEvent checks one webhook call and returns its event: the Stripe-Signature
// header carries exactly one t= timestamp (ErrSignatureTimestamp otherwise), a v1
// signature of "<t>.<payload>" with secret (checked by stripe-go: ErrInvalidSignature),
// the payload is a Stripe event (ErrInvalidPayload), and t is within tolerance of now,
// either way (ErrSignatureTooOld). It logs each refusal at warning level on log.
//
// The age check must read the very timestamp the signature covers. stripe-go signs
// "<last t=>.<payload>", so a header with a second t= could pair a fresh timestamp for
// the age check with an old, genuinely signed one: one t= or nothing. stripe-go's own
// tolerance check is not used: it reads the wall clock and lets any future timestamp
// through; this one reads the service's clock, both ways.
func verifyEvent(payload []byte, signature, secret string, now time.Time, tolerance time.Duration, log *slog.Logger) (stripe.Event, error) {
	at, err := signedAt(signature)
	if errors.Is(err, ErrInvalidSignature) {
		log.Warn("billing: Stripe webhook refused: bad signature", "err", "no Stripe-Signature header")
		return stripe.Event{}, err
	}
	if err != nil {
		log.Warn("billing: Stripe webhook refused: the Stripe-Signature header does not carry exactly one t= timestamp",
			"t_fields", strings.Count(","+signature, ",t="))
		return stripe.Event{}, err
	}
	ev, err := webhook.ConstructEventWithOptions(payload, signature, secret,
		webhook.ConstructEventOptions{IgnoreTolerance: true, IgnoreAPIVersionMismatch: true})
	if err != nil {
		if errors.Is(err, webhook.ErrNotSigned) || errors.Is(err, webhook.ErrInvalidHeader) || errors.Is(err, webhook.ErrNoValidSignature) {
			log.Warn("billing: Stripe webhook refused: bad signature", "err", err)
			return stripe.Event{}, ErrInvalidSignature
		}
		log.Warn("billing: Stripe webhook refused: payload is not an event", "err", err)
		return stripe.Event{}, ErrInvalidPayload
	}
	if now.Sub(at) > tolerance || at.Sub(now) > tolerance {
		log.Warn("billing: Stripe webhook refused: signature timestamp outside the tolerance",
			"event_id", ev.ID, "signed_at", at, "tolerance", tolerance.String())
		return stripe.Event{}, ErrSignatureTooOld
	}
	return ev, nil
}

// ErrSignatureTimestamp refuses a Stripe-Signature header that does not carry exactly
// one t= timestamp: with two, the age check and the signature could read different ones.
var ErrSignatureTimestamp = errs.E(errs.Invalid, "invalid_signature_timestamp",
	"the Stripe-Signature header must carry exactly one t= timestamp")

// signedAt returns the one t= timestamp of a Stripe-Signature header, splitting it the
// way stripe-go's webhook package does ("t=…,v1=…,v1=…": pairs split on "," then "="),
// so that the timestamp returned is the one stripe-go checks the signature against.
// A header with no signature at all is left to stripe-go (ErrInvalidSignature); a
// header with no t=, two t= or an unreadable one is ErrSignatureTimestamp.
func signedAt(header string) (time.Time, error) {
	if header == "" {
		return time.Time{}, ErrInvalidSignature
	}
	var at time.Time
	n := 0
	for part := range strings.SplitSeq(header, ",") {
		kv := strings.Split(part, "=")
		if len(kv) != 2 || kv[0] != "t" {
			continue
		}
		n++
		sec, err := strconv.ParseInt(kv[1], 10, 64)
		if err != nil {
			return time.Time{}, ErrSignatureTimestamp
		}
		at = time.Unix(sec, 0)
	}
	if n != 1 {
		return time.Time{}, ErrSignatureTimestamp
	}
	return at, nil
}

// applyEvent dispatches an authentic event.
func (s *Service) applyEvent(ctx context.Context, ev stripe.Event) (WebhookResult, error) {
	if ev.Data == nil {
		return WebhookResult{Outcome: OutcomeIgnored, Reason: "no data"}, nil
	}
	log := s.log.With("event_id", ev.ID, "type", ev.Type)
	switch ev.Type {
	case "checkout.session.completed", "checkout.session.async_payment_succeeded", "checkout.session.async_payment_failed":
		var sess stripe.CheckoutSession
		if err := json.Unmarshal(ev.Data.Raw, &sess); err != nil {
			log.Error("billing: Stripe webhook: unreadable Checkout session", "err", err)
			return WebhookResult{Outcome: OutcomeRefused, Reason: "unreadable session"}, nil
		}
		if ev.Type == "checkout.session.async_payment_failed" {
			return s.checkoutFailed(ctx, &sess), nil
		}
		if sess.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid {
			log.Info("billing: Checkout session not paid yet; waiting for the async payment", "session_id", sess.ID, "payment_status", sess.PaymentStatus)
			return WebhookResult{Outcome: OutcomeIgnored, Reason: "payment_status " + string(sess.PaymentStatus)}, nil
		}
		return s.applyCheckoutSession(ctx, &sess, string(ev.Type))
	case "payment_intent.succeeded", "payment_intent.payment_failed":
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil {
			log.Error("billing: Stripe webhook: unreadable PaymentIntent", "err", err)
			return WebhookResult{Outcome: OutcomeRefused, Reason: "unreadable payment intent"}, nil
		}
		if ev.Type == "payment_intent.succeeded" {
			return s.intentSucceeded(ctx, &pi)
		}
		return s.intentFailed(ctx, &pi)
	}
	return WebhookResult{Outcome: OutcomeIgnored, Reason: "event type not used"}, nil
}

// checkoutFailed logs a failed delayed payment and tells the workspace.
func (s *Service) checkoutFailed(ctx context.Context, sess *stripe.CheckoutSession) WebhookResult {
	wsID := sessionWorkspace(sess)
	s.log.Warn("billing: Checkout payment failed; nothing credited", "session_id", sess.ID, "workspace_id", wsID,
		"amount_minor", sess.AmountTotal, "currency", strings.ToUpper(string(sess.Currency)))
	if wsID != "" && strings.EqualFold(string(sess.Currency), s.cfg.Currency) {
		amount, _ := FromMinor(sess.AmountTotal, s.cfg.Currency)
		n := Notice{WorkspaceID: wsID, Kind: NoticePaymentFailed,
			Message: "Your payment of " + money.FormatExact(amount, s.cfg.Currency) + " did not go through; your balance was not recharged."}
		if err := s.addNotice(ctx, n); err != nil {
			s.log.Warn("billing: notice for a failed Checkout payment", "workspace_id", wsID, "err", err)
		}
	}
	return WebhookResult{Outcome: OutcomeRecorded, Reason: "payment failed"}
}

// intentSucceeded saves a Checkout payment's card, or credits an auto-recharge charge.
func (s *Service) intentSucceeded(ctx context.Context, pi *stripe.PaymentIntent) (WebhookResult, error) {
	wsID := pi.Metadata[metaWorkspace]
	switch pi.Metadata[metaPurpose] {
	case purposeCheckout:
		pm, cus := paymentMethodID(pi.PaymentMethod), customerID(pi.Customer)
		if wsID == "" || pm == "" || cus == "" {
			return WebhookResult{Outcome: OutcomeIgnored, Reason: "no card to save"}, nil
		}
		if err := s.store.SetPaymentMethod(ctx, wsID, cus, pm, s.issuedNow()); err != nil {
			if errs.KindOf(err) == errs.NotFound {
				s.log.Warn("billing: card for an unknown workspace not saved", "workspace_id", wsID, "payment_intent", pi.ID)
				return WebhookResult{Outcome: OutcomeRefused, Reason: "unknown workspace"}, nil
			}
			return WebhookResult{}, err
		}
		return WebhookResult{Outcome: OutcomeRecorded, Reason: "card saved for auto-recharge"}, nil
	case purposeAutoRecharge:
		return s.creditAutoCharge(ctx, pi, "webhook")
	}
	return WebhookResult{Outcome: OutcomeIgnored, Reason: "not a Spectra auto-recharge"}, nil
}

// intentFailed stops auto-recharge when its charge failed.
func (s *Service) intentFailed(ctx context.Context, pi *stripe.PaymentIntent) (WebhookResult, error) {
	if pi.Metadata[metaPurpose] != purposeAutoRecharge {
		return WebhookResult{Outcome: OutcomeIgnored, Reason: "not a Spectra auto-recharge"}, nil
	}
	reason := "the card was declined"
	if pi.LastPaymentError != nil && pi.LastPaymentError.Msg != "" {
		reason = pi.LastPaymentError.Msg
	}
	if err := s.failCharge(ctx, pi.Metadata[metaWorkspace], pi.Metadata[metaCharge], pi.ID, reason); err != nil {
		return WebhookResult{}, err
	}
	return WebhookResult{Outcome: OutcomeRecorded, Reason: "auto-recharge charge failed"}, nil
}
