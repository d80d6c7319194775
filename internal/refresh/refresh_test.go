package refresh

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGoIsSingleFlightPerKeyAndDoesNotBlock: while a key's refresh is in flight the
// caller is not held (it serves what it has), and further refreshes of that key are
// skipped; another key refreshes alongside; once the refresh ends the key can refresh again.
func TestGoIsSingleFlightPerKeyAndDoesNotBlock(t *testing.T) {
	g := New(time.Minute)
	defer g.Close()
	release := make(chan struct{})
	var runs atomic.Int32
	started := make(chan struct{}, 4)
	slow := func(ctx context.Context) {
		runs.Add(1)
		started <- struct{}{}
		<-release
	}
	if !g.Go("a", slow) { // returns while slow is blocked: the caller is not held
		t.Fatal("first refresh of a not started")
	}
	<-started
	for range 3 {
		if g.Go("a", slow) {
			t.Fatal("a second refresh of a started while one was in flight")
		}
	}
	otherDone := make(chan struct{})
	if !g.Go("b", func(context.Context) { close(otherDone) }) {
		t.Fatal("a refresh of b was held back by a's")
	}
	<-otherDone
	close(release)
	// a's refresh ends; then a refreshes again.
	for !g.Go("a", func(context.Context) { started <- struct{}{} }) {
		time.Sleep(time.Millisecond) // a's first refresh is still returning
	}
	<-started
	if n := runs.Load(); n != 1 {
		t.Fatalf("slow ran %d times, want 1", n)
	}
}

// TestRunIsNotSingleFlight: Run starts every fn, whatever is in flight.
func TestRunIsNotSingleFlight(t *testing.T) {
	g := New(time.Minute)
	defer g.Close()
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 3 {
		wg.Add(1)
		g.Run(func(context.Context) { wg.Done(); <-release })
	}
	wg.Wait() // all three are running at once
	close(release)
}

// TestCloseCancelsAndWaits: Close cancels the refreshes in flight and returns only once
// each has returned.
func TestCloseCancelsAndWaits(t *testing.T) {
	g := New(time.Hour)
	started := make(chan struct{})
	var finished atomic.Bool
	g.Go("k", func(ctx context.Context) {
		close(started)
		<-ctx.Done() // only Close ends it: the timeout is an hour
		finished.Store(true)
	})
	<-started
	g.Close()
	if !finished.Load() {
		t.Fatal("Close returned before the refresh did")
	}
	g.Close() // idempotent
}

// TestAfterCloseRefreshesRunCancelled: a refresh asked for after Close still runs (a
// caller waiting for its result is answered), on a cancelled context.
func TestAfterCloseRefreshesRunCancelled(t *testing.T) {
	g := New(time.Minute)
	g.Close()
	got := make(chan error, 2)
	g.Go("k", func(ctx context.Context) { got <- ctx.Err() })
	g.Run(func(ctx context.Context) { got <- ctx.Err() })
	for range 2 {
		if err := <-got; err == nil {
			t.Fatal("a refresh after Close ran on a live context")
		}
	}
}

// TestRefreshHasATimeout: each refresh's context carries the Group's timeout.
func TestRefreshHasATimeout(t *testing.T) {
	g := New(time.Minute)
	defer g.Close()
	got := make(chan time.Time, 1)
	before := time.Now()
	g.Run(func(ctx context.Context) {
		d, _ := ctx.Deadline()
		got <- d
	})
	if d := <-got; d.IsZero() || d.Before(before.Add(time.Minute)) || d.After(time.Now().Add(time.Minute)) {
		t.Fatalf("deadline %v, want about a minute from now", d)
	}
}
