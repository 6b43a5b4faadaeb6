package authsys_test

// Sessions: refresh and its races, logout, logout everywhere, revocation,
// key rotation, clock skew, rolling refresh, cookies and bearer tokens, the
// middlewares and Authenticate, their store lookups, and the JWKS.

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/authtest"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
)

// Success and failure of every account endpoint, black box through
// auth.Handler() behind httptest.

func TestCoreLogout(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	other := e.loggedIn("user@example.com", goodPassword)
	refresh := c.refreshCookie()

	r := c.post("/logout/", nil)
	expect(t, r, http.StatusOK, "")
	for _, name := range []string{"access_token", "refresh_token"} {
		ck := coreSetCookie(r, name)
		if ck == nil || ck.MaxAge >= 0 || ck.Value != "" {
			t.Errorf("got %s cookie %v, want it cleared (Max-Age=0)", name, ck)
		}
	}
	if c.accessCookie() != "" || c.refreshCookie() != "" {
		t.Error("logout left cookies in the jar")
	}
	replay := e.client()
	replay.setCookie("refresh_token", refresh, "/api/auth/")
	expect(t, replay.post("/refresh/", nil), http.StatusUnauthorized, "invalid_token")
	// Another session of the same user lives on.
	expect(t, other.get("/me/"), http.StatusOK, "")
	expect(t, other.post("/refresh/", nil), http.StatusOK, "")
	if !e.events.has("logout") {
		t.Errorf("got events %v, want logout", e.events.kinds())
	}

	// Logout always works: with no token, or a garbage one, it answers 200
	// and clears the cookies, telling nothing; with only the refresh
	// cookie (the access cookie expired) it ends that session.
	for _, cookies := range [][2]string{{"", ""}, {"not-a-token", "not-a-token"}} {
		lc := e.client()
		if cookies[0] != "" {
			lc.setCookie("access_token", cookies[0], "/")
			lc.setCookie("refresh_token", cookies[1], "/api/auth/")
		}
		r := lc.post("/logout/", nil)
		expect(t, r, http.StatusOK, "")
		if ck := coreSetCookie(r, "refresh_token"); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("logout with cookies %q: got refresh cookie %v, want it cleared", cookies, ck)
		}
	}
	third := e.loggedIn("user@example.com", goodPassword)
	onlyRefresh := e.client()
	onlyRefresh.setCookie("refresh_token", third.refreshCookie(), "/api/auth/")
	expect(t, onlyRefresh.post("/logout/", nil), http.StatusOK, "")
	expect(t, third.get("/me/"), http.StatusUnauthorized, "invalid_token")
	expect(t, third.post("/refresh/", nil), http.StatusUnauthorized, "invalid_token")
}

func TestCoreLogoutAll(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	a := e.loggedIn("user@example.com", goodPassword)
	b := e.loggedIn("user@example.com", goodPassword)
	bAccess, bRefresh := b.accessCookie(), b.refreshCookie()
	tv := coreUser(e, "user@example.com").TokenVersion

	expect(t, a.post("/logout-all/", nil), http.StatusOK, "")
	if got := coreUser(e, "user@example.com").TokenVersion; got != tv+1 {
		t.Errorf("got TokenVersion %d, want %d", got, tv+1)
	}
	if a.accessCookie() != "" {
		t.Error("logout-all left the caller's access cookie")
	}
	stale := e.client()
	stale.setCookie("access_token", bAccess, "/")
	stale.setCookie("refresh_token", bRefresh, "/api/auth/")
	expect(t, stale.get("/me/"), http.StatusUnauthorized, "invalid_token")
	expect(t, stale.do(http.MethodGet, "/api/private", nil), http.StatusUnauthorized, "invalid_token")
	expect(t, stale.post("/refresh/", nil), http.StatusUnauthorized, "invalid_token")
	// A new login works.
	expect(t, e.loggedIn("user@example.com", goodPassword).get("/me/"), http.StatusOK, "")

	expect(t, e.client().post("/logout-all/", nil), http.StatusUnauthorized, "not_authenticated")
}

func TestCoreRefresh(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	oldAccess, oldRefresh := c.accessCookie(), c.refreshCookie()
	e.clock.Advance(time.Minute)

	r := c.post("/refresh/", nil)
	expect(t, r, http.StatusOK, "")
	if c.accessCookie() == oldAccess || c.accessCookie() == "" {
		t.Error("got the same access token after refresh, want a new one")
	}
	if c.refreshCookie() == oldRefresh || c.refreshCookie() == "" {
		t.Error("got the same refresh token after refresh, want it rotated")
	}
	expect(t, c.get("/me/"), http.StatusOK, "")
	expect(t, c.post("/refresh/", nil), http.StatusOK, "")

	for _, tc := range []struct {
		name, cookie string
		code         string
	}{
		{"no cookie", "", "not_authenticated"},
		{"garbage", "garbage", "invalid_token"},
		{"access token", oldAccess, "invalid_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := e.client()
			if tc.cookie != "" {
				x.setCookie("refresh_token", tc.cookie, "/api/auth/")
			}
			expect(t, x.post("/refresh/", nil), http.StatusUnauthorized, tc.code)
		})
	}
	t.Run("expired", func(t *testing.T) {
		x := e.loggedIn("user@example.com", goodPassword)
		e.clock.Advance(7*24*time.Hour + time.Second)
		expect(t, x.post("/refresh/", nil), http.StatusUnauthorized, "token_expired")
	})
}

func TestCoreMe(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	r := c.get("/me/")
	expect(t, r, http.StatusOK, "")
	u, _ := r.json(t)["user"].(map[string]any)
	if u["email"] != "user@example.com" || u["is_active"] != true || u["id"] != coreUser(e, "user@example.com").ID {
		t.Errorf("got user %v, want user@example.com, active, with its id", u)
	}
	for _, k := range []string{"password", "password_hash", "token_version", "totp_secret"} {
		if _, ok := u[k]; ok {
			t.Errorf("got field %q in /me, want no secret fields", k)
		}
	}
	expect(t, e.client().get("/me/"), http.StatusUnauthorized, "not_authenticated")

	coreSetUser(e, "user@example.com", func(u *authsys.User) { u.IsActive = false })
	expect(t, c.get("/me/"), http.StatusUnauthorized, "account_inactive")
	expect(t, c.do(http.MethodGet, "/api/private", nil), http.StatusUnauthorized, "account_inactive")
}

// Racing goroutines against refresh rotation, reset confirmation and
// signup.

