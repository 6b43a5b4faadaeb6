package authsys

import (
	"context"

	"github.com/authsys-go/authsys/internal/password"
	"github.com/authsys-go/authsys/internal/server"
)

// CoreHasher returns the password hasher of a, so that the black-box tests
// of the core flows can hold its hashing slots (Hasher.Reserve) and prove
// which requests hash a password.
func CoreHasher(a *Auth) *password.Hasher { return a.deps.Hasher }

// ProblemCodes and EventKinds list every problem code and event kind, for
// the tests that the OpenAPI document and the README name them all.
var (
	ProblemCodes = server.ProblemCodes
	EventKinds   = server.EventKinds
)

// Routes returns the routes of Handler and AdminHandler as registered.
func Routes() (api, admin []server.Route) { return server.Routes() }

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
