package authsys_test

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/store/postgres"
)

// fltFaulty is a user store that can be told to lose the commit of
// UpdateUser: the update's function runs, then the write is lost.
type fltFaulty interface {
	arm(on bool)
	// armAfter arms the fault for every update after the next pass ones.
	armAfter(on bool, pass int)
	failures() int
}

// fltBackend builds an env whose UserStore can lose commits, and returns
// the switch and a store to read users directly.
type fltBackend struct {
	name  string
	build func(t *testing.T) (*env, fltFaulty, authsys.UserStore)
}

func fltBackends() []fltBackend {
	return []fltBackend{
		{"memory", func(t *testing.T) (*env, fltFaulty, authsys.UserStore) {
			f := &bkFaultUsers{}
			e := newEnv(t, func(c *authsys.Config) {
				f.UserStore = c.Users
				c.Users = f
			})
			return e, f, f.UserStore
		}},
		{"postgres", func(t *testing.T) (*env, fltFaulty, authsys.UserStore) {
			pool := bkPostgresPool(t, "")
			db := &bkFailCommitDB{Pool: pool}
			users := postgres.New(db, postgres.WithSchema(bkPostgresSchema(t, pool)))
			e := newEnv(t, func(c *authsys.Config) { c.Users = users })
			return e, db, users
		}},
	}
}

const fltEmail = "alice@example.com"

// fltUser reads the user with the given ID straight from the store.
func fltUser(t *testing.T, users authsys.UserStore, id string) authsys.User {
	t.Helper()
	u, err := users.UserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	return u
}

// fltFlows are the flows that end in one UpdateUser. prepare brings
// fltEmail to the state the flow starts from and returns the request that
// completes it, which must succeed when repeated after a failure.
var fltFlows = []struct {
	name    string
	prepare func(t *testing.T, e *env) func() response
}{
	{"verify account", func(t *testing.T, e *env) func() response {
		c := e.client()
		expect(t, c.post("/signup/", map[string]string{"email": fltEmail, "password": goodPassword}), http.StatusCreated, "")
		q := linkParams(t, e.waitMail(fltEmail))
		return func() response {
			return c.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")})
		}
	}},
	{"login", func(t *testing.T, e *env) func() response {
		e.signupVerified(fltEmail, goodPassword)
		c := e.client()
		return func() response {
			return c.post("/login/", map[string]string{"email": fltEmail, "password": goodPassword})
		}
	}},
	{"change password", func(t *testing.T, e *env) func() response {
		e.signupVerified(fltEmail, goodPassword)
		c := e.loggedIn(fltEmail, goodPassword)
		return func() response {
			return c.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "a brand new passphrase"})
		}
	}},
	{"password reset confirm", func(t *testing.T, e *env) func() response {
		e.signupVerified(fltEmail, goodPassword)
		c := e.client()
		expect(t, c.post("/password-reset/", map[string]string{"email": fltEmail}), http.StatusOK, "")
		q := linkParams(t, e.waitMail(fltEmail))
		return func() response {
			return c.post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "a brand new passphrase"})
		}
	}},
	{"logout everywhere", func(t *testing.T, e *env) func() response {
		e.signupVerified(fltEmail, goodPassword)
		c := e.loggedIn(fltEmail, goodPassword)
		return func() response { return c.post("/logout-all/", nil) }
	}},
	{"confirm email change", func(t *testing.T, e *env) func() response {
		e.signupVerified(fltEmail, goodPassword)
		c := e.loggedIn(fltEmail, goodPassword)
		expect(t, c.post("/change-email/", map[string]string{"new_email": "alice.new@example.com", "password": goodPassword}), http.StatusOK, "")
		token := linkParams(t, e.waitMail("alice.new@example.com")).Get("token")
		return func() response { return c.post("/change-email-confirm/", map[string]string{"token": token}) }
	}},
	{"set up 2fa", func(t *testing.T, e *env) func() response {
		e.signupVerified(fltEmail, goodPassword)
		c := e.loggedIn(fltEmail, goodPassword)
		return func() response { return c.post("/2fa/setup/", nil) }
	}},
	{"enable 2fa", func(t *testing.T, e *env) func() response {
		e.signupVerified(fltEmail, goodPassword)
		c := e.loggedIn(fltEmail, goodPassword)
		r := c.post("/2fa/setup/", nil)
		expect(t, r, http.StatusOK, "")
		secret, _ := r.json(t)["secret"].(string)
		e.clock.Advance(30 * time.Second)
		code := bkCode(t, secret, e.clock.Now())
		return func() response { return c.post("/2fa/enable/", map[string]string{"code": code}) }
	}},
	{"2fa login", func(t *testing.T, e *env) func() response {
		e.signupVerified(fltEmail, goodPassword)
		secret := bkEnable2FA(t, e, e.loggedIn(fltEmail, goodPassword), e.clock)
		c := e.client()
		r := c.post("/login/", map[string]string{"email": fltEmail, "password": goodPassword})
		expect(t, r, http.StatusOK, "")
		token, _ := r.json(t)["session_token"].(string)
		e.clock.Advance(30 * time.Second)
		code := bkCode(t, secret, e.clock.Now())
		return func() response {
			return c.post("/2fa/verify-login/", map[string]string{"session_token": token, "code": code})
		}
	}},
	{"disable 2fa", func(t *testing.T, e *env) func() response {
		e.signupVerified(fltEmail, goodPassword)
		c := e.loggedIn(fltEmail, goodPassword)
		secret := bkEnable2FA(t, e, c, e.clock)
		e.clock.Advance(30 * time.Second)
		code := bkCode(t, secret, e.clock.Now())
		return func() response {
			return c.post("/2fa/disable/", map[string]string{"password": goodPassword, "code": code})
		}
	}},
	{"regenerate backup codes", func(t *testing.T, e *env) func() response {
		e.signupVerified(fltEmail, goodPassword)
		c := e.loggedIn(fltEmail, goodPassword)
		bkEnable2FA(t, e, c, e.clock)
		return func() response { return c.post("/2fa/backup-codes/", map[string]string{"password": goodPassword}) }
	}},
}

