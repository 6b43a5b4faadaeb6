package authsys_test

// Signup, account verification and its resend, contested signups, and the
// whole account lifecycle.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/authtest"
	"github.com/authsys-go/authsys/mail"
	"github.com/getkin/kin-openapi/openapi3"
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

// The application's profile fields: signup's extra members, their
// validation, the stores, the public view and the OpenAPI document.

// profileFields declares the fields of the profile tests: a required
// display name trimmed and bounded by its validator, an optional age that
// must be a whole number, an optional nickname with the default check,
// and a private referral code.
func profileFields(c *authsys.Config) {
	c.Profile.Fields = []authsys.ProfileField{
		{
			Name: "display_name", Required: true,
			Schema: json.RawMessage(`{"type": "string", "minLength": 1, "maxLength": 40}`),
			Validate: func(_ context.Context, v any) (any, error) {
				s, ok := v.(string)
				if !ok {
					return nil, &authsys.FieldError{Code: "not_text", Message: "Enter text."}
				}
				s = strings.TrimSpace(s)
				if s == "-" {
					return nil, nil // normalized away: missing
				}
				if utf8.RuneCountInString(s) > 40 {
					return nil, &authsys.FieldError{Code: "display_name_too_long"}
				}
				return s, nil
			},
		},
		{
			Name:   "age",
			Schema: json.RawMessage(`{"type": "integer", "minimum": 13}`),
			Validate: func(_ context.Context, v any) (any, error) {
				n, ok := v.(float64)
				if !ok || n != float64(int(n)) {
					return nil, errors.Join(
						&authsys.FieldError{Code: "not_a_whole_number", Message: "Enter a whole number."},
						&authsys.FieldError{Code: "see_terms", Message: "See the terms."})
				}
				if n < 13 {
					return nil, &authsys.FieldError{Code: "too_young", Message: "You must be 13 or older."}
				}
				return n, nil
			},
		},
		{Name: "nickname"},
		{Name: "referral", Private: true},
	}
}

