package storetest_test

import (
	"sync"
	"testing"
	"time"

	"spectra/internal/store/storetest"
)

func TestClockSetAndAdvance(t *testing.T) {
	start := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	c := storetest.NewClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now = %v, want %v", got, start)
	}
	c.Advance(90 * time.Minute)
	if got, want := c.Now(), start.Add(90*time.Minute); !got.Equal(want) {
		t.Fatalf("after Advance: Now = %v, want %v", got, want)
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("after Set: Now = %v, want %v", got, start)
	}
	var zero storetest.Clock
	if !zero.Now().IsZero() {
		t.Fatalf("zero Clock reads %v, want the zero time", zero.Now())
	}
}

// TestClockConcurrent advances one clock from many goroutines (run with -race): no tick
// is lost.
func TestClockConcurrent(t *testing.T) {
	c := storetest.NewClock(time.Time{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			c.Advance(time.Second)
			_ = c.Now()
		})
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(time.Time{}.Add(50 * time.Second)) {
		t.Fatalf("Now = %v after 50 one-second advances", got)
	}
}
