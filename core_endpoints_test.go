package authsys_test

// Success and failure of every account endpoint, black box through
// auth.Handler() behind httptest.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
)

const coreFrontend = "https://app.example.com"

func TestCoreSignup(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	r := c.post("/signup/", map[string]string{"email": "  New@Example.COM ", "password": goodPassword})
	expect(t, r, http.StatusCreated, "")
	if got := r.json(t)["message"]; got == nil || got == "" {
		t.Errorf("got message %v, want a message", got)
	}
	u := coreUser(e, "new@example.com")
	if u.IsActive || u.EmailVerified {
		t.Errorf("got IsActive %v EmailVerified %v after signup, want false false", u.IsActive, u.EmailVerified)
	}
	if u.Email != "new@example.com" {
		t.Errorf("got stored email %q, want it normalized to new@example.com", u.Email)
	}
	if strings.Contains(u.PasswordHash, goodPassword) || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Errorf("got PasswordHash %q, want an argon2id hash", u.PasswordHash)
	}
	if c.accessCookie() != "" {
		t.Error("signup set an access cookie, want none before verification")
	}
	q := coreLinkQuery(t, coreLastMail(e, "new@example.com", mail.KindVerifyAccount), coreFrontend+"/verify-account?")
	if q.Get("uid") != u.ID || q.Get("token") == "" {
		t.Errorf("got link query %v, want uid %s and a token", q, u.ID)
	}
	if !e.events.has("signup") {
		t.Errorf("got events %v, want a signup event", e.events.kinds())
	}
	// Not active yet: the right password is refused with account_inactive.
	expect(t, c.post("/login/", map[string]string{"email": "new@example.com", "password": goodPassword}), http.StatusForbidden, "account_inactive")

	for _, tc := range []struct {
		name  string
		body  map[string]string
		field string
	}{
		{"missing email", map[string]string{"password": goodPassword}, "email"},
		{"blank email", map[string]string{"email": "  ", "password": goodPassword}, "email"},
		{"invalid email", map[string]string{"email": "not-an-email", "password": goodPassword}, "email"},
		{"display name", map[string]string{"email": "Bob <bob@example.com>", "password": goodPassword}, "email"},
		{"missing password", map[string]string{"email": "x@example.com"}, "password"},
		{"short password", map[string]string{"email": "x@example.com", "password": "short"}, "password"},
		{"numeric password", map[string]string{"email": "x@example.com", "password": "12345678901234"}, "password"},
		{"common password", map[string]string{"email": "x@example.com", "password": "password123"}, "password"},
		{"password like email", map[string]string{"email": "longlocalpart@example.com", "password": "longlocalpart"}, "password"},
		{"too long password", map[string]string{"email": "x@example.com", "password": strings.Repeat("ab", 600)}, "password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := coreUserCount(e)
			r := c.post("/signup/", tc.body)
			expect(t, r, http.StatusBadRequest, "validation_failed")
			errs, _ := r.json(t)["errors"].(map[string]any)
			if _, ok := errs[tc.field]; !ok {
				t.Errorf("got errors %v, want an entry for %q", errs, tc.field)
			}
			if got := coreUserCount(e); got != before {
				t.Errorf("got %d users after a refused signup, want %d", got, before)
			}
		})
	}
}

