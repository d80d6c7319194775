package gateway

import (
	"context"
	"errors"
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

// The hold book keeps per-request holds in memory, carved out of one ledger hold per
// wallet and node (the lease, tagged with the node's id), so that a request costs no
// database write before it is forwarded. The guarantee, and why it holds, is written out
// in docs/benchmarks.md ("The hold book: what is guaranteed"). In short, for every
// wallet this node serves:
//
//	leased ≥ inflight + settled
//
// where leased is the lease's amount in the database (a ledger hold, guarded like any
// other hold against balance − held ≥ −overdraft limit), inflight is the sum of the
// estimates of this node's open requests, and settled is the cost of the requests this
// node has settled (committed to the ledger) since the lease was last changed. A request
// is admitted in memory only while the inequality stays true with its estimate added to
// inflight; otherwise the lease is resized in the database first, by a guarded update
// that sees every committed settle and every other node's lease. So the database always
// holds at least everything this node may still spend, and no node can take money
// another node has admitted a request against.
//
// The book publishes each wallet's inflight to its lease row (publish), a few
// milliseconds after a batch of settles and every publishEvery while anything else
// changes, and in the same write gives back the settled costs
// (leased − settled, which leaves the node's room as it was) and room it no longer
// needs. What users see as held counts a lease only up to its published inflight
// (store.shownHeldSQL), so held is what requests in flight may cost, and returns to 0
// one publication after the last request settles. A node that cannot grow its lease
// while other nodes' leases may hold unused room (counted whole: their published figures
// lag their nodes' settles) gets ledger.ErrReclaimPending: the store has flagged those
// leases, their nodes shrink them to their inflight at their next publication, and the
// node retries for a short while (reclaimTries) before refusing. At start, a
// node releases the leases its previous run left behind (start).

// leaseLedger is what the hold book needs from the ledger.
type leaseLedger interface {
	ledger.LeaseStore
	Release(ctx context.Context, holdID string) error
}

// holdBook is the per-node book of in-memory holds.
type holdBook struct {
	ledger leaseLedger
	node   string // this node's id, on every lease it takes
	now    func() time.Time
	log    *slog.Logger
	ttl    time.Duration // every admitted request stays covered for at least ttl
	renew  time.Duration // a lease lives ttl+renew and is renewed after renew/2
	window time.Duration // a lease's headroom is the estimates admitted over about this long
	linger time.Duration // an idle lease is released after this

	// publishEvery is how often a changed wallet's inflight is published (0: only when
	// publish is called, as tests do); a node waiting for room reclaimed from other
	// nodes retries every reclaimPoll, at most reclaimTries times.
	publishEvery time.Duration
	reclaimPoll  time.Duration
	reclaimTries int

	mu         sync.Mutex
	wallets    map[string]*wallet
	publishing atomic.Bool   // the publisher runs
	kicked     atomic.Bool   // something changed since the publisher last looked
	soon       chan struct{} // a settle asks for a publication now
}

// settleGather is how long a publication asked for by a settle waits for the rest of
// its batch's settles; minSoonGap bounds how often settles have a node publish (at most
// 50 times a second).
const (
	settleGather = 2 * time.Millisecond
	minSoonGap   = 20 * time.Millisecond
)

func newHoldBook(l leaseLedger, node string, now func() time.Time, ttl time.Duration, log *slog.Logger) *holdBook {
	return &holdBook{ledger: l, node: node, now: now, log: log, ttl: ttl, renew: max(ttl/2, time.Second),
		window: time.Second, linger: 5 * time.Second, wallets: map[string]*wallet{}, soon: make(chan struct{}, 1),
		publishEvery: 100 * time.Millisecond, reclaimPoll: 50 * time.Millisecond, reclaimTries: 40}
}

// start releases the leases a previous run of this node left behind (it crashed, or was
// killed, before giving them back). Call it before the node admits any request.
func (b *holdBook) start(ctx context.Context) (int, error) {
	return b.ledger.ReleaseNodeLeases(ctx, b.node)
}

// wallet is the book's state for one workspace's wallet.
type wallet struct {
	id string

	mu        sync.Mutex
	dead      bool         // removed from the book; look it up again
	lease     string       // the ledger hold id, "" when there is none
	leased    money.Amount // its amount in the ledger
	expires   time.Time    // its expiry in the ledger
	inflight  money.Amount // Σ estimates of open holds
	published money.Amount // the inflight last written to the lease
	settled   money.Amount // Σ costs settled since the lease was last changed
	open      int          // open holds
	op        *leaseOp     // the change in progress, if any
	consumed  money.Amount // estimates admitted since the last resize (sizes the headroom)
	last      money.Amount // the last estimate admitted
	lastOp    time.Time
	starved   time.Time // when the ledger last refused a larger lease
	gen       uint64    // bumped on every hold change; an idle release checks it
}

// leaseOp is a change of the lease in progress. While it runs, requests are admitted
// only within both the old size and min, so whichever the ledger ends with covers them.
type leaseOp struct {
	min, want money.Amount // the lease ends with an amount in [min, want] (want ≥ min)
	release   bool         // give the lease back
	publish   bool         // a publication (no guard needed)
	reclaimed bool         // answers a reclaim request
	inflight  money.Amount // published with it
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
	polls := 0
	for {
		if w.dead {
			return nil, true, nil
		}
		now := b.now()
		if amount <= 0 || w.fits(amount, now, b.ttl) { // a free request needs no cover
			w.inflight += amount
			w.consumed += amount
			if amount > 0 {
				w.last = amount
			}
			w.open++
			w.gen++
			b.maybeRenew(w, now)
			b.kick()
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
		// Grow to what is needed now, and as much headroom as the ledger will give
		// (it shares what is left of the wallet among the nodes' leases).
		need := max(w.inflight+amount, w.leased-w.settled)
		err := b.resize(w, need, need+w.headroom(amount, now, b.window), amount, now)
		switch {
		case err == nil:
			continue
		case errors.Is(err, ledger.ErrReclaimPending) && polls < b.reclaimTries:
			// Other nodes hold room they do not use: they were asked for it back and
			// give it at their next publication. Wait a little and try again.
			polls++
			w.mu.Unlock()
			t := time.NewTimer(b.reclaimPoll)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				w.mu.Lock()
				return nil, false, ctx.Err()
			}
			w.mu.Lock()
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
		room = min(room, op.min-(w.settled-op.settledAt)-w.inflight)
	}
	return amount <= room
}

// headroom is the extra a growing lease asks for beyond what is needed now: the
// estimates admitted over about one window at the rate since the last resize, and at
// least 4 requests like this one (or the last one). It is counted in estimates, which
// is what admitting a request takes from the lease, not in costs.
func (w *wallet) headroom(amount money.Amount, now time.Time, window time.Duration) money.Amount {
	h := satAmount(max(amount, w.last), 4)
	if dt := now.Sub(w.lastOp); !w.lastOp.IsZero() && dt > 0 && w.consumed > 0 {
		// consumed × window / dt, with dt at least window/8 so that a burst right after
		// a resize is not extrapolated without bound.
		dt = max(dt, window/8)
		h = max(h, mulDivAmount(w.consumed, int64(window), int64(dt)))
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
	// Keep at least the room the node has (no guard needed), and ask for the headroom.
	want := w.inflight + head
	op := w.begin(min(w.leased-w.settled, want), want, now, b.ttl+b.renew)
	go func() {
		lease, amount, err := b.exec(w, op)
		w.mu.Lock()
		w.finish(op, lease, amount, err, b.now())
		w.mu.Unlock()
		if err != nil && !errs.Is(err, ledger.ErrInsufficient.Code) {
			b.log.Error("renew gateway lease", "workspace", w.id, "err", err)
		}
	}()
}

// resize sets the lease to between lo and hi in the ledger, waiting for it, and
// publishes the inflight with coming (the request it is for) added. Called with w.mu
// held; it is released while the ledger works.
func (b *holdBook) resize(w *wallet, lo, hi, coming money.Amount, now time.Time) error {
	op := w.begin(lo, hi, now, b.ttl+b.renew)
	op.inflight += coming
	w.mu.Unlock()
	lease, amount, err := b.exec(w, op)
	w.mu.Lock()
	w.finish(op, lease, amount, err, b.now())
	return err
}

// begin starts a change of the lease to an amount in [lo, hi]; lo = hi = 0 releases it.
// Called with w.mu held.
func (w *wallet) begin(lo, hi money.Amount, now time.Time, life time.Duration) *leaseOp {
	op := &leaseOp{min: lo, want: max(lo, hi), release: hi <= 0, inflight: w.inflight, settledAt: w.settled,
		expires: now.Add(life), done: make(chan struct{})}
	w.op = op
	return op
}

// exec performs op in the ledger and returns the lease id ("" for none) and amount after.
func (b *holdBook) exec(w *wallet, op *leaseOp) (string, money.Amount, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.mu.Lock()
	lease, covered := w.lease, w.leased-op.settledAt
	w.mu.Unlock()
	if op.release {
		if lease == "" {
			return "", 0, nil
		}
		err := b.ledger.Release(ctx, lease)
		if errs.Is(err, ledger.ErrHoldNotFound.Code) {
			err = nil // already gone (expired): nothing is held
		}
		return "", 0, err
	}
	l := ledger.Lease{Min: op.min, Want: op.want, Inflight: op.inflight, ExpiresAt: op.expires}
	if lease != "" {
		// Up to covered (the lease minus the costs already charged against it) the
		// node's own room covers the lease; above it the ledger's guard decides.
		l.ID, l.Covered = lease, covered
		amount, err := b.ledger.ResizeLease(ctx, l)
		if !errs.Is(err, ledger.ErrHoldNotFound.Code) {
			return lease, amount, err
		}
		// The sweeper released it (this node stalled past its expiry): take a new one.
	}
	l.ID, l.WorkspaceID, l.Node, l.Covered = ids.New("lease"), w.id, b.node, 0
	amount, err := b.ledger.ReserveLease(ctx, l)
	if err != nil {
		return "", 0, err
	}
	return l.ID, amount, nil
}

// finish applies op's outcome. Called with w.mu held.
func (w *wallet) finish(op *leaseOp, lease string, amount money.Amount, err error, now time.Time) {
	defer close(op.done)
	w.op = nil
	if err == nil {
		w.lease, w.leased, w.expires = lease, amount, op.expires
		if lease == "" {
			w.leased = 0
		}
		w.settled -= op.settledAt
		w.published = op.inflight
		if !op.publish {
			w.consumed, w.lastOp, w.starved = 0, now, time.Time{}
			if amount < op.want {
				// The ledger capped the headroom (the wallet is nearly empty): no
				// background renewals for a while, each would be a write for nothing.
				w.starved = now
			}
		}
		return
	}
	if errs.Is(err, ledger.ErrInsufficient.Code) {
		// Refused: the ledger is as it was (a reclaim request may have been written).
		w.starved = now
		if lease == w.lease {
			return
		}
	}
	// The ledger failed. What it holds now is either the old lease or (when a failure
	// hid a commit) the new one: keep the smaller, and forget a lease whose fate is
	// unknown.
	switch {
	case lease == "":
		w.lease, w.leased = "", 0
		w.settled = 0
	case lease != w.lease:
		w.lease, w.leased, w.settled = "", 0, 0
	default:
		w.leased = min(w.leased, op.min)
	}
}

// settle closes h after its cost was committed to the ledger.
// The publication that follows comes promptly (soon), so that held and available stop
// counting the request's estimate within milliseconds of its cost being charged.
func (b *holdBook) settle(h *hold, cost money.Amount) {
	b.close(h, cost)
	if b.publishEvery > 0 {
		select {
		case b.soon <- struct{}{}:
		default: // one is pending already
		}
	}
}

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
	b.kick()
	if idle {
		time.AfterFunc(b.linger, func() { b.releaseIdle(w, gen) })
	}
}

// kick tells the publisher that a wallet changed, starting it if it is not running.
func (b *holdBook) kick() {
	if b.publishEvery <= 0 {
		return
	}
	b.kicked.Store(true)
	if !b.publishing.Load() && b.publishing.CompareAndSwap(false, true) {
		go b.publisher()
	}
}

// publisher publishes every publishEvery while this node holds a lease or something
// changed, and stops when neither is true.
func (b *holdBook) publisher() {
	t := time.NewTicker(b.publishEvery)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-t.C:
		case <-b.soon:
			// Settles come in batches: let this one finish, then publish it, at most
			// once per minSoonGap.
			time.Sleep(max(settleGather, minSoonGap-time.Since(last)))
		}
		last = time.Now()
		b.kicked.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		active, err := b.publish(ctx)
		cancel()
		if err != nil {
			b.log.Error("publish gateway leases", "err", err)
		}
		if !active && !b.kicked.Load() {
			b.publishing.Store(false)
			// A kick that saw this publisher running before it stopped is seen here.
			if !b.kicked.Load() || !b.publishing.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

// publish writes, in one transaction, every lease whose wallet changed since: its
// inflight (what users see as held), the costs settled against it given back (leased −
// settled: the node's room stays as it was), room beyond twice the headroom given back,
// and, for a lease another node asked for, everything beyond its inflight. It reports
// whether this node still holds a lease.
func (b *holdBook) publish(ctx context.Context) (active bool, _ error) {
	b.mu.Lock()
	ws := make([]*wallet, 0, len(b.wallets))
	for _, w := range b.wallets {
		ws = append(ws, w)
	}
	b.mu.Unlock()
	for _, w := range ws {
		w.mu.Lock()
		active = active || w.lease != "" || w.op != nil
		w.mu.Unlock()
	}
	if !active {
		return false, nil
	}
	asked := map[string]bool{}
	ids, err := b.ledger.LeaseReclaims(ctx, b.node)
	if err != nil {
		return true, err
	}
	for _, id := range ids {
		asked[id] = true
	}
	now := b.now()
	var changes []ledger.Lease
	var owners []*wallet
	var ops []*leaseOp
	for _, w := range ws {
		w.mu.Lock()
		for w.op != nil && asked[w.lease] { // answer a reclaim now, not a publication later
			op := w.op
			w.mu.Unlock()
			<-op.done
			w.mu.Lock()
		}
		if w.lease == "" || w.op != nil || w.dead {
			w.mu.Unlock()
			continue
		}
		keep := w.leased - w.settled // the node's room as it is
		target := keep
		reclaimed := asked[w.lease]
		if head := max(w.headroom(0, now, b.window), 0); reclaimed {
			target = min(w.inflight, keep)
		} else if keep > w.inflight+2*head {
			target = w.inflight + head
		}
		if !reclaimed && target == w.leased && w.inflight == w.published {
			w.mu.Unlock()
			continue
		}
		op := w.begin(target, target, now, b.ttl+b.renew)
		op.publish, op.reclaimed = true, reclaimed
		changes = append(changes, ledger.Lease{ID: w.lease, Min: target, Want: target, Inflight: op.inflight,
			ExpiresAt: op.expires, Covered: keep, Reclaimed: reclaimed})
		owners, ops = append(owners, w), append(ops, op)
		w.mu.Unlock()
	}
	if len(changes) == 0 {
		return true, nil
	}
	outs, err := b.ledger.PublishLeases(ctx, changes)
	now = b.now()
	for i, w := range owners {
		e := err
		if e == nil {
			e = outs[i]
		}
		lease := changes[i].ID
		if errs.Is(e, ledger.ErrHoldNotFound.Code) {
			lease = "" // swept: the next request takes a new lease
		}
		w.mu.Lock()
		w.finish(ops[i], lease, changes[i].Min, e, now)
		w.mu.Unlock()
	}
	return true, err
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
		if err := b.resize(w, 0, 0, 0, b.now()); err != nil {
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

// mulDivAmount is a×num/den (den > 0), saturating instead of overflowing.
func mulDivAmount(a money.Amount, num, den int64) money.Amount {
	if a <= 0 || num <= 0 || den <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(a), uint64(num))
	if hi >= uint64(den) {
		return money.Max
	}
	q, _ := bits.Div64(hi, lo, uint64(den))
	if q > uint64(money.Max) {
		return money.Max
	}
	return money.Amount(q)
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