// TestProfileSignup: the declared fields reach the store, the public ones
// show in /me/, the login answer, UserFromContext and Authenticate, the
// private one nowhere public; each refusal names its field and code.
func TestProfileSignup(t *testing.T) {
	e := newEnv(t, profileFields)
	var fromContext authsys.Account
	e.Mux.Handle("GET /api/profile", e.auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fromContext, _ = authsys.UserFromContext(r.Context())
	})))
	const email = "ada@example.com"
	c := e.client()
	r := c.post("/signup/", map[string]any{
		"email": email, "password": goodPassword,
		"display_name": "  Ada Lovelace ", "age": 36, "nickname": "Countess\tof Lovelace", "referral": "friend-42",
	})
	expect(t, r, http.StatusCreated, "")
	wantStored := map[string]any{"display_name": "Ada Lovelace", "age": 36.0, "nickname": "Countess\tof Lovelace", "referral": "friend-42"}
	if got := coreUser(e, email).Profile; !reflect.DeepEqual(got, wantStored) {
		t.Fatalf("stored Profile: got %#v, want %#v", got, wantStored)
	}
	q := linkParams(t, e.waitMail(email))
	expect(t, c.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")

	wantPublic := map[string]any{"display_name": "Ada Lovelace", "age": 36.0, "nickname": "Countess\tof Lovelace"}
	login := c.post("/login/", map[string]string{"email": email, "password": goodPassword})
	expect(t, login, http.StatusOK, "")
	if got := login.json(t)["user"].(map[string]any)["profile"]; !reflect.DeepEqual(got, wantPublic) {
		t.Errorf("login's user.profile: got %#v, want %#v", got, wantPublic)
	}
	me := c.get("/me/")
	expect(t, me, http.StatusOK, "")
	if got := me.json(t)["user"].(map[string]any)["profile"]; !reflect.DeepEqual(got, wantPublic) {
		t.Errorf("/me/'s user.profile: got %#v, want %#v", got, wantPublic)
	}
	if strings.Contains(string(me.body), "friend-42") || strings.Contains(string(login.body), "friend-42") {
		t.Errorf("the private field shows: /me/ %s, login %s", me.body, login.body)
	}
	if r := c.do(http.MethodGet, "/api/profile", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/profile: got %d", r.StatusCode)
	}
	if !reflect.DeepEqual(fromContext.Profile, wantPublic) {
		t.Errorf("UserFromContext's Profile: got %#v, want %#v", fromContext.Profile, wantPublic)
	}
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: "access_token", Value: c.accessCookie()})
	a, err := e.auth.Authenticate(req)
	if err != nil || !reflect.DeepEqual(a.Profile, wantPublic) {
		t.Errorf("Authenticate: got Profile %#v, error %v; want %#v", a.Profile, err, wantPublic)
	}
	// The view is a copy: changing it changes nothing stored.
	a.Profile["display_name"] = "changed"
	if got := coreUser(e, email).Profile["display_name"]; got != "Ada Lovelace" {
		t.Errorf("stored display_name after changing a view: got %v", got)
	}

	// Only the required field: the others are absent, not empty.
	expect(t, e.client().post("/signup/", map[string]any{"email": "min@example.com", "password": goodPassword, "display_name": "Min", "nickname": nil}), http.StatusCreated, "")
	if got := coreUser(e, "min@example.com").Profile; !reflect.DeepEqual(got, map[string]any{"display_name": "Min"}) {
		t.Errorf("stored Profile with only the required field: got %#v", got)
	}

	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
		fields map[string][]string // field → codes
	}{
		{"required missing", map[string]any{"age": 20}, 400, "validation_failed", map[string][]string{"display_name": {"required"}}},
		{"required null", map[string]any{"display_name": nil}, 400, "validation_failed", map[string][]string{"display_name": {"required"}}},
		{"required blank", map[string]any{"display_name": "   "}, 400, "validation_failed", map[string][]string{"display_name": {"required"}}},
		{"validator leaves a required field out", map[string]any{"display_name": "-"}, 400, "validation_failed", map[string][]string{"display_name": {"required"}}},
		{"validator refuses", map[string]any{"display_name": strings.Repeat("x", 41)}, 400, "validation_failed", map[string][]string{"display_name": {"display_name_too_long"}}},
		{"validator refuses the type", map[string]any{"display_name": 7}, 400, "validation_failed", map[string][]string{"display_name": {"not_text"}}},
		{"joined field errors", map[string]any{"display_name": "A", "age": 3.5}, 400, "validation_failed", map[string][]string{"age": {"not_a_whole_number", "see_terms"}}},
		{"every field's errors at once", map[string]any{"display_name": strings.Repeat("x", 41), "age": 12}, 400, "validation_failed", map[string][]string{"display_name": {"display_name_too_long"}, "age": {"too_young"}}},
		{"default check: not a string", map[string]any{"display_name": "A", "nickname": 5}, 400, "validation_failed", map[string][]string{"nickname": {"invalid_text"}}},
		{"default check: control character", map[string]any{"display_name": "A", "nickname": "a\x00b"}, 400, "validation_failed", map[string][]string{"nickname": {"invalid_text"}}},
		{"default check and required together", map[string]any{"nickname": []any{"x"}}, 400, "validation_failed", map[string][]string{"display_name": {"required"}, "nickname": {"invalid_text"}}},
		{"unknown member", map[string]any{"display_name": "A", "favourite_colour": "red"}, 400, "invalid_json", nil},
		{"field name in another case", map[string]any{"Display_Name": "A"}, 400, "invalid_json", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"email": "refused@example.com", "password": goodPassword}
			for k, v := range tc.body {
				body[k] = v
			}
			r := e.client().post("/signup/", body)
			expect(t, r, tc.status, tc.code)
			var p struct {
				Errors map[string][]authsys.FieldError
			}
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for f, fes := range p.Errors {
				for _, fe := range fes {
					got[f] = append(got[f], fe.Code)
					if fe.Message == "" {
						t.Errorf("field %s, code %s: got no message", f, fe.Code)
					}
				}
			}
			if tc.fields == nil {
				tc.fields = map[string][]string{}
			}
			if !reflect.DeepEqual(got, tc.fields) {
				t.Errorf("got field errors %v, want %v", got, tc.fields)
			}
			if _, err := e.store.UserByEmail(t.Context(), "refused@example.com"); err == nil {
				t.Error("a refused signup created the account")
			}
		})
	}
}

// TestProfileNotDeclared: without declared fields a signup takes email and
// password only, as before, and /me/ shows a profile the store has.
func TestProfileNotDeclared(t *testing.T) {
	e := newEnv(t)
	expect(t, e.client().post("/signup/", map[string]any{"email": "x@example.com", "password": goodPassword, "display_name": "X"}), http.StatusBadRequest, "invalid_json")
	e.signupVerified("y@example.com", goodPassword)
	coreSetUser(e, "y@example.com", func(u *authsys.User) { u.Profile = map[string]any{"plan": "pro"} })
	c := e.loggedIn("y@example.com", goodPassword)
	if got := c.get("/me/").json(t)["user"].(map[string]any)["profile"]; !reflect.DeepEqual(got, map[string]any{"plan": "pro"}) {
		t.Errorf("/me/'s profile: got %#v, want the stored one", got)
	}
}