func TestCoreVerifyAccount(t *testing.T) {
	e := newEnv(t)
	signup := func(email string) (uid, token string) {
		t.Helper()
		expect(t, e.client().post("/signup/", map[string]string{"email": email, "password": goodPassword}), http.StatusCreated, "")
		q := linkParams(t, coreLastMail(e, email, mail.KindVerifyAccount))
		return q.Get("uid"), q.Get("token")
	}

	t.Run("GET", func(t *testing.T) {
		uid, token := signup("get@example.com")
		r := e.client().get("/verify-account/?uid=" + uid + "&token=" + token)
		expect(t, r, http.StatusOK, "")
		if u := coreUser(e, "get@example.com"); !u.IsActive || !u.EmailVerified {
			t.Fatalf("got IsActive %v EmailVerified %v, want true true", u.IsActive, u.EmailVerified)
		}
		e.loggedIn("get@example.com", goodPassword)
	})
	t.Run("POST", func(t *testing.T) {
		uid, token := signup("post@example.com")
		expect(t, e.client().post("/verify-account/", map[string]string{"uid": uid, "token": token}), http.StatusOK, "")
		if u := coreUser(e, "post@example.com"); !u.IsActive {
			t.Fatal("got inactive account after verification, want active")
		}
		if !e.events.has("account_verified") {
			t.Errorf("got events %v, want account_verified", e.events.kinds())
		}
	})

	uid, token := signup("fail@example.com")
	otherUID, _ := signup("other@example.com")
	for _, tc := range []struct {
		name       string
		body       map[string]string
		status     int
		code, want string
	}{
		{"missing token", map[string]string{"uid": uid}, 400, "validation_failed", ""},
		{"missing uid", map[string]string{"token": token}, 400, "validation_failed", ""},
		{"garbage token", map[string]string{"uid": uid, "token": "k1.abc.def"}, 400, "invalid_token", ""},
		{"edited token", map[string]string{"uid": uid, "token": token[:len(token)-2] + "AA"}, 400, "invalid_token", ""},
		{"unknown uid", map[string]string{"uid": "no-such-user", "token": token}, 400, "invalid_token", ""},
		{"another user's uid", map[string]string{"uid": otherUID, "token": token}, 400, "invalid_token", ""},
		{"huge uid", map[string]string{"uid": strings.Repeat("u", 10000), "token": token}, 400, "invalid_token", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, e.client().post("/verify-account/", tc.body), tc.status, tc.code)
			if u := coreUser(e, "fail@example.com"); u.IsActive {
				t.Fatal("a refused verification activated the account")
			}
		})
	}
	t.Run("GET without query", func(t *testing.T) {
		expect(t, e.client().get("/verify-account/"), http.StatusBadRequest, "validation_failed")
	})
	t.Run("reset token as verification token", func(t *testing.T) {
		e.signupVerified("purpose@example.com", goodPassword)
		expect(t, e.client().post("/password-reset/", map[string]string{"email": "purpose@example.com"}), http.StatusOK, "")
		q := linkParams(t, coreLastMail(e, "purpose@example.com", mail.KindPasswordReset))
		expect(t, e.client().post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusBadRequest, "invalid_token")
	})
	t.Run("expired", func(t *testing.T) {
		uid, token := signup("late@example.com")
		e.clock.Advance(72*time.Hour + time.Second)
		expect(t, e.client().post("/verify-account/", map[string]string{"uid": uid, "token": token}), http.StatusBadRequest, "token_expired")
		if u := coreUser(e, "late@example.com"); u.IsActive {
			t.Fatal("an expired link activated the account")
		}
	})
}