func TestCoreRefreshRace(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	parent := c.refreshCookie()
	e.clock.Advance(2 * time.Second)

	const n = 50
	refresh := func(tok string) response {
		return coreRaw(e, http.MethodPost, "/api/auth/refresh/", nil, "Cookie", coreCookieHeader("refresh_token", tok))
	}
	rs := coreParallel(n, func(int) response { return refresh(parent) })
	var successor string
	for i, r := range rs {
		if r.StatusCode != http.StatusOK {
			t.Fatalf("refresh %d: got %d %s, want 200 for every use inside the grace", i, r.StatusCode, r.body)
		}
		ck := coreSetCookie(r, "refresh_token")
		if ck == nil || ck.Value == "" {
			t.Fatalf("refresh %d: got no refresh cookie", i)
		}
		if successor == "" {
			successor = ck.Value
		}
		if ck.Value != successor {
			t.Fatalf("refresh %d: got successor %.20s…, want the same successor %.20s… for every caller", i, ck.Value, successor)
		}
		if a := coreSetCookie(r, "access_token"); a == nil || a.Value == "" {
			t.Fatalf("refresh %d: got no access cookie", i)
		}
	}
	if successor == parent {
		t.Fatal("got the parent back as its own successor")
	}
	// Still inside the grace, a late tab gets the same successor too.
	e.clock.Advance(9 * time.Second)
	if got := coreSetCookie(refresh(parent), "refresh_token"); got == nil || got.Value != successor {
		t.Fatalf("got %v at the end of the grace, want the same successor", got)
	}
	// The successor rotates on; the chain grows.
	r := refresh(successor)
	expect(t, r, http.StatusOK, "")
	newest := coreSetCookie(r, "refresh_token").Value
	r = refresh(newest)
	expect(t, r, http.StatusOK, "")
	newest = coreSetCookie(r, "refresh_token").Value

	// After the grace the parent is a replay: refused, and the whole
	// family dies, the newest token included.
	e.clock.Advance(2 * time.Second)
	r = refresh(parent)
	expect(t, r, http.StatusUnauthorized, "token_reused")
	if ck := coreSetCookie(r, "refresh_token"); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("got refresh cookie %v on a replay, want it cleared", ck)
	}
	if !e.events.has("refresh_token_reuse") {
		t.Errorf("got events %v, want refresh_token_reuse", e.events.kinds())
	}
	for name, tok := range map[string]string{"successor": successor, "newest": newest, "parent again": parent} {
		r := refresh(tok)
		if r.StatusCode != http.StatusUnauthorized || (r.code() != "invalid_token" && r.code() != "token_reused") {
			t.Errorf("%s after the replay: got %d %s, want 401 invalid_token", name, r.StatusCode, r.body)
		}
	}
	// Another login of the same user is another family and lives on.
	other := e.loggedIn("user@example.com", goodPassword)
	expect(t, other.post("/refresh/", nil), http.StatusOK, "")
}

func TestCoreRefreshReplayAfterGraceRace(t *testing.T) {
	// Many replays after the grace, racing: every one refused, none 500.
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	parent := c.refreshCookie()
	expect(t, c.post("/refresh/", nil), http.StatusOK, "")
	e.clock.Advance(11 * time.Second)
	rs := coreParallel(20, func(int) response {
		return coreRaw(e, http.MethodPost, "/api/auth/refresh/", nil, "Cookie", coreCookieHeader("refresh_token", parent))
	})
	for i, r := range rs {
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("replay %d: got %d %s, want 401", i, r.StatusCode, r.body)
		}
	}
	expect(t, c.post("/refresh/", nil), http.StatusUnauthorized, "invalid_token")
}

func TestCoreRefreshWithoutGrace(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) { c.Sessions.RefreshReuseGrace = -1 })
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	parent := c.refreshCookie()
	expect(t, c.post("/refresh/", nil), http.StatusOK, "")
	// Same instant of the fake clock: still a replay.
	r := coreRaw(e, http.MethodPost, "/api/auth/refresh/", nil, "Cookie", coreCookieHeader("refresh_token", parent))
	expect(t, r, http.StatusUnauthorized, "token_reused")
	expect(t, c.post("/refresh/", nil), http.StatusUnauthorized, "invalid_token")
}

func TestCoreRefreshRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(e *env, c *client)
		code   string
	}{
		{"deactivated user", func(e *env, c *client) {
			coreSetUser(e, "user@example.com", func(u *authsys.User) { u.IsActive = false })
		}, "account_inactive"},
		{"token version bumped", func(e *env, c *client) {
			// As an admin's "revoke sessions" does.
			coreSetUser(e, "user@example.com", func(u *authsys.User) { u.TokenVersion++ })
		}, "invalid_token"},
		{"after logout", func(e *env, c *client) {
			x := e.client()
			x.setCookie("access_token", c.accessCookie(), "/")
			x.setCookie("refresh_token", c.refreshCookie(), "/api/auth/")
			expect(e.t, x.post("/logout/", nil), http.StatusOK, "")
		}, "invalid_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.signupVerified("user@example.com", goodPassword)
			c := e.loggedIn("user@example.com", goodPassword)
			tc.change(e, c)
			r := c.post("/refresh/", nil)
			expect(t, r, http.StatusUnauthorized, tc.code)
			if c.accessCookie() != "" || c.refreshCookie() != "" {
				t.Error("a refused refresh left cookies, want them cleared")
			}
		})
	}
}

// TestLogoutEndsAccessTokens checks Config.CheckRevokedSessions: by
// default an access token dies with its session, at logout or when the
// session is revoked for a replayed refresh token, while the user's other
// sessions live on; with the check off it lives until it expires, as in
// SimpleJWT.
func TestLogoutEndsAccessTokens(t *testing.T) {
	t.Run("logout", func(t *testing.T) {
		e := newEnv(t)
		e.signupVerified("out@example.com", goodPassword)
		c := e.loggedIn("out@example.com", goodPassword)
		other := e.loggedIn("out@example.com", goodPassword)
		stolen := c.accessCookie()
		expect(t, c.post("/logout/", nil), http.StatusOK, "")
		thief := e.client()
		thief.setCookie("access_token", stolen, "/")
		expect(t, thief.do(http.MethodGet, "/api/private", nil), http.StatusUnauthorized, "invalid_token")
		expect(t, thief.get("/me/"), http.StatusUnauthorized, "invalid_token")
		expect(t, other.get("/me/"), http.StatusOK, "")
	})
	t.Run("refresh token replayed", func(t *testing.T) {
		e := newEnv(t)
		e.signupVerified("replay@example.com", goodPassword)
		c := e.loggedIn("replay@example.com", goodPassword)
		old := c.refreshCookie()
		expect(t, c.post("/refresh/", nil), http.StatusOK, "")
		e.clock.Advance(time.Minute) // past the grace
		thief := e.client()
		thief.setCookie("refresh_token", old, "/api/auth/refresh/")
		expect(t, thief.post("/refresh/", nil), http.StatusUnauthorized, "token_reused")
		// The victim's fresh access token belongs to the revoked session.
		expect(t, c.get("/me/"), http.StatusUnauthorized, "invalid_token")
	})
	t.Run("check off", func(t *testing.T) {
		e := newEnv(t, func(c *authsys.Config) { c.Sessions.StatelessAccessTokens = true })
		e.signupVerified("lax@example.com", goodPassword)
		c := e.loggedIn("lax@example.com", goodPassword)
		stolen := c.accessCookie()
		expect(t, c.post("/logout/", nil), http.StatusOK, "")
		thief := e.client()
		thief.setCookie("access_token", stolen, "/")
		expect(t, thief.get("/me/"), http.StatusOK, "")
		e.clock.Advance(16 * time.Minute)
		expect(t, thief.get("/me/"), http.StatusUnauthorized, "token_expired")
	})
}

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

