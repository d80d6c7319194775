// Package requestlog is the request log: every gateway request that got an answer,
// those that were charged (metering's usage events) and those that were refused or
// failed (refusals, kept here), in one order, and the detail of one request (its price
// version, the arithmetic of its cost, its hold and the ledger transfer that charged it).
//
// Refusals are not usage: no rollup, wallet or ledger entry counts them. The gateway
// hands each to a Recorder, which never blocks the request: it buffers a bounded number
// of them and writes them in batches (Flush, a background job); what does not fit is
// dropped and counted (Dropped). Stored refusals are bounded by age and per workspace
// (Prune, a background job): see Retention and MaxPerWorkspace.
package requestlog

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/metering"
)

// Kinds of refusal, which are also the request log's status filter values.
const (
	// StatusAnswered is a request that was answered and metered (a usage event).
	StatusAnswered = "answered"
	// StatusRefused is a request the gateway refused itself (402, 403, 429, …).
	StatusRefused = "refused"
	// StatusUpstreamError is a request the upstream refused or failed (its status ≥ 400,
	// or unreachable: 502/504).
	StatusUpstreamError = "upstream_error"
)

// Bounds on stored and buffered refusals.
const (
	// Retention is how long a refusal is kept.
	Retention = 30 * 24 * time.Hour
	// MaxPerWorkspace is the most refusals a workspace keeps (the newest); Prune deletes
	// the older ones.
	MaxPerWorkspace = 100_000
	// MaxPerMinute is the most refusals one node records per workspace per minute; more
	// are dropped and counted (a flood of 429s costs the database at most this).
	MaxPerMinute = 1_000
	// MaxBuffered is the most refusals a node holds before they are written; more are
	// dropped and counted.
	MaxBuffered = 8_192
	// MaxCounted is the most refusals the Overview counts in a period (it then says
	// "10,000+"), so that counting stays cheap at any volume.
	MaxCounted = 10_000
	// flushBatch is how many refusals one insert writes; a buffer this full wakes the
	// flush job at once.
	flushBatch = 512
)

// Refusal is one gateway request answered with an error, at no cost.
type Refusal struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspace_id"`
	Timestamp   time.Time `json:"timestamp"`
	KeyID       string    `json:"key_id"`
	Member      string    `json:"member"`
	Project     string    `json:"project"`
	Model       string    `json:"model"` // "" when the request named none, or could not be read
	Endpoint    string    `json:"endpoint"`
	Upstream    string    `json:"upstream,omitempty"` // the upstream that failed (upstream errors)
	HTTPStatus  int       `json:"http_status"`
	Kind        string    `json:"kind"` // StatusRefused or StatusUpstreamError
	Code        string    `json:"code"`
	Message     string    `json:"message"`
	BudgetID    string    `json:"budget_id,omitempty"` // the hard budget that refused it (budget_exceeded)
	Stream      bool      `json:"stream"`
	LatencyMS   int64     `json:"latency_ms"`
}

// RefusalFilter selects refusals for the request log, keyset-paginated.
type RefusalFilter struct {
	WorkspaceID string
	Start, End  time.Time // optional; End exclusive
	metering.Filter
	Kind string // "" for both kinds
	ID   string // one request id, or ""
	// ByLatency orders by latency (highest first) rather than time; ties, and the time
	// order, go newest first by (Timestamp, ID). In every other order of the log (cost,
	// tokens) a refusal's key is 0, so refusals go in time order there too.
	ByLatency bool
	// After, when set, continues strictly after this position of the log's order (its
	// Value is a latency when ByLatency, else a cost or token count or 0).
	After *metering.Cursor
	Limit int
}

// CodeCount is how many refusals of one code a period had.
type CodeCount struct {
	Code  string `json:"code"`
	Count int64  `json:"count"`
}

