package gateway

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"spectra/internal/ledger"
	"spectra/internal/money"
)

// memLedger is a wallet's ledger in memory, with the store's guards: a hold (or a
// hold's growth) must leave balance − held ≥ 0 and find balance − held > 0.
type memLedger struct {
	mu      sync.Mutex
	balance money.Amount
	holds   map[string]money.Amount
}

func (l *memLedger) held() money.Amount {
	var h money.Amount
	for _, a := range l.holds {
		h += a
	}
	return h
}

func (l *memLedger) Reserve(_ context.Context, _, id string, amount money.Amount, _ time.Duration) (ledger.Hold, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.holds[id]; ok {
		return ledger.Hold{ID: id}, nil
	}
	if h := l.held(); l.balance-h-amount < 0 || l.balance-h <= 0 {
		return ledger.Hold{}, ledger.ErrInsufficient
	}
	l.holds[id] = amount
	return ledger.Hold{ID: id, Amount: amount}, nil
}

func (l *memLedger) Release(_ context.Context, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.holds[id]; !ok {
		return ledger.ErrHoldNotFound
	}
	delete(l.holds, id)
	return nil
}

func (l *memLedger) AdjustHold(_ context.Context, id string, amount money.Amount, _ time.Time, guarded bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	old, ok := l.holds[id]
	if !ok {
		return ledger.ErrHoldNotFound
	}
	if delta := amount - old; delta > 0 || guarded {
		if l.balance-l.held()-delta < 0 {
			return ledger.ErrInsufficient
		}
	}
	l.holds[id] = amount
	return nil
}

// quiesce waits until no lease resize is in flight.
func (b *holdBook) quiesce() {
	b.mu.Lock()
	ws := make([]*wallet, 0, len(b.wallets))
	for _, w := range b.wallets {
		ws = append(ws, w)
	}
	b.mu.Unlock()
	for _, w := range ws {
		w.mu.Lock()
		for w.op != nil {
			op := w.op
			w.mu.Unlock()
			<-op.done
			w.mu.Lock()
		}
		w.mu.Unlock()
	}
}

// Whatever sequence of requests, settles, releases, grants and flushes two nodes see,
// the wallet never spends more than it has: the admitted, unsettled estimates of both
// nodes always fit in the balance, and each node's lease in the ledger covers them.
func TestHoldBookNeverOverspends(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		led := &memLedger{balance: money.Amount(rapid.Int64Range(0, 10_000).Draw(rt, "grant")), holds: map[string]money.Amount{}}
		clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		var books [2]*holdBook
		for i := range books {
			books[i] = newHoldBook(led, clk.Now, 10*time.Minute, log)
			books[i].linger = time.Hour // idle releases happen only through flush here
		}
		type open struct {
			book int
			h    *hold
		}
		var holds []open
		ctx := context.Background()
		for step := range rapid.IntRange(1, 60).Draw(rt, "steps") {
			switch rapid.IntRange(0, 5).Draw(rt, "op") {
			case 0, 1: // a request arrives at a node
				n := rapid.IntRange(0, 1).Draw(rt, "node")
				est := money.Amount(rapid.Int64Range(0, 3_000).Draw(rt, "estimate"))
				h, err := books[n].reserve(ctx, "ws", est)
				if err == nil {
					holds = append(holds, open{n, h})
				} else if err != errInsufficient {
					rt.Fatalf("step %d: %v", step, err)
				}
			case 2: // a request ends: its cost (at most its estimate) is committed, then settled
				if len(holds) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(holds)-1).Draw(rt, "settle")
				o := holds[i]
				cost := money.Amount(rapid.Int64Range(0, int64(o.h.amount)).Draw(rt, "cost"))
				led.mu.Lock()
				led.balance -= cost
				led.mu.Unlock()
				books[o.book].settle(o.h, cost)
				holds = append(holds[:i], holds[i+1:]...)
			case 3: // a request fails upstream
				if len(holds) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(holds)-1).Draw(rt, "release")
				books[holds[i].book].release(holds[i].h)
				holds = append(holds[:i], holds[i+1:]...)
			case 4: // a recharge
				led.mu.Lock()
				led.balance += money.Amount(rapid.Int64Range(1, 2_000).Draw(rt, "recharge"))
				led.mu.Unlock()
			case 5:
				n := rapid.IntRange(0, 1).Draw(rt, "flush")
				if err := books[n].flush(); err != nil {
					rt.Fatal(err)
				}
			}
			for _, b := range books {
				b.quiesce()
			}
			led.mu.Lock()
			var inflight money.Amount
			for n, b := range books {
				st := b.state("ws")
				inflight += st.Inflight
				if st.Inflight > 0 && st.Lease != "" && led.holds[st.Lease] < st.Inflight {
					rt.Fatalf("step %d: node %d's lease %s covers %s of %s in flight", step, n, st.Lease, led.holds[st.Lease], st.Inflight)
				}
			}
			if led.balance-inflight < 0 || led.balance < 0 {
				rt.Fatalf("step %d: balance %s with %s admitted and unsettled", step, led.balance, inflight)
			}
			led.mu.Unlock()
		}
		for _, o := range holds {
			books[o.book].release(o.h)
		}
		for _, b := range books {
			if err := b.flush(); err != nil {
				rt.Fatal(err)
			}
		}
		if len(led.holds) != 0 {
			rt.Fatalf("leases left after flush: %v", led.holds)
		}
	})
}
