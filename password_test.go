package authsys_test

// Passwords: reset by email, change, the reset race, and the production
// hashing parameters.

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/pwned"
	"github.com/authsys-go/authsys/store"
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

// The password policy: Passwords.Policy and Passwords.Breached at every
// place a new password is set (signup, reset confirmation, password
// change), over HTTP.

// policyRecorder is a Passwords.Policy that records each call and then
// runs fn (DefaultPasswordPolicy while fn is nil). Safe for concurrent use.
type policyRecorder struct {
	mu    sync.Mutex
	fn    func(context.Context, authsys.PasswordCandidate) error
	calls []authsys.PasswordCandidate
}

func (p *policyRecorder) policy(ctx context.Context, c authsys.PasswordCandidate) error {
	p.mu.Lock()
	p.calls = append(p.calls, c)
	fn := p.fn
	p.mu.Unlock()
	if fn == nil {
		return authsys.DefaultPasswordPolicy(ctx, c)
	}
	return fn(ctx, c)
}

func (p *policyRecorder) set(fn func(context.Context, authsys.PasswordCandidate) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fn = fn
}

func (p *policyRecorder) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

func (p *policyRecorder) last() authsys.PasswordCandidate {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.calls) == 0 {
		return authsys.PasswordCandidate{}
	}
	return p.calls[len(p.calls)-1]
}

// policyFlows name the three places a new password is set.
var policyFlows = []string{"signup", "reset", "change"}

const policyUser = "user@example.com"

// policyFlow sets new passwords through one flow of an env whose
// Passwords.Policy is rec's.
type policyFlow struct {
	name  string
	e     *env
	rec   *policyRecorder
	field string
	// userID and email are what the policy should be given for the last
	// password set: the new address and no ID at signup, the account's
	// otherwise.
	userID, email string
	// set sends pw as the new password.
	set func(pw string) response
	// okStatus is the status of an accepted password.
	okStatus int
	hash     string // the account's hash before any change
}

// newPolicyFlow builds an env for flow (one of policyFlows), with a
// policyRecorder as Passwords.Policy, and a verified account policyUser
// whose password is goodPassword.
func newPolicyFlow(t *testing.T, flow string, mutate ...func(*authsys.Config)) *policyFlow {
	t.Helper()
	rec := &policyRecorder{}
	e := newEnv(t, append([]func(*authsys.Config){func(c *authsys.Config) { c.Passwords.Policy = rec.policy }}, mutate...)...)
	e.signupVerified(policyUser, goodPassword)
	f := &policyFlow{name: flow, e: e, rec: rec, field: "new_password", okStatus: http.StatusOK}
	u := coreUser(e, policyUser)
	f.hash = u.PasswordHash
	switch flow {
	case "signup":
		f.field, f.okStatus = "password", http.StatusCreated
		n := 0
		f.set = func(pw string) response {
			n++
			f.email = fmt.Sprintf("new%d@example.com", n)
			return e.client().post("/signup/", map[string]string{"email": f.email, "password": pw})
		}
	case "reset":
		f.userID, f.email = u.ID, u.Email
		expect(t, e.client().post("/password-reset/", map[string]string{"email": policyUser}), http.StatusOK, "")
		q := linkParams(t, coreLastMail(e, policyUser, mail.KindPasswordReset))
		f.set = func(pw string) response {
			return e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": pw})
		}
	case "change":
		f.userID, f.email = u.ID, u.Email
		c := e.loggedIn(policyUser, goodPassword)
		current := goodPassword
		f.set = func(pw string) response {
			r := c.post("/change-password/", map[string]string{"current_password": current, "new_password": pw})
			if r.StatusCode == http.StatusOK {
				current = pw
			}
			return r
		}
	default:
		t.Fatalf("unknown flow %q", flow)
	}
	return f
}

// accepted checks that r accepted pw: the answer, and pw is now the
// password of the account (a new, unverified one at signup: logging in
// with the right password gets email_not_verified).
func (f *policyFlow) accepted(t *testing.T, r response, pw string) {
	t.Helper()
	expect(t, r, f.okStatus, "")
	login := f.e.client().post("/login/", map[string]string{"email": f.email, "password": pw})
	if f.name == "signup" {
		expect(t, login, http.StatusForbidden, authsys.CodeEmailNotVerified)
	} else {
		expect(t, login, http.StatusOK, "")
	}
}