// TestRefreshGraceDuringRollingKeyRotation refreshes one refresh token at
// once on two instances that sign with different keys, as during a rolling
// rotation (each verifies the other's key). Within the grace both must
// issue the same successor (same jti), never two children of one token:
// the successor's ID is recorded with the first rotation, not derived from
// the instance's signing key.
func TestRefreshGraceDuringRollingKeyRotation(t *testing.T) {
	key2 := []byte("the second signing key, 32 bytes or more")
	a := newEnv(t, func(c *authsys.Config) {
		c.Keys.Verification = []authsys.Key{{ID: "k2", Secret: key2}}
	})
	b := newEnv(t, func(c *authsys.Config) {
		c.Users, c.Pending, c.Now = a.store, a.store, a.clock.Now
		c.Keys.Signing.Secret, c.Keys.Signing.ID = key2, "k2"
		c.Keys.Verification = []authsys.Key{{ID: "k1", Secret: testKey}}
	})
	a.signupVerified("roll@example.com", goodPassword)
	login := a.loggedIn("roll@example.com", goodPassword)
	parent := login.refreshCookie()

	jtiAfterRefresh := func(e *env) (jti, kid string) {
		t.Helper()
		c := e.client()
		c.setCookie("refresh_token", parent, "/api/auth/refresh/")
		r := c.post("/refresh/", nil)
		expect(t, r, http.StatusOK, "")
		var successor string
		for _, ck := range r.Cookies() {
			if ck.Name == "refresh_token" {
				successor = ck.Value
			}
		}
		tok, _, err := jwt.NewParser().ParseUnverified(successor, jwt.MapClaims{})
		if err != nil {
			t.Fatal(err)
		}
		jti, _ = tok.Claims.(jwt.MapClaims)["jti"].(string)
		kid, _ = tok.Header["kid"].(string)
		return jti, kid
	}
	jtiA, kidA := jtiAfterRefresh(a)
	jtiB, kidB := jtiAfterRefresh(b)
	if kidA != "k1" || kidB != "k2" {
		t.Fatalf("got kids %q and %q, want k1 and k2", kidA, kidB)
	}
	if jtiA == "" || jtiA != jtiB {
		t.Errorf("the two instances issued successors %q and %q, want one and the same", jtiA, jtiB)
	}
}

// TestClockSkewBetweenInstances issues tokens on an instance whose clock
// runs ahead and presents them at once to another: within
// Config.ClockSkew (default 5 s) they are accepted, not refused as issued
// in the future; beyond it they are.
func TestClockSkewBetweenInstances(t *testing.T) {
	for _, tc := range []struct {
		ahead  time.Duration
		status int
	}{
		{3 * time.Second, http.StatusOK},
		{10 * time.Second, http.StatusUnauthorized},
	} {
		t.Run(tc.ahead.String(), func(t *testing.T) {
			behind := newEnv(t, func(c *authsys.Config) { c.Sessions.ClockSkew = 0 }) // the default
			ahead := newEnv(t, func(c *authsys.Config) {
				c.Users, c.Pending = behind.store, behind.store
				c.Sessions.ClockSkew = 0
			})
			ahead.clock.Advance(tc.ahead)
			ahead.signupVerified("skew@example.com", goodPassword)
			c := ahead.loggedIn("skew@example.com", goodPassword)
			other := behind.client()
			other.setCookie("access_token", c.accessCookie(), "/")
			expect(t, other.get("/me/"), tc.status, "")
		})
	}
}

// userCalls counts the UserStore reads and writes spy recorded.
func userCalls(spy *authtest.Spy) (reads, writes int64) {
	for _, c := range spy.Calls() {
		switch c.Method {
		case "UserByID", "UserByEmail":
			reads++
		case "UpdateUser":
			writes++
		}
	}
	return reads, writes
}

// TestMiddlewareOneLookup counts UserStore calls: an authenticated request
// through Middleware, or to /me/, makes at most one read (none once the
// cache holds the user: TestBackendsZeroStoreReads) and no write; a
// request without a valid token makes none.
func TestMiddlewareOneLookup(t *testing.T) {
	var spy *authtest.Spy
	e := newEnv(t, spyOn(&spy))
	e.signupVerified("count@example.com", goodPassword)
	c := e.loggedIn("count@example.com", goodPassword)
	for _, tc := range []struct {
		name   string
		client *client
		path   string
		status int
		reads  int64
	}{
		{"middleware", c, "/api/private", http.StatusOK, 1},
		{"me", c, "/api/auth/me/", http.StatusOK, 1},
		{"no token", e.client(), "/api/private", http.StatusUnauthorized, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r0, w0 := userCalls(spy)
			expect(t, tc.client.do(http.MethodGet, tc.path, nil), tc.status, "")
			r1, w1 := userCalls(spy)
			if r, w := r1-r0, w1-w0; r > tc.reads || w != 0 {
				t.Errorf("got %d reads and %d writes, want at most %d and 0", r, w, tc.reads)
			}
		})
	}
}

// TestJWKSEdDSA signs with EdDSA, then checks a login's access cookie the
// way another service would: with the public key GET /jwks.json serves and
// golang-jwt, without the signing key. The library's own middleware accepts
// the same cookie.
func TestJWKSEdDSA(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) { c.Keys.Signing.Algorithm = "EdDSA" })
	e.signupVerified("ed@example.com", goodPassword)
	c := e.loggedIn("ed@example.com", goodPassword)
	expect(t, c.do(http.MethodGet, "/api/private", nil), http.StatusOK, "")

	r := c.get("/jwks.json")
	expect(t, r, http.StatusOK, "")
	keys, _ := r.json(t)["keys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("got keys %v, want one", r.json(t)["keys"])
	}
	k := keys[0].(map[string]any)
	if k["kid"] != "k1" || k["alg"] != "EdDSA" || k["kty"] != "OKP" || k["crv"] != "Ed25519" {
		t.Errorf("got JWK %v, want kid k1, EdDSA, OKP, Ed25519", k)
	}
	x, err := base64.RawURLEncoding.DecodeString(k["x"].(string))
	if err != nil || len(x) != ed25519.PublicKeySize {
		t.Fatalf("got x %v, want an Ed25519 public key", k["x"])
	}
	tok, err := jwt.Parse(c.accessCookie(), func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] != k["kid"] {
			t.Errorf("got kid %v, want %v", tok.Header["kid"], k["kid"])
		}
		return ed25519.PublicKey(x), nil
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithTimeFunc(e.clock.Now),
		jwt.WithIssuer("authsys"), jwt.WithAudience("authsys"))
	if err != nil || !tok.Valid {
		t.Fatalf("verifying the access cookie with the published key: %v", err)
	}

	// The public key cannot sign: an HS256 token keyed with it is refused.
	claims, _ := tok.Claims.(jwt.MapClaims)
	forged := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	forged.Header["kid"] = "k1"
	s, err := forged.SignedString(x)
	if err != nil {
		t.Fatal(err)
	}
	hc := e.client()
	expect(t, hc.do(http.MethodGet, "/api/private", nil, "Cookie", "access_token="+s), http.StatusUnauthorized, "invalid_token")
}

// TestJWKSHS256 serves an empty key set: HMAC keys are secret.
func TestJWKSHS256(t *testing.T) {
	e := newEnv(t)
	r := e.client().get("/jwks.json")
	expect(t, r, http.StatusOK, "")
	if keys, ok := r.json(t)["keys"].([]any); !ok || len(keys) != 0 {
		t.Errorf("got %s, want {\"keys\": []}", r.body)
	}
}