// TestProfileOpenAPIDocument: the document an Auth serves has its declared
// fields in the signup request and, but the private one, in the user's
// profile; it is a valid OpenAPI document; the suite's validation of every
// call (harnessValidate) checks the signup and /me/ above against it, and
// refuses a signup with an undeclared member.
func TestProfileOpenAPIDocument(t *testing.T) {
	e := newEnv(t, profileFields)
	served := e.client().get("/openapi.json")
	expect(t, served, http.StatusOK, "")
	doc := e.auth.OpenAPIDocument()
	if string(served.body) != string(doc) {
		t.Fatalf("GET /openapi.json: got %d bytes, want the %d of Auth.OpenAPIDocument", len(served.body), len(doc))
	}
	spec, err := openapiLoadDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.doc.Validate(context.Background(), openapi3.EnableExamplesValidation(), openapi3.EnableSchemaDefaultsValidation()); err != nil {
		t.Fatalf("strict validation: %v", err)
	}
	signup := spec.doc.Components.Schemas["SignupRequest"].Value
	for _, name := range []string{"email", "password", "display_name", "age", "nickname", "referral"} {
		if signup.Properties[name] == nil {
			t.Errorf("SignupRequest: no property %q", name)
		}
	}
	// A required field has its schema; an optional one may also be null.
	if got := signup.Properties["display_name"].Value.Type.Slice(); !slices.Equal(got, []string{"string"}) {
		t.Errorf("SignupRequest.display_name: got type %v, want the declared schema's [string]", got)
	}
	for name, want := range map[string]string{"age": "integer", "nickname": "string"} {
		var got []string
		for _, alt := range signup.Properties[name].Value.AnyOf {
			got = append(got, alt.Value.Type.Slice()...)
		}
		if !slices.Equal(got, []string{want, "null"}) {
			t.Errorf("SignupRequest.%s: got anyOf types %v, want [%s null]", name, got, want)
		}
	}
	if got, want := slices.Sorted(slices.Values(signup.Required)), []string{"display_name", "email", "password"}; !slices.Equal(got, want) {
		t.Errorf("SignupRequest.required: got %v, want %v", got, want)
	}
	profile := spec.doc.Components.Schemas["User"].Value.Properties["profile"].Value
	var public []string
	for name := range profile.Properties {
		public = append(public, name)
	}
	if got, want := slices.Sorted(slices.Values(public)), []string{"age", "display_name", "nickname"}; !slices.Equal(got, want) {
		t.Errorf("User.profile properties: got %v, want %v (not the private referral)", got, want)
	}

	// A real signup with the fields and the /me/ that shows them pass the
	// validation of every call against this document.
	c := e.client()
	expect(t, c.post("/signup/", map[string]any{"email": "doc@example.com", "password": goodPassword, "display_name": "Doc", "age": 40, "referral": "r"}), http.StatusCreated, "")
	q := linkParams(t, e.waitMail("doc@example.com"))
	expect(t, c.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")
	c = e.loggedIn("doc@example.com", goodPassword)
	expect(t, c.get("/me/"), http.StatusOK, "")

	// The validation uses the env's document: the same calls against the
	// module's own document, without the fields, fail; and a /me/ whose
	// profile breaks the declared schema fails against the env's.
	user := `{"id":"u1","email":"a@example.com","email_verified":true,"is_active":true,"is_staff":false,"two_factor_enabled":false,"date_joined":"2026-03-01T12:00:00Z","profile":{"display_name":"A","age":%s}}`
	check := func(method, path, body string, status int, resBody string) []error {
		req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", "access_token=x")
		return openapiCheck(req, []byte(body), status, http.Header{"Content-Type": {"application/json"}}, []byte(resBody))
	}
	signupBody := `{"email":"a@example.com","password":"a long passphrase","display_name":"A","age":20}`
	if errs := check("POST", "/api/auth/signup/", signupBody, 201, `{"message":"ok","code":"signup.check_email"}`); len(errs) != 0 {
		t.Errorf("a signup with the declared fields: got %v, want no error", errs)
	}
	if errs := check("POST", "/api/auth/signup/", `{"email":"a@example.com","password":"a long passphrase","display_name":"A","colour":"red"}`, 201, `{"message":"ok","code":"signup.check_email"}`); len(errs) == 0 {
		t.Error("a signup with an undeclared member passed the env's document")
	}
	if errs := check("GET", "/api/auth/me/", "", 200, `{"user":`+strings.Replace(user, "%s", "20", 1)+`}`); len(errs) != 0 {
		t.Errorf("a /me/ with the declared profile: got %v, want no error", errs)
	}
	if errs := check("GET", "/api/auth/me/", "", 200, `{"user":`+strings.Replace(user, "%s", `"twenty"`, 1)+`}`); len(errs) == 0 {
		t.Error("a /me/ whose age is a string passed the env's document")
	}
	base, err := openapiLoad()
	if err != nil {
		t.Fatal(err)
	}
	if base.doc.Components.Schemas["SignupRequest"].Value.Properties["display_name"] != nil {
		t.Error("handlers/openapi.json has the env's field")
	}
}

// TestProfileConfig: New refuses a field that could not work.
func TestProfileConfig(t *testing.T) {
	valid := func(context.Context, any) (any, error) { return nil, nil }
	for _, tc := range []struct {
		name   string
		fields []authsys.ProfileField
		field  string
	}{
		{"empty name", []authsys.ProfileField{{Name: ""}}, "Profile.Fields[0].Name"},
		{"name with a dash", []authsys.ProfileField{{Name: "display-name"}}, "Profile.Fields[0].Name"},
		{"name starting with a digit", []authsys.ProfileField{{Name: "1st"}}, "Profile.Fields[0].Name"},
		{"name too long", []authsys.ProfileField{{Name: strings.Repeat("n", 65)}}, "Profile.Fields[0].Name"},
		{"email", []authsys.ProfileField{{Name: "Email"}}, "Profile.Fields[0].Name"},
		{"password", []authsys.ProfileField{{Name: "password"}}, "Profile.Fields[0].Name"},
		{"twice, other case", []authsys.ProfileField{{Name: "nick"}, {Name: "Nick"}}, "Profile.Fields[1].Name"},
		{"schema not JSON", []authsys.ProfileField{{Name: "a", Schema: json.RawMessage(`{"type":`)}}, "Profile.Fields[0].Schema"},
		{"schema not an object", []authsys.ProfileField{{Name: "a", Schema: json.RawMessage(`"string"`)}}, "Profile.Fields[0].Schema"},
		{"schema null", []authsys.ProfileField{{Name: "a", Schema: json.RawMessage(`null`)}}, "Profile.Fields[0].Schema"},
		{"not a string without Validate", []authsys.ProfileField{{Name: "a", Schema: json.RawMessage(`{"type":"integer"}`)}}, "Profile.Fields[0].Validate"},
		{"no type without Validate", []authsys.ProfileField{{Name: "a", Schema: json.RawMessage(`{"description":"x"}`)}}, "Profile.Fields[0].Validate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := coreValidConfig()
			cfg.Profile.Fields = tc.fields
			_, err := authsys.New(cfg)
			var ce *authsys.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("got error %v, want a ConfigError for %s", err, tc.field)
			}
		})
	}
	cfg := coreValidConfig()
	cfg.Profile.Fields = []authsys.ProfileField{
		{Name: "_private_1", Private: true},
		{Name: "n", Schema: json.RawMessage(`{"type":"integer"}`), Validate: valid},
		{Name: "s", Schema: json.RawMessage(`{"type":"string","maxLength":3}`)},
	}
	if _, err := authsys.New(cfg); err != nil {
		t.Fatalf("valid fields: got error %v", err)
	}
}

