package memory

import (
	"fmt"
	"testing"
	"time"
)

// TestSweepBoundsMemory checks that expired entries nobody reads again are
// dropped by the opportunistic sweep.
func TestSweepBoundsMemory(t *testing.T) {
	now := time.Date(2025, time.June, 1, 12, 0, 0, 0, time.UTC)
	s := New(WithClock(func() time.Time { return now })) // one goroutine only
	const n = 1000
	for round := range 10 {
		for i := range n {
			key := fmt.Sprintf("r%d-k%d", round, i)
			if err := s.PutPending(t.Context(), key, []byte("v"), time.Second); err != nil {
				t.Fatalf("PutPending: got error %v, want nil", err)
			}
		}
		now = now.Add(2 * time.Second) // every entry written so far has expired
	}
	s.mu.Lock()
	size := len(s.pending)
	s.mu.Unlock()
	// Without sweeping 10*n entries would remain; a sweep runs at least
	// every max(minSweep, live entries) writes.
	if size > 2*n {
		t.Errorf("pending entries after writing %d expiring ones: got %d, want at most %d", 10*n, size, 2*n)
	}
}