func TestCoreBearer(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(map[bool]string{false: "refused by default", true: "NativeClients"}[allow], func(t *testing.T) {
			e := newEnv(t, func(c *authsys.Config) { c.Sessions.NativeClients = allow })
			e.signupVerified("user@example.com", goodPassword)
			c := e.loggedIn("user@example.com", goodPassword)
			access, refresh := c.accessCookie(), c.refreshCookie()
			want, code := http.StatusUnauthorized, "not_authenticated"
			if allow {
				want, code = http.StatusOK, ""
			}
			for _, auth := range []string{"Bearer " + access, "bearer " + access} {
				expect(t, coreRaw(e, http.MethodGet, "/api/auth/me/", nil, "Authorization", auth), want, code)
				expect(t, coreRaw(e, http.MethodGet, "/api/private", nil, "Authorization", auth), want, code)
			}
			if allow {
				expect(t, coreRaw(e, http.MethodGet, "/api/auth/me/", nil, "Authorization", "Bearer "+refresh), http.StatusUnauthorized, "invalid_token")
				expect(t, coreRaw(e, http.MethodGet, "/api/private", nil, "Authorization", "Bearer garbage"), http.StatusUnauthorized, "invalid_token")
				expect(t, coreRaw(e, http.MethodGet, "/api/private", nil, "Authorization", "Basic "+access), http.StatusUnauthorized, "not_authenticated")
				r := coreRaw(e, http.MethodPost, "/api/auth/logout-all/", nil, "Authorization", "Bearer "+access)
				expect(t, r, http.StatusOK, "")
				expect(t, coreRaw(e, http.MethodGet, "/api/private", nil, "Authorization", "Bearer "+access), http.StatusUnauthorized, "invalid_token")
			}
		})
	}
}

func TestCoreCookieAttributes(t *testing.T) {
	for _, tc := range []struct {
		name        string
		mutate      func(*authsys.Config)
		secure      bool
		refreshPath string
		domain      string
		sameSite    http.SameSite
	}{
		{"defaults", func(*authsys.Config) {}, true, "/api/auth/", "", http.SameSiteLaxMode},
		{"InsecureCookies", func(c *authsys.Config) { c.Cookies.Insecure = true }, false, "/api/auth/", "", http.SameSiteLaxMode},
		{"RefreshCookiePath and CookieDomain", func(c *authsys.Config) {
			c.Cookies.RefreshPath = "/api/auth/refresh/"
			c.Cookies.Domain = "example.com"
		}, true, "/api/auth/refresh/", "example.com", http.SameSiteLaxMode},
		{"SameSite strict", func(c *authsys.Config) { c.Cookies.SameSite = http.SameSiteStrictMode }, true, "/api/auth/", "", http.SameSiteStrictMode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.mutate)
			e.signupVerified("user@example.com", goodPassword)
			login := e.client().post("/login/", map[string]string{"email": "user@example.com", "password": goodPassword})
			expect(t, login, http.StatusOK, "")
			refresh := coreRaw(e, http.MethodPost, "/api/auth/refresh/", nil, "Cookie", coreCookieHeader("refresh_token", coreSetCookie(login, "refresh_token").Value))
			expect(t, refresh, http.StatusOK, "")
			for _, r := range []response{login, refresh} {
				for _, want := range []struct {
					name, path string
					maxAge     int
				}{
					{"access_token", "/", int((15 * time.Minute).Seconds())},
					{"refresh_token", tc.refreshPath, int((7 * 24 * time.Hour).Seconds())},
				} {
					ck := coreSetCookie(r, want.name)
					if ck == nil {
						t.Fatalf("got no %s cookie", want.name)
					}
					if !ck.HttpOnly || ck.Secure != tc.secure || ck.SameSite != tc.sameSite || ck.Path != want.path || ck.Domain != tc.domain || ck.MaxAge != want.maxAge {
						t.Errorf("got %s cookie %q, want HttpOnly, Secure=%v, SameSite=%v, Path=%s, Domain=%q, Max-Age=%d",
							want.name, ck.Raw, tc.secure, tc.sameSite, want.path, tc.domain, want.maxAge)
					}
				}
			}
		})
	}
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

// authnRequest returns a request to an application route carrying the
// given access token in the access cookie ("" for none).
func authnRequest(e *env, access string) *http.Request {
	r := httptest.NewRequestWithContext(e.t.Context(), http.MethodGet, e.srv.URL+"/api/orders", nil)
	if access != "" {
		e.capture.add(access)
		r.AddCookie(&http.Cookie{Name: "access_token", Value: access})
	}
	return r
}

// spyWrites returns the write calls spy recorded after the first n.
func spyWrites(spy *authtest.Spy, n int) []string {
	var out []string
	for _, c := range spy.Calls()[n:] {
		switch c.Method {
		// The change subscription starts with the first authenticated
		// request; it writes nothing.
		case "UserByID", "UserByEmail", "GetPending", "ListUsers", "SessionByID", "SessionsByUser", "SubscribeChanges":
		default:
			out = append(out, c.Method+" "+c.Key)
		}
	}
	return out
}

// userStoreDown makes spy's UserByID fail with err, after emptying the
// Auth's cache (Shutdown ends its subscription; the next request starts
// another), so that the next request reads the store, which is down.
func userStoreDown(t *testing.T, e *env, spy *authtest.Spy, err error) {
	t.Helper()
	if err := e.auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	spy.SetHook(func(_ context.Context, c *authtest.Call) error {
		if c.Method == "UserByID" {
			return err
		}
		return nil
	})
}

// TestAuthenticate checks Auth.Authenticate, the side-effect-free check
// behind Middleware: the user for a valid access token, a 401 *Problem
// with the reason otherwise, the store's error (wrapping
// store.ErrUnavailable) in an outage, and never a store write.
func TestAuthenticate(t *testing.T) {
	var spy *authtest.Spy
	e := newEnv(t, spyOn(&spy))
	const email = "authn@example.com"
	e.signupVerified(email, goodPassword)
	live := e.loggedIn(email, goodPassword).accessCookie()
	ended := e.loggedIn(email, goodPassword)
	endedToken := ended.accessCookie()
	expect(t, ended.post("/logout/", nil), http.StatusOK, "")
	e.signupVerified("inactive@example.com", goodPassword)
	inactive := e.loggedIn("inactive@example.com", goodPassword).accessCookie()
	coreSetUser(e, "inactive@example.com", func(u *authsys.User) { u.IsActive = false })
	e.signupVerified("bumped@example.com", goodPassword)
	bumped := e.loggedIn("bumped@example.com", goodPassword).accessCookie()
	coreSetUser(e, "bumped@example.com", func(u *authsys.User) { u.TokenVersion++ })
	outage := errors.Join(store.ErrUnavailable, errors.New("injected outage"))

	for _, tc := range []struct {
		name    string
		access  string
		advance time.Duration
		down    bool   // the UserStore fails with outage
		email   string // the user, when authenticated
		code    string // the problem code, when not
	}{
		{name: "valid token", access: live, email: email},
		{name: "no token", code: authsys.CodeNotAuthenticated},
		{name: "garbage", access: "not-a-jwt", code: authsys.CodeInvalidToken},
		{name: "expired", access: live, advance: 16 * time.Minute, code: authsys.CodeTokenExpired},
		{name: "session ended by logout", access: endedToken, code: authsys.CodeInvalidToken},
		{name: "token version bumped", access: bumped, code: authsys.CodeInvalidToken},
		{name: "inactive account", access: inactive, code: authsys.CodeAccountInactive},
		{name: "store outage", access: live, down: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.advance != 0 {
				e.clock.Advance(tc.advance)
				defer e.clock.Advance(-tc.advance)
			}
			if tc.down {
				userStoreDown(t, e, spy, outage)
				defer spy.SetHook(nil)
			}
			n := len(spy.Calls())
			r := authnRequest(e, tc.access)
			u, err := e.auth.Authenticate(r)
			if w := spyWrites(spy, n); len(w) != 0 {
				t.Errorf("Authenticate wrote %v, want no store write", w)
			}
			var p *authsys.Problem
			switch {
			case tc.down:
				if !errors.Is(err, store.ErrUnavailable) {
					t.Fatalf("got error %v, want one wrapping store.ErrUnavailable", err)
				}
				if errors.As(err, &p) && p.Status == http.StatusUnauthorized {
					t.Errorf("got a 401 problem %q for an outage, want the store's error", p.Code)
				}
			case tc.email != "":
				if err != nil || u.Email != tc.email {
					t.Fatalf("got user %q, error %v; want %q, nil", u.Email, err, tc.email)
				}
			default:
				if !errors.As(err, &p) {
					t.Fatalf("got error %v (%T), want a *authsys.Problem", err, err)
				}
				if p.Status != http.StatusUnauthorized || p.Code != tc.code {
					t.Errorf("got problem %d %q, want 401 %q", p.Status, p.Code, tc.code)
				}
				if u.ID != "" {
					t.Errorf("got user %q with the error, want none", u.ID)
				}
			}
		})
	}
}