// TestProfileSignupRace: racing signups of one address, each with its own
// profile values and password, leave one account whose declared fields
// all come from one of the requests (a contested signup replaces them
// together, in one UpdateUser), never a mix; the private value never
// shows in any answer.
func TestProfileSignupRace(t *testing.T) {
	e, spy := coreSpyEnv(t, false, profileFields)
	const n = 16
	spy.barrier.Store(newBarrier(n)) // every CreateUser at once
	defer spy.barrier.Store(nil)
	rs := coreParallel(n, func(i int) response {
		return e.client().post("/signup/", map[string]any{
			"email": "race@example.com", "password": fmt.Sprintf("signup passphrase %02d", i%3),
			"display_name": fmt.Sprintf("racer %02d", i), "referral": fmt.Sprintf("ref-%02d", i), "age": 20 + i,
		})
	})
	for i, r := range rs {
		expect(t, r, http.StatusCreated, "")
		coreSameAnswer(t, fmt.Sprintf("signup %d vs 0", i), r, rs[0])
	}
	if err := e.auth.Shutdown(t.Context()); err != nil { // the contested signups' updates
		t.Fatal(err)
	}
	p := coreUser(e, "race@example.com").Profile
	name, _ := p["display_name"].(string)
	var i int
	if _, err := fmt.Sscanf(name, "racer %d", &i); err != nil {
		t.Fatalf("got display_name %q, want one of the racers'", name)
	}
	if p["referral"] != fmt.Sprintf("ref-%02d", i) || p["age"] != float64(20+i) {
		t.Errorf("got profile %v, want every field of racer %02d", p, i)
	}
}

