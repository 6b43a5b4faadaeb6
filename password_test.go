package authsys_test

// Passwords: reset by email, change, the reset race, and the production
// hashing parameters.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
)

func TestCorePasswordReset(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	expect(t, e.client().post("/signup/", map[string]string{"email": "idle@example.com", "password": goodPassword}), http.StatusCreated, "")
	session := e.loggedIn("user@example.com", goodPassword)
	before := coreFlush(e)

	expect(t, e.client().post("/password-reset/", map[string]string{"email": "User@Example.com"}), http.StatusOK, "")
	m := coreLastMail(e, "user@example.com", mail.KindPasswordReset)
	q := coreLinkQuery(t, m, coreFrontend+"/reset-password?")
	if e.outbox.Len() != before+1 {
		t.Fatalf("got %d new mails, want 1", e.outbox.Len()-before)
	}
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "ghost@example.com"}), http.StatusOK, "")
	if n := len(coreMails(e, "ghost@example.com", "")); n != 0 {
		t.Errorf("got %d mails for an unknown address, want 0", n)
	}
	// An unverified account gets the link too (completing it verifies
	// the account: see TestResetVerifiesAnUnverifiedAccount).
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "idle@example.com"}), http.StatusOK, "")
	coreLastMail(e, "idle@example.com", mail.KindPasswordReset)
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "nope"}), http.StatusBadRequest, "validation_failed")

	const newPassword = "a brand new passphrase"
	confirm := func(token, pw string) response {
		return e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": token, "new_password": pw})
	}
	for _, tc := range []struct {
		name, token, pw string
		code            string
	}{
		{"weak password", q.Get("token"), "short", "validation_failed"},
		{"common password", q.Get("token"), "password123", "validation_failed"},
		{"bad token", "k1.zzz.bad", newPassword, "invalid_token"},
		{"missing token", "", newPassword, "validation_failed"},
		{"missing password", q.Get("token"), "", "validation_failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, confirm(tc.token, tc.pw), http.StatusBadRequest, tc.code)
		})
	}
	// The failures above left the token usable.
	tv := coreUser(e, "user@example.com").TokenVersion
	expect(t, confirm(q.Get("token"), newPassword), http.StatusOK, "")
	if got := coreUser(e, "user@example.com").TokenVersion; got != tv+1 {
		t.Errorf("got TokenVersion %d, want %d", got, tv+1)
	}
	expect(t, session.get("/me/"), http.StatusUnauthorized, "invalid_token")
	expect(t, e.client().post("/login/", map[string]string{"email": "user@example.com", "password": goodPassword}), http.StatusUnauthorized, "invalid_credentials")
	e.loggedIn("user@example.com", newPassword)
	if !e.events.has("password_reset") || !e.events.has("password_reset_requested") {
		t.Errorf("got events %v, want password_reset_requested and password_reset", e.events.kinds())
	}

	t.Run("expired", func(t *testing.T) {
		expect(t, e.client().post("/password-reset/", map[string]string{"email": "user@example.com"}), http.StatusOK, "")
		q := linkParams(t, coreLastMail(e, "user@example.com", mail.KindPasswordReset))
		e.clock.Advance(time.Hour + time.Second)
		r := e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "yet another passphrase"})
		expect(t, r, http.StatusBadRequest, "token_expired")
	})
}

