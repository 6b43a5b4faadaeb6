package authsys_test

// Signup, account verification and its resend, contested signups, and the
// whole account lifecycle.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys/mail"
)

// TestLifecycle walks the whole account lifecycle as a browser would.
func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("alice@example.com", goodPassword)
	c := e.loggedIn("Alice@Example.com", goodPassword)

	r := c.get("/me/")
	expect(t, r, http.StatusOK, "")
	if got := r.json(t)["user"].(map[string]any)["email"]; got != "alice@example.com" {
		t.Fatalf("got email %v, want alice@example.com", got)
	}
	if r := c.do(http.MethodGet, "/api/private", nil); r.StatusCode != http.StatusOK || string(r.body) != "alice@example.com" {
		t.Fatalf("protected route: got %d %s", r.StatusCode, r.body)
	}

	old := c.accessCookie()
	expect(t, c.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "a new long passphrase"}), http.StatusOK, "")
	stale := e.client()
	stale.setCookie("access_token", old, "/")
	expect(t, stale.get("/me/"), http.StatusUnauthorized, "invalid_token")
	expect(t, c.get("/me/"), http.StatusOK, "")

	refresh := c.refreshCookie()
	expect(t, c.post("/logout/", nil), http.StatusOK, "")
	if c.accessCookie() != "" {
		t.Fatal("logout left the access cookie")
	}
	replay := e.client()
	replay.setCookie("refresh_token", refresh, "/api/auth/")
	expect(t, replay.post("/refresh/", nil), http.StatusUnauthorized, "invalid_token")
}

// TestSignupPreHijack: an attacker signs up first with the victim's
// address and a password of their own, then the victim signs up with
// theirs and verifies the address. The attacker's password must never
// become usable: the contested signup keeps neither password, the
// attacker's earlier link dies, and verification sends the address's
// owner a link to choose the password.
func TestSignupPreHijack(t *testing.T) {
	e := newEnv(t)
	const victim, attackerPW, victimPW, chosen = "victim@example.com", "attacker chosen passphrase", "the victims own passphrase", "chosen after verification"
	attacker := e.client()
	expect(t, attacker.post("/signup/", map[string]string{"email": victim, "password": attackerPW}), http.StatusCreated, "")
	first := linkParams(t, e.waitMail(victim))

	v := e.client()
	r := v.post("/signup/", map[string]string{"email": victim, "password": victimPW})
	expect(t, r, http.StatusCreated, "")
	q := linkParams(t, e.waitMail(victim))
	if q.Get("token") == first.Get("token") {
		t.Fatal("the second signup sent the first link again")
	}
	// The link the attacker could have seen (had they access to it) is
	// dead, and so is any older one.
	expect(t, v.post("/verify-account/", map[string]string{"uid": first.Get("uid"), "token": first.Get("token")}), http.StatusBadRequest, "invalid_token")

	r = v.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")})
	expect(t, r, http.StatusOK, "")
	if msg, _ := r.json(t)["message"].(string); msg == "" || msg == "Your account is verified; you can log in." {
		t.Errorf("got message %q, want the one that asks to choose a password", msg)
	}
	expect(t, attacker.post("/login/", map[string]string{"email": victim, "password": attackerPW}), http.StatusUnauthorized, "invalid_credentials")
	expect(t, v.post("/login/", map[string]string{"email": victim, "password": victimPW}), http.StatusUnauthorized, "invalid_credentials")

	reset := linkParams(t, coreLastMail(e, victim, mail.KindPasswordReset))
	expect(t, v.post("/password-reset-confirm/", map[string]string{"uid": reset.Get("uid"), "token": reset.Get("token"), "new_password": chosen}), http.StatusOK, "")
	expect(t, v.post("/login/", map[string]string{"email": victim, "password": chosen}), http.StatusOK, "")
	if !e.events.has("signup_existing_email") {
		t.Errorf("got events %v, want signup_existing_email", e.events.kinds())
	}
}

// TestSignupTwiceSamePassword: the same person submitting the signup form
// twice (same password) keeps the password, and either link verifies.
func TestSignupTwiceSamePassword(t *testing.T) {
	e := newEnv(t)
	const email = "twice@example.com"
	c := e.client()
	for range 2 {
		expect(t, c.post("/signup/", map[string]string{"email": email, "password": goodPassword}), http.StatusCreated, "")
	}
	q := linkParams(t, e.waitMail(email))
	r := c.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")})
	expect(t, r, http.StatusOK, "")
	if msg, _ := r.json(t)["message"].(string); msg != "Your account is verified; you can log in." {
		t.Errorf("got message %q, want the plain one", msg)
	}
	expect(t, c.post("/login/", map[string]string{"email": email, "password": goodPassword}), http.StatusOK, "")
	if n := len(coreMails(e, email, mail.KindPasswordReset)); n != 0 {
		t.Errorf("got %d reset mails, want none", n)
	}
}

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
	// Not verified yet: the right password is refused with
	// email_not_verified.
	expect(t, c.post("/login/", map[string]string{"email": "new@example.com", "password": goodPassword}), http.StatusForbidden, "email_not_verified")

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