// TestProfileNULRefused: a value holding U+0000 that a field's validator
// lets through (PostgreSQL's jsonb cannot store it) is refused as
// invalid_value on its field, at any depth, and nothing is stored.
func TestProfileNULRefused(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) {
		c.Profile.Fields = []authsys.ProfileField{{
			Name:     "tags",
			Schema:   json.RawMessage(`{}`),
			Validate: func(_ context.Context, v any) (any, error) { return v, nil },
		}}
	})
	for _, v := range []any{"a\x00b", []any{"x", map[string]any{"k": "\x00"}}, map[string]any{"a\x00": 1}} {
		r := e.client().post("/signup/", map[string]any{"email": "nul@example.com", "password": goodPassword, "tags": v})
		expect(t, r, http.StatusBadRequest, "validation_failed")
		if errs, _ := r.json(t)["errors"].(map[string]any); errs["tags"] == nil {
			t.Errorf("%q: got %s, want an error on tags", v, r.body)
		}
	}
	if _, err := e.store.UserByEmail(t.Context(), "nul@example.com"); err == nil {
		t.Error("a refused signup stored the account")
	}
	expect(t, e.client().post("/signup/", map[string]any{"email": "nul@example.com", "password": goodPassword, "tags": []any{"fine"}}), http.StatusCreated, "")
}

// The before-hooks that can veto a signup or a login, and their order.

// hookLog records what the hooks and the stores saw, in order.
type hookLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *hookLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, fmt.Sprintf(format, args...))
}

// take returns the calls so far and forgets them.
func (l *hookLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.calls
	l.calls = nil
	return out
}

// fieldCodes returns the codes of a problem's errors for field.
func fieldCodes(t *testing.T, r response, field string) []string {
	t.Helper()
	var p struct {
		Errors map[string][]authsys.FieldError
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, fe := range p.Errors[field] {
		codes = append(codes, fe.Code)
	}
	return codes
}

// TestInviteOnlySignup: a private, required invite_code field checked for
// its form by Validate and against the invitations by BeforeSignup, which
// refuses an unknown code as a field error of invite_code. The code reaches
// the store but never the public view.
func TestInviteOnlySignup(t *testing.T) {
	invites := map[string]bool{"inv-7f3a": true}
	var seen []authsys.Signup
	var mu sync.Mutex
	e := newEnv(t, func(c *authsys.Config) {
		c.Profile.Fields = []authsys.ProfileField{{
			Name: "invite_code", Required: true, Private: true,
			Validate: func(_ context.Context, v any) (any, error) {
				s, _ := v.(string)
				if !strings.HasPrefix(s, "inv-") {
					return nil, &authsys.FieldError{Code: "malformed_invite", Message: "An invitation code starts with inv-."}
				}
				return s, nil
			},
		}}
		c.Hooks.BeforeSignup = func(r *http.Request, s authsys.Signup) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, s)
			if !invites[s.Profile["invite_code"].(string)] {
				return authsys.FieldProblem("invite_code", "unknown_invite", "This invitation code is unknown.")
			}
			return nil
		}
	})
	signup := func(email string, code any) response {
		body := map[string]any{"email": email, "password": goodPassword}
		if code != nil {
			body["invite_code"] = code
		}
		return e.client().post("/signup/", body)
	}
	r := signup("ann@example.com", nil)
	expect(t, r, http.StatusBadRequest, "validation_failed")
	if got := fieldCodes(t, r, "invite_code"); !slices.Equal(got, []string{"required"}) {
		t.Errorf("no code: got %v, want [required]", got)
	}
	r = signup("ann@example.com", "7f3a")
	expect(t, r, http.StatusBadRequest, "validation_failed")
	if got := fieldCodes(t, r, "invite_code"); !slices.Equal(got, []string{"malformed_invite"}) {
		t.Errorf("malformed code: got %v, want [malformed_invite]", got)
	}
	r = signup("ann@example.com", "inv-0000")
	expect(t, r, http.StatusBadRequest, "validation_failed")
	if got := fieldCodes(t, r, "invite_code"); !slices.Equal(got, []string{"unknown_invite"}) {
		t.Errorf("unknown code: got %v, want [unknown_invite]", got)
	}
	if coreUserCount(e) != 0 {
		t.Fatalf("got %d accounts after refused signups, want 0", coreUserCount(e))
	}
	mu.Lock()
	if len(seen) != 1 || seen[0].Email != "ann@example.com" || seen[0].Profile["invite_code"] != "inv-0000" {
		t.Errorf("BeforeSignup saw %+v, want only the well-formed request, with its address and code", seen)
	}
	mu.Unlock()

	expect(t, signup("  Ann@Example.com ", "inv-7f3a"), http.StatusCreated, "")
	if got := coreUser(e, "ann@example.com").Profile; got["invite_code"] != "inv-7f3a" {
		t.Errorf("stored Profile: got %v, want the invite code", got)
	}
	mu.Lock()
	if last := seen[len(seen)-1]; last.Email != "ann@example.com" {
		t.Errorf("BeforeSignup saw address %q, want it normalized", last.Email)
	}
	mu.Unlock()
	q := linkParams(t, e.waitMail("ann@example.com"))
	c := e.client()
	expect(t, c.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")
	c = e.loggedIn("ann@example.com", goodPassword)
	if me := c.get("/me/"); strings.Contains(string(me.body), "inv-7f3a") || strings.Contains(string(me.body), "invite_code") {
		t.Errorf("/me/ shows the private invite code: %s", me.body)
	}
	// The veto answers alike for a taken address: the invitation is what
	// is judged, before anything is looked up.
	coreSameAnswer(t, "unknown code, taken vs free address", signup("ann@example.com", "inv-0000"), signup("bob@example.com", "inv-0000"))
}

