package budget

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

// KindCreditExpiring is the alert (and webhook event type) sent when a credit lot with
// credit left expires within CreditExpiryNotice.
const KindCreditExpiring = "credit.expiring"

// CreditExpiryNotice is how long before a credit lot's expiry its credit.expiring alert
// goes out.
const CreditExpiryNotice = 7 * 24 * time.Hour

// ExpiringLots reads the lots about to expire: ledger.Store's LotsExpiringBetween
// (internal/store implements it).
type ExpiringLots interface {
	// LotsExpiringBetween returns the open lots (remaining > 0) of every wallet whose
	// expiry is in [from, to).
	LotsExpiringBetween(ctx context.Context, from, to time.Time) ([]ledger.Lot, error)
}

// AlertExpiringCredit stores a credit.expiring alert for each open credit lot that
// expires within CreditExpiryNotice of now, with its remaining amount and expiry, and
// returns how many it stored now. Each lot is alerted once, whichever node or pass sees
// it first: the alert's dedupe key is CreditExpiringKey(lot id). A lot made with less
// than the notice left is alerted on the first pass after it is made; a lot spent to
// zero before the notice starts is never alerted.
func (s *Service) AlertExpiringCredit(ctx context.Context, lots ExpiringLots) (int, error) {
	now := s.now().UTC()
	// [now, now + notice]: a lot expiring exactly a notice from now is due (times are
	// stored to the microsecond).
	due, err := lots.LotsExpiringBetween(ctx, now, now.Add(CreditExpiryNotice+time.Microsecond))
	if err != nil {
		return 0, fmt.Errorf("expiring credit: %w", err)
	}
	stored := 0
	for _, l := range due {
		if l.ExpiresAt == nil || l.Remaining <= 0 {
			continue
		}
		key := CreditExpiringKey(l.ID)
		if s.known(key) {
			continue
		}
		loc, err := s.location(ctx, l.WorkspaceID)
		if err != nil {
			return stored, err
		}
		a := s.creditExpiringAlert(l, loc, now)
		a.DedupeKey = key
		ok, err := s.store.InsertAlert(ctx, a)
		if err != nil {
			return stored, err
		}
		if ok {
			stored++
		}
		s.remember(key)
	}
	if stored > 0 {
		s.alerted()
	}
	return stored, nil
}

// CreditExpiringKey is the dedupe key of lot id's credit.expiring alert.
func CreditExpiringKey(lotID int64) string {
	return "credit_expiring:lot:" + strconv.FormatInt(lotID, 10)
}

// creditExpiringAlert is lot l's credit.expiring alert. Its webhook data:
//
//	{"workspace_id": "ws_…", "lot": {"id": 12, "kind": "promotional", "source": "grant",
//	 "amount": {"amount": "50.000000", "currency": "USD"}, "remaining": {…},
//	 "expires_at": "2026-03-18T00:00:00Z"}, "expires_at": "…", "remaining": {…}}
func (s *Service) creditExpiringAlert(l ledger.Lot, loc *time.Location, now time.Time) Alert {
	exp := l.ExpiresAt.UTC()
	remaining, amount := amountJSON{l.Remaining, s.currency}, amountJSON{l.Amount, s.currency}
	payload, _ := json.Marshal(map[string]any{
		"workspace_id": l.WorkspaceID,
		"lot": map[string]any{"id": l.ID, "kind": l.Kind, "source": l.Source, "amount": amount, "remaining": remaining,
			"expires_at": exp.Format(time.RFC3339)},
		"remaining":  remaining,
		"expires_at": exp.Format(time.RFC3339),
	})
	when := exp.In(loc).Format("Mon 2 Jan 2006 15:04 MST")
	kind := string(l.Kind)
	if kind == "" {
		kind = string(ledger.CreditPaid)
	}
	subject := fmt.Sprintf("%s of %s credit expires on %s", money.Format(l.Remaining, s.currency), kind, exp.In(loc).Format("2 Jan 2006"))
	body := fmt.Sprintf("Credit of the workspace %s expires soon.\n\nCredit lot %d (%s, from a %s of %s)\nUnspent: %s (%s %s)\nExpires: %s (%s)\n\n"+
		"What is unspent at that time leaves the balance; requests spend promotional credit first, then the credit that expires first.\n",
		l.WorkspaceID, l.ID, kind, l.Source, money.Format(l.Amount, s.currency), money.Format(l.Remaining, s.currency), l.Remaining, s.currency,
		when, exp.Format(time.RFC3339))
	return Alert{ID: ids.New("alt"), WorkspaceID: l.WorkspaceID, Kind: KindCreditExpiring, PeriodStart: exp,
		Subject: subject, Body: body, Payload: payload, CreatedAt: now}
}
