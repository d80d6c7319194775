package ledger

import (
	"context"
	"time"

	"spectra/internal/money"
)

// Service is the ledger's domain API over a Store.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a ledger service. now is the clock.
func NewService(store Store, now func() time.Time) *Service {
	return &Service{store: store, now: now}
}

// Grant credits a workspace from the operator's grants account, once per key.
// It returns the transfer and whether it was posted now (false: a replay of the same grant).
func (s *Service) Grant(ctx context.Context, workspaceID string, amount money.Amount, key, note string) (Transfer, bool, error) {
	return s.store.Transfer(ctx, TransferRequest{Key: "grant:" + workspaceID + ":" + key, Kind: KindGrant,
		From: Grants, To: Wallet(workspaceID), Amount: amount, WorkspaceID: workspaceID, Note: note})
}

// Credit records money received for a workspace (a payment, a redeemed code), once per key.
func (s *Service) Credit(ctx context.Context, workspaceID string, amount money.Amount, key, note string) (Transfer, bool, error) {
	return s.store.Transfer(ctx, CreditRequest(workspaceID, amount, key, note))
}

// CreditRequest is the transfer that credits money received for a workspace: payments →
// wallet, kind payment, under the idempotency key PaymentKey(key). Credit posts it; a
// caller that posts it with other writes (billing's receipts) builds it here too, so
// both count a key once.
func CreditRequest(workspaceID string, amount money.Amount, key, note string) TransferRequest {
	return TransferRequest{Key: PaymentKey(key), Kind: KindPayment,
		From: Payments, To: Wallet(workspaceID), Amount: amount, WorkspaceID: workspaceID, Note: note}
}

// PaymentKey is the ledger idempotency key of the credit posted under a caller's key.
func PaymentKey(key string) string { return "payment:" + key }

// Balance returns a workspace's wallet.
func (s *Service) Balance(ctx context.Context, workspaceID string) (Balance, error) {
	return s.store.Balance(ctx, workspaceID)
}

// Entries returns a page of a wallet's entries, newest first.
func (s *Service) Entries(ctx context.Context, workspaceID string, before int64, limit int) ([]Entry, error) {
	if _, err := s.store.Balance(ctx, workspaceID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	return s.store.Entries(ctx, workspaceID, before, limit)
}

// Reserve holds amount against a workspace's wallet until released or expired after
// ttl, under the guard (see Store.Reserve). holdID is the idempotency key. Nothing in
// the product places per-request holds today (the gateway holds with leases, lease.go,
// which share this guard); Reserve stays as the ledger's primitive and the guard's
// tested form.
func (s *Service) Reserve(ctx context.Context, workspaceID, holdID string, amount money.Amount, ttl time.Duration) (Hold, error) {
	return s.store.Reserve(ctx, Hold{ID: holdID, WorkspaceID: workspaceID, Amount: amount, ExpiresAt: s.now().Add(ttl)})
}

// Release drops a hold without charging.
func (s *Service) Release(ctx context.Context, holdID string) error {
	return s.store.Release(ctx, holdID)
}

// ReleaseExpired releases every hold that has expired by now and returns how many
// (one pass of the hold sweeper that cmd runs in the background).
func (s *Service) ReleaseExpired(ctx context.Context) (int, error) {
	return s.store.ReleaseExpired(ctx, s.now())
}

// GrantCredit is Grant of a given credit kind ("" = paid) and expiry (zero: none, or the
// deployment's paid-credit expiry for paid credit).
func (s *Service) GrantCredit(ctx context.Context, workspaceID string, amount money.Amount, kind CreditKind, expiresAt time.Time, key, note string) (Transfer, bool, error) {
	return s.store.Transfer(ctx, TransferRequest{Key: "grant:" + workspaceID + ":" + key, Kind: KindGrant,
		From: Grants, To: Wallet(workspaceID), Amount: amount, WorkspaceID: workspaceID, Note: note,
		CreditKind: kind, ExpiresAt: expiresAt})
}

// Lots returns a workspace's credit lots: the open ones in spend order, then the others.
func (s *Service) Lots(ctx context.Context, workspaceID string) ([]Lot, error) {
	return s.store.Lots(ctx, workspaceID)
}

// ExpireLots posts the expiry of every lot due by now (one pass of a background job).
func (s *Service) ExpireLots(ctx context.Context) ([]Transfer, error) {
	return s.store.ExpireLots(ctx, s.now())
}

// LotsExpiringBetween returns every wallet's open lots expiring in [from, to).
func (s *Service) LotsExpiringBetween(ctx context.Context, from, to time.Time) ([]Lot, error) {
	return s.store.LotsExpiringBetween(ctx, from, to)
}

// UsageByCredit returns how a workspace's usage of [from, to) split between paid and
// promotional credit, and what no credit covered.
func (s *Service) UsageByCredit(ctx context.Context, workspaceID string, from, to time.Time) (paid, promotional, uncovered money.Amount, err error) {
	return s.store.UsageByCredit(ctx, workspaceID, from, to)
}
