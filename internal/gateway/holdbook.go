package gateway

import (
	"context"
	"errors"
	"log/slog"
	"math/bits"
	"sync"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

// The hold book keeps per-request holds in memory, carved out of one ledger hold per
// wallet and node (the lease), so that a request costs no database write before it is
// forwarded. The guarantee, and why it holds, is written out in docs/benchmarks.md
// ("The hold book: what is guaranteed"). In short, for every wallet this node serves:
//
//	leased ≥ inflight + settled
//
// where leased is the lease's amount in the database (a ledger hold, guarded like any
// other hold against balance − held ≥ −overdraft limit), inflight is the sum of the
// estimates of this node's open requests, and settled is the cost of the requests this
// node has settled (committed to the ledger) since the lease was last resized. A request
// is admitted in memory only while the inequality stays true with its estimate added to
// inflight; otherwise the lease is resized in the database first, by a guarded update
// that sees every committed settle and every other node's lease. So the database always
// holds at least everything this node may still spend, and no node can take money
// another node has admitted a request against.

// leaseLedger is what the hold book needs from the ledger.
type leaseLedger interface {
	Reserve(ctx context.Context, workspaceID, holdID string, amount money.Amount, ttl time.Duration) (ledger.Hold, error)
	Release(ctx context.Context, holdID string) error
	AdjustHold(ctx context.Context, holdID string, amount money.Amount, expiresAt time.Time, guarded bool) error
}

// holdBook is the per-node book of in-memory holds.
type holdBook struct {
	ledger leaseLedger
	now    func() time.Time
	log    *slog.Logger
	ttl    time.Duration // every admitted request stays covered for at least ttl
	renew  time.Duration // a lease lives ttl+renew and is renewed after renew/2
	window time.Duration // a lease's headroom is the spend of about this long
	linger time.Duration // an idle lease is released after this

	mu      sync.Mutex
	wallets map[string]*wallet
}

func newHoldBook(l leaseLedger, now func() time.Time, ttl time.Duration, log *slog.Logger) *holdBook {
	return &holdBook{ledger: l, now: now, log: log, ttl: ttl, renew: max(ttl/2, time.Second),
		window: 2 * time.Second, linger: 5 * time.Second, wallets: map[string]*wallet{}}
}

// wallet is the book's state for one workspace's wallet.
type wallet struct {
	id string

	mu       sync.Mutex
	dead     bool         // removed from the book; look it up again
	lease    string       // the ledger hold id, "" when there is none
	leased   money.Amount // its amount in the ledger
	expires  time.Time    // its expiry in the ledger
	inflight money.Amount // Σ estimates of open holds
	settled  money.Amount // Σ costs settled since the lease was last resized
	open     int          // open holds
	op       *leaseOp     // the resize in progress, if any
	consumed money.Amount // estimates admitted since the last resize (sizes the headroom)
	lastOp   time.Time
	starved  time.Time // when the ledger last refused a larger lease
	gen      uint64    // bumped on every hold change; an idle release checks it
}

// leaseOp is a resize of the lease in progress. While it runs, requests are admitted
// only within both the old and the new size, so whichever the ledger ends with covers them.
type leaseOp struct {
	target    money.Amount
	settledAt money.Amount // settled when the op began: the ledger's balance includes these
	expires   time.Time
	done      chan struct{}
}

// hold is one request's hold in the book.
type hold struct {
	w      *wallet
	amount money.Amount
	closed bool
}

// reserve admits a request of estimated cost amount against a workspace's wallet, or
// returns errInsufficient. It touches the ledger only when the lease must grow or renew.
func (b *holdBook) reserve(ctx context.Context, workspaceID string, amount money.Amount) (*hold, error) {
	for {
		w := b.wallet(workspaceID)
		h, retry, err := b.reserveIn(ctx, w, amount)
		if retry {
			continue
		}
		return h, err
	}
}

func (b *holdBook) wallet(id string) *wallet {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.wallets[id]
	if w == nil {
		w = &wallet{id: id}
		b.wallets[id] = w
	}
	return w
}

func (b *holdBook) reserveIn(ctx context.Context, w *wallet, amount money.Amount) (_ *hold, retry bool, _ error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Right after the ledger refused a larger lease, ask only for what is needed.
	exact := !w.starved.IsZero() && b.now().Sub(w.starved) < b.window
	for {
		if w.dead {
			return nil, true, nil
		}
		now := b.now()
		if amount <= 0 || w.fits(amount, now, b.ttl) { // a free request needs no cover
			w.inflight += amount
			w.consumed += amount
			w.open++
			w.gen++
			b.maybeRenew(w, now)
			return &hold{w: w, amount: amount}, false, nil
		}
		if op := w.op; op != nil {
			w.mu.Unlock()
			select {
			case <-op.done:
			case <-ctx.Done():
				w.mu.Lock()
				return nil, false, ctx.Err()
			}
			w.mu.Lock()
			continue
		}
		target := w.inflight + amount
		if !exact {
			target += w.headroom(amount, now, b.window)
		}
		err := b.resize(w, target, now)
		switch {
		case err == nil:
			continue
		case errs.Is(err, ledger.ErrInsufficient.Code) && !exact:
			exact = true // try once more for exactly what is needed
			continue
		case errs.Is(err, ledger.ErrInsufficient.Code):
			return nil, false, errInsufficient
		default:
			return nil, false, err
		}
	}
}

// fits reports whether amount can be admitted now without touching the ledger.
func (w *wallet) fits(amount money.Amount, now time.Time, ttl time.Duration) bool {
	if w.lease == "" || w.expires.Before(now.Add(ttl)) {
		return false
	}
	room := w.leased - w.settled - w.inflight
	if op := w.op; op != nil {
		room = min(room, op.target-(w.settled-op.settledAt)-w.inflight)
	}
	return amount <= room
}

// headroom is the extra a growing lease takes beyond what is needed now: the estimates
// admitted over about one window at the recent rate, and at least 4 requests like this one.
func (w *wallet) headroom(amount money.Amount, now time.Time, window time.Duration) money.Amount {
	h := satAmount(amount, 4)
	if dt := now.Sub(w.lastOp); dt > 0 && w.consumed > 0 && !w.lastOp.IsZero() {
		var rate money.Amount
		if dt < window {
			rate = satAmount(w.consumed, int64(min(window/dt, 1000)))
		} else {
			rate = w.consumed / money.Amount(dt/window)
		}
		h = max(h, rate)
	}
	return h
}

// maybeRenew starts a background resize when the lease is running low or getting old,
// so that requests rarely wait for the ledger.
func (b *holdBook) maybeRenew(w *wallet, now time.Time) {
	if w.op != nil || (!w.starved.IsZero() && now.Sub(w.starved) < b.window) {
		return
	}
	room := w.leased - w.settled - w.inflight
	head := w.headroom(0, now, b.window)
	if room >= head/2 && !w.expires.Before(now.Add(b.ttl+b.renew/2)) {
		return
	}
	op := w.begin(w.inflight+max(head, w.inflight), now, b.ttl+b.renew)
	go func() {
		lease, err := b.exec(w, op)
		w.mu.Lock()
		w.finish(op, lease, err, b.now())
		w.mu.Unlock()
		if err != nil && !errs.Is(err, ledger.ErrInsufficient.Code) {
			b.log.Error("renew gateway lease", "workspace", w.id, "err", err)
		}
	}()
}

// resize sets the lease to target in the ledger, waiting for it. Called with w.mu held;
// it is released while the ledger works.
func (b *holdBook) resize(w *wallet, target money.Amount, now time.Time) error {
	op := w.begin(target, now, b.ttl+b.renew)
	w.mu.Unlock()
	lease, err := b.exec(w, op)
	w.mu.Lock()
	w.finish(op, lease, err, b.now())
	return err
}

func (w *wallet) begin(target money.Amount, now time.Time, life time.Duration) *leaseOp {
	op := &leaseOp{target: target, settledAt: w.settled, expires: now.Add(life), done: make(chan struct{})}
	w.op = op
	return op
}

// exec performs op in the ledger and returns the lease id afterwards ("" for none).
func (b *holdBook) exec(w *wallet, op *leaseOp) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.mu.Lock()
	lease := w.lease
	w.mu.Unlock()
	if op.target == 0 {
		if lease == "" {
			return "", nil
		}
		err := b.ledger.Release(ctx, lease)
		if errs.Is(err, ledger.ErrHoldNotFound.Code) {
			err = nil // already gone (expired): nothing is held
		}
		return "", err
	}
	if lease != "" {
		// The resize is guarded unless it only gives up room: the room this node has is
		// the lease minus the costs already charged against it (op.settledAt).
		w.mu.Lock()
		guarded := op.target > w.leased-op.settledAt
		w.mu.Unlock()
		err := b.ledger.AdjustHold(ctx, lease, op.target, op.expires, guarded)
		if !errs.Is(err, ledger.ErrHoldNotFound.Code) {
			return lease, err
		}
		// The sweeper released it (this node stalled past its expiry): take a new one.
	}
	lease = ids.New("lease")
	_, err := b.ledger.Reserve(ctx, w.id, lease, op.target, op.expires.Sub(b.now()))
	if err != nil {
		return "", err
	}
	return lease, nil
}

