package authsys_test

// Login: credentials, the cost of a login for an unknown email, rehashing on
// login, and logins racing a revocation.

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/authtest"
	"github.com/authsys-go/authsys/mail"
	"golang.org/x/crypto/bcrypt"
)

// TestLoginRacingARevocation commits a password reset (new hash, token
// version bumped) while a login with the old password is between its
// password check and its write: the login must fail and set no cookie,
// not hand out a session that outlives the reset. The same holds for a
// logout-all or an admin revocation (a bare token version bump) and a
// deactivation.
func TestLoginRacingARevocation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*authsys.User)
	}{
		{"password reset", func(u *authsys.User) {
			u.PasswordHash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo"
			u.TokenVersion++
		}},
		{"revocation", func(u *authsys.User) { u.TokenVersion++ }},
		{"deactivation", func(u *authsys.User) { u.IsActive = false; u.TokenVersion++ }},
		{"nothing (control)", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var spy *authtest.Spy
			e := newEnv(t, spyOn(&spy))
			const email = "racer@example.com"
			e.signupVerified(email, goodPassword)
			u := coreUser(e, email)
			if tc.change != nil {
				hook := func() {
					if _, err := e.store.UpdateUser(context.Background(), u.ID, func(x *authsys.User) error { tc.change(x); return nil }); err != nil {
						t.Error(err)
					}
				}
				hookOnce(spy, hook)
			}
			c := e.client()
			r := c.post("/login/", map[string]string{"email": email, "password": goodPassword})
			if tc.change == nil {
				expect(t, r, http.StatusOK, "")
				return
			}
			expect(t, r, http.StatusUnauthorized, "invalid_credentials")
			if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
				t.Errorf("a failed login set cookies %q", sc)
			}
			var failed []authsys.Event
			for _, ev := range e.events.list() {
				if ev.Kind == "login_failed" {
					failed = append(failed, ev)
				}
			}
			if len(failed) != 1 || failed[0].Reason != "account_changed" || failed[0].UserID != u.ID {
				t.Errorf("got login_failed events %+v, want one for the user with reason account_changed", failed)
			}
			expect(t, c.get("/me/"), http.StatusUnauthorized, "not_authenticated")
		})
	}
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
	want := map[string]any{"id": stored.ID, "email": "user@example.com", "email_verified": true, "is_active": true,
		"is_staff": false, "two_factor_enabled": false,
		"date_joined": stored.DateJoined.UTC().Format(time.RFC3339Nano), "last_login": stored.LastLogin.UTC().Format(time.RFC3339Nano)}
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
		{"unverified, right password", map[string]string{"email": "idle@example.com", "password": goodPassword}, 403, "email_not_verified", "email_not_verified"},
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

// TestCoreLoginUnknownEmailWaitsForAHash proves that a login for an unknown
// email computes a password hash, as a wrong password does: with the only
// hashing slot held, both wait for it until the request deadline and get
// 503, while requests that hash nothing answer at once.
func TestCoreLoginUnknownEmailWaitsForAHash(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) {
		c.Passwords.MaxConcurrentHashes = 1
		c.HTTP.RequestTimeout = 100 * time.Millisecond
	})
	e.signupVerified("known@example.com", goodPassword)
	release, err := authsys.CoreHasher(e.auth).Reserve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	login := func(email, pw string) response {
		return e.client().post("/login/", map[string]string{"email": email, "password": pw})
	}
	for _, tc := range []struct {
		name, email, pw string
		status          int
		code            string
	}{
		{"unknown email", "ghost@example.com", goodPassword, 503, "service_unavailable"},
		{"not an email", "ghost", goodPassword, 503, "service_unavailable"},
		{"wrong password", "known@example.com", "not the password", 503, "service_unavailable"},
		{"missing password (no hash)", "ghost@example.com", "", 400, "validation_failed"},
	} {
		r := login(tc.email, tc.pw)
		expect(t, r, tc.status, tc.code)
		if tc.status == 503 && r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: got no Retry-After on 503", tc.name)
		}
	}
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "ghost@example.com"}), http.StatusOK, "")
	release()
	expect(t, login("ghost@example.com", goodPassword), http.StatusUnauthorized, "invalid_credentials")
	expect(t, login("known@example.com", "not the password"), http.StatusUnauthorized, "invalid_credentials")
}

