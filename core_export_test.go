package authsys

import (
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
