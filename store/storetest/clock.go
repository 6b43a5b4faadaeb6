package storetest

import (
	"sync"
	"time"
)

// Clock is a fake clock for stores under test: it stands still until
// Advance moves it. Pass its Now to a store's clock option and its Advance
// to PendingHarness.Advance. It is safe for concurrent use. Create it with
// NewClock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock that reads 2030-01-01 00:00:00 UTC until moved.
func NewClock() *Clock {
	return &Clock{now: time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
