package billing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stripe/stripe-go/v82"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/money"
)

// AutoRecharge returns a workspace's auto-recharge settings and state, with how much it
// charged this calendar month (in the workspace's time zone). Errors: workspace_not_found.
func (s *Service) AutoRecharge(ctx context.Context, workspaceID string) (AutoRecharge, error) {
	ws, err := s.teams.Workspace(ctx, workspaceID)
	if err != nil {
		return AutoRecharge{}, err
	}
	ar, err := s.store.AutoRecharge(ctx, ws.ID)
	if err != nil {
		return AutoRecharge{}, err
	}
	loc := location(ws.Timezone)
	ar.WorkspaceID = ws.ID
	ar.ChargedThisMonth, err = s.store.AutoChargedSince(ctx, ws.ID, MonthOf(s.now(), loc).Start(loc))
	return ar, err
}

// SetAutoRecharge saves a workspace's auto-recharge settings. Turning it on needs Stripe,
// a card saved by an earlier Checkout top-up, an amount within the recharge bounds, a
// threshold ≥ 0 and a monthly cap of at least one charge; it arms auto-recharge, and
// when the balance is already below the threshold the first charge is made at once.
// Errors: ErrStripeNotConfigured, ErrNoPaymentMethod, invalid_threshold,
// invalid_monthly_cap, amount errors, workspace_not_found.
func (s *Service) SetAutoRecharge(ctx context.Context, workspaceID string, set AutoRechargeSettings) (AutoRecharge, error) {
	ws, err := s.teams.Workspace(ctx, workspaceID)
	if err != nil {
		return AutoRecharge{}, err
	}
	if set.Threshold < 0 {
		return AutoRecharge{}, errs.E(errs.Invalid, "invalid_threshold", "threshold must not be negative")
	}
	if set.MonthlyCap < 0 {
		return AutoRecharge{}, errs.E(errs.Invalid, "invalid_monthly_cap", "monthly_cap must not be negative")
	}
	if set.Enabled {
		if s.stripe == nil {
			return AutoRecharge{}, ErrStripeNotConfigured
		}
		if err := s.CheckAmount(set.Amount); err != nil {
			return AutoRecharge{}, err
		}
		if set.MonthlyCap < set.Amount {
			return AutoRecharge{}, errs.E(errs.Invalid, "invalid_monthly_cap", "monthly_cap must be at least one charge (%s)", money.FormatExact(set.Amount, s.cfg.Currency))
		}
		cur, err := s.store.AutoRecharge(ctx, ws.ID)
		if err != nil {
			return AutoRecharge{}, err
		}
		if cur.StripeCustomer == "" || cur.StripePaymentMethod == "" {
			return AutoRecharge{}, ErrNoPaymentMethod
		}
	}
	if _, err := s.store.SetAutoRecharge(ctx, ws.ID, set, s.issuedNow()); err != nil {
		return AutoRecharge{}, err
	}
	s.log.Info("billing: auto-recharge settings saved", "workspace_id", ws.ID, "enabled", set.Enabled,
		"threshold", set.Threshold.String(), "amount", set.Amount.String(), "monthly_cap", set.MonthlyCap.String())
	if set.Enabled {
		if err := s.CheckAutoRecharge(ctx, ws.ID); err != nil {
			return AutoRecharge{}, err
		}
	}
	return s.AutoRecharge(ctx, ws.ID)
}

// CheckAutoRecharges runs CheckAutoRecharge for every workspace: one pass of the
// auto-recharge job that cmd runs in the background. A workspace without auto-recharge
// costs one indexed read. One workspace's failure does not stop the others; the
// failures are returned together, each naming its workspace.
func (s *Service) CheckAutoRecharges(ctx context.Context) error {
	wss, err := s.teams.Workspaces(ctx)
	if err != nil {
		return fmt.Errorf("auto-recharge: list workspaces: %w", err)
	}
	var failed []error
	for _, ws := range wss {
		if err := s.CheckAutoRecharge(ctx, ws.ID); err != nil {
			failed = append(failed, fmt.Errorf("auto-recharge of workspace %s: %w", ws.ID, err))
		}
	}
	return errors.Join(failed...)
}

