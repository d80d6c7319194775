package ledger

import (
	"context"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
)

// A lease is the hold a gateway node keeps on a wallet to cover the requests it admits
// in memory (internal/gateway's hold book): one per wallet and node, tagged with the
// node's id. The guard (balance − held ≥ −overdraft limit) counts a lease whole, like
// any hold, so the database always covers everything a node may still spend. What a
// wallet shows as held counts a lease only up to the estimates its node last published
// as in flight (Lease.Inflight): the rest of it is the node's room to admit without a
// database write, not money anyone is spending, and is never shown.
//
// When a node cannot fit a request and other nodes' leases may hold room they do not use
// (what the database knows of a lease lags its node by up to one publication: costs
// settled and requests ended since then, so each counts whole), the store flags those
// leases (reclaim) and answers ErrReclaimPending; the owning nodes see the flag on their
// next publication and shrink to what they have in flight, and the asking node retries.
// Only when the other leases, whole, could not cover the request either is the answer
// ErrInsufficient at once.

// Lease is one change to a node's lease: its creation (ReserveLease) or a resize and
// publication (ResizeLease, PublishLeases).
type Lease struct {
	ID          string // the lease's hold id
	WorkspaceID string // the wallet's workspace (ReserveLease only)
	Node        string // the node's id (ReserveLease only)
	// Min is the amount the lease must have afterwards; Want (≥ Min; 0 means Min) is
	// what the node would like, granted beyond Min up to a share of the wallet's free
	// balance (LeaseShare): a lease stops growing as the wallet nears empty.
	Min, Want money.Amount
	// Inflight is the node's in-flight estimates to publish (shown as held, up to the
	// lease's amount).
	Inflight  money.Amount
	ExpiresAt time.Time
	// Covered is what the node's room is already covered up to: the lease's amount less
	// the costs charged against it since its last change. Setting the lease at or below
	// it (and its current amount) needs no guard; any amount above is guarded
	// (balance − held ≥ −overdraft limit afterwards). Zero guards every amount.
	Covered money.Amount
	// Reclaimed clears the lease's reclaim flag: the node answers a reclaim request.
	Reclaimed bool
}

// Amount returns what l asks for when nothing limits it: Want, or Min.
func (l Lease) Amount() money.Amount { return max(l.Min, l.Want) }

// LeaseShare is the divisor of a lease's growth beyond its minimum: at most the
// wallet's free balance (balance − held + overdraft limit, after the minimum) divided
// by LeaseShare × the number of the wallet's leases.
const LeaseShare = 2

// ErrReclaimPending is ErrInsufficient (same code) when other nodes' leases may hold
// room they do not use: they were asked to give it back, and a retry shortly may succeed.
var ErrReclaimPending = errs.E(errs.PaymentRequired, "insufficient_balance", "the workspace's available balance does not cover this request; recharge to continue")

// LeaseStore keeps the gateway nodes' leases. Implemented by internal/store; every
// method runs in one database transaction (PublishLeases: one for the whole list).
type LeaseStore interface {
	// ReserveLease creates lease l (ID, WorkspaceID, Node, Min/Want, Inflight,
	// ExpiresAt) with the guard of Reserve, and returns the amount granted. Errors:
	// ErrInsufficient, ErrReclaimPending, workspace_not_found.
	ReserveLease(ctx context.Context, l Lease) (money.Amount, error)
	// ResizeLease sets an active lease's amount (between Min and Want, guarded above
	// Covered and above its current amount), expiry and published in-flight, and
	// returns the amount.
	// Errors: ErrInsufficient, ErrReclaimPending, ErrHoldNotFound.
	ResizeLease(ctx context.Context, l Lease) (money.Amount, error)
	// PublishLeases applies changes that need no guard (Min is the new amount, at most
	// Covered and the current amount) to several leases in one transaction, and returns
	// each one's outcome (nil, ErrHoldNotFound, or ErrInsufficient for a change that
	// would need the guard).
	PublishLeases(ctx context.Context, ls []Lease) ([]error, error)
	// LeaseReclaims returns the ids of node's active leases that other nodes asked for.
	LeaseReclaims(ctx context.Context, node string) ([]string, error)
	// ReleaseNodeLeases releases every active lease of node (left by a previous run of
	// it) and returns how many.
	ReleaseNodeLeases(ctx context.Context, node string) (int, error)
}