func TestCoreVerifyRace(t *testing.T) {
	e, spy := coreSpyEnv(t, false)
	expect(t, e.client().post("/signup/", map[string]string{"email": "user@example.com", "password": goodPassword}), http.StatusCreated, "")
	q := linkParams(t, coreLastMail(e, "user@example.com", mail.KindVerifyAccount))
	const n = 20
	spy.barrier.Store(newBarrier(n))
	rs := coreParallel(n, func(int) response {
		return e.client().post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")})
	})
	spy.barrier.Store(nil)
	coreOneWinner(t, rs)
	if got := coreMails(e, "", ""); len(got) != 0 {
		t.Errorf("got %d mails to nobody", len(got))
	}
	if n := strings.Count(strings.Join(e.events.kinds(), ","), "account_verified"); n != 1 {
		t.Errorf("got %d account_verified events, want 1", n)
	}
}

func TestCoreSignupRace(t *testing.T) {
	e, spy := coreSpyEnv(t, false)
	const n = 20
	spy.barrier.Store(newBarrier(n)) // every CreateUser at once
	defer spy.barrier.Store(nil)
	variants := []string{"race@example.com", "RACE@example.com", "Race@Example.Com", " race@EXAMPLE.com "}
	rs := coreParallel(n, func(i int) response {
		return e.client().post("/signup/", map[string]string{"email": variants[i%len(variants)], "password": fmt.Sprintf("signup passphrase %02d", i)})
	})
	for i, r := range rs {
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("signup %d: got %d %s, want 201", i, r.StatusCode, r.body)
		}
		coreSameAnswer(t, fmt.Sprintf("signup %d vs 0", i), r, rs[0])
	}
	us, err := e.store.ListUsers(t.Context(), "race", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 1 || us[0].Email != "race@example.com" {
		t.Fatalf("got users %v, want exactly one race@example.com", us)
	}
	// Every racer's mail is a verification mail (the account is not
	// verified); each link verifies the one account.
	ms := coreMails(e, "race@example.com", mail.KindVerifyAccount)
	if len(ms) != n {
		t.Errorf("got %d verification mails, want %d", len(ms), n)
	}
	for _, m := range ms {
		if q := linkParams(t, m); q.Get("uid") != us[0].ID {
			t.Fatalf("got a link for uid %s, want %s", q.Get("uid"), us[0].ID)
		}
	}
	if strings.Contains(strings.Join(e.events.kinds(), ","), "mail_failed") {
		t.Error("a mail failed")
	}
}

// TestLinksNeverActOnHEAD: a HEAD of a verification or email-change link
// (a link checker, a mail scanner) answers 405 and uses nothing up; the
// same link still works with GET.
func TestLinksNeverActOnHEAD(t *testing.T) {
	e := newEnv(t)
	expect(t, e.client().post("/signup/", map[string]string{"email": "head@example.com", "password": goodPassword}), http.StatusCreated, "")
	q := linkParams(t, coreLastMail(e, "head@example.com", mail.KindVerifyAccount))
	link := "/api/auth/verify-account/?uid=" + q.Get("uid") + "&token=" + q.Get("token")
	r := e.client().do(http.MethodHead, link, nil)
	if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, POST" {
		t.Fatalf("HEAD of the verification link: got %d, Allow %q; want 405, GET, POST", r.StatusCode, r.Header.Get("Allow"))
	}
	if coreUser(e, "head@example.com").IsActive {
		t.Fatal("a HEAD of the verification link activated the account")
	}
	expect(t, e.client().do(http.MethodGet, link, nil), http.StatusOK, "")

	c := e.loggedIn("head@example.com", goodPassword)
	expect(t, c.post("/change-email/", map[string]string{"new_email": "head2@example.com", "password": goodPassword}), http.StatusOK, "")
	q = linkParams(t, coreLastMail(e, "head2@example.com", mail.KindEmailChangeConfirm))
	link = "/api/auth/change-email-confirm/?token=" + q.Get("token")
	if r := e.client().do(http.MethodHead, link, nil); r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("HEAD of the email-change link: got %d, want 405", r.StatusCode)
	}
	if coreUser(e, "head@example.com").Email != "head@example.com" {
		t.Fatal("a HEAD of the email-change link changed the email")
	}
	expect(t, e.client().do(http.MethodGet, link, nil), http.StatusOK, "")
	// Read-only endpoints still answer HEAD.
	if r := e.client().do(http.MethodHead, "/api/auth/openapi.json", nil); r.StatusCode != http.StatusOK {
		t.Errorf("HEAD /openapi.json: got %d, want 200", r.StatusCode)
	}
}

// TestSignupRefusesLoginMembers: signup takes email and password (and
// declared profile fields) only; a member of the login body is unknown.
func TestSignupRefusesLoginMembers(t *testing.T) {
	e := newEnv(t)
	r := e.client().post("/signup/", map[string]string{"email": "a@example.com", "password": goodPassword, "trusted_device_token": "x"})
	expect(t, r, http.StatusBadRequest, "invalid_json")
}