// TestBannedDomainVeto: BeforeSignup refuses the addresses of a banned
// domain with a field error of email. The answer, the store calls and the
// mails are the same whether or not the address has an account: the hook
// runs before any lookup.
func TestBannedDomainVeto(t *testing.T) {
	var spy *authtest.Spy
	var calls hookLog
	e := newEnv(t, spyOn(&spy), func(c *authsys.Config) {
		c.Hooks.BeforeSignup = func(r *http.Request, s authsys.Signup) error {
			calls.add("BeforeSignup %s", s.Email)
			if strings.HasSuffix(s.Email, "@banned.example") {
				return &authsys.FieldError{Code: "email_domain_banned", Message: "Addresses of this domain cannot sign up."}
			}
			return nil
		}
	})
	spy.SetHook(func(_ context.Context, c *authtest.Call) error {
		if c.Method == "CreateUser" || c.Method == "UserByEmail" || c.Method == "UpdateUser" {
			calls.add("%s %s", c.Method, c.Key)
		}
		return nil
	})
	// An account of the domain from before the ban.
	if _, err := e.store.CreateUser(t.Context(), authsys.User{Email: "old@banned.example", PasswordHash: "x", DateJoined: testStart}); err != nil {
		t.Fatal(err)
	}
	before := e.outbox.Len()
	calls.take()
	signup := func(email string) response {
		return e.client().post("/signup/", map[string]string{"email": email, "password": "some other passphrase"})
	}
	taken, free := signup("old@banned.example"), signup("new@banned.example")
	expect(t, taken, http.StatusBadRequest, "validation_failed")
	if got := fieldCodes(t, taken, "email"); !slices.Equal(got, []string{"email_domain_banned"}) {
		t.Errorf("got email errors %v, want [email_domain_banned]", got)
	}
	coreSameAnswer(t, "banned domain, taken vs free address", taken, free)
	if got, want := calls.take(), []string{"BeforeSignup old@banned.example", "BeforeSignup new@banned.example"}; !slices.Equal(got, want) {
		t.Errorf("got calls %q, want %q: a vetoed signup touches no store", got, want)
	}
	if err := e.auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if e.outbox.Len() != before {
		t.Errorf("got %d mails after vetoed signups, want none", e.outbox.Len()-before)
	}
	if e.events.has(authsys.EventSignupExisting) || e.events.has(authsys.EventSignup) {
		t.Errorf("got events %v, want no signup event", e.events.kinds())
	}
	expect(t, signup("fine@example.com"), http.StatusCreated, "")
}