// TestFaultsLostCommitWritesNothing makes the user store lose a commit
// (on memory through a wrapper; on PostgreSQL the real transaction runs and
// its COMMIT fails) at each UpdateUser a flow makes in turn: the answer is
// 503 with the cookies untouched, the stored user is exactly as before (no
// half-written state: a flow's changes are one UpdateUser), and the very
// same request succeeds once the store is healthy again (no one-time token
// or code was used up).
func TestFaultsLostCommitWritesNothing(t *testing.T) {
	for _, be := range fltBackends() {
		t.Run(be.name, func(t *testing.T) {
			for _, fl := range fltFlows {
				for pass := range 3 {
					t.Run(fmt.Sprintf("%s/fail update %d", fl.name, pass+1), func(t *testing.T) {
						t.Parallel()
						e, faulty, users := be.build(t)
						do := fl.prepare(t, e)
						u, err := users.UserByEmail(t.Context(), fltEmail)
						if err != nil {
							t.Fatalf("UserByEmail: %v", err)
						}
						before := fltUser(t, users, u.ID)

						faulty.armAfter(true, pass)
						r := do()
						faulty.arm(false)
						if faulty.failures() == 0 {
							if pass == 0 {
								t.Fatalf("the flow never committed an update (status %d): the test proves nothing", r.StatusCode)
							}
							// The flow makes fewer updates: nothing to break.
							expect(t, r, http.StatusOK, "")
							return
						}
						bkExpectUnavailable(t, r)
						if after := fltUser(t, users, u.ID); !reflect.DeepEqual(after, before) {
							t.Errorf("a lost commit left the user half-written:\ngot  %+v\nwant %+v", after, before)
						}

						expect(t, do(), http.StatusOK, "")
						if after := fltUser(t, users, u.ID); reflect.DeepEqual(after, before) {
							t.Errorf("the repeated request succeeded but changed nothing")
						}
					})
				}
			}
		})
	}
}

// TestFaultsPasswordChangeIsAllOrNothing proves that the password hash, the
// token version and the outstanding reset tokens change together or not at
// all: after a lost commit the old password, the old cookies and an
// outstanding reset link all still work and the new password does not;
// after a successful change all three flip at once.
func TestFaultsPasswordChangeIsAllOrNothing(t *testing.T) {
	for _, be := range fltBackends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e, faulty, _ := be.build(t)
			e.signupVerified(fltEmail, goodPassword)
			c := e.loggedIn(fltEmail, goodPassword)
			stale := e.client()
			stale.setCookie("access_token", c.accessCookie(), "/")
			expect(t, e.client().post("/password-reset/", map[string]string{"email": fltEmail}), http.StatusOK, "")
			reset := linkParams(t, e.waitMail(fltEmail))
			// A too-short new password is refused after the token check,
			// so the answer tells whether the link is alive without using it.
			resetAlive := func() string {
				r := e.client().post("/password-reset-confirm/", map[string]string{"uid": reset.Get("uid"), "token": reset.Get("token"), "new_password": "short"})
				return r.code()
			}
			if got := resetAlive(); got != "validation_failed" {
				t.Fatalf("probing the fresh reset link: got code %q, want validation_failed", got)
			}
			const newPassword = "a brand new passphrase"
			change := func() response {
				return c.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": newPassword})
			}

			faulty.arm(true)
			r := change()
			faulty.arm(false)
			bkExpectUnavailable(t, r)
			expect(t, stale.get("/me/"), http.StatusOK, "")
			if got := resetAlive(); got != "validation_failed" {
				t.Errorf("reset link after the lost commit: got code %q, want validation_failed (still alive)", got)
			}
			expect(t, e.client().post("/login/", map[string]string{"email": fltEmail, "password": newPassword}), http.StatusUnauthorized, "invalid_credentials")
			e.loggedIn(fltEmail, goodPassword)

			expect(t, change(), http.StatusOK, "")
			expect(t, stale.get("/me/"), http.StatusUnauthorized, "invalid_token")
			if got := resetAlive(); got != "invalid_token" {
				t.Errorf("reset link after the password change: got code %q, want invalid_token", got)
			}
			expect(t, e.client().post("/login/", map[string]string{"email": fltEmail, "password": goodPassword}), http.StatusUnauthorized, "invalid_credentials")
			e.loggedIn(fltEmail, newPassword)
			expect(t, c.get("/me/"), http.StatusOK, "")
		})
	}
}
