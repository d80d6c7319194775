// Package refresh runs the background reads of stale-while-revalidate caches: a cache
// answers from a stale entry at once and asks a Group to read a fresh one. The Group
// runs at most one refresh per key at a time (single flight), bounds each by a
// timeout, and at shutdown Close cancels the refreshes and waits for them, so none
// outlives the database it reads.
package refresh

import (
	"context"
	"sync"
	"time"
)

// Group runs background refreshes. The zero value is not usable: use New.
type Group struct {
	timeout time.Duration
	ctx     context.Context // ends at Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	running map[string]bool // keys with a refresh in flight
}

// New returns a Group whose refreshes each get at most timeout.
func New(timeout time.Duration) *Group {
	ctx, cancel := context.WithCancel(context.Background())
	return &Group{timeout: timeout, ctx: ctx, cancel: cancel, running: map[string]bool{}}
}

// Go starts fn in the background unless a refresh of key is already in flight (then
// the caller goes on with what it has, and this refresh is skipped). It reports
// whether fn was started. fn's context ends after the Group's timeout or at Close.
func (g *Group) Go(key string, fn func(context.Context)) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running[key] {
		return false
	}
	g.running[key] = true
	g.start(func(ctx context.Context) {
		defer g.done(key)
		fn(ctx)
	})
	return true
}

// Run starts fn in the background, whatever else is in flight (for callers that
// order their reads themselves). fn's context ends after the Group's timeout or at Close.
func (g *Group) Run(fn func(context.Context)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.start(fn)
}

// start runs fn on a goroutine (g.mu held). After Close, fn still runs, so that a
// caller waiting for its result is answered, but at once on a cancelled context, and
// Close does not wait for it.
func (g *Group) start(fn func(context.Context)) {
	if g.closed {
		go fn(g.ctx) // g.ctx is cancelled
		return
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		ctx, cancel := context.WithTimeout(g.ctx, g.timeout)
		defer cancel()
		fn(ctx)
	}()
}

func (g *Group) done(key string) {
	g.mu.Lock()
	delete(g.running, key)
	g.mu.Unlock()
}

// Close cancels the refreshes in flight and waits until they have returned. Later
// refreshes run on a cancelled context. Close is idempotent.
func (g *Group) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cancel()
	g.wg.Wait()
}
