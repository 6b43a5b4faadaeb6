package authsys_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/authsys-go/authsys"
)

// TestKeyRotationKeepsTwoFactor rotates the signing key (and with it the
// default TOTP keys) and checks that nobody loses two-factor
// authentication: TOTP secrets sealed under the old key are re-sealed when
// used, or all at once by RotateTOTPSecrets, and backup codes, keyed by
// each account's TOTP secret, survive the rotation; once the old key is
// gone, every account still logs in with a TOTP or a backup code.
func TestKeyRotationKeepsTwoFactor(t *testing.T) {
	a := newEnv(t)
	alice := a.tfaEnabled("alice@example.com")
	bob := a.tfaEnabled("bob@example.com")
	sealedUnder := func(email string) string {
		t.Helper()
		u, err := a.store.UserByEmail(t.Context(), email)
		if err != nil {
			t.Fatal(err)
		}
		kid, _, _ := strings.Cut(strings.TrimPrefix(u.TOTPSecret, "v1."), ".")
		return kid
	}
	if got := sealedUnder(alice.email); got != "k1" {
		t.Fatalf("alice's secret is sealed under %q, want k1 (the signing key's id)", got)
	}
	newKey := []byte("a brand new signing key of at least 32 bytes")
	onStore := func(mutate func(*authsys.Config)) func(*authsys.Config) {
		return func(c *authsys.Config) {
			c.Users, c.Pending, c.Now = a.store, a.store, a.clock.Now
			mutate(c)
		}
	}
	// During the rotation the new key signs and the old one verifies.
	during := newEnv(t, onStore(func(c *authsys.Config) {
		c.Keys.Signing.Secret, c.Keys.Signing.ID = newKey, "k2"
		c.Keys.Verification = []authsys.Key{{ID: "k1", Secret: testKey}}
	}))
	login := func(e *env, u *tfaUser, code string) {
		t.Helper()
		c, token := e.tfaLogin(u.email)
		expect(t, c.tfaVerify(token, code), http.StatusOK, "")
	}
	login(during, alice, a.tfaFreshCode(alice.secret))
	if got := sealedUnder(alice.email); got != "k2" {
		t.Errorf("after a login during the rotation alice's secret is under %q, want k2", got)
	}
	login(during, alice, alice.backup[0])
	if got := sealedUnder(bob.email); got != "k1" {
		t.Fatalf("bob, who did not log in, has his secret under %q, want k1 still", got)
	}
	n, err := during.auth.RotateTOTPSecrets(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("RotateTOTPSecrets: got %d, %v; want 1 (bob), nil", n, err)
	}
	if got := sealedUnder(bob.email); got != "k2" {
		t.Errorf("after RotateTOTPSecrets bob's secret is under %q, want k2", got)
	}
	if n, err := during.auth.RotateTOTPSecrets(t.Context()); err != nil || n != 0 {
		t.Errorf("RotateTOTPSecrets again: got %d, %v; want 0, nil", n, err)
	}

	// The old key is gone: every second factor still works.
	after := newEnv(t, onStore(func(c *authsys.Config) { c.Keys.Signing.Secret, c.Keys.Signing.ID = newKey, "k2" }))
	login(after, bob, a.tfaFreshCode(bob.secret))
	login(after, bob, bob.backup[0])
	login(after, alice, a.tfaFreshCode(alice.secret))
	login(after, alice, alice.backup[1])
	// A used backup code stays used across the rotation.
	c, token := after.tfaLogin(alice.email)
	expect(t, c.tfaVerify(token, alice.backup[0]), http.StatusBadRequest, "invalid_code")
}