// CheckAutoRecharge is called after a wallet's available balance changed (the gateway
// and ingestion call it after settling; billing after every credit). It is one indexed
// read when nothing is to be done. When the available balance is below the threshold and
// auto-recharge is armed, it disarms it with a guarded update — so concurrent calls fire
// one charge per crossing — and charges the saved card off-session through a Stripe
// PaymentIntent whose idempotency key is derived from the crossing. When the balance is
// back at or above the threshold it re-arms. A failed charge turns auto-recharge off and
// leaves a notice for the owners; it is not an error. It may wait on Stripe (seconds):
// call it off the request path. The charge is not cancelled with ctx.
func (s *Service) CheckAutoRecharge(ctx context.Context, workspaceID string) error {
	st, ok, err := s.store.AutoRechargeState(ctx, workspaceID)
	if err != nil || !ok || !st.Enabled {
		return err
	}
	now := s.issuedNow()
	if st.Available >= st.Threshold {
		if !st.Armed {
			if _, err := s.store.Rearm(ctx, workspaceID, now); err != nil {
				return err
			}
		}
		return nil
	}
	if !st.Armed || now.Before(st.PausedUntil) {
		return nil
	}
	if s.stripe == nil {
		s.log.Warn("billing: auto-recharge is on but Stripe is not configured; no charge", "workspace_id", workspaceID)
		return nil
	}
	ctx = context.WithoutCancel(ctx) // a started charge must finish its bookkeeping
	loc := location(st.Timezone)
	capNotice := Notice{ID: ids.New("ntc"), WorkspaceID: workspaceID, Kind: NoticeAutoRechargeCap,
		Message:   "Auto-recharge did not charge your card: this month's charges would pass your monthly cap. It resumes next month; until then recharge manually or raise the cap.",
		CreatedAt: now}
	month := MonthOf(now, loc)
	ch, outcome, err := s.store.StartAutoCharge(ctx, AutoChargeStart{WorkspaceID: workspaceID, ChargeID: ids.New("arc"), Now: now,
		MonthStart: month.Start(loc), MonthEnd: month.End(loc), CapNotice: capNotice})
	if err != nil {
		return err
	}
	switch outcome {
	case NotArmed:
		return nil
	case CapReached:
		s.log.Warn("billing: auto-recharge paused until next month: the monthly cap would be passed", "workspace_id", workspaceID)
		return nil
	}
	return s.charge(ctx, ch)
}

