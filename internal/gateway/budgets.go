package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"

	"spectra/internal/budget"
	"spectra/internal/money"
	"spectra/internal/refresh"
	"spectra/internal/team"
)

// budgetGuard enforces hard budgets at admission, before any upstream call. Per node it
// keeps a book per hard budget of the estimates of admitted requests not yet settled.
// A request is admitted when, for every hard budget that applies to its key,
//
//	fresh committed spend + this node's settles since that read began + in flight + estimate ≤ amount,
//
// where the fresh spend comes from a rollup read that started after the request arrived
// (concurrent admissions share one read; at most one read per budget is in flight and
// one more queued). An estimate leaves the book only once its settle has committed, so
// on one node nothing admitted is ever unaccounted for: concurrent requests overshoot a
// hard limit only by what the estimates under-counted. Across N nodes each node also
// sees the others' committed spend at every admission, but not their in-flight
// requests: the overshoot is bounded by the requests in flight on the other nodes when
// the limit was reached.
type budgetGuard struct {
	svc     *budget.Service // nil: no budgets are enforced
	now     func() time.Time
	refresh *refresh.Group // runs the spend reads

	mu    sync.Mutex
	books map[string]*budgetBook // by budget id and period
}

// budgetBook is one hard budget's admissions on this node.
type budgetBook struct {
	b   budget.Budget // as first seen (scope and period are fixed for a book)
	loc *time.Location

	mu       sync.Mutex
	inflight money.Amount // estimates admitted and not yet settled or released
	settled  money.Amount // every cost this node settled against the budget, cumulative
	last     *spendRead   // the newest completed read
	reading  *spendRead   // the read in progress
	next     *spendRead   // the read that starts when reading ends
}

// spendRead is one read of a budget's committed spend.
type spendRead struct {
	done  chan struct{}
	base  money.Amount // book.settled when the read started
	spent money.Amount
	err   error
}

// budgetTicket is an admitted request's place in the books it was counted in.
type budgetTicket struct {
	estimate money.Amount
	books    []*budgetBook
}

func newBudgetGuard(svc *budget.Service, now func() time.Time, rg *refresh.Group) *budgetGuard {
	return &budgetGuard{svc: svc, now: now, refresh: rg, books: map[string]*budgetBook{}}
}

// errBudgetExceeded is the refusal of a request by hard budget b.
func errBudgetExceeded(b budget.Budget) *apiError {
	e := newError(http.StatusPaymentRequired, "insufficient_quota", "budget_exceeded", budget.ErrExceeded(b).Message)
	e.BudgetID = b.ID
	return e
}

// admit counts estimate in the book of every hard budget that applies to key, or
// refuses with budget_exceeded naming the first budget it would take past its amount.
// A key without hard budgets gets a nil ticket at the cost of a cache lookup.
func (bg *budgetGuard) admit(ctx context.Context, key team.APIKey, estimate money.Amount) (*budgetTicket, error) {
	if bg.svc == nil {
		return nil, nil
	}
	bs, loc, err := bg.svc.HardBudgets(ctx, key.WorkspaceID, key.ID, key.Project, key.MemberID)
	if err != nil || len(bs) == 0 {
		return nil, err
	}
	books := make([]*budgetBook, len(bs))
	for i, b := range bs {
		books[i] = bg.book(b, loc)
	}
	for _, bk := range books {
		if err := bk.fresh(ctx, bg); err != nil {
			return nil, err
		}
	}
	for _, bk := range books { // bs is sorted by id: books are locked in one order
		bk.mu.Lock()
	}
	defer func() {
		for _, bk := range books {
			bk.mu.Unlock()
		}
	}()
	for i, bk := range books {
		r := bk.last
		used := r.spent + (bk.settled - r.base) + bk.inflight + estimate
		if used > bs[i].Amount || used < 0 {
			return nil, errBudgetExceeded(bs[i])
		}
	}
	for _, bk := range books {
		bk.inflight += estimate
	}
	return &budgetTicket{estimate: estimate, books: books}, nil
}

// settle takes an admitted request's estimate out of its books once its usage of cost
// is committed.
func (bg *budgetGuard) settle(t *budgetTicket, cost money.Amount) {
	if t == nil {
		return
	}
	for _, bk := range t.books {
		bk.mu.Lock()
		bk.inflight -= t.estimate
		bk.settled += cost
		bk.mu.Unlock()
	}
}

// release takes an estimate out of its books without a cost (nothing was charged).
func (bg *budgetGuard) release(t *budgetTicket) { bg.settle(t, 0) }

// book returns the book of b's current scope and period.
func (bg *budgetGuard) book(b budget.Budget, loc *time.Location) *budgetBook {
	k := b.ID + ":" + string(b.Period)
	bg.mu.Lock()
	defer bg.mu.Unlock()
	bk := bg.books[k]
	if bk == nil {
		bk = &budgetBook{b: b, loc: loc}
		bg.books[k] = bk
	}
	return bk
}

// fresh waits for a read of the budget's committed spend that starts after now: it
// joins the queued read, or starts one when none is running.
func (bk *budgetBook) fresh(ctx context.Context, bg *budgetGuard) error {
	bk.mu.Lock()
	var r *spendRead
	switch {
	case bk.reading == nil:
		r = &spendRead{done: make(chan struct{})}
		bk.reading = r
		bk.start(r, bg)
	case bk.next != nil:
		r = bk.next
	default:
		r = &spendRead{done: make(chan struct{})}
		bk.next = r
	}
	bk.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// start runs read r (bk.mu held): it notes this node's settles so far, reads the
// spend, and starts the queued read when it ends.
func (bk *budgetBook) start(r *spendRead, bg *budgetGuard) {
	r.base = bk.settled
	bg.refresh.Run(func(ctx context.Context) {
		spent, err := bg.svc.Spent(ctx, bk.b, bk.b.PeriodAt(bg.now(), bk.loc))
		bk.mu.Lock()
		r.spent, r.err = spent, err
		if err == nil {
			bk.last = r
		}
		bk.reading = nil
		if n := bk.next; n != nil {
			bk.next = nil
			bk.reading = n
			bk.start(n, bg)
		}
		bk.mu.Unlock()
		close(r.done)
	})
}