func TestCoreResendVerification(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	expect(t, c.post("/signup/", map[string]string{"email": "pending@example.com", "password": goodPassword}), http.StatusCreated, "")
	e.signupVerified("done@example.com", goodPassword)
	base := len(coreMails(e, "pending@example.com", mail.KindVerifyAccount))

	expect(t, c.post("/verify-account/resend/", map[string]string{"email": "Pending@Example.com"}), http.StatusOK, "")
	ms := coreMails(e, "pending@example.com", mail.KindVerifyAccount)
	if len(ms) != base+1 {
		t.Fatalf("got %d verification mails, want %d", len(ms), base+1)
	}
	// The resent link works.
	q := linkParams(t, ms[len(ms)-1])
	expect(t, c.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")

	before := coreFlush(e)
	expect(t, c.post("/verify-account/resend/", map[string]string{"email": "done@example.com"}), http.StatusOK, "")
	expect(t, c.post("/verify-account/resend/", map[string]string{"email": "nobody@example.com"}), http.StatusOK, "")
	if got := coreFlush(e); got != before {
		t.Fatalf("got %d new mails for a verified and an unknown address, want 0", got-before)
	}
	expect(t, c.post("/verify-account/resend/", map[string]string{"email": "bad"}), http.StatusBadRequest, "validation_failed")
	expect(t, c.post("/verify-account/resend/", map[string]string{}), http.StatusBadRequest, "validation_failed")
}

func TestCoreLogin(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	e.clock.Advance(time.Minute)

	c := e.client()
	r := c.post("/login/", map[string]string{"email": " USER@example.com ", "password": goodPassword})
	expect(t, r, http.StatusOK, "")
	body := r.json(t)
	if body["requires_2fa"] != false {
		t.Errorf("got requires_2fa %v, want false", body["requires_2fa"])
	}
	u, _ := body["user"].(map[string]any)
	stored := coreUser(e, "user@example.com")
	want := map[string]any{"id": stored.ID, "email": "user@example.com", "is_active": true, "two_factor_enabled": false,
		"date_joined": stored.DateJoined.UTC().Format(time.RFC3339Nano)}
	for k, v := range want {
		if u[k] != v {
			t.Errorf("got user.%s %v, want %v", k, u[k], v)
		}
	}
	if len(u) != len(want) {
		t.Errorf("got user fields %v, want exactly %v", u, want)
	}
	if _, ok := body["session_token"]; ok {
		t.Error("got a session_token without 2FA, want none")
	}
	if !stored.LastLogin.Equal(e.clock.Now()) {
		t.Errorf("got LastLogin %v, want %v", stored.LastLogin, e.clock.Now())
	}
	if coreSetCookie(r, "access_token") == nil || coreSetCookie(r, "refresh_token") == nil {
		t.Fatalf("got cookies %v, want access_token and refresh_token", r.Cookies())
	}
	expect(t, c.get("/me/"), http.StatusOK, "")

	expect(t, e.client().post("/signup/", map[string]string{"email": "idle@example.com", "password": goodPassword}), http.StatusCreated, "")
	for _, tc := range []struct {
		name         string
		body         map[string]string
		status       int
		code, reason string
	}{
		{"wrong password", map[string]string{"email": "user@example.com", "password": "wrong password here"}, 401, "invalid_credentials", "wrong_password"},
		{"unknown email", map[string]string{"email": "ghost@example.com", "password": goodPassword}, 401, "invalid_credentials", "unknown_email"},
		{"not an email", map[string]string{"email": "ghost", "password": goodPassword}, 401, "invalid_credentials", "unknown_email"},
		{"inactive, wrong password", map[string]string{"email": "idle@example.com", "password": "wrong password here"}, 401, "invalid_credentials", "wrong_password"},
		{"inactive, right password", map[string]string{"email": "idle@example.com", "password": goodPassword}, 403, "account_inactive", "inactive"},
		{"missing password", map[string]string{"email": "user@example.com"}, 400, "validation_failed", ""},
		{"missing email", map[string]string{"password": goodPassword}, 400, "validation_failed", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client()
			n := len(e.events.kinds())
			r := c.post("/login/", tc.body)
			expect(t, r, tc.status, tc.code)
			if len(r.Cookies()) != 0 || c.accessCookie() != "" {
				t.Errorf("got cookies %v on a failed login, want none", r.Cookies())
			}
			if tc.reason != "" {
				ev, ok := coreLastEvent(e, "login_failed")
				if !ok || len(e.events.kinds()) == n || ev.Reason != tc.reason {
					t.Errorf("got last login_failed event %+v, want a new one with reason %q", ev, tc.reason)
				}
				if strings.Contains(ev.Reason+ev.UserID, tc.body["password"]) {
					t.Error("the event carries the password")
				}
			}
		})
	}
}

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

	expect(t, e.client().post("/logout/", nil), http.StatusUnauthorized, "not_authenticated")
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
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "idle@example.com"}), http.StatusOK, "")
	if n := len(coreMails(e, "idle@example.com", mail.KindPasswordReset)) + len(coreMails(e, "ghost@example.com", "")); n != 0 {
		t.Errorf("got %d reset mails for an unknown and an unverified address, want 0", n)
	}
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

