// Package ledger is Spectra's double-entry ledger: accounts, immutable transfers with
// idempotency keys, and holds (reserve, release, expiry; the gateway's leases are holds too).
//
// Every money movement is a Transfer from one account to another; each transfer writes two
// entries that sum to zero, so the sum of all entries is always zero. A wallet's balance is
// derived from its entries. Guards (a hold may not take available balance below the
// overdraft limit) are enforced by the store inside the transaction that writes, as a
// guarded conditional update.
package ledger

import (
	"context"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/text"
)

// AccountID names an account: "wallet:<workspace id>" or one of the system accounts.
type AccountID string

// System accounts. Their balances are the mirror image of the wallets'.
const (
	Grants   AccountID = "system:grants"   // credit given by the operator
	Payments AccountID = "system:payments" // money received (Stripe, bank transfer, codes)
	Usage    AccountID = "system:usage"    // revenue from metered usage
	Refunds  AccountID = "system:refunds"  // money given back
)

// SystemAccounts lists every system account; the store creates them at migration.
var SystemAccounts = []AccountID{Grants, Payments, Usage, Refunds}

// Wallet returns the account id of a workspace's wallet.
func Wallet(workspaceID string) AccountID { return AccountID("wallet:" + workspaceID) }

// WorkspaceOf returns the workspace id of a wallet account, or "".
func WorkspaceOf(a AccountID) string {
	ws, ok := strings.CutPrefix(string(a), "wallet:")
	if !ok {
		return ""
	}
	return ws
}

// Kind says why money moved.
type Kind string

// Transfer kinds.
const (
	KindGrant   Kind = "grant"   // Grants → wallet
	KindPayment Kind = "payment" // Payments → wallet
	KindUsage   Kind = "usage"   // wallet → Usage
	KindRefund  Kind = "refund"  // wallet → Refunds
)

// Transfer is one immutable movement of Amount from one account to another.
type Transfer struct {
	ID             int64        `json:"id"`
	IdempotencyKey string       `json:"idempotency_key"`
	Kind           Kind         `json:"kind"`
	From           AccountID    `json:"from"`
	To             AccountID    `json:"to"`
	Amount         money.Amount `json:"amount"`
	WorkspaceID    string       `json:"workspace_id,omitempty"`
	Note           string       `json:"note"`
	CreatedAt      time.Time    `json:"created_at"`
}

// TransferRequest asks for a transfer. Key is the idempotency key: applying the same
// request twice posts once; the same key with different contents is a conflict.
type TransferRequest struct {
	Key         string
	Kind        Kind
	From, To    AccountID
	Amount      money.Amount
	WorkspaceID string
	Note        string
	// Guarded refuses the transfer when it would take the From wallet's available
	// balance below its overdraft limit (insufficient_balance). Usage is never guarded.
	Guarded bool
}

// Validate checks a transfer request.
func (r TransferRequest) Validate() error {
	switch {
	case r.Key == "" || len(r.Key) > 255:
		return errs.E(errs.Invalid, "invalid_idempotency_key", "idempotency_key is required (at most 255 characters)")
	case r.Amount <= 0:
		return errs.E(errs.Invalid, "invalid_amount", "amount must be greater than zero")
	case r.From == r.To:
		return errs.E(errs.Invalid, "invalid_transfer", "a transfer needs two different accounts")
	case len(r.Note) > 1000:
		return errs.E(errs.Invalid, "invalid_note", "note is at most 1000 characters")
	}
	if err := text.Line("idempotency_key", r.Key, 0); err != nil {
		return err
	}
	return text.Free("note", r.Note, 0)
}

// Same reports whether t is what r asked for (for idempotent replays).
func (r TransferRequest) Same(t Transfer) bool {
	return r.Kind == t.Kind && r.From == t.From && r.To == t.To && r.Amount == t.Amount && r.Note == t.Note
}

// Balance is a wallet's state. Available = Balance − Held. Held is what the requests in
// flight may still cost (their estimates) plus every other hold: a gateway node's lease
// counts only up to the estimates its node has in flight, never its unused room (see
// Lease). The guard of new holds counts leases whole, so it may refuse a hold a little
// before Available reaches −OverdraftLimit; a gateway then asks the other nodes for
// their room back (ErrReclaimPending).
type Balance struct {
	WorkspaceID    string       `json:"workspace_id"`
	Balance        money.Amount `json:"balance"`
	Held           money.Amount `json:"held"`
	Available      money.Amount `json:"available"`
	OverdraftLimit money.Amount `json:"overdraft_limit"`
}

// Entry is one side of a transfer as seen from one account, with the account's balance after it.
type Entry struct {
	Cursor       int64        `json:"-"` // the entry's position, for paging (Store.Entries' before)
	TransferID   int64        `json:"id"`
	Kind         Kind         `json:"kind"`
	Amount       money.Amount `json:"amount"` // positive credits the account, negative debits it
	BalanceAfter money.Amount `json:"balance_after"`
	Note         string       `json:"note"`
	CreatedAt    time.Time    `json:"time"`
}

// Hold reserves an amount against a wallet, under the guard, until its holder releases
// it or it expires; it never becomes a charge (usage is posted by ingestion, beside it).
// Reserve is the ledger's primitive: the gateway's leases (lease.go) are holds with the
// same guard, release and expiry.
type Hold struct {
	ID          string       `json:"id"`
	WorkspaceID string       `json:"workspace_id"`
	Amount      money.Amount `json:"amount"`
	CreatedAt   time.Time    `json:"created_at"`
	ExpiresAt   time.Time    `json:"expires_at"`
}

// Errors returned by stores. Match them with errs.Is(err, code).
var (
	ErrInsufficient = errs.E(errs.PaymentRequired, "insufficient_balance", "the workspace's available balance does not cover this request; recharge to continue")
	ErrConflict     = errs.E(errs.Conflict, "idempotency_conflict", "this idempotency key was already used with different contents")
	ErrHoldNotFound = errs.E(errs.NotFound, "hold_not_found", "no active hold with this id")
)

// Store is the ledger's persistence. Implemented by internal/store; every method runs in
// one database transaction.
type Store interface {
	// Transfer posts r once. It returns the transfer and true when it was posted now,
	// or the earlier transfer and false when r's key was already used with the same
	// contents. Errors: ErrConflict, ErrInsufficient (Guarded only), invalid input.
	Transfer(ctx context.Context, r TransferRequest) (Transfer, bool, error)
	// Balance returns a workspace's wallet. Errors: workspace_not_found.
	Balance(ctx context.Context, workspaceID string) (Balance, error)
	// Entries returns a wallet's entries newest first, those with Cursor below before
	// when before > 0, at most limit.
	Entries(ctx context.Context, workspaceID string, before int64, limit int) ([]Entry, error)
	// Reserve places hold h when the wallet's available balance minus h.Amount stays at
	// or above −overdraft limit, in one guarded update. Reserving an existing hold id again
	// returns the existing hold. Errors: ErrInsufficient, workspace_not_found.
	Reserve(ctx context.Context, h Hold) (Hold, error)
	// Release drops an active hold without charging. Errors: ErrHoldNotFound.
	Release(ctx context.Context, holdID string) error
	// ReleaseExpired releases every hold whose ExpiresAt is before now and returns how many.
	ReleaseExpired(ctx context.Context, now time.Time) (int, error)
}