// TestAuthenticateBearer checks that Authenticate reads an
// "Authorization: Bearer" token only when Sessions.NativeClients.
func TestAuthenticateBearer(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("NativeClients %t", allow), func(t *testing.T) {
			e := newEnv(t, func(c *authsys.Config) { c.Sessions.NativeClients = allow })
			e.signupVerified("bearer@example.com", goodPassword)
			access := e.loggedIn("bearer@example.com", goodPassword).accessCookie()
			r := authnRequest(e, "")
			r.Header.Set("Authorization", "Bearer "+access)
			u, err := e.auth.Authenticate(r)
			var p *authsys.Problem
			switch {
			case allow && (err != nil || u.Email != "bearer@example.com"):
				t.Errorf("got user %q, error %v; want bearer@example.com", u.Email, err)
			case !allow && (!errors.As(err, &p) || p.Code != authsys.CodeNotAuthenticated):
				t.Errorf("got user %q, error %v; want a not_authenticated problem", u.Email, err)
			}
		})
	}
}

// TestOptionalMiddleware checks that OptionalMiddleware lets every request
// through, with the user in the context only for a valid access token, and
// never clears or sets a cookie.
func TestOptionalMiddleware(t *testing.T) {
	var spy *authtest.Spy
	e := newEnv(t, spyOn(&spy))
	e.Mux.Handle("GET /api/optional", e.auth.OptionalMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := authsys.UserFromContext(r.Context()); ok {
			io.WriteString(w, u.Email)
			return
		}
		io.WriteString(w, "anonymous")
	})))
	e.signupVerified("optional@example.com", goodPassword)
	c := e.loggedIn("optional@example.com", goodPassword)
	access := c.accessCookie()
	for _, tc := range []struct {
		name    string
		cookie  string
		advance time.Duration
		down    bool
		want    string
	}{
		{name: "anonymous", want: "anonymous"},
		{name: "valid token", cookie: access, want: "optional@example.com"},
		{name: "invalid token", cookie: "not-a-jwt", want: "anonymous"},
		{name: "tampered token", cookie: access[:len(access)-2] + "xx", want: "anonymous"},
		{name: "expired token", cookie: access, advance: 16 * time.Minute, want: "anonymous"},
		{name: "store outage", cookie: access, down: true, want: "anonymous"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.advance != 0 {
				e.clock.Advance(tc.advance)
				defer e.clock.Advance(-tc.advance)
			}
			if tc.down {
				userStoreDown(t, e, spy, errors.Join(store.ErrUnavailable, errors.New("injected outage")))
				defer spy.SetHook(nil)
			}
			var hdr []string
			if tc.cookie != "" {
				e.capture.add(tc.cookie)
				hdr = []string{"Cookie", coreCookieHeader("access_token", tc.cookie)}
			}
			r := coreRaw(e, http.MethodGet, "/api/optional", nil, hdr...)
			if r.StatusCode != http.StatusOK || string(r.body) != tc.want {
				t.Errorf("got %d %q, want 200 %q", r.StatusCode, r.body, tc.want)
			}
			if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
				t.Errorf("got Set-Cookie %q, want none", sc)
			}
		})
	}
}

// Durable sessions: the session list, revoking one or the others, and
// what ends sessions. Names start with sess.

// sessID returns the session ID of c's access token.
func sessID(t *testing.T, c *client) string {
	t.Helper()
	_, claims, _ := coreJWTParts(t, c.accessCookie())
	sid, _ := claims["sid"].(string)
	if sid == "" {
		t.Fatal("the access token carries no sid")
	}
	return sid
}

