package gateway

import (
	"context"
	"sync"
	"time"

	"spectra/internal/metering"
)

// settler records finished requests' usage events and settles their holds, in batches:
// whatever has queued while the previous batch was being committed goes into the next
// one (one metering.Ingest call, one transaction). Until its event is committed a
// request's hold stays in the book, so the wallet can never be spent twice. At most one
// batch is in flight per gateway.
//
// With a journal (Config.JournalDir), a request's event is on disk in this node's settle
// journal before settleAsync returns, that is before its answer's last byte is sent: if
// the node dies before the batch commits, the next start replays it (journal.go).
type settler struct {
	g       *Gateway
	journal *journal // nil: no journal (events finished within ~20 ms of a crash are lost)

	mu      sync.Mutex
	queue   []settleReq
	running bool

	stall chan struct{} // tests: when set, batches wait for it to close (a node that dies before committing)
}

type settleReq struct {
	c   *call
	ev  metering.Event
	seg *segment // the journal segment holding ev; nil without a journal
}

// maxSettleBatch bounds one batch; settleLinger is how long a small batch waits for
// company before it is committed (bigger transactions cost the database less per event).
const (
	maxSettleBatch = 1000
	settleLinger   = 20 * time.Millisecond
)

// settleAsync makes c's charge durable and queues its settle; Flush waits for it. Call
// it before the answer's last byte is written: with a journal it returns once ev is in
// the journal (written to the operating system, or synced to disk with JournalSync).
// When the journal cannot take it, ev is committed to the database before it returns.
func (g *Gateway) settleAsync(c *call, ev metering.Event) {
	g.limits.settle(c.ticket, ev.Usage.Input+ev.Usage.Output)
	g.pending.Add(1)
	s := &g.settler
	var seg *segment
	if s.journal != nil {
		var err error
		if seg, err = s.journal.append(ev); err != nil {
			s.commit([]settleReq{{c: c, ev: ev}})
			g.pending.Done()
			return
		}
	}
	s.mu.Lock()
	s.queue = append(s.queue, settleReq{c, ev, seg})
	start := !s.running
	s.running = true
	s.mu.Unlock()
	if start {
		go s.drain()
	}
}

// openJournal opens this node's settle journal in dir, replaying what an earlier run
// (or a dead node sharing dir) left uncommitted. An empty dir keeps no journal.
func (g *Gateway) openJournal(dir string, waitSync bool) error {
	if dir == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	j, err := openJournal(ctx, dir, g.nodeID, waitSync, g.metering.Ingest, g.log)
	if err != nil {
		return err
	}
	g.settler.journal = j
	g.log.Info("settle journal", "dir", dir, "sync", waitSync)
	return nil
}

// Close releases this node's settle journal: call it after Flush, at shutdown. Events
// not yet committed (Flush timed out) stay in the journal for the next start.
func (g *Gateway) Close() error {
	if g.settler.journal == nil {
		return nil
	}
	return g.settler.journal.close()
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
		if s.stall != nil {
			<-s.stall
		}
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
	res, err := ingestRetry(context.Background(), events, g.metering.Ingest)
	if err != nil {
		if s.journal != nil && batch[0].seg != nil {
			g.log.Error("gateway usage events not recorded; kept in the settle journal, they are charged when this node next starts",
				"count", len(batch), "err", err)
		} else {
			g.log.Error("gateway usage events not recorded", "count", len(batch), "err", err)
		}
		for _, r := range batch {
			g.book.release(r.c.hold)
			g.budget.release(r.c.budget)
		}
		return
	}
	if s.journal != nil {
		segs := make([]*segment, len(batch))
		for i, r := range batch {
			segs[i] = r.seg
		}
		s.journal.done(segs)
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
