package requestlog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/requestlog"
)

// fakeStore records inserts and prunes; fail makes the next insert or prune fail.
type fakeStore struct {
	inserted [][]requestlog.Refusal
	pruned   [][]string
	before   time.Time
	fail     bool
}

func (f *fakeStore) InsertRefusals(_ context.Context, rs []requestlog.Refusal) error {
	if f.fail {
		return errors.New("down")
	}
	f.inserted = append(f.inserted, slices.Clone(rs))
	return nil
}
func (f *fakeStore) Refusals(context.Context, requestlog.RefusalFilter) ([]requestlog.Refusal, error) {
	return nil, nil
}
func (f *fakeStore) Refusal(context.Context, string, string) (requestlog.Refusal, error) {
	return requestlog.Refusal{}, requestlog.ErrNotFound
}
func (f *fakeStore) RefusalCounts(_ context.Context, _ string, _, _ time.Time, max int) ([]requestlog.CodeCount, error) {
	if max != requestlog.MaxCounted+1 {
		return nil, errors.New("counts at most MaxCounted+1")
	}
	return []requestlog.CodeCount{{Code: "rate_limit_exceeded", Count: requestlog.MaxCounted}, {Code: "insufficient_balance", Count: 1}}, nil
}
func (f *fakeStore) PruneRefusals(_ context.Context, before time.Time, keep int, ws []string) (int, error) {
	if f.fail {
		return 0, errors.New("down")
	}
	slices.Sort(ws)
	f.pruned, f.before = append(f.pruned, ws), before
	return 0, nil
}
func (f *fakeStore) UsageTransfer(context.Context, string, string, time.Time) (ledger.Transfer, bool, error) {
	return ledger.Transfer{}, false, nil
}

var t0 = time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)

func refusal(ws string, i int) requestlog.Refusal {
	return requestlog.Refusal{ID: fmt.Sprintf("req_%s_%d", ws, i), WorkspaceID: ws, Timestamp: t0, Kind: requestlog.StatusRefused, Code: "rate_limit_exceeded", HTTPStatus: 429}
}

// TestRecorderBounds: a workspace records at most MaxPerMinute refusals a minute (the
// next minute it may again), the buffer holds at most MaxBuffered, and everything past
// either is dropped and counted; a refusal without a workspace is not recorded.
func TestRecorderBounds(t *testing.T) {
	now := t0
	st := &fakeStore{}
	rec := requestlog.NewRecorder(st, func() time.Time { return now })
	for i := range requestlog.MaxPerMinute + 10 {
		rec.Record(refusal("ws_flood", i))
	}
	rec.Record(requestlog.Refusal{ID: "req_anon", Kind: requestlog.StatusRefused})
	rec.Record(refusal("ws_quiet", 0))
	if got := rec.Dropped(); got != 10 {
		t.Fatalf("dropped %d, want the 10 past the workspace's minute", got)
	}
	select {
	case <-rec.Nudged():
	default:
		t.Fatal("a full batch should wake the flush job")
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range st.inserted {
		if len(b) > 512 {
			t.Fatalf("a batch of %d", len(b))
		}
		n += len(b)
	}
	if n != requestlog.MaxPerMinute+1 || rec.Written() != uint64(n) {
		t.Fatalf("wrote %d (%d), want %d", n, rec.Written(), requestlog.MaxPerMinute+1)
	}
	now = now.Add(time.Minute) // a new minute: the workspace may record again
	rec.Record(refusal("ws_flood", 5000))
	if rec.Dropped() != 10 {
		t.Fatalf("dropped %d after a new minute", rec.Dropped())
	}
	// The buffer bound: many workspaces, no flush.
	for i := range requestlog.MaxBuffered + 5 {
		rec.Record(refusal(fmt.Sprintf("ws_%d", i), i))
	}
	if got := rec.Dropped(); got != 10+6 { // the buffer held one already
		t.Fatalf("dropped %d, want 16", got)
	}
	// A failed write drops its batches and counts them; the buffer is empty after.
	st.fail = true
	if err := rec.Flush(context.Background()); err == nil {
		t.Fatal("a failed write should be reported")
	}
	if got := rec.Dropped(); got != 16+uint64(requestlog.MaxBuffered) {
		t.Fatalf("dropped %d after a failed flush", got)
	}
	st.fail = false
	if err := rec.Flush(context.Background()); err != nil || len(st.inserted) != 2 {
		t.Fatalf("nothing left to write: %v, %d inserts", err, len(st.inserted))
	}
}

// TestRecorderPrune: a pass prunes by Retention and caps the workspaces written since the
// last pass; a failed pass keeps them for the next.
func TestRecorderPrune(t *testing.T) {
	st := &fakeStore{}
	rec := requestlog.NewRecorder(st, func() time.Time { return t0 })
	rec.Record(refusal("ws_b", 1))
	rec.Record(refusal("ws_a", 1))
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.fail = true
	if err := rec.Prune(context.Background()); err == nil {
		t.Fatal("a failed prune should be reported")
	}
	st.fail = false
	if err := rec.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := rec.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(st.pruned) != 2 || !slices.Equal(st.pruned[0], []string{"ws_a", "ws_b"}) || len(st.pruned[1]) != 0 {
		t.Fatalf("pruned %v", st.pruned)
	}
	if !st.before.Equal(t0.Add(-requestlog.Retention)) {
		t.Fatalf("pruned before %v", st.before)
	}
}

// TestNilRecorder: a gateway without a request log records nothing.
func TestNilRecorder(t *testing.T) {
	var rec *requestlog.Recorder
	rec.Record(refusal("ws", 1))
}

// TestRefusalSummaryCapped: past MaxCounted, the summary says so and counts MaxCounted.
func TestRefusalSummaryCapped(t *testing.T) {
	s := requestlog.NewService(nil, &fakeStore{}, nil)
	sum, err := s.RefusalSummary(context.Background(), "ws", t0, t0.Add(time.Hour))
	if err != nil || !sum.Capped || sum.Total != requestlog.MaxCounted || len(sum.Codes) != 1 || sum.Main() != "rate_limit_exceeded" {
		t.Fatalf("%+v %v", sum, err)
	}
}
