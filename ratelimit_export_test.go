package authsys

import "context"

// RLHashStats reports how many password hashes a is computing now and the
// most it ever computed at once (its Config.MaxConcurrentHashes bound).
func RLHashStats(a *Auth) (inFlight, peak int) { return a.deps.Hasher.Stats() }

// RLHoldHashSlots takes n of a's hashing slots, as n running hashes would,
// and returns the function that gives them back.
func RLHoldHashSlots(ctx context.Context, a *Auth, n int) (release func(), err error) {
	var held []func()
	release = func() {
		for _, r := range held {
			r()
		}
	}
	for range n {
		r, err := a.deps.Hasher.Reserve(ctx)
		if err != nil {
			release()
			return nil, err
		}
		held = append(held, r)
	}
	return release, nil
}
