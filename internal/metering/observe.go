package metering

import (
	"context"
	"sync"
)

// observerList is a Service's OnIngested callbacks.
type observerList struct {
	mu  sync.RWMutex
	fns []func(ctx context.Context, events []Event)
}

// OnIngested registers fn to be called after every successful commit of Ingest with the
// events it accepted (never duplicates or rejected events), on the ingesting goroutine:
// fn must return quickly (hand the work to a goroutine). The context is detached from
// the caller's cancellation.
func (s *Service) OnIngested(fn func(ctx context.Context, events []Event)) {
	l := &s.observers
	l.mu.Lock()
	l.fns = append(l.fns, fn)
	l.mu.Unlock()
}

// notifyIngested calls the OnIngested callbacks with the accepted events of applied.
func (s *Service) notifyIngested(ctx context.Context, applied []Event, outcomes []Outcome) {
	l := &s.observers
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