// Store keeps refusals. Implemented by internal/store.
type Store interface {
	// InsertRefusals stores refusals; one whose id is stored already is skipped.
	InsertRefusals(ctx context.Context, rs []Refusal) error
	// Refusals returns the refusals f selects, in f's order, at most f.Limit.
	Refusals(ctx context.Context, f RefusalFilter) ([]Refusal, error)
	// Refusal returns one refusal of the workspace, or errs.NotFound request_not_found.
	Refusal(ctx context.Context, workspaceID, id string) (Refusal, error)
	// RefusalCounts counts the newest max of a workspace's refusals in [start, end) by
	// code, most first.
	RefusalCounts(ctx context.Context, workspaceID string, start, end time.Time, max int) ([]CodeCount, error)
	// PruneRefusals deletes refusals older than before, and of each workspace named all
	// but its newest keep; it returns how many it deleted.
	PruneRefusals(ctx context.Context, before time.Time, keep int, workspaces []string) (int, error)
	// UsageTransfer returns the ledger transfer that charged the event id of the
	// workspace (whose time is ts), and false when none did (a cost of zero, or an
	// event not found).
	UsageTransfer(ctx context.Context, workspaceID, id string, ts time.Time) (ledger.Transfer, bool, error)
}

// ErrNotFound is the answer for a request id the workspace has no record of.
var ErrNotFound = errs.E(errs.NotFound, "request_not_found", "this workspace has no request with that id")

// Recorder buffers refusals and writes them in batches, off the request path. The zero
// value is not usable: use NewRecorder. A nil *Recorder records nothing.
type Recorder struct {
	store Store
	now   func() time.Time

	mu      sync.Mutex
	buf     []Refusal
	minute  time.Time      // the window perMin counts
	perMin  map[string]int // refusals recorded per workspace in minute
	touched map[string]bool

	wake    chan struct{}
	dropped atomic.Uint64
	written atomic.Uint64
}

// NewRecorder returns a recorder writing to store; now is the clock.
func NewRecorder(store Store, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{store: store, now: now, perMin: map[string]int{}, touched: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// Record queues r to be written. It never blocks: when the buffer is full, or r's
// workspace has had MaxPerMinute refusals recorded this minute, r is dropped and
// counted. A refusal without a workspace is not recorded.
func (rec *Recorder) Record(r Refusal) {
	if rec == nil || r.WorkspaceID == "" {
		return
	}
	rec.mu.Lock()
	if m := rec.now().Truncate(time.Minute); !m.Equal(rec.minute) {
		rec.minute, rec.perMin = m, map[string]int{}
	}
	if len(rec.buf) >= MaxBuffered || rec.perMin[r.WorkspaceID] >= MaxPerMinute {
		rec.mu.Unlock()
		rec.dropped.Add(1)
		return
	}
	rec.perMin[r.WorkspaceID]++
	rec.buf = append(rec.buf, r)
	full := len(rec.buf) >= flushBatch
	rec.mu.Unlock()
	if full {
		select {
		case rec.wake <- struct{}{}:
		default:
		}
	}
}

// Nudged receives when the buffer holds a batch: the flush job runs at once.
func (rec *Recorder) Nudged() <-chan struct{} { return rec.wake }

// Dropped is how many refusals were not recorded (buffer full or over MaxPerMinute).
func (rec *Recorder) Dropped() uint64 { return rec.dropped.Load() }

// Written is how many refusals this recorder has written.
func (rec *Recorder) Written() uint64 { return rec.written.Load() }

// Flush writes every buffered refusal, in batches. A batch that fails is dropped and
// counted (the error is returned), so a database that is down never grows the buffer
// past its bound.
func (rec *Recorder) Flush(ctx context.Context) error {
	rec.mu.Lock()
	buf := rec.buf
	rec.buf = nil
	for _, r := range buf {
		rec.touched[r.WorkspaceID] = true
	}
	rec.mu.Unlock()
	var first error
	for len(buf) > 0 {
		n := min(len(buf), flushBatch)
		if err := rec.store.InsertRefusals(ctx, buf[:n]); err != nil {
			rec.dropped.Add(uint64(n))
			if first == nil {
				first = err
			}
		} else {
			rec.written.Add(uint64(n))
		}
		buf = buf[n:]
	}
	return first
}

// Prune deletes refusals older than Retention, and of each workspace this recorder
// wrote to since the last pass, all but the newest MaxPerWorkspace.
func (rec *Recorder) Prune(ctx context.Context) error {
	rec.mu.Lock()
	ws := make([]string, 0, len(rec.touched))
	for w := range rec.touched {
		ws = append(ws, w)
	}
	rec.touched = map[string]bool{}
	rec.mu.Unlock()
	_, err := rec.store.PruneRefusals(ctx, rec.now().Add(-Retention), MaxPerWorkspace, ws)
	if err != nil {
		rec.mu.Lock()
		for _, w := range ws {
			rec.touched[w] = true // tried again at the next pass
		}
		rec.mu.Unlock()
	}
	return err
}