// TestLoginVeto: BeforeLogin refuses a login after the right password, with
// its own problem and no session; it is not asked for a wrong password or
// an unverified account; it runs before the second factor, for a trusted
// device too, and a refusal is a login_failed event with reason vetoed.
func TestLoginVeto(t *testing.T) {
	var mu sync.Mutex
	suspended := map[string]bool{}
	var asked []string
	e := newEnv(t, func(c *authsys.Config) {
		c.Hooks.BeforeLogin = func(r *http.Request, a authsys.Account) error {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, a.Email)
			if suspended[a.Email] {
				return &authsys.Problem{Status: http.StatusForbidden, Code: authsys.CodeForbidden, Detail: "This account is suspended."}
			}
			return nil
		}
	})
	suspend := func(email string, on bool) {
		mu.Lock()
		defer mu.Unlock()
		suspended[email] = on
	}
	takeAsked := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := asked
		asked = nil
		return out
	}
	e.signupVerified("sam@example.com", goodPassword)
	expect(t, e.client().post("/signup/", map[string]string{"email": "new@example.com", "password": goodPassword}), http.StatusCreated, "")
	takeAsked()

	expect(t, e.client().post("/login/", map[string]string{"email": "sam@example.com", "password": "not the password"}), http.StatusUnauthorized, "invalid_credentials")
	expect(t, e.client().post("/login/", map[string]string{"email": "new@example.com", "password": goodPassword}), http.StatusForbidden, "email_not_verified")
	if got := takeAsked(); len(got) != 0 {
		t.Errorf("BeforeLogin was asked about %v, want only logins whose password is right and account active", got)
	}

	suspend("sam@example.com", true)
	c := e.client()
	r := c.post("/login/", map[string]string{"email": "sam@example.com", "password": goodPassword})
	expect(t, r, http.StatusForbidden, "forbidden")
	if !strings.Contains(string(r.body), "This account is suspended.") {
		t.Errorf("got body %s, want the hook's problem", r.body)
	}
	if len(r.Cookies()) != 0 {
		t.Errorf("got cookies %v on a vetoed login", r.Cookies())
	}
	if ev, _ := coreLastEvent(e, authsys.EventLoginFailed); ev.Reason != "vetoed" || ev.Email != "sam@example.com" || ev.UserID == "" {
		t.Errorf("got event %+v, want login_failed vetoed with the user and address", ev)
	}
	if got := takeAsked(); !slices.Equal(got, []string{"sam@example.com"}) {
		t.Errorf("BeforeLogin asked about %v, want sam once", got)
	}
	suspend("sam@example.com", false)
	e.loggedIn("sam@example.com", goodPassword)

	// With two-factor authentication: asked before the second factor (no
	// pending login when it refuses), once per login, and for a browser
	// whose trusted device would skip the second factor too.
	u := e.tfaEnabled("tfa@example.com")
	takeAsked()
	suspend("tfa@example.com", true)
	r = e.client().post("/login/", map[string]string{"email": "tfa@example.com", "password": goodPassword})
	expect(t, r, http.StatusForbidden, "forbidden")
	if strings.Contains(string(r.body), "session_token") {
		t.Errorf("a vetoed 2FA login got a pending session: %s", r.body)
	}
	suspend("tfa@example.com", false)
	tc, token := e.tfaLogin("tfa@example.com")
	expect(t, tc.post("/2fa/verify-login/", map[string]any{"session_token": token, "code": e.tfaFreshCode(u.secret), "remember_device": true}), http.StatusOK, "")
	if got := takeAsked(); !slices.Equal(got, []string{"tfa@example.com", "tfa@example.com"}) {
		t.Errorf("BeforeLogin asked about %v, want the vetoed login and the password step of the next, not the second factor", got)
	}
	e.clock.Advance(time.Minute)
	suspend("tfa@example.com", true)
	expect(t, tc.post("/login/", map[string]string{"email": "tfa@example.com", "password": goodPassword}), http.StatusForbidden, "forbidden")
	suspend("tfa@example.com", false)
	r = tc.post("/login/", map[string]string{"email": "tfa@example.com", "password": goodPassword})
	expect(t, r, http.StatusOK, "")
	if r.json(t)["requires_2fa"] != false {
		t.Fatalf("the trusted browser's login: got %s, want no second factor", r.body)
	}
}