// charge asks Stripe to charge the saved card for a started auto-recharge charge.
func (s *Service) charge(ctx context.Context, ch AutoCharge) error {
	log := s.log.With("workspace_id", ch.WorkspaceID, "charge_id", ch.ID, "crossing", ch.Crossing, "amount", ch.Amount.String())
	minor, err := ToMinor(ch.Amount, s.cfg.Currency)
	if err != nil {
		return s.failCharge(ctx, ch.WorkspaceID, ch.ID, "", "the amount is not a whole number of "+s.cfg.Currency+" minor units")
	}
	p := &stripe.PaymentIntentCreateParams{
		Amount:        stripe.Int64(minor),
		Currency:      stripe.String(strings.ToLower(s.cfg.Currency)),
		Customer:      stripe.String(ch.Customer),
		PaymentMethod: stripe.String(ch.PaymentMethodID),
		OffSession:    stripe.Bool(true),
		Confirm:       stripe.Bool(true),
		Description:   stripe.String("Spectra auto-recharge"),
		Metadata:      map[string]string{metaWorkspace: ch.WorkspaceID, metaPurpose: purposeAutoRecharge, metaCharge: ch.ID},
	}
	p.SetIdempotencyKey(fmt.Sprintf("spectra-auto-recharge-%s-%d", ch.WorkspaceID, ch.Crossing))
	log.Info("billing: auto-recharge charging the saved card")
	pi, err := s.stripe.createPaymentIntent(ctx, p)
	if err != nil {
		reason, intent := "Stripe did not accept the charge", ""
		var se *stripe.Error
		if errors.As(err, &se) {
			if se.Msg != "" {
				reason = se.Msg
			}
			intent = paymentIntentID(se.PaymentIntent)
		}
		log.Error("billing: auto-recharge charge refused", "err", err)
		return s.failCharge(ctx, ch.WorkspaceID, ch.ID, intent, reason)
	}
	if err := s.store.SetAutoChargeIntent(ctx, ch.ID, pi.ID, s.issuedNow()); err != nil {
		return err
	}
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
		_, err := s.creditAutoCharge(ctx, pi, "charge")
		return err
	case stripe.PaymentIntentStatusProcessing:
		log.Info("billing: auto-recharge charge processing; the webhook will credit it", "payment_intent", pi.ID)
		return nil
	case stripe.PaymentIntentStatusRequiresAction:
		return s.failCharge(ctx, ch.WorkspaceID, ch.ID, pi.ID, "the card needs the cardholder's authentication")
	}
	return s.failCharge(ctx, ch.WorkspaceID, ch.ID, pi.ID, "the charge ended as "+string(pi.Status))
}

// creditAutoCharge credits a succeeded auto-recharge PaymentIntent once, by its id.
func (s *Service) creditAutoCharge(ctx context.Context, pi *stripe.PaymentIntent, via string) (WebhookResult, error) {
	wsID, chargeID := pi.Metadata[metaWorkspace], pi.Metadata[metaCharge]
	minor := pi.AmountReceived
	if minor == 0 {
		minor = pi.Amount
	}
	log := s.log.With("payment_intent", pi.ID, "charge_id", chargeID, "via", via)
	p, created, refused, err := s.creditStripe(ctx, log, wsID, pi.ID, minor, string(pi.Currency), MethodAutoRecharge, "Auto-recharge "+pi.ID)
	if err != nil {
		return WebhookResult{}, err
	}
	if refused != "" {
		return WebhookResult{Outcome: OutcomeRefused, Reason: refused}, nil
	}
	if chargeID != "" {
		if err := s.store.SucceedAutoCharge(ctx, chargeID, pi.ID, s.issuedNow()); err != nil {
			return WebhookResult{}, err
		}
	}
	if !created {
		return WebhookResult{Outcome: OutcomeDuplicate, Payment: &p}, nil
	}
	return WebhookResult{Outcome: OutcomeCredited, Payment: &p}, nil
}

// failCharge records a failed charge: auto-recharge off, a notice for the owners, a log line.
func (s *Service) failCharge(ctx context.Context, workspaceID, chargeID, intentID, reason string) error {
	if chargeID == "" {
		s.log.Error("billing: a failed auto-recharge charge names no charge; nothing recorded", "workspace_id", workspaceID, "payment_intent", intentID, "reason", reason)
		return nil
	}
	now := s.issuedNow()
	n := Notice{ID: ids.New("ntc"), WorkspaceID: workspaceID, Kind: NoticeAutoRechargeFailed, CreatedAt: now,
		Message: "Auto-recharge is off: charging your saved card failed (" + reason + "). Top up by card to save a working card, then turn auto-recharge on again."}
	first, err := s.store.FailAutoCharge(ctx, chargeID, reason, n, now)
	if err != nil {
		return err
	}
	if first {
		s.log.Error("billing: auto-recharge charge failed; auto-recharge turned off and the owners told",
			"workspace_id", workspaceID, "charge_id", chargeID, "payment_intent", intentID, "reason", reason)
	}
	return nil
}
