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