// finish applies op's outcome. Called with w.mu held.
func (w *wallet) finish(op *leaseOp, lease string, err error, now time.Time) {
	defer close(op.done)
	w.op = nil
	if err == nil {
		w.lease, w.leased, w.expires = lease, op.target, op.expires
		if lease == "" {
			w.leased = 0
		}
		w.settled -= op.settledAt
		w.consumed, w.lastOp, w.starved = 0, now, time.Time{}
		return
	}
	if errs.Is(err, ledger.ErrInsufficient.Code) {
		w.starved = now
	}
	// The ledger refused or failed. What it holds now is either the old lease or (when a
	// failure hid a commit) the new one: keep the smaller, and forget a lease whose
	// fate is unknown.
	switch {
	case lease == "":
		w.lease, w.leased = "", 0
		w.settled = 0
	case lease != w.lease:
		w.lease, w.leased, w.settled = "", 0, 0
	default:
		w.leased = min(w.leased, op.target)
	}
}

// settle closes h after its cost was committed to the ledger.
func (b *holdBook) settle(h *hold, cost money.Amount) { b.close(h, cost) }

// release closes h without a charge (the request failed, or its settle did).
func (b *holdBook) release(h *hold) { b.close(h, 0) }

func (b *holdBook) close(h *hold, cost money.Amount) {
	w := h.w
	w.mu.Lock()
	if h.closed {
		w.mu.Unlock()
		return
	}
	h.closed = true
	w.inflight -= h.amount
	w.settled += cost
	w.open--
	w.gen++
	idle, gen := w.open == 0, w.gen
	w.mu.Unlock()
	if idle {
		time.AfterFunc(b.linger, func() { b.releaseIdle(w, gen) })
	}
}