// TestCoreLoginUnknownEmailCostsAHash proves that the hash spent on an
// unknown email costs what a real verification costs: argon2id allocates
// its whole memory parameter, so the bytes allocated while serving the
// request show one hash of the configured parameters, whatever the clock
// says. It must not run in parallel with other tests.
func TestCoreLoginUnknownEmailCostsAHash(t *testing.T) {
	const memKiB = 8 << 10 // 8 MiB per hash: far above a request's other allocations
	params := authsys.PasswordParams{Memory: memKiB, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	e := newEnv(t, func(c *authsys.Config) { c.Passwords.Params = params })
	e.signupVerified("known@example.com", goodPassword)
	allocated := func(body map[string]string, status int) uint64 {
		t.Helper()
		c := e.client()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := c.post("/login/", body)
		runtime.ReadMemStats(&after)
		expect(t, r, status, "")
		return after.TotalAlloc - before.TotalAlloc
	}
	// Warm up: the dummy hash is made on first use.
	allocated(map[string]string{"email": "warm@example.com", "password": goodPassword}, 401)
	const hash = memKiB << 10
	wrong := allocated(map[string]string{"email": "known@example.com", "password": "not the password"}, 401)
	unknown := allocated(map[string]string{"email": "ghost@example.com", "password": goodPassword}, 401)
	none := allocated(map[string]string{"email": "ghost@example.com"}, 400)
	if none >= hash/2 {
		t.Fatalf("got %d bytes allocated by a request that hashes nothing, want far below %d: the measure is too noisy", none, hash)
	}
	if wrong < hash || wrong >= 2*hash {
		t.Errorf("got %d bytes allocated by a wrong password, want one hash (%d to %d)", wrong, hash, 2*hash)
	}
	if unknown < hash || unknown >= 2*hash {
		t.Errorf("got %d bytes allocated by an unknown email, want one hash (%d to %d), as for a wrong password (%d)", unknown, hash, 2*hash, wrong)
	}
}

// Accounts imported from another system (docs/importing.md): their hashes,
// and the ways in for one whose address is not verified.

// djangoHash is a pbkdf2_sha256 hash of goodPassword made by Django
// (testdata/django-password-hashes.json).
const djangoHash = "pbkdf2_sha256$260000$6M6L7ectvZC7Sg0VnyRIcH$cd6IK1FROrV+IB3l6uIohXQUGcFIWxfZTD34XTKhbxU="

// importUser writes an account into the env's store as an import would.
func importUser(t *testing.T, e *env, email, hash string, active, verified, disabled bool) authsys.User {
	t.Helper()
	u, err := e.store.CreateUser(t.Context(), authsys.User{
		Email: email, PasswordHash: hash, IsActive: active, EmailVerified: verified, Disabled: disabled,
		DateJoined: testStart.AddDate(-3, 0, 0), Profile: map[string]any{"display_name": "Imported"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// bcryptHash returns a bcrypt hash of pw at the lowest cost.
func bcryptHash(t *testing.T, pw string) string {
	t.Helper()
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestImportedActiveAccounts: active, verified accounts imported with a
// Django or a bcrypt hash log in with their old password, which is then
// rehashed to argon2id.
func TestImportedActiveAccounts(t *testing.T) {
	e := newEnv(t)
	importUser(t, e, "django@example.com", djangoHash, true, true, false)
	importUser(t, e, "bcrypt@example.com", bcryptHash(t, goodPassword), true, true, false)
	for _, email := range []string{"django@example.com", "bcrypt@example.com"} {
		c := e.loggedIn(email, goodPassword)
		if got := coreUser(e, email).PasswordHash; !strings.HasPrefix(got, "$argon2id$") {
			t.Errorf("%s: got hash %.12s… after login, want argon2id", email, got)
		}
		if p := c.get("/me/").json(t)["user"].(map[string]any)["profile"]; p == nil {
			t.Errorf("%s: /me/ shows no imported profile", email)
		}
	}
}

// TestImportedUnverifiedLogin: the right password of an unverified,
// imported account gets email_not_verified and a fresh verification link,
// which lets it in; a wrong one gets what an unknown address gets. A
// deactivated account gets account_inactive and no link.
func TestImportedUnverifiedLogin(t *testing.T) {
	e := newEnv(t)
	importUser(t, e, "legacy@example.com", bcryptHash(t, goodPassword), false, false, false)
	importUser(t, e, "gone@example.com", bcryptHash(t, goodPassword), false, false, true)
	c := e.client()
	r := c.post("/login/", map[string]string{"email": "legacy@example.com", "password": goodPassword})
	expect(t, r, http.StatusForbidden, "email_not_verified")
	if len(r.Cookies()) != 0 {
		t.Errorf("got cookies %v", r.Cookies())
	}
	if ev, _ := coreLastEvent(e, authsys.EventLoginFailed); ev.Reason != "email_not_verified" || ev.Email != "legacy@example.com" {
		t.Errorf("got event %+v, want login_failed email_not_verified", ev)
	}
	q := linkParams(t, coreLastMail(e, "legacy@example.com", mail.KindVerifyAccount))
	expect(t, c.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")
	e.loggedIn("legacy@example.com", goodPassword)

	expect(t, e.client().post("/login/", map[string]string{"email": "gone@example.com", "password": goodPassword}), http.StatusForbidden, "account_inactive")
	if err := e.auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(coreMails(e, "gone@example.com", "")); n != 0 {
		t.Errorf("got %d mails to a deactivated account, want 0", n)
	}

	importUser(t, e, "legacy2@example.com", bcryptHash(t, goodPassword), false, false, false)
	coreSameAnswer(t, "unverified account, wrong password vs unknown address",
		e.client().post("/login/", map[string]string{"email": "legacy2@example.com", "password": "not the password"}),
		e.client().post("/login/", map[string]string{"email": "ghost@example.com", "password": "not the password"}))
}

// TestUnverifiedLoginMailsAreCapped: the links a right password earns an
// unverified account count against the daily mail cap (and the login
// budget); past the cap the answer is the same, without a mail.
func TestUnverifiedLoginMailsAreCapped(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) {
		c.RateLimits = testLimits(map[string]string{limitMailDaily: "2/day", limitLogin: "4/min"})
	})
	importUser(t, e, "legacy@example.com", bcryptHash(t, goodPassword), false, false, false)
	var answers []response
	for range 3 {
		r := e.client().post("/login/", map[string]string{"email": "legacy@example.com", "password": goodPassword})
		expect(t, r, http.StatusForbidden, "email_not_verified")
		answers = append(answers, r)
	}
	coreSameAnswer(t, "first and capped answer", answers[0], answers[2])
	if err := e.auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(coreMails(e, "legacy@example.com", mail.KindVerifyAccount)); n != 2 {
		t.Errorf("got %d verification mails, want 2 (the daily cap)", n)
	}
	expect(t, e.client().post("/login/", map[string]string{"email": "legacy@example.com", "password": goodPassword}), http.StatusForbidden, "email_not_verified")
	expect(t, e.client().post("/login/", map[string]string{"email": "legacy@example.com", "password": goodPassword}), http.StatusTooManyRequests, "throttled")
}

// TestResetVerifiesAnUnverifiedAccount: a password reset reaches an
// unverified account, signed up or imported, and completing it sets the
// password and verifies and activates the account; a deactivated account
// gets no reset mail. The answers are the same for every address.
func TestResetVerifiesAnUnverifiedAccount(t *testing.T) {
	e := newEnv(t)
	importUser(t, e, "legacy@example.com", djangoHash, false, false, false)
	importUser(t, e, "gone@example.com", bcryptHash(t, goodPassword), false, true, true)
	expect(t, e.client().post("/signup/", map[string]string{"email": "new@example.com", "password": goodPassword}), http.StatusCreated, "")
	e.signupVerified("known@example.com", goodPassword)
	coreFlush(e)

	unknown := e.client().post("/password-reset/", map[string]string{"email": "ghost@example.com"})
	for _, email := range []string{"legacy@example.com", "gone@example.com", "new@example.com", "known@example.com"} {
		coreSameAnswer(t, email+" vs unknown", e.client().post("/password-reset/", map[string]string{"email": email}), unknown)
	}
	if err := e.auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(coreMails(e, "gone@example.com", "")); n != 0 {
		t.Errorf("got %d mails to a deactivated account, want 0", n)
	}
	for _, email := range []string{"legacy@example.com", "new@example.com"} {
		t.Run(email, func(t *testing.T) {
			q := linkParams(t, coreLastMail(e, email, mail.KindPasswordReset))
			const chosen = "a freshly chosen passphrase"
			expect(t, e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": chosen}), http.StatusOK, "")
			u := coreUser(e, email)
			if !u.IsActive || !u.EmailVerified || u.Disabled {
				t.Errorf("after the reset: got active %t verified %t disabled %t, want active and verified", u.IsActive, u.EmailVerified, u.Disabled)
			}
			if ev, _ := coreLastEvent(e, authsys.EventAccountVerified); ev.UserID != u.ID || ev.Reason != "password_reset" {
				t.Errorf("got event %+v, want account_verified with reason password_reset", ev)
			}
			e.loggedIn(email, chosen)
			expect(t, e.client().post("/login/", map[string]string{"email": email, "password": goodPassword}), http.StatusUnauthorized, "invalid_credentials")
		})
	}
	// A verified account's reset emits no verification.
	n := len(e.events.list())
	q := linkParams(t, coreLastMail(e, "known@example.com", mail.KindPasswordReset))
	expect(t, e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "another chosen passphrase"}), http.StatusOK, "")
	for _, ev := range e.events.list()[n:] {
		if ev.Kind == authsys.EventAccountVerified {
			t.Errorf("got %+v for a verified account's reset", ev)
		}
	}
	// An administrator's deactivation after the mail went kills the link
	// (the token version moved), so a reset never reactivates.
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "known@example.com"}), http.StatusOK, "")
	q = linkParams(t, coreLastMail(e, "known@example.com", mail.KindPasswordReset))
	if _, err := e.auth.AdminAction(t.Context(), "test", coreUser(e, "known@example.com").ID, authsys.AdminDeactivate); err != nil {
		t.Fatal(err)
	}
	expect(t, e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "a third chosen passphrase"}), http.StatusBadRequest, "invalid_token")
	if u := coreUser(e, "known@example.com"); u.IsActive || !u.Disabled {
		t.Errorf("got active %t disabled %t after a dead reset link, want still deactivated", u.IsActive, u.Disabled)
	}
}

