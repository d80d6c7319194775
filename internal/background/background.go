// Package background runs Spectra's periodic jobs in one shape. A domain service
// exposes a one-pass method (release expired holds once, flush key usage once, sweep
// budgets once); cmd describes each loop as a Job and starts them all in a Group,
// whose Stop cancels every loop and waits for it to return.
//
// A job runs once at start, then every interval (and at once when its Wake channel
// fires), until its context ends. Running at start means a restarted node catches up
// at once with work that fell due while it was down, instead of an interval later.
package background

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Job is one periodic background job.
type Job struct {
	// Name labels the job's log lines ("loop" attribute).
	Name string
	// Every is the interval between passes; it must be positive.
	Every time.Duration
	// Wake, if not nil, runs a pass at once when it receives (a nudge), besides the ticks.
	Wake <-chan struct{}
	// Run is one pass. An error is logged (unless the context has ended) and the loop goes on.
	Run func(context.Context) error
	// AtStop runs one last pass after the context ends, on a context without its
	// cancellation (for work that must not be lost at shutdown, like buffered writes).
	AtStop bool
}

// Loop runs job until ctx ends: once at once, then every job.Every or on job.Wake,
// then (with AtStop) once more. Errors are logged to log (nil: slog.Default()).
func Loop(ctx context.Context, job Job, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("loop", job.Name)
	pass := func(ctx context.Context) {
		if err := job.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("background job failed", "err", err)
		}
	}
	t := time.NewTicker(job.Every)
	defer t.Stop()
	for {
		if ctx.Err() != nil {
			break
		}
		pass(ctx)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-job.Wake: // a nil channel never receives
		}
	}
	if job.AtStop {
		pass(context.WithoutCancel(ctx))
	}
}

// Group runs jobs until Stop. The zero value is not usable: use Start.
type Group struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start runs each job in its own goroutine on a context that ends with Stop (not with
// ctx's cancellation, so that shutdown decides when the loops stop; ctx's values are kept).
func Start(ctx context.Context, log *slog.Logger, jobs ...Job) *Group {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g := &Group{cancel: cancel}
	for _, job := range jobs {
		g.wg.Go(func() { Loop(ctx, job, log) })
	}
	return g
}

// Stop cancels every job and waits until each has returned (including AtStop passes).
func (g *Group) Stop() {
	g.cancel()
	g.wg.Wait()
}
