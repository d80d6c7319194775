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
	"strconv"
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
	Expired  AccountID = "system:expired"  // credit that expired unspent (credit lots)
)

// SystemAccounts lists every system account; the store creates them at migration.
var SystemAccounts = []AccountID{Grants, Payments, Usage, Refunds, Expired}

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
	KindExpiry  Kind = "expiry"  // wallet → Expired: a credit lot's remaining at its expiry
)

// KindMigrated is the Source of a credit lot that holds a wallet's balance from before
// credit lots (migration 0027); no transfer has this kind.
const KindMigrated Kind = "migrated"

// CreditKind is the kind of credit a lot holds. Promotional credit is spent before paid
// credit and is kept apart in the books: revenue is only the paid part.
type CreditKind string

// Credit kinds.
const (
	CreditPaid        CreditKind = "paid"
	CreditPromotional CreditKind = "promotional"
)

// Valid reports whether k is a credit kind ("" is not: callers default it to paid).
func (k CreditKind) Valid() bool { return k == CreditPaid || k == CreditPromotional }

// Lot is a credit lot: the credit one transfer into a wallet (a grant, a payment, a
// redeemed code) added, and what became of it. Amount = Used + Expired + Remaining.
//
// Spend order: every debit of the wallet (usage, refund) draws on its open lots
// (Remaining > 0) promotional before paid, then earliest expiry first (never-expiring
// last), then oldest (ID). What no lot covers is the wallet's uncovered debt; the next
// lot repays that debt first. So Σ Remaining − debt = the wallet's balance, always.
type Lot struct {
	ID          int64        `json:"id"`
	WorkspaceID string       `json:"workspace_id"`
	Kind        CreditKind   `json:"kind"`
	Source      Kind         `json:"source"`      // grant, payment (a redeemed code is a payment), migrated
	TransferID  int64        `json:"transfer_id"` // the transfer that created it (0: migrated)
	Amount      money.Amount `json:"amount"`
	Remaining   money.Amount `json:"remaining"`
	Used        money.Amount `json:"used"`
	Expired     money.Amount `json:"expired"`
	ExpiresAt   *time.Time   `json:"expires_at"`
	CreatedAt   time.Time    `json:"created_at"`
}

// Open reports whether l still holds credit.
func (l Lot) Open() bool { return l.Remaining > 0 }

// LotKey is the idempotency key of lot id's expiry transfer.
func LotKey(id int64) string { return "expiry:lot:" + strconv.FormatInt(id, 10) }

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
	// For a transfer into a wallet (from Grants or Payments): the credit lot it creates.
	// CreditKind "" is paid. ExpiresAt zero: the lot never expires, except that a paid
	// lot gets the deployment's paid-credit expiry (SPECTRA_PAID_CREDIT_EXPIRY) when one
	// is set. A replay with another kind or expiry is ErrConflict.
	CreditKind CreditKind
	ExpiresAt  time.Time
	// FirstFrom, for a debit of a wallet (a refund of a payment), is the transfer whose
	// lot the debit draws on first, before the spend order; 0: the spend order alone.
	FirstFrom int64
}

// CreatesLot reports whether r is a transfer that creates a credit lot: every transfer
// into a wallet does (grants and payments are the ones the product posts), so that a
// wallet's lots always account for its balance.
func (r TransferRequest) CreatesLot() bool { return WorkspaceOf(r.To) != "" }

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
	case r.CreditKind != "" && !r.CreditKind.Valid():
		return errs.E(errs.Invalid, "invalid_credit_kind", "kind must be %q or %q", CreditPaid, CreditPromotional)
	case (r.CreditKind != "" || !r.ExpiresAt.IsZero()) && !r.CreatesLot():
		return errs.E(errs.Invalid, "invalid_transfer", "only a credit into a wallet takes a credit kind or expiry")
	case r.FirstFrom != 0 && WorkspaceOf(r.From) == "":
		return errs.E(errs.Invalid, "invalid_transfer", "only a debit of a wallet draws on a lot first")
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
//
// Paid and Promotional are the remaining credit of the wallet's lots of each kind that
// have not expired; ExpiringWithin30Days is the part of them that expires within 30 days.
// Paid + Promotional − (uncovered debt) = Balance, except while an expired lot waits for
// its expiry transfer (Store.ExpireLots).
type Balance struct {
	WorkspaceID          string       `json:"workspace_id"`
	Balance              money.Amount `json:"balance"`
	Held                 money.Amount `json:"held"`
	Available            money.Amount `json:"available"`
	OverdraftLimit       money.Amount `json:"overdraft_limit"`
	Paid                 money.Amount `json:"paid"`
	Promotional          money.Amount `json:"promotional"`
	ExpiringWithin30Days money.Amount `json:"expiring_within_30_days"`
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

	// Lots returns a wallet's credit lots: the open ones first in spend order, then the
	// spent or expired ones, newest first. Errors: workspace_not_found.
	Lots(ctx context.Context, workspaceID string) ([]Lot, error)
	// ExpireLots posts, for each lot with ExpiresAt ≤ now and Remaining > 0, one transfer
	// of kind expiry of its remaining from its wallet to Expired (key LotKey(id)), and
	// returns the transfers posted now. Each lot expires once, also when several nodes
	// run it at the same time.
	ExpireLots(ctx context.Context, now time.Time) ([]Transfer, error)
	// LotsExpiringBetween returns the open lots (Remaining > 0) of every wallet whose
	// ExpiresAt is in [from, to), by expiry.
	LotsExpiringBetween(ctx context.Context, from, to time.Time) ([]Lot, error)
	// UsageByCredit returns how much of a wallet's usage transfers posted in [from, to)
	// drew on paid and on promotional lots, and how much no lot covered (uncovered:
	// overdraft, less what later lots have repaid). paid + promotional + uncovered = the
	// usage of the period.
	UsageByCredit(ctx context.Context, workspaceID string, from, to time.Time) (paid, promotional, uncovered money.Amount, err error)
}