// refused checks that nothing was written: no account at signup, the
// account's password unchanged otherwise.
func (f *policyFlow) refused(t *testing.T) {
	t.Helper()
	if f.name == "signup" {
		if _, err := f.e.store.UserByEmail(t.Context(), f.email); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UserByEmail(%q): got %v, want ErrNotFound: a refused signup created the account", f.email, err)
		}
		return
	}
	if got := coreUser(f.e, policyUser).PasswordHash; got != f.hash {
		t.Error("got the password changed, want a refused password to change nothing")
	}
}

// checkCandidate checks what the policy was last given.
func (f *policyFlow) checkCandidate(t *testing.T, pw string) {
	t.Helper()
	want := authsys.PasswordCandidate{UserID: f.userID, Email: f.email, Password: pw}
	if got := f.rec.last(); got != want {
		t.Errorf("got policy call %+v, want %+v", got, want)
	}
}

// fieldErrors returns the field errors of a problem answer.
func fieldErrors(t *testing.T, r response) map[string][]authsys.FieldError {
	t.Helper()
	var p struct {
		Errors map[string][]authsys.FieldError `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return p.Errors
}

// expectFieldErrors checks that r is 400 validation_failed with exactly
// want as its field errors, all under field.
func expectFieldErrors(t *testing.T, r response, field string, want ...authsys.FieldError) {
	t.Helper()
	expect(t, r, http.StatusBadRequest, authsys.CodeValidationFailed)
	got := fieldErrors(t, r)
	if len(got) != 1 || !slices.Equal(got[field], want) {
		t.Errorf("got errors %+v, want only %s: %+v", got, field, want)
	}
}

// min12 is the policy of the README: 12 characters, then the default
// rules.
func min12(ctx context.Context, p authsys.PasswordCandidate) error {
	if utf8.RuneCountInString(p.Password) < 12 {
		return &authsys.FieldError{Code: "password_too_short", Message: "Use at least 12 characters."}
	}
	return authsys.DefaultPasswordPolicy(ctx, p)
}

func TestPasswordPolicyCustom(t *testing.T) {
	for _, flow := range policyFlows {
		t.Run(flow, func(t *testing.T) {
			f := newPolicyFlow(t, flow)
			f.rec.set(min12)

			r := f.set("xk3#pq9zLm4") // 11 characters, fine for the default
			expectFieldErrors(t, r, f.field, authsys.FieldError{Code: "password_too_short", Message: "Use at least 12 characters."})
			f.checkCandidate(t, "xk3#pq9zLm4")
			f.refused(t)

			// The default rules still apply, with the library's message.
			r = f.set("PasswordPassword")
			expectFieldErrors(t, r, f.field, authsys.FieldError{Code: "password_too_common", Message: "This password is too common."})
			f.refused(t)

			// Several field errors at once, joined; one without a message
			// of a code of the application's own gets a generic one.
			f.rec.set(func(ctx context.Context, p authsys.PasswordCandidate) error {
				return fmt.Errorf("policy: %w", errors.Join(
					&authsys.FieldError{Code: "password_no_symbol", Message: "Add a symbol."},
					&authsys.FieldError{Code: "password_in_history"},
					&authsys.FieldError{Code: "password_entirely_numeric"},
				))
			})
			r = f.set("violet otter sings")
			expectFieldErrors(t, r, f.field,
				authsys.FieldError{Code: "password_no_symbol", Message: "Add a symbol."},
				authsys.FieldError{Code: "password_in_history", Message: "This value cannot be used."},
				authsys.FieldError{Code: "password_entirely_numeric", Message: "This password is entirely numeric."})
			f.refused(t)

			f.rec.set(min12)
			r = f.set("violet-otter-sings-42")
			f.accepted(t, r, "violet-otter-sings-42")
			f.checkCandidate(t, "violet-otter-sings-42")
		})
	}
}

// TestPasswordPolicyBounds checks that a policy that accepts everything
// replaces the default rules, but not the bounds that protect the hasher:
// a missing or over-long password never reaches it.
func TestPasswordPolicyBounds(t *testing.T) {
	for _, flow := range policyFlows {
		t.Run(flow, func(t *testing.T) {
			f := newPolicyFlow(t, flow)
			f.rec.set(func(context.Context, authsys.PasswordCandidate) error { return nil })
			before := f.rec.count()
			expectFieldErrors(t, f.set(""), f.field, authsys.FieldError{Code: "required", Message: "This field is required."})
			r := f.set(strings.Repeat("é", 512) + "x") // 1025 bytes, 513 characters
			expectFieldErrors(t, r, f.field, authsys.FieldError{Code: "password_too_long", Message: "This password is too long. It must contain at most 1024 characters."})
			f.refused(t)
			if n := f.rec.count() - before; n != 0 {
				t.Errorf("got %d policy calls, want none for passwords out of bounds", n)
			}
			f.accepted(t, f.set("abc"), "abc")
		})
	}
}

func TestPasswordPolicyProblem(t *testing.T) {
	for _, flow := range policyFlows {
		t.Run(flow, func(t *testing.T) {
			f := newPolicyFlow(t, flow)
			f.rec.set(func(context.Context, authsys.PasswordCandidate) error {
				return &authsys.Problem{Status: http.StatusServiceUnavailable, Code: authsys.CodeServiceUnavailable,
					Detail: "Password changes are paused for maintenance.", RetryAfter: 2 * time.Minute}
			})
			r := f.set("violet-otter-sings-42")
			expect(t, r, http.StatusServiceUnavailable, authsys.CodeServiceUnavailable)
			if got := r.json(t)["detail"]; got != "Password changes are paused for maintenance." {
				t.Errorf("got detail %q, want the policy's", got)
			}
			if got := r.Header.Get("Retry-After"); got != "120" {
				t.Errorf("got Retry-After %q, want 120", got)
			}
			f.refused(t)

			// A problem is answered as it is, even a validation_failed
			// one with errors on another member.
			f.rec.set(func(context.Context, authsys.PasswordCandidate) error {
				return fmt.Errorf("wrapped: %w", &authsys.Problem{Status: http.StatusBadRequest, Code: authsys.CodeValidationFailed,
					Detail: "Ask your administrator for a password.",
					Errors: map[string][]authsys.FieldError{"email": {{Code: "managed_account", Message: "This account's password is managed elsewhere."}}}})
			})
			r = f.set("violet-otter-sings-42")
			expect(t, r, http.StatusBadRequest, authsys.CodeValidationFailed)
			if got := r.json(t)["detail"]; got != "Ask your administrator for a password." {
				t.Errorf("got detail %q, want the policy's", got)
			}
			if got := fieldErrors(t, r); len(got) != 1 || len(got["email"]) != 1 || got["email"][0].Code != "managed_account" {
				t.Errorf("got errors %+v, want the policy's", got)
			}
			f.refused(t)
		})
	}
}

// TestPasswordPolicySharedProblem has a policy return the same Problem,
// without a Title, to concurrent requests: under -race, rendering must not
// write to it.
func TestPasswordPolicySharedProblem(t *testing.T) {
	f := newPolicyFlow(t, "signup")
	shared := &authsys.Problem{Status: http.StatusServiceUnavailable, Code: authsys.CodeServiceUnavailable, Detail: "Signups are paused.", RetryAfter: time.Minute}
	f.rec.set(func(context.Context, authsys.PasswordCandidate) error { return shared })
	rs := coreParallel(8, func(i int) response {
		return f.e.client().post("/signup/", map[string]string{"email": fmt.Sprintf("s%d@example.com", i), "password": "violet-otter-sings-42"})
	})
	for _, r := range rs {
		expect(t, r, http.StatusServiceUnavailable, authsys.CodeServiceUnavailable)
		if got := r.json(t)["title"]; got != "Service Unavailable" {
			t.Errorf("got title %q, want Service Unavailable", got)
		}
	}
	if shared.Title != "" {
		t.Errorf("got the policy's Problem changed (Title %q), want it left alone", shared.Title)
	}
}

func TestPasswordPolicyError(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"unavailable", fmt.Errorf("directory: %w", authsys.ErrUnavailable), http.StatusServiceUnavailable, authsys.CodeServiceUnavailable},
		{"deadline", fmt.Errorf("directory: %w", context.DeadlineExceeded), http.StatusServiceUnavailable, authsys.CodeServiceUnavailable},
		{"other", errors.New("directory lookup failed"), http.StatusInternalServerError, authsys.CodeInternalError},
		// Mistakes of a policy fail the request rather than refuse
		// the password in a way no client understands.
		{"nil FieldError", (*authsys.FieldError)(nil), http.StatusInternalServerError, authsys.CodeInternalError},
		{"FieldError without a code", &authsys.FieldError{Message: "No."}, http.StatusInternalServerError, authsys.CodeInternalError},
		{"FieldError joined with another error", errors.Join(&authsys.FieldError{Code: "x"}, errors.New("lookup failed")), http.StatusInternalServerError, authsys.CodeInternalError},
		{"Problem without a status", &authsys.Problem{Code: authsys.CodeForbidden}, http.StatusInternalServerError, authsys.CodeInternalError},
	}
	for _, flow := range policyFlows {
		for _, tt := range tests {
			t.Run(flow+"/"+tt.name, func(t *testing.T) {
				f := newPolicyFlow(t, flow)
				f.rec.set(func(context.Context, authsys.PasswordCandidate) error { return tt.err })
				r := f.set("violet-otter-sings-42")
				expect(t, r, tt.status, tt.code)
				if tt.status == http.StatusServiceUnavailable && r.Header.Get("Retry-After") == "" {
					t.Error("got no Retry-After, want one with 503")
				}
				if bytes.Contains(r.body, []byte("directory")) || bytes.Contains(r.body, []byte("lookup")) {
					t.Errorf("got body %s, want the cause kept out of it", r.body)
				}
				f.refused(t)
			})
		}
	}
}

// TestPasswordPolicyDefault checks the default policy at every flow: the
// rules of DefaultPasswordPolicy, common passwords and their variants
// included.
func TestPasswordPolicyDefault(t *testing.T) {
	for _, flow := range policyFlows {
		t.Run(flow, func(t *testing.T) {
			f := newPolicyFlow(t, flow)
			common := authsys.FieldError{Code: "password_too_common", Message: "This password is too common."}
			for _, pw := range []string{"baseball1", "passwordpassword", "Summer2031", "zzzzzzzzzz"} {
				expectFieldErrors(t, f.set(pw), f.field, common)
				f.checkCandidate(t, pw)
			}
			expectFieldErrors(t, f.set("1234"), f.field,
				authsys.FieldError{Code: "password_too_short", Message: "This password is too short. It must contain at least 8 characters."},
				authsys.FieldError{Code: "password_entirely_numeric", Message: "This password is entirely numeric."},
				common)
			if flow != "signup" {
				expectFieldErrors(t, f.set("USER"), f.field,
					authsys.FieldError{Code: "password_too_short", Message: "This password is too short. It must contain at least 8 characters."},
					authsys.FieldError{Code: "password_too_similar", Message: "This password is too similar to the email address."},
					common)
			}
			f.refused(t)
			f.accepted(t, f.set("violet-otter-sings-42"), "violet-otter-sings-42")
		})
	}
}

func TestDefaultPasswordPolicy(t *testing.T) {
	ctx := t.Context()
	if err := authsys.DefaultPasswordPolicy(ctx, authsys.PasswordCandidate{Email: "alice@example.com", Password: "violet-otter-sings-42"}); err != nil {
		t.Errorf("got %v for a good password, want nil", err)
	}
	err := authsys.DefaultPasswordPolicy(ctx, authsys.PasswordCandidate{Email: "alice@example.com", Password: "Alice"})
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("got %#v, want errors joined", err)
	}
	var codes []string
	for _, e := range joined.Unwrap() {
		var fe *authsys.FieldError
		if !errors.As(e, &fe) || fe.Message != "" {
			t.Fatalf("got %#v, want a *FieldError without a message", e)
		}
		codes = append(codes, fe.Code)
	}
	if want := []string{"password_too_short", "password_too_similar", "password_too_common"}; !slices.Equal(codes, want) {
		t.Errorf("got codes %q, want %q", codes, want)
	}
	if got, want := err.Error(), "password_too_short\npassword_too_similar\npassword_too_common"; got != want {
		t.Errorf("got Error() %q, want %q", got, want)
	}
}

// fakePwned is a local Pwned Passwords range API that knows the passwords
// of breached (seen 5 times each) and records every request whole. While
// down is set it answers 503.
type fakePwned struct {
	breached []string
	mu       sync.Mutex
	requests []string
	down     bool
}

func (f *fakePwned) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	dump, _ := httputil.DumpRequest(r, true)
	f.mu.Lock()
	f.requests = append(f.requests, string(dump))
	down := f.down
	f.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	prefix := strings.TrimPrefix(r.URL.Path, "/range/")
	fmt.Fprintf(w, "%035X:12\r\n", 42)
	for _, pw := range f.breached {
		if h := pwnedHash(pw); h[:5] == prefix {
			fmt.Fprintf(w, "%s:5\r\n", h[5:])
		}
	}
	fmt.Fprintf(w, "%035X:0\r\n", 7)
}

func (f *fakePwned) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakePwned) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func pwnedHash(pw string) string {
	sum := sha1.Sum([]byte(pw))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// switchChecker is a BreachChecker that asks closed while failClosed is
// set, open otherwise (a Checker's fields must not change once in use).
type switchChecker struct {
	open, closed *pwned.Checker
	failClosed   atomic.Bool
}

func (s *switchChecker) Breached(ctx context.Context, pw string) (bool, error) {
	if s.failClosed.Load() {
		return s.closed.Breached(ctx, pw)
	}
	return s.open.Breached(ctx, pw)
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPasswordBreached runs pwned.Checker through the full HTTP flows
// against a local fake API.
func TestPasswordBreached(t *testing.T) {
	const breached, clean = "tangerine kayak 88", "violet-otter-sings-42"
	for _, flow := range policyFlows {
		t.Run(flow, func(t *testing.T) {
			api := &fakePwned{breached: []string{breached}}
			srv := httptest.NewServer(api)
			defer srv.Close()
			var logs syncBuffer
			checker := &switchChecker{
				open:   &pwned.Checker{BaseURL: srv.URL, Logger: slog.New(slog.NewTextHandler(&logs, nil))},
				closed: &pwned.Checker{BaseURL: srv.URL, FailClosed: true},
			}
			f := newPolicyFlow(t, flow, func(c *authsys.Config) { c.Passwords.Breached = checker })
			start := len(api.got())

			expectFieldErrors(t, f.set(breached), f.field,
				authsys.FieldError{Code: "password_breached", Message: "This password has appeared in a data breach. Choose another one."})
			f.refused(t)
			// The policy comes first: a password it refuses is not sent.
			expectFieldErrors(t, f.set("passwordpassword"), f.field, authsys.FieldError{Code: "password_too_common", Message: "This password is too common."})
			if n := len(api.got()) - start; n != 1 {
				t.Errorf("got %d requests to the API, want 1 (none for a password the policy refuses)", n)
			}

			// Fail open by default: the API down, the password is
			// accepted, with a warning.
			api.setDown(true)
			if flow == "change" {
				// Keep the account's password for the fail-closed case.
				r := f.set(clean)
				expect(t, r, http.StatusOK, "")
				if !strings.Contains(logs.String(), "level=WARN") {
					t.Errorf("got logs %q, want a warning", logs.String())
				}
				f.hash = coreUser(f.e, policyUser).PasswordHash
			}
			checker.failClosed.Store(true)
			r := f.set("another clean passphrase")
			expect(t, r, http.StatusServiceUnavailable, authsys.CodeServiceUnavailable)
			f.refused(t)
			checker.failClosed.Store(false)
			api.setDown(false)

			if flow != "change" {
				f.accepted(t, f.set(clean), clean)
			}
			// Only the five-character prefixes left the process.
			for _, req := range api.got() {
				line, _, _ := strings.Cut(req, "\r\n")
				if path := strings.Fields(line)[1]; len(path) != len("/range/")+5 {
					t.Errorf("got request for %q, want /range/ and 5 hex digits", path)
				}
				for _, pw := range []string{breached, clean, "another clean passphrase"} {
					h := pwnedHash(pw)
					if strings.Contains(req, pw) || strings.Contains(strings.ToUpper(req), h[5:]) {
						t.Errorf("got request %q, want no trace of the password or its hash suffix", req)
					}
				}
			}
		})
	}
}

// TestPasswordBreachedConcurrent signs up concurrently with breached and
// clean passwords: each answer is its own.
func TestPasswordBreachedConcurrent(t *testing.T) {
	breached := []string{"tangerine kayak 88", "marmalade canoe 17"}
	api := &fakePwned{breached: breached}
	srv := httptest.NewServer(api)
	defer srv.Close()
	e := newEnv(t, func(c *authsys.Config) {
		c.Passwords.Breached = &pwned.Checker{BaseURL: srv.URL, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	})
	const n = 12
	rs := coreParallel(n, func(i int) response {
		pw := fmt.Sprintf("clean passphrase %d", i)
		if i%3 == 0 {
			pw = breached[i%2]
		}
		return e.client().post("/signup/", map[string]string{"email": fmt.Sprintf("c%d@example.com", i), "password": pw})
	})
	for i, r := range rs {
		if i%3 == 0 {
			expectFieldErrors(t, r, "password", authsys.FieldError{Code: "password_breached", Message: "This password has appeared in a data breach. Choose another one."})
		} else {
			expect(t, r, http.StatusCreated, "")
		}
	}
	if got := len(api.got()); got != n {
		t.Errorf("got %d requests to the API, want %d", got, n)
	}
}

// A policy that asks for 12 characters and keeps the default rules.
func ExampleDefaultPasswordPolicy() {
	policy := func(ctx context.Context, p authsys.PasswordCandidate) error {
		if utf8.RuneCountInString(p.Password) < 12 {
			return &authsys.FieldError{Code: "password_too_short", Message: "Use at least 12 characters."}
		}
		return authsys.DefaultPasswordPolicy(ctx, p)
	}
	cfg := authsys.Config{Passwords: authsys.Passwords{Policy: policy}}
	_ = cfg // with Users, Pending, Mailer, ... as usual

	for _, pw := range []string{"violet-otter-sings-42", "Tr0ub4dor&3", "passwordpassword"} {
		fmt.Println(policy(context.Background(), authsys.PasswordCandidate{Email: "alice@example.com", Password: pw}))
	}
	// Output:
	// <nil>
	// password_too_short: Use at least 12 characters.
	// password_too_common
}

// countingChecker counts the breach checks it is asked for.
type countingChecker struct{ n atomic.Int32 }

func (c *countingChecker) Breached(context.Context, string) (bool, error) {
	c.n.Add(1)
	return false, nil
}

// TestPasswordBreachedAfterRateLimit: a client over its signup budget
// makes no call to the breach API (which is a third party's), however many
// signups it sends.
func TestPasswordBreachedAfterRateLimit(t *testing.T) {
	checker := &countingChecker{}
	e := newEnv(t, func(c *authsys.Config) {
		c.RateLimits = authsys.RateLimits{Signup: authsys.Rate{N: 2, Per: time.Hour}}
		c.Passwords.Breached = checker
	})
	const email = "flood@example.com"
	for i := range 10 {
		r := e.client().post("/signup/", map[string]string{"email": email, "password": fmt.Sprintf("violet-otter-sings-%d", i)})
		if i >= 2 {
			expect(t, r, http.StatusTooManyRequests, authsys.CodeThrottled)
		}
	}
	if n := checker.n.Load(); n != 2 {
		t.Errorf("got %d breach checks for 10 signups with a budget of 2, want 2", n)
	}
}
