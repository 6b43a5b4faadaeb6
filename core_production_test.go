package authsys_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/authsys-go/authsys"
)

// TestCoreProductionPasswordParams runs signup and login with the
// production argon2id parameters (PasswordParams nil), which every other
// test replaces with cheap ones.
func TestCoreProductionPasswordParams(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes with the production parameters (19 MiB, 2 passes)")
	}
	e := newEnv(t, func(c *authsys.Config) { c.Passwords.Params = authsys.PasswordParams{} })
	e.signupVerified("prod@example.com", goodPassword)
	want := "$argon2id$v=19$m=19456,t=2,p=1$"
	if h := coreUser(e, "prod@example.com").PasswordHash; !strings.HasPrefix(h, want) {
		t.Fatalf("got hash %q, want the OWASP parameters %s…", h, want)
	}
	c := e.loggedIn("prod@example.com", goodPassword)
	expect(t, c.get("/me/"), http.StatusOK, "")
	expect(t, e.client().post("/login/", map[string]string{"email": "prod@example.com", "password": "not the password"}), http.StatusUnauthorized, "invalid_credentials")
}

// TestCoreRehashOnLogin checks that a hash written with older parameters
// is replaced by one with the current parameters at the next login, and
// that the old password keeps working.
func TestCoreRehashOnLogin(t *testing.T) {
	old := authsys.PasswordParams{Memory: 32, Iterations: 1, Parallelism: 1}
	e := newEnv(t, func(c *authsys.Config) { c.Passwords.Params = old })
	e.signupVerified("user@example.com", goodPassword)
	before := coreUser(e, "user@example.com").PasswordHash

	e2 := newEnv(t) // cheapParams: m=64
	if _, err := e2.store.CreateUser(t.Context(), authsys.User{Email: "user@example.com", PasswordHash: before, IsActive: true, EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	e2.loggedIn("user@example.com", goodPassword)
	after := coreUser(e2, "user@example.com").PasswordHash
	if after == before || !strings.Contains(after, "m=64,t=1,p=1") {
		t.Fatalf("got hash %q after login, want it rehashed with m=64,t=1,p=1", after)
	}
	e2.loggedIn("user@example.com", goodPassword)
}
