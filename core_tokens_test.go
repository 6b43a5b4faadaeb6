package authsys_test

// Adversarial tests of the tokens the core endpoints issue and accept:
// one-time links, revocation by token version, type confusion and forged
// JWTs.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
)

func TestCoreOneTimeTokensWorkOnce(t *testing.T) {
	e := newEnv(t)
	t.Run("verification", func(t *testing.T) {
		expect(t, e.client().post("/signup/", map[string]string{"email": "v@example.com", "password": goodPassword}), http.StatusCreated, "")
		q := linkParams(t, coreLastMail(e, "v@example.com", mail.KindVerifyAccount))
		expect(t, e.client().get("/verify-account/?"+q.Encode()), http.StatusOK, "")
		expect(t, e.client().get("/verify-account/?"+q.Encode()), http.StatusBadRequest, "invalid_token")
		expect(t, e.client().post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusBadRequest, "invalid_token")
	})
	t.Run("verification after deactivation", func(t *testing.T) {
		expect(t, e.client().post("/signup/", map[string]string{"email": "d@example.com", "password": goodPassword}), http.StatusCreated, "")
		q := linkParams(t, coreLastMail(e, "d@example.com", mail.KindVerifyAccount))
		expect(t, e.client().post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")
		coreSetUser(e, "d@example.com", func(u *authsys.User) { u.IsActive = false }) // an admin deactivates
		expect(t, e.client().post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusBadRequest, "invalid_token")
		if coreUser(e, "d@example.com").IsActive {
			t.Fatal("an old verification link reactivated a deactivated account")
		}
	})
	t.Run("verification after an unverified account was deactivated", func(t *testing.T) {
		expect(t, e.client().post("/signup/", map[string]string{"email": "spam@example.com", "password": goodPassword}), http.StatusCreated, "")
		q := linkParams(t, coreLastMail(e, "spam@example.com", mail.KindVerifyAccount))
		// What the admin API's deactivate does.
		coreSetUser(e, "spam@example.com", func(u *authsys.User) { u.IsActive = false; u.TokenVersion++ })
		expect(t, e.client().post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusBadRequest, "invalid_token")
		if coreUser(e, "spam@example.com").IsActive {
			t.Fatal("a link sent before the deactivation activated the account")
		}
	})
	t.Run("reset", func(t *testing.T) {
		e.signupVerified("r@example.com", goodPassword)
		expect(t, e.client().post("/password-reset/", map[string]string{"email": "r@example.com"}), http.StatusOK, "")
		q := linkParams(t, coreLastMail(e, "r@example.com", mail.KindPasswordReset))
		body := func(pw string) map[string]string {
			return map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": pw}
		}
		expect(t, e.client().post("/password-reset-confirm/", body("first new passphrase")), http.StatusOK, "")
		expect(t, e.client().post("/password-reset-confirm/", body("second new passphrase")), http.StatusBadRequest, "invalid_token")
		e.loggedIn("r@example.com", "first new passphrase")
	})
	t.Run("reset dies with logout-all and email change", func(t *testing.T) {
		e.signupVerified("x@example.com", goodPassword)
		expect(t, e.client().post("/password-reset/", map[string]string{"email": "x@example.com"}), http.StatusOK, "")
		q := linkParams(t, coreLastMail(e, "x@example.com", mail.KindPasswordReset))
		expect(t, e.loggedIn("x@example.com", goodPassword).post("/logout-all/", nil), http.StatusOK, "")
		expect(t, e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "stolen link passphrase"}), http.StatusBadRequest, "invalid_token")

		expect(t, e.client().post("/password-reset/", map[string]string{"email": "x@example.com"}), http.StatusOK, "")
		q = linkParams(t, coreLastMail(e, "x@example.com", mail.KindPasswordReset))
		c := e.loggedIn("x@example.com", goodPassword)
		expect(t, c.post("/change-email/", map[string]string{"new_email": "y@example.com", "password": goodPassword}), http.StatusOK, "")
		qe := linkParams(t, coreLastMail(e, "y@example.com", mail.KindEmailChangeConfirm))
		expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": qe.Get("token")}), http.StatusOK, "")
		expect(t, e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "stolen link passphrase"}), http.StatusBadRequest, "invalid_token")
		e.loggedIn("y@example.com", goodPassword)
	})
	t.Run("email change", func(t *testing.T) {
		e.signupVerified("m@example.com", goodPassword)
		c := e.loggedIn("m@example.com", goodPassword)
		expect(t, c.post("/change-email/", map[string]string{"new_email": "n@example.com", "password": goodPassword}), http.StatusOK, "")
		q := linkParams(t, coreLastMail(e, "n@example.com", mail.KindEmailChangeConfirm))
		expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": q.Get("token")}), http.StatusOK, "")
		expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": q.Get("token")}), http.StatusBadRequest, "invalid_token")
		expect(t, e.client().get("/change-email-confirm/?token="+q.Get("token")), http.StatusBadRequest, "invalid_token")
	})
	t.Run("older email change link dies with the newer", func(t *testing.T) {
		e.signupVerified("p@example.com", goodPassword)
		c := e.loggedIn("p@example.com", goodPassword)
		expect(t, c.post("/change-email/", map[string]string{"new_email": "p1@example.com", "password": goodPassword}), http.StatusOK, "")
		q1 := linkParams(t, coreLastMail(e, "p1@example.com", mail.KindEmailChangeConfirm))
		expect(t, c.post("/change-email/", map[string]string{"new_email": "p2@example.com", "password": goodPassword}), http.StatusOK, "")
		q2 := linkParams(t, coreLastMail(e, "p2@example.com", mail.KindEmailChangeConfirm))
		expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": q2.Get("token")}), http.StatusOK, "")
		expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": q1.Get("token")}), http.StatusBadRequest, "invalid_token")
		if got := coreUser(e, "p2@example.com").Email; got != "p2@example.com" {
			t.Fatalf("got email %q, want p2@example.com", got)
		}
	})
}