// TestHookOrder records the documented order: at signup the library's own
// field checks and the rate limit come first, then each Validate in the
// order of Profile.Fields, BeforeSignup, the store and the event; at
// login the password, BeforeLogin, then the session and its event. A
// request the rate limit refuses reaches no hook.
func TestHookOrder(t *testing.T) {
	var spy *authtest.Spy
	var calls hookLog
	validate := func(name string) func(context.Context, any) (any, error) {
		return func(_ context.Context, v any) (any, error) {
			calls.add("Validate %s", name)
			return v, nil
		}
	}
	e := newEnv(t, spyOn(&spy), func(c *authsys.Config) {
		c.RateLimits = testLimits(map[string]string{limitSignup: "2/min"})
		c.Profile.Fields = []authsys.ProfileField{
			{Name: "b_second", Validate: validate("b_second")},
			{Name: "a_first", Validate: validate("a_first")},
		}
		c.Hooks.BeforeSignup = func(r *http.Request, s authsys.Signup) error {
			calls.add("BeforeSignup %s", s.Email)
			return nil
		}
		c.Hooks.BeforeLogin = func(r *http.Request, a authsys.Account) error {
			calls.add("BeforeLogin %s", a.Email)
			return nil
		}
		onEvent := c.Hooks.OnEvent
		c.Hooks.OnEvent = func(ev authsys.Event) {
			if ev.Kind == authsys.EventSignup || ev.Kind == authsys.EventSignupExisting || ev.Kind == authsys.EventLoginSucceeded || ev.Kind == authsys.EventThrottled {
				calls.add("OnEvent %s", ev.Kind)
			}
			if onEvent != nil {
				onEvent(ev)
			}
		}
	})
	spy.SetHook(func(_ context.Context, c *authtest.Call) error {
		switch c.Method {
		case "CreateUser", "UserByEmail", "CreateSession":
			calls.add("%s", c.Method)
		}
		return nil
	})
	body := map[string]string{"email": "ord@example.com", "password": goodPassword, "a_first": "a", "b_second": "b"}
	expect(t, e.client().post("/signup/", body), http.StatusCreated, "")
	want := []string{"Validate b_second", "Validate a_first", "BeforeSignup ord@example.com", "CreateUser", "OnEvent signup"}
	if got := calls.take(); !slices.Equal(got, want) {
		t.Errorf("signup: got %q, want %q", got, want)
	}
	// A taken address: the same hooks in the same order, then the lookup.
	expect(t, e.client().post("/signup/", body), http.StatusCreated, "")
	want = []string{"Validate b_second", "Validate a_first", "BeforeSignup ord@example.com", "CreateUser", "UserByEmail", "OnEvent signup_existing_email"}
	if got := calls.take(); !slices.Equal(got, want) {
		t.Errorf("signup of a taken address: got %q, want %q", got, want)
	}
	// The third within the minute: refused before any hook or store.
	expect(t, e.client().post("/signup/", body), http.StatusTooManyRequests, "throttled")
	if got := calls.take(); !slices.Equal(got, []string{"OnEvent throttled"}) {
		t.Errorf("throttled signup: got %q, want only the throttled event", got)
	}
	// A body the library refuses reaches no hook either.
	expect(t, e.client().post("/signup/", map[string]string{"email": "x", "password": goodPassword, "a_first": "a"}), http.StatusBadRequest, "validation_failed")
	if got := calls.take(); len(got) != 0 {
		t.Errorf("invalid signup: got %q, want no hook", got)
	}

	coreSetUser(e, "ord@example.com", func(u *authsys.User) { u.IsActive, u.EmailVerified = true, true })
	calls.take()
	e.loggedIn("ord@example.com", goodPassword)
	want = []string{"UserByEmail", "BeforeLogin ord@example.com", "CreateSession", "OnEvent login_succeeded"}
	if got := calls.take(); !slices.Equal(got, want) {
		t.Errorf("login: got %q, want %q", got, want)
	}
}

// TestHookErrors: what a hook's error becomes. A Validate's *Problem is
// rendered as it is; a plain error is a 500 that shows nothing of it, an
// outage a 503; a *Problem without an error status is a 500.
func TestHookErrors(t *testing.T) {
	var mu sync.Mutex
	var next error
	set := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		next = err
	}
	hook := func() error {
		mu.Lock()
		defer mu.Unlock()
		return next
	}
	e := newEnv(t, func(c *authsys.Config) {
		c.Profile.Fields = []authsys.ProfileField{{Name: "team", Validate: func(context.Context, any) (any, error) { return "t", hook() }}}
		c.Hooks.BeforeSignup = func(*http.Request, authsys.Signup) error { return hook() }
		c.Hooks.BeforeLogin = func(*http.Request, authsys.Account) error { return hook() }
	})
	e.signupVerified("in@example.com", goodPassword)
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"problem", &authsys.Problem{Status: http.StatusForbidden, Code: authsys.CodeForbidden, Detail: "Not now."}, 403, "forbidden"},
		{"wrapped problem", fmt.Errorf("checking: %w", authsys.FieldProblem("team", "closed", "Closed.")), 400, "validation_failed"},
		{"plain error", errors.New("the invitations table is missing"), 500, "internal_error"},
		{"outage", fmt.Errorf("invitations: %w", authsys.ErrUnavailable), 503, "service_unavailable"},
		{"problem without status", &authsys.Problem{Code: authsys.CodeForbidden}, 500, "internal_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set(tc.err)
			defer set(nil)
			for _, r := range []response{
				e.client().post("/signup/", map[string]string{"email": "hook@example.com", "password": goodPassword, "team": "x"}),
				e.client().post("/signup/", map[string]string{"email": "hook@example.com", "password": goodPassword}),
				e.client().post("/login/", map[string]string{"email": "in@example.com", "password": goodPassword}),
			} {
				expect(t, r, tc.status, tc.code)
				if strings.Contains(string(r.body), "invitations") {
					t.Errorf("the answer shows the hook's internal error: %s", r.body)
				}
			}
		})
	}
	if n := len(coreMails(e, "hook@example.com", mail.KindVerifyAccount)); n != 0 {
		t.Errorf("got %d verification mails for refused signups, want 0", n)
	}
}