// releaseIdle gives an idle lease back to the wallet, unless it was used since gen.
func (b *holdBook) releaseIdle(w *wallet, gen uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gen != gen || w.open != 0 || w.op != nil || w.dead {
		return
	}
	b.drop(w)
}

// drop releases w's lease and removes w from the book. Called with w.mu held and w idle.
func (b *holdBook) drop(w *wallet) error {
	if w.lease != "" {
		if err := b.resize(w, 0, b.now()); err != nil {
			b.log.Error("release gateway lease", "workspace", w.id, "err", err)
			return err
		}
		if w.open != 0 || w.op != nil { // used again while the ledger worked
			return nil
		}
	}
	b.mu.Lock()
	if b.wallets[w.id] == w {
		delete(b.wallets, w.id)
	}
	b.mu.Unlock()
	w.dead = true
	return nil
}

// flush releases every idle lease now.
func (b *holdBook) flush() error {
	b.mu.Lock()
	ws := make([]*wallet, 0, len(b.wallets))
	for _, w := range b.wallets {
		ws = append(ws, w)
	}
	b.mu.Unlock()
	var errList []error
	for _, w := range ws {
		w.mu.Lock()
		for w.op != nil {
			op := w.op
			w.mu.Unlock()
			<-op.done
			w.mu.Lock()
		}
		if w.open == 0 && !w.dead {
			errList = append(errList, b.drop(w))
		}
		w.mu.Unlock()
	}
	return errors.Join(errList...)
}

// bookState is a snapshot of one wallet's book, for tests and diagnostics.
type bookState struct {
	Lease    string
	Leased   money.Amount
	Inflight money.Amount
	Settled  money.Amount
	Open     int
}

func (b *holdBook) state(workspaceID string) bookState {
	b.mu.Lock()
	w := b.wallets[workspaceID]
	b.mu.Unlock()
	if w == nil {
		return bookState{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return bookState{Lease: w.lease, Leased: w.leased, Inflight: w.inflight, Settled: w.settled, Open: w.open}
}

// satAmount is a×k, saturating instead of overflowing.
func satAmount(a money.Amount, k int64) money.Amount {
	if a <= 0 || k <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(a), uint64(k))
	if hi != 0 || lo > uint64(money.Max) {
		return money.Max
	}
	return money.Amount(lo)
}
