package authsys_test

// The before-hooks that can veto a signup or a login, and their order.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/authtest"
	"github.com/authsys-go/authsys/mail"
)

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