// sessList returns the sessions GET /sessions/ lists for c.
func sessList(t *testing.T, c *client) []map[string]any {
	t.Helper()
	r := c.get("/sessions/")
	expect(t, r, http.StatusOK, "")
	var body struct {
		Sessions []map[string]any `json:"sessions"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("sessions: %v: %s", err, r.body)
	}
	return body.Sessions
}

const (
	firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	iphoneUA  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

// sessLogin logs email in from a client with the user agent ua.
func sessLogin(e *env, email, ua string) *client {
	e.t.Helper()
	c := e.client()
	expect(e.t, c.post("/login/", map[string]string{"email": email, "password": goodPassword}, "User-Agent", ua), http.StatusOK, "")
	return c
}

func TestSessionsList(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	phone := sessLogin(e, "user@example.com", iphoneUA)
	e.clock.Advance(time.Minute)
	laptop := sessLogin(e, "user@example.com", firefoxUA)
	list := sessList(t, laptop)
	if len(list) != 2 {
		t.Fatalf("got %d sessions, want 2", len(list))
	}
	want := []struct {
		id, label string
		current   bool
	}{{sessID(t, laptop), "Firefox on Linux", true}, {sessID(t, phone), "Safari on iOS", false}}
	for i, w := range want {
		s := list[i]
		if s["id"] != w.id || s["label"] != w.label || s["current"] != w.current || s["ip"] != "127.0.0.1" {
			t.Errorf("session %d: got %v, want id %s, label %q, current %t, ip 127.0.0.1 (newest first)", i, s, w.id, w.label, w.current)
		}
		var keys []string
		for k := range s {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if got := strings.Join(keys, ","); got != "created_at,current,expires_at,id,ip,label,last_used_at,user_agent" {
			t.Errorf("session %d has members %s; want exactly the documented ones", i, got)
		}
	}
	// Another user sees only their own.
	e.signupVerified("other@example.com", goodPassword)
	if got := sessList(t, e.loggedIn("other@example.com", goodPassword)); len(got) != 1 {
		t.Errorf("another user: got %d sessions, want 1", len(got))
	}
	expect(t, e.client().get("/sessions/"), http.StatusUnauthorized, "not_authenticated")
}

func TestSessionsRevokeOne(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	e.signupVerified("other@example.com", goodPassword)
	me := e.loggedIn("user@example.com", goodPassword)
	phone := e.loggedIn("user@example.com", goodPassword)
	foreign := e.loggedIn("other@example.com", goodPassword)
	phoneID := sessID(t, phone)

	// Another user's session and an unknown one answer alike.
	a := me.do(http.MethodDelete, "/api/auth/sessions/"+sessID(t, foreign)+"/", nil)
	b := me.do(http.MethodDelete, "/api/auth/sessions/no-such-session/", nil)
	expect(t, a, http.StatusNotFound, "not_found")
	coreSameAnswer(t, "another user's session vs an unknown one", a, b)
	expect(t, foreign.get("/me/"), http.StatusOK, "")

	expect(t, me.do(http.MethodDelete, "/api/auth/sessions/"+phoneID+"/", nil), http.StatusOK, "")
	expect(t, phone.get("/me/"), http.StatusUnauthorized, "invalid_token")
	expect(t, phone.post("/refresh/", nil), http.StatusUnauthorized, "invalid_token")
	expect(t, me.get("/me/"), http.StatusOK, "")
	// Revoking it again: it is no longer a session of the user.
	expect(t, me.do(http.MethodDelete, "/api/auth/sessions/"+phoneID+"/", nil), http.StatusNotFound, "not_found")

	// Revoking the current session is a logout.
	r := me.do(http.MethodDelete, "/api/auth/sessions/"+sessID(t, me)+"/", nil)
	expect(t, r, http.StatusOK, "")
	if ck := coreSetCookie(r, "access_token"); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("revoking the current session: got access cookie %v, want it cleared", ck)
	}
}

func TestSessionsRevokeOthers(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	others := []*client{e.loggedIn("user@example.com", goodPassword), e.loggedIn("user@example.com", goodPassword)}
	me := e.loggedIn("user@example.com", goodPassword)
	r := me.post("/sessions/revoke-others/", nil)
	expect(t, r, http.StatusOK, "")
	if n, _ := r.json(t)["revoked"].(float64); n != 2 {
		t.Errorf("got %s, want revoked 2", r.body)
	}
	for i, c := range others {
		expect(t, c.get("/me/"), http.StatusUnauthorized, "invalid_token")
		if got := c.post("/refresh/", nil); got.StatusCode != http.StatusUnauthorized {
			t.Errorf("session %d's refresh: got %d, want 401", i, got.StatusCode)
		}
	}
	expect(t, me.get("/me/"), http.StatusOK, "")
	expect(t, me.post("/refresh/", nil), http.StatusOK, "")
	if got := sessList(t, me); len(got) != 1 {
		t.Errorf("got %d sessions listed, want the current one", len(got))
	}
	if ev, ok := coreLastEvent(e, "session_revoked"); !ok || ev.Reason != "others" {
		t.Errorf("got event %+v, want session_revoked others", ev)
	}
}

// TestSessionsEndedByAccountChanges checks that what ends every token of an
// account also ends its session records, so the list shows only what
// lives: a password change (the client that changed it keeps a new
// session), logout-all, and 2FA changes, which end every other session.
func TestSessionsEndedByAccountChanges(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	other := e.loggedIn("user@example.com", goodPassword)
	me := e.loggedIn("user@example.com", goodPassword)
	expect(t, me.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "another long passphrase"}), http.StatusOK, "")
	expect(t, other.get("/me/"), http.StatusUnauthorized, "")
	if got := sessList(t, me); len(got) != 1 || got[0]["current"] != true {
		t.Errorf("after a password change: got %v, want only the new current session", got)
	}

	u := e.tfaEnabled("tfa@example.com") // enabled from u.c's session
	expect(t, u.c.get("/me/"), http.StatusOK, "")
	second := e.client()
	r := second.post("/login/", map[string]string{"email": "tfa@example.com", "password": goodPassword})
	token, _ := r.json(t)["session_token"].(string)
	expect(t, second.post("/2fa/verify-login/", map[string]string{"session_token": token, "code": e.tfaFreshCode(u.secret)}), http.StatusOK, "")
	// Disabling 2FA from the second session ends the first.
	expect(t, second.post("/2fa/disable/", map[string]string{"password": goodPassword, "code": e.tfaFreshCode(u.secret)}), http.StatusOK, "")
	expect(t, u.c.get("/me/"), http.StatusUnauthorized, "invalid_token")
	expect(t, second.get("/me/"), http.StatusOK, "")
	// Enabling it again from the second session ends a third.
	third := e.loggedIn("tfa@example.com", goodPassword)
	secret := second.tfaSetup()
	expect(t, second.post("/2fa/enable/", map[string]string{"code": e.tfaFreshCode(secret)}), http.StatusOK, "")
	expect(t, third.get("/me/"), http.StatusUnauthorized, "invalid_token")
	expect(t, second.get("/me/"), http.StatusOK, "")

	expect(t, second.post("/logout-all/", nil), http.StatusOK, "")
	if all, err := e.store.SessionsByUser(t.Context(), coreUser(e, "tfa@example.com").ID); err != nil || slices.ContainsFunc(all, func(s store.Session) bool { return s.RevokedAt.IsZero() }) {
		t.Errorf("after logout-all: got records %v (%v), want every one revoked", all, err)
	}
}

func TestSessionsAbsoluteLifetime(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) { c.Sessions.AbsoluteTTL = 10 * 24 * time.Hour })
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	for range 3 {
		e.clock.Advance(3 * 24 * time.Hour)
		expect(t, c.post("/refresh/", nil), http.StatusOK, "")
	}
	e.clock.Advance(2 * 24 * time.Hour) // day 11
	if r := c.post("/refresh/", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("refresh past the absolute end: got %d, want 401", r.StatusCode)
	}
}

func TestSessionsRefreshRateLimit(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) {
		c.RateLimits = testLimits(map[string]string{})
		c.RateLimits.Refresh = authsys.Rate{N: 3, Per: time.Minute}
	})
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	for i := range 3 {
		e.clock.Advance(time.Second)
		if r := c.post("/refresh/", nil); r.StatusCode != http.StatusOK {
			t.Fatalf("refresh %d: got %d, want 200", i+1, r.StatusCode)
		}
	}
	r := c.post("/refresh/", nil)
	expect(t, r, http.StatusTooManyRequests, "throttled")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The refusal spent nothing and kept the cookies: after the wait the
	// same session refreshes.
	e.clock.Advance(21 * time.Second)
	expect(t, c.post("/refresh/", nil), http.StatusOK, "")
}

func TestSessionsAdminAPI(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("admin@example.com", goodPassword)
	coreSetUser(e, "admin@example.com", func(u *authsys.User) { u.IsStaff = true })
	admin := e.loggedIn("admin@example.com", goodPassword)
	e.signupVerified("user@example.com", goodPassword)
	victim := e.loggedIn("user@example.com", goodPassword)
	uid := coreUser(e, "user@example.com").ID
	r := admin.do(http.MethodGet, "/api/admin/auth/users/"+uid+"/sessions/", nil)
	expect(t, r, http.StatusOK, "")
	var body struct {
		Sessions []map[string]any `json:"sessions"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Sessions) != 1 || body.Sessions[0]["id"] != sessID(t, victim) {
		t.Fatalf("admin list: got %s, want the user's one session", r.body)
	}
	// The admin's own session is not the user's: 404.
	expect(t, admin.do(http.MethodDelete, "/api/admin/auth/users/"+uid+"/sessions/"+sessID(t, admin)+"/", nil), http.StatusNotFound, "not_found")
	expect(t, admin.do(http.MethodDelete, "/api/admin/auth/users/"+uid+"/sessions/"+sessID(t, victim)+"/", nil), http.StatusOK, "")
	expect(t, victim.get("/me/"), http.StatusUnauthorized, "invalid_token")
	if ev, ok := coreLastEvent(e, "session_revoked"); !ok || ev.ActorID != coreUser(e, "admin@example.com").ID || ev.UserID != uid {
		t.Errorf("got event %+v, want session_revoked by the admin", ev)
	}
	expect(t, admin.do(http.MethodGet, "/api/admin/auth/users/no-such-user/sessions/", nil), http.StatusNotFound, "not_found")
	expect(t, victim.do(http.MethodGet, "/api/admin/auth/users/"+uid+"/sessions/", nil), http.StatusUnauthorized, "")
}

