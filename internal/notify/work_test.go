package notify

import (
	"context"
	"errors"
	"testing"
	"time"
)

// workStore is a Store whose outbox reads are counted; each fails with its own error
// when fail is set.
type workStore struct {
	Store
	prunes, dispatches, claims int
	fail                       bool
}

var errPrune, errDispatch, errClaim = errors.New("prune failed"), errors.New("dispatch failed"), errors.New("claim failed")

func (w *workStore) PruneDeliveries(context.Context, time.Time) (int, error) {
	w.prunes++
	if w.fail {
		return 0, errPrune
	}
	return 0, nil
}

func (w *workStore) UndispatchedAlerts(context.Context, int) ([]string, error) {
	w.dispatches++
	if w.fail {
		return nil, errDispatch
	}
	return nil, nil
}

func (w *workStore) ClaimDeliveries(context.Context, time.Time, time.Time, int) ([]Delivery, error) {
	w.claims++
	if w.fail {
		return nil, errClaim
	}
	return nil, nil
}

// TestWorkPrunesHourlyAndDispatchesAndSendsEveryPass: one pass dispatches and sends
// every time, and prunes at most once per pruneInterval.
func TestWorkPrunesHourlyAndDispatchesAndSendsEveryPass(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := &workStore{}
	s := New(Config{Store: st, Now: func() time.Time { return now }})
	for range 3 {
		if err := s.Work(context.Background()); err != nil {
			t.Fatal(err)
		}
		now = now.Add(pruneInterval / 4)
	}
	if st.prunes != 1 || st.dispatches != 3 || st.claims != 3 {
		t.Fatalf("prunes %d, dispatches %d, claims %d; want 1, 3, 3", st.prunes, st.dispatches, st.claims)
	}
	now = now.Add(pruneInterval)
	if err := s.Work(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.prunes != 2 {
		t.Fatalf("prunes %d after an interval, want 2", st.prunes)
	}
}

// TestWorkGoesOnAfterAFailedStep: a failed step does not skip the next ones, and the
// pass returns every failure, each naming its step.
func TestWorkGoesOnAfterAFailedStep(t *testing.T) {
	st := &workStore{fail: true}
	s := New(Config{Store: st})
	err := s.Work(context.Background())
	for _, want := range []error{errPrune, errDispatch, errClaim} {
		if !errors.Is(err, want) {
			t.Errorf("Work's error %v does not carry %v", err, want)
		}
	}
	if st.prunes != 1 || st.dispatches != 1 || st.claims != 1 {
		t.Fatalf("prunes %d, dispatches %d, claims %d; want one each", st.prunes, st.dispatches, st.claims)
	}
}

// TestNudgedReceivesANudge: the background loop's Wake channel is the one Nudge fills.
func TestNudgedReceivesANudge(t *testing.T) {
	s := New(Config{Store: &workStore{}})
	s.Nudge()
	s.Nudge() // never blocks
	<-s.Nudged()
	select {
	case <-s.Nudged():
		t.Fatal("two nudges before a pass queued two passes")
	default:
	}
}