// TestSignupOverAnImportedAccount: signing up with the address of an
// unverified imported account and another password is a contested signup:
// the answer is the usual one, the verification's message says nothing of
// other signups, and the owner of the address chooses the password.
func TestSignupOverAnImportedAccount(t *testing.T) {
	e := newEnv(t)
	importUser(t, e, "legacy@example.com", bcryptHash(t, "the old system's password"), false, false, false)
	c := e.client()
	coreSameAnswer(t, "imported vs free address",
		c.post("/signup/", map[string]string{"email": "legacy@example.com", "password": goodPassword}),
		c.post("/signup/", map[string]string{"email": "free@example.com", "password": goodPassword}))
	q := linkParams(t, e.waitMail("legacy@example.com"))
	r := c.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")})
	expect(t, r, http.StatusOK, "")
	msg, _ := r.json(t)["message"].(string)
	if strings.Contains(msg, "signup") || !strings.Contains(msg, "choose your password") {
		t.Errorf("got message %q, want one that asks to choose a password and speaks of no other signup", msg)
	}
	reset := linkParams(t, coreLastMail(e, "legacy@example.com", mail.KindPasswordReset))
	expect(t, c.post("/password-reset-confirm/", map[string]string{"uid": reset.Get("uid"), "token": reset.Get("token"), "new_password": "a freshly chosen passphrase"}), http.StatusOK, "")
	e.loggedIn("legacy@example.com", "a freshly chosen passphrase")
}