// Regressions found in review.

// TestSessionsTwoFactorChangeEndsOthersWhateverTheRecords: enabling 2FA
// ends every other session in the same write as the change (the token
// version), so a failure to revoke the session records cannot leave a
// stolen session alive.
func TestSessionsTwoFactorChangeEndsOthersWhateverTheRecords(t *testing.T) {
	var spy *authtest.Spy
	e := newEnv(t, spyOn(&spy))
	e.signupVerified("v@example.com", goodPassword)
	victim := e.loggedIn("v@example.com", goodPassword)
	thief := e.loggedIn("v@example.com", goodPassword)
	secret := victim.tfaSetup()
	spy.SetHook(func(_ context.Context, c *authtest.Call) error {
		if c.Method == "RevokeUserSessions" {
			return store.ErrUnavailable
		}
		return nil
	})
	r := victim.post("/2fa/enable/", map[string]string{"code": tfaCodeAt(t, secret, e.clock.Now())})
	spy.SetHook(nil)
	expect(t, r, http.StatusOK, "")
	expect(t, thief.get("/me/"), http.StatusUnauthorized, "")
	expect(t, thief.post("/refresh/", nil), http.StatusUnauthorized, "")
	expect(t, victim.get("/me/"), http.StatusOK, "") // the enabling client goes on
}

// TestSessionsLoginRacingTwoFactorEnable: a password login whose password
// was checked before 2FA was enabled must not complete after it without a
// second factor.
func TestSessionsLoginRacingTwoFactorEnable(t *testing.T) {
	var spy *authtest.Spy
	e := newEnv(t, spyOn(&spy))
	e.signupVerified("v@example.com", goodPassword)
	victim := e.loggedIn("v@example.com", goodPassword)
	secret := victim.tfaSetup()
	enabled := 0
	hookOnce(spy, func() { // runs just before the login's write
		enabled = victim.post("/2fa/enable/", map[string]string{"code": tfaCodeAt(t, secret, e.clock.Now())}).StatusCode
	})
	attacker := e.client()
	r := attacker.post("/login/", map[string]string{"email": "v@example.com", "password": goodPassword})
	if enabled != http.StatusOK {
		t.Fatalf("the racing enable got %d, want 200", enabled)
	}
	expect(t, r, http.StatusUnauthorized, "invalid_credentials")
	if attacker.accessCookie() != "" {
		t.Fatal("the refused login set an access cookie")
	}
}

// TestSessionsRefreshInTheLastSecond: a refresh in the last second of a
// session's absolute lifetime is refused, not an internal error.
func TestSessionsRefreshInTheLastSecond(t *testing.T) {
	for _, skew := range []time.Duration{-1, 5 * time.Second} { // none, and the default
		e := newEnv(t, func(c *authsys.Config) { c.Sessions.AbsoluteTTL = time.Hour; c.Sessions.ClockSkew = skew })
		e.signupVerified("u@example.com", goodPassword)
		e.clock.Advance(500 * time.Millisecond) // log in at hh:mm:ss.5
		c := e.loggedIn("u@example.com", goodPassword)
		e.clock.Advance(time.Hour - 300*time.Millisecond) // 0.2 s before the end, in its last second
		expect(t, c.post("/refresh/", nil), http.StatusUnauthorized, "")
	}
}

// TestSessionsRefreshBudgetOfAnIP: refresh requests with garbage cookies
// spend the client IP's budget, not the sessions' of the users behind the
// same address.
func TestSessionsRefreshBudgetOfAnIP(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) { c.RateLimits = authsys.RateLimits{} })
	e.signupVerified("u@example.com", goodPassword)
	victim := e.loggedIn("u@example.com", goodPassword)
	attacker := e.client()
	var last response
	for range 40 {
		attacker.setCookie("refresh_token", "garbage", "/api/auth/")
		last = attacker.post("/refresh/", nil)
	}
	expect(t, last, http.StatusTooManyRequests, "throttled")
	expect(t, victim.post("/refresh/", nil), http.StatusOK, "")
}

// Re-authentication ("sudo mode").

// staleSession returns a client of email whose session was last shown its
// credentials more than the re-authentication window ago, with a valid
// access token (refreshed).
func staleSession(e *env, email string) *client {
	e.t.Helper()
	c := e.loggedIn(email, goodPassword)
	e.clock.Advance(11 * time.Minute)
	expect(e.t, c.post("/refresh/", nil), http.StatusOK, "")
	return c
}

// TestReauthenticationRequired: every sensitive action answers 403
// reauthentication_required on a session that showed its credentials
// more than Sessions.ReauthWindow ago (a stolen session, say), and works
// after POST /reauthenticate/; a login is fresh by itself.
func TestReauthenticationRequired(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("admin@example.com", goodPassword)
	coreSetUser(e, "admin@example.com", func(u *authsys.User) { u.IsStaff = true })
	e.signupVerified("user@example.com", goodPassword)
	uid := coreUser(e, "user@example.com").ID
	actions := []struct {
		name         string
		email        string
		method, path string
		body         any
	}{
		{"2fa setup", "user@example.com", http.MethodPost, "/api/auth/2fa/setup/", nil},
		{"2fa enable", "user@example.com", http.MethodPost, "/api/auth/2fa/enable/", map[string]string{"code": "123456"}},
		{"2fa disable", "user@example.com", http.MethodPost, "/api/auth/2fa/disable/", map[string]string{"password": goodPassword, "code": "123456"}},
		{"backup codes list", "user@example.com", http.MethodGet, "/api/auth/2fa/backup-codes/", nil},
		{"backup codes regenerate", "user@example.com", http.MethodPost, "/api/auth/2fa/backup-codes/", map[string]string{"password": goodPassword}},
		{"email change", "user@example.com", http.MethodPost, "/api/auth/change-email/", map[string]string{"new_email": "new@example.com", "password": goodPassword}},
		{"revoke other sessions", "user@example.com", http.MethodPost, "/api/auth/sessions/revoke-others/", nil},
		{"admin action", "admin@example.com", http.MethodPost, "/api/admin/auth/users/" + uid + "/revoke-sessions/", nil},
		{"admin session revoke", "admin@example.com", http.MethodDelete, "/api/admin/auth/users/" + uid + "/sessions/x/", nil},
	}
	for _, a := range actions {
		t.Run(a.name, func(t *testing.T) {
			c := staleSession(e, a.email)
			expect(t, c.do(a.method, a.path, a.body), http.StatusForbidden, "reauthentication_required")
			r := c.post("/reauthenticate/", map[string]string{"password": goodPassword})
			expect(t, r, http.StatusOK, "")
			if coreSetCookie(r, "access_token") == nil {
				t.Error("re-authentication set no access cookie")
			}
			if got := c.do(a.method, a.path, a.body); got.StatusCode == http.StatusForbidden {
				t.Errorf("after re-authentication: got %d %s, want the action let through", got.StatusCode, got.body)
			}
		})
	}
	// A non-admin is refused as such, before any freshness check.
	c := staleSession(e, "user@example.com")
	expect(t, c.do(http.MethodPost, "/api/admin/auth/users/"+uid+"/activate/", nil), http.StatusForbidden, "forbidden")
	// A login is fresh.
	expect(t, e.loggedIn("user@example.com", goodPassword).post("/2fa/setup/", nil), http.StatusOK, "")
}

