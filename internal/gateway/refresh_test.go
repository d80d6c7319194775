package gateway

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"spectra/internal/gateway/upstream"
	"spectra/internal/refresh"
)

// blockingUpstreams is an upstream store whose second read blocks until its context
// ends (the first answers at once, later ones fail with their cancelled context).
type blockingUpstreams struct {
	upstream.Store
	reads    atomic.Int32
	started  chan struct{}
	returned atomic.Bool
}

func (b *blockingUpstreams) Upstreams(ctx context.Context) ([]upstream.Record, error) {
	switch b.reads.Add(1) {
	case 1:
		return nil, nil
	case 2:
	default: // after shutdown: ctx is cancelled
		return nil, ctx.Err()
	}
	close(b.started)
	<-ctx.Done()
	b.returned.Store(true)
	return nil, ctx.Err()
}

type discardLog struct{}

func (discardLog) Warn(string, ...any)  {}
func (discardLog) Error(string, ...any) {}

// TestStopRefreshesCancelsAndWaitsForTheUpstreamReload: a stale upstream table is
// served at once while it reloads in the background (one reload at a time), and the
// shutdown path (Gateway.StopRefreshes) cancels the reload and returns only once it has.
func TestStopRefreshesCancelsAndWaitsForTheUpstreamReload(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := &blockingUpstreams{started: make(chan struct{})}
	file := []Upstream{{Name: "a", BaseURL: "http://127.0.0.1:1", Models: []string{"m"}}}
	g := &Gateway{refresh: refresh.New(time.Hour)}
	g.reg = &registry{file: file, store: st, now: func() time.Time { return now }, log: discardLog{}, refresh: g.refresh}
	if err := g.reg.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * refreshEvery) // stale
	for range 3 {
		if e, ok := g.reg.route("m"); !ok || e.Name != "a" {
			t.Fatalf("stale table not served: %v %v", e, ok)
		}
	}
	<-st.started
	if n := st.reads.Load(); n != 2 {
		t.Fatalf("%d reads, want 2 (the load, then one reload)", n)
	}
	g.StopRefreshes() // the reload only ends when cancelled: the timeout is an hour
	if !st.returned.Load() {
		t.Fatal("StopRefreshes returned before the reload did")
	}
	if _, ok := g.reg.route("m"); !ok { // a reload asked for now runs cancelled; the table stays
		t.Fatal("no route after shutdown")
	}
}
