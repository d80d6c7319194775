// Package loadtest drives an HTTP endpoint at a fixed request rate (open loop: requests
// are sent on schedule whether or not earlier ones have answered, so a slow answer
// cannot hide the requests that would have queued behind it) or as fast as a number of
// workers can go (closed loop), and summarises the latencies. The gateway's benchmark
// uses it to measure the gateway against the upstream it fronts, side by side.
package loadtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Do sends one request and returns when its answer has been read completely.
type Do func(ctx context.Context) error

// Result is what one run measured.
type Result struct {
	Latencies []time.Duration // one per successful request, sorted
	Errors    int64
	Elapsed   time.Duration
}

// Rate runs n requests at rate per second. Each latency is measured from the moment the
// request was scheduled, not sent, so a stalled sender shows up as latency too.
func Rate(ctx context.Context, rate, n int, do Do) Result {
	interval := time.Second / time.Duration(rate)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs atomic.Int64
	lat := make([]time.Duration, 0, n)
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			if err := do(ctx); err != nil {
				errs.Add(1)
				return
			}
			d := time.Since(at)
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(lat)
	return Result{Latencies: lat, Errors: errs.Load(), Elapsed: time.Since(start)}
}

// Closed runs workers loops sending requests back to back for d.
func Closed(ctx context.Context, workers int, d time.Duration, do Do) Result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs atomic.Int64
	var lat []time.Duration
	start := time.Now()
	for range workers {
		wg.Go(func() {
			var mine []time.Duration
			for ctx.Err() == nil {
				t := time.Now()
				if err := do(context.WithoutCancel(ctx)); err != nil {
					errs.Add(1)
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(lat)
	return Result{Latencies: lat, Errors: errs.Load(), Elapsed: time.Since(start)}
}

// Merge joins the results of several runs.
func Merge(rs ...Result) Result {
	var out Result
	for _, r := range rs {
		out.Latencies = append(out.Latencies, r.Latencies...)
		out.Errors += r.Errors
		out.Elapsed += r.Elapsed
	}
	slices.Sort(out.Latencies)
	return out
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the latencies, nearest rank.
func (r Result) Quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.Latencies))+0.5) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

// PerSecond is the rate of successful requests.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.Latencies)) / r.Elapsed.Seconds()
}

// String summarises the result on one line.
func (r Result) String() string {
	s := fmt.Sprintf("n=%d errors=%d p50=%s p90=%s p99=%s max=%s", len(r.Latencies), r.Errors,
		r.Quantile(0.5), r.Quantile(0.9), r.Quantile(0.99), r.Quantile(1))
	if r.Elapsed > 0 {
		s += fmt.Sprintf(" rate=%.0f/s", r.PerSecond())
	}
	return s
}