func TestReauthenticate(t *testing.T) {
	e := newEnv(t)
	u := e.tfaEnabled("tfa@example.com")
	e.clock.Advance(11 * time.Minute)
	expect(t, u.c.post("/refresh/", nil), http.StatusOK, "")
	expect(t, u.c.get("/2fa/backup-codes/"), http.StatusForbidden, "reauthentication_required")

	// With 2FA on the password alone is not enough: both factors.
	expect(t, u.c.post("/reauthenticate/", map[string]string{"password": goodPassword}), http.StatusBadRequest, "validation_failed")
	expect(t, u.c.post("/reauthenticate/", map[string]string{"password": "not the password", "code": e.tfaFreshCode(u.secret)}), http.StatusBadRequest, "invalid_password")
	expect(t, u.c.post("/reauthenticate/", map[string]string{"password": goodPassword, "code": e.tfaWrongCode(u.secret)}), http.StatusBadRequest, "invalid_code")
	expect(t, u.c.get("/2fa/backup-codes/"), http.StatusForbidden, "reauthentication_required")
	code := e.tfaFreshCode(u.secret)
	expect(t, u.c.post("/reauthenticate/", map[string]string{"password": goodPassword, "code": code}), http.StatusOK, "")
	expect(t, u.c.get("/2fa/backup-codes/"), http.StatusOK, "")
	// The code is spent: it cannot confirm again.
	expect(t, u.c.post("/reauthenticate/", map[string]string{"password": goodPassword, "code": code}), http.StatusBadRequest, "invalid_code")
	// Freshness survives a refresh, and ends with the window.
	e.clock.Advance(5 * time.Minute)
	expect(t, u.c.post("/refresh/", nil), http.StatusOK, "")
	expect(t, u.c.get("/2fa/backup-codes/"), http.StatusOK, "")
	e.clock.Advance(6 * time.Minute)
	expect(t, u.c.get("/2fa/backup-codes/"), http.StatusForbidden, "reauthentication_required")
	// A backup code confirms too.
	expect(t, u.c.post("/reauthenticate/", map[string]string{"password": goodPassword, "code": u.backup[0]}), http.StatusOK, "")
	expect(t, u.c.get("/2fa/backup-codes/"), http.StatusOK, "")
	expect(t, e.client().post("/reauthenticate/", map[string]string{"password": goodPassword}), http.StatusUnauthorized, "not_authenticated")
}

// Regressions of the review of re-authentication.

// TestReauthNotMintedByChanges: a password change or enabling 2FA starts a
// new session as fresh as the one it replaces, never fresher: a stale
// session and the password cannot mint backup codes (and so disable 2FA),
// and enabling 2FA does not extend the window.
func TestReauthNotMintedByChanges(t *testing.T) {
	e := newEnv(t)
	u := e.tfaEnabled("tfa@example.com")
	e.clock.Advance(11 * time.Minute)
	expect(t, u.c.post("/refresh/", nil), http.StatusOK, "")
	expect(t, u.c.get("/2fa/backup-codes/"), http.StatusForbidden, "reauthentication_required")
	expect(t, u.c.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "another long passphrase"}), http.StatusOK, "")
	expect(t, u.c.post("/2fa/backup-codes/", map[string]string{"password": "another long passphrase"}), http.StatusForbidden, "reauthentication_required")

	e.signupVerified("x@example.com", goodPassword)
	c := e.loggedIn("x@example.com", goodPassword)
	e.clock.Advance(9 * time.Minute)
	secret := c.tfaSetup()
	expect(t, c.post("/2fa/enable/", map[string]string{"code": tfaCodeAt(t, secret, e.clock.Now())}), http.StatusOK, "")
	e.clock.Advance(2 * time.Minute) // 11 minutes after the password was shown
	expect(t, c.get("/2fa/backup-codes/"), http.StatusForbidden, "reauthentication_required")
}

// TestReauthOthersOneByOne: ending another session one by one needs a
// fresh session too, as revoke-others does; ending one's own does not.
func TestReauthOthersOneByOne(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("x@example.com", goodPassword)
	owner := e.loggedIn("x@example.com", goodPassword)
	stale := staleSession(e, "x@example.com")
	for _, s := range sessList(t, stale) {
		if cur, _ := s["current"].(bool); !cur {
			expect(t, stale.do(http.MethodDelete, "/api/auth/sessions/"+s["id"].(string)+"/", nil), http.StatusForbidden, "reauthentication_required")
		}
	}
	expect(t, owner.get("/me/"), http.StatusOK, "")
	expect(t, stale.do(http.MethodDelete, "/api/auth/sessions/"+sessID(t, stale)+"/", nil), http.StatusOK, "")
}

// TestReauthAuthTimeAcrossSkewedInstances: a login on an instance whose
// clock runs 3 s ahead, refreshed at once on another, gives tokens every
// instance accepts (the auth time is never after the issue time).
func TestReauthAuthTimeAcrossSkewedInstances(t *testing.T) {
	behind := newEnv(t, func(c *authsys.Config) { c.Sessions.ClockSkew = 0 }) // the default, 5 s
	ahead := newEnv(t, func(c *authsys.Config) {
		c.Users, c.Pending = behind.store, behind.store
		c.Sessions.ClockSkew = 0
	})
	ahead.clock.Advance(3 * time.Second)
	ahead.signupVerified("skew@example.com", goodPassword)
	c := ahead.loggedIn("skew@example.com", goodPassword)
	other := behind.client()
	other.setCookie("refresh_token", c.refreshCookie(), "/api/auth/")
	expect(t, other.post("/refresh/", nil), http.StatusOK, "")
	expect(t, other.get("/me/"), http.StatusOK, "")
	expect(t, other.post("/refresh/", nil), http.StatusOK, "")
}

// TestReauthOfARevokedSession: a revoked session's access token still
// accepted (StatelessAccessTokens) gets no new one from /reauthenticate/.
func TestReauthOfARevokedSession(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) { c.Sessions.StatelessAccessTokens = true })
	e.signupVerified("x@example.com", goodPassword)
	victim := e.loggedIn("x@example.com", goodPassword)
	owner := e.loggedIn("x@example.com", goodPassword)
	expect(t, owner.do(http.MethodDelete, "/api/auth/sessions/"+sessID(t, victim)+"/", nil), http.StatusOK, "")
	victim.setCookie("refresh_token", "", "/api/auth/") // no refresh cookie to rotate
	e.clock.Advance(14 * time.Minute)
	expect(t, victim.post("/reauthenticate/", map[string]string{"password": goodPassword}), http.StatusUnauthorized, "invalid_token")
}
