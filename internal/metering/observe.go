package metering

import (
	"context"
	"sync"
)

// observers holds each Service's OnIngested callbacks. It lives beside the Service (not
// in it) so that the ingestion code carries a single call line for it.
var observers sync.Map // *Service → *observerList

type observerList struct {
	mu  sync.RWMutex
	fns []func(ctx context.Context, events []Event)
}

// OnIngested registers fn to be called after every successful commit of Ingest with the
// events it accepted (never duplicates or rejected events), on the ingesting goroutine:
// fn must return quickly (hand the work to a goroutine). The context is detached from
// the caller's cancellation.
func (s *Service) OnIngested(fn func(ctx context.Context, events []Event)) {
	v, _ := observers.LoadOrStore(s, &observerList{})
	l := v.(*observerList)
	l.mu.Lock()
	l.fns = append(l.fns, fn)
	l.mu.Unlock()
}

// notifyIngested calls the OnIngested callbacks with the accepted events of applied.
func (s *Service) notifyIngested(ctx context.Context, applied []Event, outcomes []Outcome) {
	v, ok := observers.Load(s)
	if !ok {
		return
	}
	l := v.(*observerList)
	l.mu.RLock()
	fns := l.fns
	l.mu.RUnlock()
	if len(fns) == 0 {
		return
	}
	accepted := make([]Event, 0, len(applied))
	for i, o := range outcomes {
		if o == Accepted && i < len(applied) {
			accepted = append(accepted, applied[i])
		}
	}
	if len(accepted) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	for _, fn := range fns {
		fn(ctx, accepted)
	}
}