func TestCoreChangePassword(t *testing.T) {
	const newPassword = "a new long passphrase"
	for _, keep := range []bool{true, false} {
		t.Run(map[bool]string{true: "UpdateSessionAuthHash", false: "logged out"}[keep], func(t *testing.T) {
			e := newEnv(t, func(c *authsys.Config) { c.Sessions.LogoutOnPasswordChange = !keep })
			e.signupVerified("user@example.com", goodPassword)
			c := e.loggedIn("user@example.com", goodPassword)
			other := e.loggedIn("user@example.com", goodPassword)
			oldAccess, oldRefresh := c.accessCookie(), c.refreshCookie()

			r := c.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": newPassword})
			expect(t, r, http.StatusOK, "")
			if keep {
				if c.accessCookie() == "" || c.accessCookie() == oldAccess || c.refreshCookie() == oldRefresh {
					t.Fatal("got no fresh cookies, want a new access and refresh token")
				}
				expect(t, c.get("/me/"), http.StatusOK, "")
				expect(t, c.post("/refresh/", nil), http.StatusOK, "")
			} else {
				if c.accessCookie() != "" || c.refreshCookie() != "" {
					t.Fatal("got cookies left, want the client logged out")
				}
				expect(t, c.get("/me/"), http.StatusUnauthorized, "not_authenticated")
			}
			stale := e.client()
			stale.setCookie("access_token", oldAccess, "/")
			stale.setCookie("refresh_token", oldRefresh, "/api/auth/")
			expect(t, stale.get("/me/"), http.StatusUnauthorized, "invalid_token")
			expect(t, stale.post("/refresh/", nil), http.StatusUnauthorized, "invalid_token")
			expect(t, other.get("/me/"), http.StatusUnauthorized, "invalid_token")
			e.loggedIn("user@example.com", newPassword)
			expect(t, e.client().post("/login/", map[string]string{"email": "user@example.com", "password": goodPassword}), http.StatusUnauthorized, "invalid_credentials")
		})
	}

	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	hash := coreUser(e, "user@example.com").PasswordHash
	for _, tc := range []struct {
		name       string
		body       map[string]string
		code, errs string
	}{
		{"wrong current", map[string]string{"current_password": "not my password", "new_password": newPassword}, "invalid_password", "current_password"},
		{"weak new", map[string]string{"current_password": goodPassword, "new_password": "123"}, "validation_failed", "new_password"},
		{"missing current", map[string]string{"new_password": newPassword}, "validation_failed", "current_password"},
		{"missing new", map[string]string{"current_password": goodPassword}, "validation_failed", "new_password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post("/change-password/", tc.body)
			expect(t, r, http.StatusBadRequest, tc.code)
			if errs, _ := r.json(t)["errors"].(map[string]any); errs[tc.errs] == nil {
				t.Errorf("got errors %v, want one for %s", errs, tc.errs)
			}
			if coreUser(e, "user@example.com").PasswordHash != hash {
				t.Fatal("a refused change changed the password")
			}
			expect(t, c.get("/me/"), http.StatusOK, "")
		})
	}
	expect(t, e.client().post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": newPassword}), http.StatusUnauthorized, "not_authenticated")
}

func TestCoreResetConfirmRace(t *testing.T) {
	e, spy := coreSpyEnv(t, false)
	e.signupVerified("user@example.com", goodPassword)
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "user@example.com"}), http.StatusOK, "")
	q := linkParams(t, coreLastMail(e, "user@example.com", mail.KindPasswordReset))
	tv := coreUser(e, "user@example.com").TokenVersion

	const n = 20
	pw := func(i int) string { return fmt.Sprintf("racing passphrase number %02d", i) }
	// Every confirm checks the token and hashes before any writes: only
	// the check made again inside UpdateUser can stop the losers.
	spy.barrier.Store(newBarrier(n))
	rs := coreParallel(n, func(i int) response {
		return e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": pw(i)})
	})
	spy.barrier.Store(nil)
	winner := coreOneWinner(t, rs)
	if got := coreUser(e, "user@example.com").TokenVersion; got != tv+1 {
		t.Errorf("got TokenVersion %d, want %d (one reset)", got, tv+1)
	}
	for i := range n {
		r := e.client().post("/login/", map[string]string{"email": "user@example.com", "password": pw(i)})
		want := http.StatusUnauthorized
		if i == winner {
			want = http.StatusOK
		}
		if r.StatusCode != want {
			t.Errorf("login with password %d: got %d, want %d (winner %d)", i, r.StatusCode, want, winner)
		}
	}
}

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