// TestResetReopensNoShutAccount: an account that is verified but inactive
// without Disabled (the application shut it, or an import marked it so)
// gets no reset mail, and a link mailed before it was shut does not
// reopen it.
func TestResetReopensNoShutAccount(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("shut@example.com", goodPassword)
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "shut@example.com"}), http.StatusOK, "")
	q := linkParams(t, coreLastMail(e, "shut@example.com", mail.KindPasswordReset))
	coreSetUser(e, "shut@example.com", func(u *authsys.User) { u.IsActive = false })
	before := len(coreMails(e, "shut@example.com", mail.KindPasswordReset))
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "shut@example.com"}), http.StatusOK, "")
	if err := e.auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(coreMails(e, "shut@example.com", mail.KindPasswordReset)); n != before {
		t.Errorf("got %d new reset mails to a shut account, want none", n-before)
	}
	expect(t, e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "a freshly chosen passphrase"}), http.StatusBadRequest, "invalid_token")
	if u := coreUser(e, "shut@example.com"); u.IsActive {
		t.Error("a reset reopened a shut account")
	}
}

// TestResetDropsHijackersProfile: the owner of an address taking back an
// account someone else signed up with (a pre-hijack) by a password reset
// keeps none of the profile fields the other one gave, private ones
// included.
func TestResetDropsHijackersProfile(t *testing.T) {
	e := newEnv(t, profileFields)
	expect(t, e.client().post("/signup/", map[string]any{"email": "victim@example.com", "password": goodPassword,
		"display_name": "Attacker Co", "referral": "attacker-ref"}), http.StatusCreated, "")
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "victim@example.com"}), http.StatusOK, "")
	q := linkParams(t, coreLastMail(e, "victim@example.com", mail.KindPasswordReset))
	expect(t, e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "the owner's passphrase"}), http.StatusOK, "")
	if p := coreUser(e, "victim@example.com").Profile; len(p) != 0 {
		t.Errorf("after the owner's reset: got profile %v, want none of the first signup's fields", p)
	}
}
