package gateway

import (
	"context"
	"encoding/json"
	"slices"
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
	j, err := openJournal(ctx, dir, g.nodeID, waitSync, g.ingest, g.log)
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
	res, err := ingestRetry(context.Background(), events, g.ingest)
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

// ingest is metering.Ingest for the gateway's own events (the settler's batches and the
// journal's replay), which an answered request must never leave unrecorded: an event
// rejected for a unit its price does not know (unknown_unit: the price changed between
// the request and its settlement, or the workspace's price list did) is ingested again
// with all its units moved into its metadata (unpriced_units, as Gateway.event does),
// charged for its tokens, and logged as an error.
func (g *Gateway) ingest(ctx context.Context, events []metering.Event) (metering.IngestResult, error) {
	res, err := g.metering.Ingest(ctx, events)
	if err != nil {
		return res, err
	}
	var again []metering.Event
	var index []int
	for _, rj := range res.Rejected {
		if rj.Code != "unknown_unit" {
			continue
		}
		ev := events[rj.Index]
		units := ev.Usage.UnitCounts()
		if len(units) == 0 {
			continue
		}
		ev.Metadata = withUnpriced(ev.Metadata, mergeUnpriced(ev.Metadata, units))
		ev.Usage.Units, ev.Usage.WebSearchCalls = nil, 0
		g.log.Error("gateway usage event rejected for a unit its price does not know; recorded without it (metadata unpriced_units), not charged for it",
			"request", ev.ID, "model", ev.Model, "units", units)
		again = append(again, ev)
		index = append(index, rj.Index)
	}
	if len(again) == 0 {
		return res, nil
	}
	res2, err := g.metering.Ingest(ctx, again)
	if err != nil {
		return res, nil // the first answer stands; the batch is retried as a whole only on an error
	}
	redone := map[int]bool{}
	for j, i := range index {
		redone[i] = true
		res.Outcomes[i] = res2.Outcomes[j]
		res.Events[i] = res2.Events[j]
		switch res2.Outcomes[j] {
		case metering.Accepted:
			res.Accepted++
		case metering.Duplicate:
			res.Duplicates++
		}
	}
	kept := res.Rejected[:0]
	for _, rj := range res.Rejected {
		if !redone[rj.Index] {
			kept = append(kept, rj)
		}
	}
	for _, rj := range res2.Rejected {
		rj.Index = index[rj.Index]
		kept = append(kept, rj)
	}
	slices.SortFunc(kept, func(a, b metering.Rejection) int { return a.Index - b.Index })
	res.Rejected = kept
	return res, nil
}

// mergeUnpriced adds to units the unpriced units meta already lists.
func mergeUnpriced(meta json.RawMessage, units map[string]int64) map[string]int64 {
	var m struct {
		Unpriced map[string]int64 `json:"unpriced_units"`
	}
	if json.Unmarshal(meta, &m) != nil || len(m.Unpriced) == 0 {
		return units
	}
	out := make(map[string]int64, len(units)+len(m.Unpriced))
	for k, v := range m.Unpriced {
		out[k] = v
	}
	for k, v := range units {
		out[k] += v
	}
	return out
}