// TestCoreStaleAccessTokens proves that an access token issued before a
// password change, a reset or an email change is refused by the middleware
// and by the endpoints, while it has not expired.
func TestCoreStaleAccessTokens(t *testing.T) {
	for _, tc := range []struct {
		name   string
		revoke func(e *env, c *client)
	}{
		{"password change", func(e *env, c *client) {
			expect(e.t, c.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "a new long passphrase"}), http.StatusOK, "")
		}},
		{"password reset", func(e *env, c *client) {
			expect(e.t, e.client().post("/password-reset/", map[string]string{"email": "user@example.com"}), http.StatusOK, "")
			q := linkParams(e.t, coreLastMail(e, "user@example.com", mail.KindPasswordReset))
			expect(e.t, e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "a new long passphrase"}), http.StatusOK, "")
		}},
		{"email change", func(e *env, c *client) {
			expect(e.t, c.post("/change-email/", map[string]string{"new_email": "moved@example.com", "password": goodPassword}), http.StatusOK, "")
			q := linkParams(e.t, coreLastMail(e, "moved@example.com", mail.KindEmailChangeConfirm))
			expect(e.t, e.client().get("/change-email-confirm/?token="+q.Get("token")), http.StatusOK, "")
		}},
		{"logout-all", func(e *env, c *client) {
			expect(e.t, c.post("/logout-all/", nil), http.StatusOK, "")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.signupVerified("user@example.com", goodPassword)
			c := e.loggedIn("user@example.com", goodPassword)
			access := c.accessCookie()
			stale := e.client()
			stale.setCookie("access_token", access, "/")
			expect(t, stale.do(http.MethodGet, "/api/private", nil), http.StatusOK, "")
			tc.revoke(e, c)
			expect(t, stale.do(http.MethodGet, "/api/private", nil), http.StatusUnauthorized, "invalid_token")
			expect(t, stale.get("/me/"), http.StatusUnauthorized, "invalid_token")
			expect(t, stale.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "attacker passphrase"}), http.StatusUnauthorized, "invalid_token")
		})
	}
}

