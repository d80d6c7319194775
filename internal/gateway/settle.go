package gateway

import (
	"context"
	"sync"
	"time"

	"spectra/internal/metering"
)

// settler records finished requests' usage events and settles their holds, in batches:
// whatever has queued while the previous batch was being committed goes into the next
// one (one metering.Ingest call, one transaction). The client never waits for it; until
// its event is committed a request's hold stays in the book, so the wallet can never be
// spent twice. At most one batch is in flight per gateway.
type settler struct {
	g *Gateway

	mu      sync.Mutex
	queue   []settleReq
	running bool
}

type settleReq struct {
	c  *call
	ev metering.Event
}

// maxSettleBatch bounds one batch; settleLinger is how long a small batch waits for
// company before it is committed (bigger transactions cost the database less per event).
const (
	maxSettleBatch = 1000
	settleLinger   = 20 * time.Millisecond
)

// settleAsync queues c's event; Flush waits for it.
func (g *Gateway) settleAsync(c *call, ev metering.Event) {
	g.limits.settle(c.ticket, ev.Usage.Input+ev.Usage.Output)
	g.pending.Add(1)
	s := &g.settler
	s.mu.Lock()
	s.queue = append(s.queue, settleReq{c, ev})
	start := !s.running
	s.running = true
	s.mu.Unlock()
	if start {
		go s.drain()
	}
}

func (s *settler) drain() {
	for {
		s.mu.Lock()
		if len(s.queue) < maxSettleBatch/10 {
			s.mu.Unlock()
			time.Sleep(settleLinger)
			s.mu.Lock()
		}
		n := min(len(s.queue), maxSettleBatch)
		if n == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		batch := s.queue[:n:n]
		s.queue = s.queue[n:]
		s.mu.Unlock()
		s.commit(batch)
		for range batch {
			s.g.pending.Done()
		}
	}
}

// commit ingests one batch (retrying transient failures: events are idempotent by id)
// and closes each hold: settled at its cost, or released when its event was refused.
func (s *settler) commit(batch []settleReq) {
	g := s.g
	events := make([]metering.Event, len(batch))
	for i, r := range batch {
		events[i] = r.ev
	}
	var res metering.IngestResult
	var err error
	for attempt := range 4 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
		if res, err = g.metering.Ingest(context.Background(), events); err == nil {
			break
		}
	}
	if err != nil {
		g.log.Error("gateway usage events not recorded", "count", len(batch), "err", err)
		for _, r := range batch {
			g.book.release(r.c.hold)
			g.budget.release(r.c.budget)
		}
		return
	}
	for _, rj := range res.Rejected {
		g.log.Error("gateway usage event rejected", "request", rj.ID, "code", rj.Code, "err", rj.Error)
	}
	for i, r := range batch {
		switch res.Outcomes[i] {
		case metering.Accepted, metering.Duplicate:
			g.book.settle(r.c.hold, res.Events[i].Cost)
			g.budget.settle(r.c.budget, res.Events[i].Cost)
		default:
			g.book.release(r.c.hold)
			g.budget.release(r.c.budget)
		}
	}
}
