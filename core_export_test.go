package authsys

import "github.com/authsys-go/authsys/internal/password"

// CoreHasher returns the password hasher of a, so that the black-box tests
// of the core flows can hold its hashing slots (Hasher.Reserve) and prove
// which requests hash a password.
func CoreHasher(a *Auth) *password.Hasher { return a.hasher }
