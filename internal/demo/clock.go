package demo

import (
	"sync"
	"time"
)

// Clock is a clock that Seed can turn back while it writes history. Wire the store and
// the services with clock.Now (see Deps.Clock): while seeding, Now answers the moment
// being written (so workspace, keys, grants, top-ups and the ledger's usage transfers are
// dated inside the 90 days, in order); afterwards it answers base again.
type Clock struct {
	base func() time.Time

	mu sync.Mutex
	at time.Time // zero: follow base
}

// NewClock returns a clock that follows base (time.Now when nil) until Seed sets it.
func NewClock(base func() time.Time) *Clock {
	if base == nil {
		base = time.Now
	}
	return &Clock{base: base}
}

// Now returns the pinned time while one is set, and base() otherwise.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	at := c.at
	c.mu.Unlock()
	if at.IsZero() {
		return c.base()
	}
	return at
}

// Set pins the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.at = t
	c.mu.Unlock()
}

// Release makes the clock follow base again.
func (c *Clock) Release() { c.Set(time.Time{}) }

// set pins c at t when c is not nil.
func (c *Clock) set(t time.Time) {
	if c != nil {
		c.Set(t)
	}
}
