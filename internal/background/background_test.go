package background

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// never is an interval no test waits for: a pass after the first comes only from Wake.
const never = time.Hour

func TestLoopRunsAtStartBeforeTheFirstTick(t *testing.T) {
	ran := make(chan struct{}, 1)
	g := Start(context.Background(), nil, Job{Name: "t", Every: never, Run: func(context.Context) error {
		select {
		case ran <- struct{}{}:
		default:
		}
		return nil
	}})
	<-ran // with an hour's interval, only the pass at start can get here
	g.Stop()
}

func TestLoopRunsOnWakeAndOnTicks(t *testing.T) {
	wake := make(chan struct{}, 1)
	passes := make(chan struct{})
	g := Start(context.Background(), nil, Job{Name: "t", Every: never, Wake: wake, Run: func(ctx context.Context) error {
		select {
		case passes <- struct{}{}:
		case <-ctx.Done():
		}
		return nil
	}})
	<-passes // at start
	wake <- struct{}{}
	<-passes // on the nudge
	g.Stop()

	var n atomic.Int32
	ticked := make(chan struct{})
	g = Start(context.Background(), nil, Job{Name: "t", Every: time.Millisecond, Run: func(context.Context) error {
		if n.Add(1) == 3 {
			close(ticked)
		}
		return nil
	}})
	<-ticked // two passes after the one at start: the ticker drives the loop
	g.Stop()
}

func TestLoopGoesOnAfterAnError(t *testing.T) {
	wake := make(chan struct{}, 1)
	var n atomic.Int32
	second := make(chan struct{})
	g := Start(context.Background(), nil, Job{Name: "t", Every: never, Wake: wake, Run: func(context.Context) error {
		if n.Add(1) == 2 {
			close(second)
		}
		return errors.New("boom")
	}})
	wake <- struct{}{}
	<-second
	g.Stop()
}

// TestStopWaitsForEveryJob: Stop cancels the jobs and returns only once each has
// returned, including an AtStop pass, which runs on a context that is not cancelled.
func TestStopWaitsForEveryJob(t *testing.T) {
	cancelled := make(chan struct{})
	proceed := make(chan struct{})
	var finished, finalRan atomic.Bool
	var finalCtxErr atomic.Value
	var flushes atomic.Int32
	flushStarted := make(chan struct{})
	started := make(chan struct{})
	g := Start(context.Background(), nil,
		Job{Name: "slow", Every: never, Run: func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			close(cancelled)
			<-proceed // still working after the cancellation
			finished.Store(true)
			return ctx.Err()
		}},
		Job{Name: "flush", Every: never, AtStop: true, Run: func(ctx context.Context) error {
			switch flushes.Add(1) {
			case 1: // the pass at start
				close(flushStarted)
			case 2: // the final pass
				finalCtxErr.Store(fmtErr{ctx.Err()})
				finalRan.Store(true)
			}
			return nil
		}},
	)
	<-started
	<-flushStarted
	stopped := make(chan struct{})
	go func() { g.Stop(); close(stopped) }()
	<-cancelled
	select {
	case <-stopped:
		t.Fatal("Stop returned while a job was still running")
	default:
	}
	close(proceed)
	<-stopped
	if !finished.Load() {
		t.Fatal("Stop returned before the job finished")
	}
	if !finalRan.Load() {
		t.Fatal("the AtStop pass did not run")
	}
	if err := finalCtxErr.Load().(fmtErr).err; err != nil {
		t.Fatalf("the AtStop pass ran on a cancelled context: %v", err)
	}
}

// TestStartIgnoresTheParentsCancellation: the loops stop when shutdown says so, not
// when the signal that started shutdown cancels the serve context.
func TestStartIgnoresTheParentsCancellation(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	wake := make(chan struct{}, 1)
	passes := make(chan struct{})
	g := Start(parent, nil, Job{Name: "t", Every: never, Wake: wake, Run: func(ctx context.Context) error {
		select {
		case passes <- struct{}{}:
		case <-ctx.Done():
		}
		return nil
	}})
	<-passes
	cancel()
	wake <- struct{}{}
	<-passes // still running
	g.Stop()
}

type fmtErr struct{ err error }