// TestCoreForgedTokens presents tampered and confused tokens to the
// middleware, /me/ and /refresh/.
func TestCoreForgedTokens(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	e.signupVerified("victim@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	access, refresh := c.accessCookie(), c.refreshCookie()
	victim := coreUser(e, "victim@example.com")

	_, payload, _ := coreJWTParts(t, access)
	header, _, _ := coreJWTParts(t, access)
	with := func(changes map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range payload {
			m[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	editPayload := func(tok string, changes map[string]any) string {
		parts := strings.Split(tok, ".")
		return parts[0] + "." + coreEncodePart(t, with(changes)) + "." + parts[2]
	}
	kid, _ := header["kid"].(string)
	wrongKey := []byte("another key of at least thirty-two bytes!!")
	hs384 := coreSign(t, jwt.SigningMethodHS384, testKey, kid, payload)
	none := coreSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, payload)
	noneWithSig := strings.TrimSuffix(none, ".") + "." + strings.Split(access, ".")[2]

	cases := []struct {
		name, token string
	}{
		{"alg none", none},
		{"alg none keeping a signature", noneWithSig},
		{"alg none header on a real token", coreEncodePart(t, map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + strings.SplitN(access, ".", 2)[1]},
		{"HS384 with the right key", hs384},
		{"wrong key", coreSign(t, jwt.SigningMethodHS256, wrongKey, kid, payload)},
		{"unknown kid", coreSign(t, jwt.SigningMethodHS256, testKey, "k9", payload)},
		{"no kid", coreSign(t, jwt.SigningMethodHS256, testKey, "", payload)},
		{"edited sub", editPayload(access, map[string]any{"sub": victim.ID})},
		{"edited tv", editPayload(access, map[string]any{"tv": 99})},
		{"edited exp", editPayload(access, map[string]any{"exp": time.Now().Add(24 * time.Hour).Unix()})},
		{"edited typ", editPayload(access, map[string]any{"typ": "refresh"})},
		{"signature dropped", strings.Join(strings.Split(access, ".")[:2], ".") + "."},
		{"signature truncated", access[:len(access)-3]},
		{"refresh token as access", refresh},
		{"re-signed other audience", coreSign(t, jwt.SigningMethodHS256, testKey, kid, with(map[string]any{"aud": "other"}))},
		{"re-signed without exp", coreSign(t, jwt.SigningMethodHS256, testKey, kid, with(map[string]any{"exp": nil}))},
		{"garbage", "not.a.jwt"},
		{"long", strings.Repeat("a", 10000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := e.client()
			x.setCookie("access_token", tc.token, "/")
			expect(t, x.do(http.MethodGet, "/api/private", nil), http.StatusUnauthorized, "invalid_token")
			expect(t, x.get("/me/"), http.StatusUnauthorized, "invalid_token")
		})
	}
	// The access token itself is accepted; tokens signed with the real key
	// but as the other type are refused at /refresh/.
	x := e.client()
	x.setCookie("access_token", access, "/")
	expect(t, x.do(http.MethodGet, "/api/private", nil), http.StatusOK, "")
	for name, tok := range map[string]string{
		"access token as refresh": access,
		"edited refresh sub":      editPayload(refresh, map[string]any{"sub": victim.ID, "typ": "refresh"}),
		"refresh with alg none":   coreSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, with(map[string]any{"typ": "refresh"})),
		"refresh with wrong key":  coreSign(t, jwt.SigningMethodHS256, wrongKey, kid, with(map[string]any{"typ": "refresh"})),
	} {
		t.Run(name, func(t *testing.T) {
			x := e.client()
			x.setCookie("refresh_token", tok, "/api/auth/")
			expect(t, x.post("/refresh/", nil), http.StatusUnauthorized, "invalid_token")
			if x.accessCookie() != "" {
				t.Fatal("a forged refresh token got an access cookie")
			}
		})
	}
	t.Run("expired access", func(t *testing.T) {
		x := e.client()
		x.setCookie("access_token", access, "/")
		e.clock.Advance(15*time.Minute + time.Second)
		defer e.clock.Advance(-15*time.Minute - time.Second)
		expect(t, x.do(http.MethodGet, "/api/private", nil), http.StatusUnauthorized, "token_expired")
		expect(t, x.get("/me/"), http.StatusUnauthorized, "token_expired")
		// A forged expiry on an expired token is invalid, not expired.
		x.setCookie("access_token", editPayload(access, map[string]any{"exp": e.clock.Now().Add(time.Hour).Unix()}), "/")
		expect(t, x.get("/me/"), http.StatusUnauthorized, "invalid_token")
	})
	t.Run("rotated key", func(t *testing.T) {
		// A token of a retired key is still accepted while the key is a
		// verification key, and refused once it is dropped.
		old := testKey
		newKey := []byte("the next signing key, at least 32 bytes long")
		e2 := newEnv(t, func(c *authsys.Config) {
			c.Keys.Signing.Secret, c.Keys.Signing.ID = newKey, "k2"
			c.Keys.Verification = []authsys.Key{{ID: "k1", Secret: old}}
		})
		e2.signupVerified("user@example.com", goodPassword)
		u := coreUser(e2, "user@example.com")
		tok := coreSign(t, jwt.SigningMethodHS256, old, "k1", with(map[string]any{"sub": u.ID, "tv": u.TokenVersion}))
		x := e2.client()
		x.setCookie("access_token", tok, "/")
		expect(t, x.get("/me/"), http.StatusOK, "")
		e3 := newEnv(t, func(c *authsys.Config) { c.Keys.Signing.Secret, c.Keys.Signing.ID = newKey, "k2" })
		e3.signupVerified("user@example.com", goodPassword)
		u = coreUser(e3, "user@example.com")
		y := e3.client()
		y.setCookie("access_token", coreSign(t, jwt.SigningMethodHS256, old, "k1", with(map[string]any{"sub": u.ID, "tv": u.TokenVersion})), "/")
		expect(t, y.get("/me/"), http.StatusUnauthorized, "invalid_token")
	})
}