func TestCoreChangeEmail(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("old@example.com", goodPassword)
	e.signupVerified("taken@example.com", goodPassword)
	c := e.loggedIn("old@example.com", goodPassword)

	request := func(newEmail string) response {
		t.Helper()
		return c.post("/change-email/", map[string]string{"new_email": newEmail, "password": goodPassword})
	}
	r := request("New@Example.com")
	expect(t, r, http.StatusOK, "")
	if strings.Contains(string(r.body), "token") {
		t.Errorf("got body %s, want no token in the answer", r.body)
	}
	if got := coreUser(e, "old@example.com").Email; got != "old@example.com" {
		t.Fatalf("got email %q before confirmation, want old@example.com", got)
	}
	m := coreLastMail(e, "new@example.com", mail.KindEmailChangeConfirm)
	q := coreLinkQuery(t, m, coreFrontend+"/confirm-email-change?")
	if len(q) != 1 || q.Get("token") == "" {
		t.Fatalf("got link query %v, want only a token", q)
	}
	// A taken address: the same answer, no mail.
	before := coreFlush(e)
	r2 := request("taken@example.com")
	expect(t, r2, http.StatusOK, "")
	if string(r2.body) != string(r.body) {
		t.Errorf("got body %s for a taken address, want %s", r2.body, r.body)
	}
	if coreFlush(e) != before {
		t.Error("got a confirmation mail to a taken address, want none")
	}

	for _, tc := range []struct {
		name   string
		body   map[string]string
		status int
		code   string
	}{
		{"wrong password", map[string]string{"new_email": "x@example.com", "password": "not my password"}, 400, "invalid_password"},
		{"invalid email", map[string]string{"new_email": "x", "password": goodPassword}, 400, "validation_failed"},
		{"same email", map[string]string{"new_email": "OLD@example.com", "password": goodPassword}, 400, "validation_failed"},
		{"missing password", map[string]string{"new_email": "x@example.com"}, 400, "validation_failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, c.post("/change-email/", tc.body), tc.status, tc.code)
		})
	}
	expect(t, e.client().post("/change-email/", map[string]string{"new_email": "x@example.com", "password": goodPassword}), http.StatusUnauthorized, "not_authenticated")

	// Confirm failures first.
	expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": "no-such-token"}), http.StatusBadRequest, "invalid_token")
	expect(t, e.client().post("/change-email-confirm/", map[string]string{}), http.StatusBadRequest, "validation_failed")
	expect(t, e.client().get("/change-email-confirm/"), http.StatusBadRequest, "validation_failed")

	// GET confirms.
	tv := coreUser(e, "old@example.com").TokenVersion
	expect(t, e.client().get("/change-email-confirm/?token="+q.Get("token")), http.StatusOK, "")
	u, err := e.store.UserByEmail(t.Context(), "new@example.com")
	if err != nil {
		t.Fatalf("got %v looking up the new address, want the user", err)
	}
	if !u.EmailVerified || u.TokenVersion != tv+1 {
		t.Errorf("got EmailVerified %v TokenVersion %d, want true %d", u.EmailVerified, u.TokenVersion, tv+1)
	}
	notice := coreLastMail(e, "old@example.com", mail.KindEmailChangedNotice)
	if strings.Contains(notice.Text, "new@example.com") {
		t.Errorf("got the full new address in the notice to the old one, want it masked: %q", notice.Text)
	}
	expect(t, c.get("/me/"), http.StatusUnauthorized, "invalid_token")
	expect(t, e.client().post("/login/", map[string]string{"email": "old@example.com", "password": goodPassword}), http.StatusUnauthorized, "invalid_credentials")
	c = e.loggedIn("new@example.com", goodPassword)

	// POST confirms, and the address may be taken meanwhile.
	expect(t, c.post("/change-email/", map[string]string{"new_email": "third@example.com", "password": goodPassword}), http.StatusOK, "")
	q3 := linkParams(t, coreLastMail(e, "third@example.com", mail.KindEmailChangeConfirm))
	expect(t, c.post("/change-email/", map[string]string{"new_email": "fourth@example.com", "password": goodPassword}), http.StatusOK, "")
	q4 := linkParams(t, coreLastMail(e, "fourth@example.com", mail.KindEmailChangeConfirm))
	expect(t, e.client().post("/signup/", map[string]string{"email": "third@example.com", "password": goodPassword}), http.StatusCreated, "")
	expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": q3.Get("token")}), http.StatusConflict, "email_taken")
	expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": q4.Get("token")}), http.StatusOK, "")
	if got := coreUser(e, "fourth@example.com").ID; got != u.ID {
		t.Errorf("got user %s at fourth@example.com, want %s", got, u.ID)
	}
	if !e.events.has("email_change_requested") || !e.events.has("email_changed") {
		t.Errorf("got events %v, want email_change_requested and email_changed", e.events.kinds())
	}

	t.Run("expired", func(t *testing.T) {
		c := e.loggedIn("fourth@example.com", goodPassword)
		expect(t, c.post("/change-email/", map[string]string{"new_email": "fifth@example.com", "password": goodPassword}), http.StatusOK, "")
		q := linkParams(t, coreLastMail(e, "fifth@example.com", mail.KindEmailChangeConfirm))
		e.clock.Advance(time.Hour + time.Second)
		expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": q.Get("token")}), http.StatusBadRequest, "invalid_token")
		coreUser(e, "fourth@example.com")
	})
	t.Run("password changed since", func(t *testing.T) {
		c := e.loggedIn("fourth@example.com", goodPassword)
		expect(t, c.post("/change-email/", map[string]string{"new_email": "sixth@example.com", "password": goodPassword}), http.StatusOK, "")
		q := linkParams(t, coreLastMail(e, "sixth@example.com", mail.KindEmailChangeConfirm))
		expect(t, c.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "changed my mind about it"}), http.StatusOK, "")
		expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": q.Get("token")}), http.StatusBadRequest, "invalid_token")
		coreUser(e, "fourth@example.com")
	})
}
