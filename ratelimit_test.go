package authsys_test

// Rate limits: their configuration, the HTTP behaviour of every limited
// endpoint, the hashing bound, Redis and Unix-socket peers, and benchmarks.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/authtest"
	"github.com/authsys-go/authsys/internal/password"
	"github.com/authsys-go/authsys/internal/ratelimit"
	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
	"github.com/authsys-go/authsys/store/redis"
	"github.com/authsys-go/authsys/totp"
)

// Helpers of the rate-limit tests. The httptest client always connects
// from 127.0.0.1; rlEnv trusts that address as a reverse proxy, so a
// request names its client IP with rlFrom.

const rlVictim = "victim@example.com"

// rlEnv is newEnv with the given Config.RateLimits and 127.0.0.1 trusted as
// a reverse proxy.
func rlEnv(t *testing.T, limits map[string]string, mutate ...func(*authsys.Config)) *env {
	t.Helper()
	return newEnv(t, append([]func(*authsys.Config){func(c *authsys.Config) {
		c.RateLimits = testLimits(limits)
		c.HTTP.TrustedProxies = []string{"127.0.0.1/32"}
	}}, mutate...)...)
}

// rlFrom is the header that makes a request come from client ip through
// the trusted proxy.
func rlFrom(ip string) []string { return []string{"X-Forwarded-For", ip} }

// rlIP returns the i-th of 1000 distinct client addresses.
func rlIP(i int) string { return fmt.Sprintf("10.%d.%d.%d", 1+i/250/250, i/250%250+1, i%250+1) }

// rlVariant returns spellings of rlVictim that all normalize to it, so
// that changing case or adding blanks cannot dodge the account budget.
func rlVariant(i int) string {
	return []string{rlVictim, "Victim@Example.COM", "  VICTIM@example.com ", "victim@EXAMPLE.com"}[i%4]
}

// rlAddUser creates an active, verified user straight in us, without a
// request, so that no budget is spent.
func rlAddUser(t testing.TB, us store.UserStore, email, pw string) authsys.User {
	t.Helper()
	hash, err := password.NewHasher(password.Params(cheapParams), 1).Hash(t.Context(), pw)
	if err != nil {
		t.Fatal(err)
	}
	u, err := us.CreateUser(t.Context(), authsys.User{
		Email: store.NormalizeEmail(email), PasswordHash: hash, IsActive: true, EmailVerified: true,
		DateJoined: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// rlEnable2FA turns on 2FA for email through the API and returns the TOTP
// secret. It then moves the clock an hour on, so that the budgets it spent
// are forgotten and the next TOTP step is fresh.
func rlEnable2FA(e *env, email string) string {
	e.t.Helper()
	c := e.loggedIn(email, goodPassword)
	r := c.post("/2fa/setup/", nil)
	expect(e.t, r, http.StatusOK, "")
	secret, _ := r.json(e.t)["secret"].(string)
	code, err := totp.Code(secret, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	expect(e.t, c.post("/2fa/enable/", map[string]string{"code": code}), http.StatusOK, "")
	e.clock.Advance(time.Hour)
	return secret
}

// rlSession logs email in (2FA on) and returns the pending session token.
func rlSession(e *env, email string) string {
	e.t.Helper()
	r := e.client().post("/login/", map[string]string{"email": email, "password": goodPassword})
	expect(e.t, r, http.StatusOK, "")
	tok, _ := r.json(e.t)["session_token"].(string)
	if tok == "" {
		e.t.Fatalf("login of a 2FA account gave no session_token: %s", r.body)
	}
	return tok
}

// rlWrongCode returns a six-digit code that secret does not accept now.
func rlWrongCode(e *env, secret string) string {
	e.t.Helper()
	var valid []string
	for _, d := range []time.Duration{-totp.Period, 0, totp.Period} {
		c, err := totp.Code(secret, e.clock.Now().Add(d))
		if err != nil {
			e.t.Fatal(err)
		}
		valid = append(valid, c)
	}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !slices.Contains(valid, c) {
			return c
		}
	}
	panic("unreachable: three codes cannot cover four candidates")
}

// rlCode returns the code secret accepts now.
func rlCode(e *env, secret string) string {
	e.t.Helper()
	c, err := totp.Code(secret, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// rlThrottled checks that r is 429 throttled with Retry-After retry
// (seconds); retry "" accepts any positive value.
func rlThrottled(t *testing.T, r response, retry string) {
	t.Helper()
	expect(t, r, http.StatusTooManyRequests, "throttled")
	got := r.Header.Get("Retry-After")
	if retry != "" && got != retry {
		t.Fatalf("got Retry-After %q, want %q", got, retry)
	}
	if got == "" || got == "0" || strings.HasPrefix(got, "-") {
		t.Fatalf("got Retry-After %q, want a positive number of seconds", got)
	}
}

// rlResult is a response read by rlPost.
type rlResult struct {
	status     int
	code       string
	retryAfter string
}

// rlPost posts body to the auth API of srvURL from client ip (through the
// trusted proxy; "" sends no X-Forwarded-For). Unlike client.post it
// returns its error, so goroutines other than the test's may call it.
// srvURL must be the server of a live env: like client.do, rlPost runs the
// harness checks on the call (harnessSend), reporting to that env's test.
func rlPost(ctx context.Context, hc *http.Client, srvURL, path string, body any, ip string) (rlResult, error) {
	e, err := harnessEnvAt(srvURL)
	if err != nil {
		return rlResult{}, err
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return rlResult{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srvURL+"/api/auth"+path, bytes.NewReader(raw))
	if err != nil {
		return rlResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	res, b, err := e.harnessSend(hc, req, raw)
	if err != nil {
		return rlResult{}, err
	}
	var p struct{ Code string }
	_ = json.Unmarshal(b, &p)
	return rlResult{status: res.StatusCode, code: p.Code, retryAfter: res.Header.Get("Retry-After")}, nil
}

// rlSpy reads the calls of an authtest.Spy around the env's memory store
// (as both Users and Pending), each as "Method key" (the email for
// UserByEmail and CreateUser, the ID for UserByID and UpdateUser). Like the
// memory store the Spy is a store.RateStore, so the limiter uses GCRA
// (AllowRate) on it.
type rlSpy struct {
	spy  *authtest.Spy
	seen int // calls already taken
}

// rlSpyOn returns a Config mutation that puts a spy around the env's memory
// store, as both Users and Pending, and stores it in *spy.
func rlSpyOn(spy **rlSpy) func(*authsys.Config) {
	*spy = &rlSpy{}
	return spyOn(&(*spy).spy)
}

// take returns the calls recorded since the last take.
func (s *rlSpy) take() []string {
	calls := s.spy.Calls()
	var out []string
	for _, c := range calls[s.seen:] {
		out = append(out, c.Method+" "+c.Key)
	}
	s.seen = len(calls)
	return out
}

// rlConfig returns a valid Config for New and Validate tests.
func rlConfig() authsys.Config {
	s := memory.New()
	params := cheapParams
	return authsys.Config{
		Keys:      authsys.Keys{Signing: authsys.Key{Secret: testKey}},
		Users:     s,
		Pending:   s,
		Mailer:    &mail.Outbox{},
		Links:     authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:      authsys.Mail{From: "noreply@example.com"},
		Passwords: authsys.Passwords{Params: params},
		Logger:    discardLogger(),
	}
}

func TestRateLimitConfigValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*authsys.Config)
		field  string // "" = valid
		names  string // the error names this
	}{
		{"zero limits", func(c *authsys.Config) { c.RateLimits = authsys.RateLimits{} }, "", ""},
		{"all off", func(c *authsys.Config) { c.RateLimits = authsys.RateLimits{Off: true} }, "", ""},
		{"one off", func(c *authsys.Config) { c.RateLimits.Login = authsys.Rate{Off: true} }, "", ""},
		{"all five", func(c *authsys.Config) {
			c.RateLimits = testLimits(map[string]string{"login": "10/min", "signup": "5/hour", "password_reset": "100/day", "2fa_verify": "3/1s", "2fa_verify_daily": "20/day"})
		}, "", ""},
		{"rate without period", func(c *authsys.Config) { c.RateLimits.Login = authsys.Rate{N: 10} }, "RateLimits.Login", "positive"},
		{"zero count", func(c *authsys.Config) { c.RateLimits.Signup = authsys.Rate{Per: time.Minute} }, "RateLimits.Signup", "0/1m0s"},
		{"negative period", func(c *authsys.Config) { c.RateLimits.TwoFactor = authsys.Rate{N: 5, Per: -time.Minute} }, "RateLimits.TwoFactor", "5/-1m0s"},
		{"off with a rate", func(c *authsys.Config) { c.RateLimits.TwoFactorDaily = authsys.Rate{N: 5, Per: time.Hour, Off: true} }, "RateLimits.TwoFactorDaily", "Off"},
		{"proxies", func(c *authsys.Config) {
			c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1", " 2001:db8::/32 "}
		}, "", ""},
		{"bad CIDR", func(c *authsys.Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33"} }, "HTTP.TrustedProxies", `"10.0.0.0/33"`},
		{"host name as proxy", func(c *authsys.Config) { c.HTTP.TrustedProxies = []string{"proxy.internal"} }, "HTTP.TrustedProxies", `"proxy.internal"`},
		{"default hash bound", func(c *authsys.Config) { c.Passwords.MaxConcurrentHashes = 0 }, "", ""},
		{"negative hash bound", func(c *authsys.Config) { c.Passwords.MaxConcurrentHashes = -1 }, "Passwords.MaxConcurrentHashes", "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := rlConfig()
			tt.mutate(&cfg)
			for what, err := range map[string]error{"Validate": cfg.Validate(), "New": func() error { _, err := authsys.New(cfg); return err }()} {
				if tt.field == "" {
					if err != nil {
						t.Errorf("%s: got %v, want nil", what, err)
					}
					continue
				}
				var ce *authsys.ConfigError
				if !errors.As(err, &ce) || ce.Field != tt.field {
					t.Errorf("%s: got %v, want a *ConfigError for field %s", what, err, tt.field)
					continue
				}
				if !strings.Contains(err.Error(), tt.names) {
					t.Errorf("%s: error %q does not name %s", what, err, tt.names)
				}
			}
		})
	}
}

// TestRateLimitDefaults checks that a zero Config.RateLimits means the
// seed's limits (login and 2FA 10/min, signup and password reset 5/min,
// plus 2FA 50/day per account),
// and that the defaults are what RateLimits documents: the request
// after the burst is refused until one request comes back, Per/N later.
func TestRateLimitDefaults(t *testing.T) {
	tests := []struct {
		path   string
		body   func(i int) map[string]string
		budget int
		retry  string
	}{
		{"/login/", func(i int) map[string]string {
			return map[string]string{"email": fmt.Sprintf("u%d@example.com", i), "password": "not the password"}
		}, 10, "6"},
		{"/signup/", func(i int) map[string]string {
			return map[string]string{"email": fmt.Sprintf("u%d@example.com", i), "password": goodPassword}
		}, 5, "12"},
		{"/password-reset/", func(i int) map[string]string { return map[string]string{"email": fmt.Sprintf("u%d@example.com", i)} }, 5, "12"},
		{"/2fa/verify-login/", func(i int) map[string]string {
			return map[string]string{"session_token": fmt.Sprintf("madeup%016d", i), "code": "123456"}
		}, 10, "6"},
	}
	for _, tt := range tests {
		t.Run(strings.Trim(tt.path, "/"), func(t *testing.T) {
			e := newEnv(t, func(c *authsys.Config) { c.RateLimits = authsys.RateLimits{} })
			c := e.client()
			for i := range tt.budget {
				if r := c.post(tt.path, tt.body(i)); r.StatusCode == http.StatusTooManyRequests {
					t.Fatalf("request %d of a budget of %d: got 429", i+1, tt.budget)
				}
			}
			rlThrottled(t, c.post(tt.path, tt.body(tt.budget)), tt.retry)
		})
	}
}

// TestRateLimitDisabled checks the ways to turn limits off: RateLimits.Off
// turns off all, Rate.Off one, and a zero Rate is the default, not off.
func TestRateLimitDisabled(t *testing.T) {
	minute := func(n int) authsys.Rate { return authsys.Rate{N: n, Per: time.Minute} }
	off := authsys.Rate{Off: true}
	tests := []struct {
		name      string
		limits    authsys.RateLimits
		loginOff  bool
		resetTrip bool
	}{
		{"all off", authsys.RateLimits{Off: true, Login: minute(1), PasswordReset: minute(1)}, true, false},
		{"login off", authsys.RateLimits{Login: off, PasswordReset: minute(1)}, true, true},
		{"only login", authsys.RateLimits{Login: minute(1), PasswordReset: off}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *authsys.Config) { c.RateLimits = tt.limits })
			c := e.client()
			for i := range 30 {
				r := c.post("/login/", map[string]string{"email": rlVictim, "password": "not the password"})
				if got := r.StatusCode == http.StatusTooManyRequests; got != (!tt.loginOff && i >= 1) {
					t.Fatalf("login %d: got status %d, want throttled %v", i+1, r.StatusCode, !tt.loginOff && i >= 1)
				}
			}
			for i := range 2 {
				r := c.post("/password-reset/", map[string]string{"email": rlVictim})
				if got := r.StatusCode == http.StatusTooManyRequests; got != (tt.resetTrip && i == 1) {
					t.Fatalf("reset %d: got status %d, want throttled %v", i+1, r.StatusCode, tt.resetTrip && i == 1)
				}
			}
		})
	}
}

// rlReq sends the i-th request of a rate-limit test from client ip and
// names the status of an allowed one.
type rlReq struct {
	status int
	send   func(i int, ip string) response
}

// rlEndpoint is one limited endpoint. setup prepares an env and returns two
// request streams: byIP names a new account in every request, byAccount
// always names rlVictim (spelled differently each time).
type rlEndpoint struct {
	name, limit string
	setup       func(e *env) (byIP, byAccount rlReq)
}

// rlEmailEndpoint is an endpoint whose body is {email} or {email,
// password}, answered with status whether or not the account exists.
func rlEmailEndpoint(name, limit, path string, status int, withPassword bool) rlEndpoint {
	return rlEndpoint{name: name, limit: limit, setup: func(e *env) (rlReq, rlReq) {
		rlAddUser(e.t, e.store, rlVictim, goodPassword)
		body := func(email string) map[string]string {
			if withPassword {
				return map[string]string{"email": email, "password": "wrong but long enough password"}
			}
			return map[string]string{"email": email}
		}
		return rlReq{status, func(i int, ip string) response {
				return e.client().post(path, body(fmt.Sprintf("someone%d@example.com", i)), rlFrom(ip)...)
			}}, rlReq{status, func(i int, ip string) response {
				return e.client().post(path, body(rlVariant(i)), rlFrom(ip)...)
			}}
	}}
}

// rlEndpoints are the four limited flows (resend shares the signup budget).
func rlEndpoints() []rlEndpoint {
	return []rlEndpoint{
		rlEmailEndpoint("login", limitLogin, "/login/", http.StatusUnauthorized, true),
		rlEmailEndpoint("signup", limitSignup, "/signup/", http.StatusCreated, true),
		rlEmailEndpoint("resend", limitSignup, "/verify-account/resend/", http.StatusOK, false),
		rlEmailEndpoint("password_reset", limitPasswordReset, "/password-reset/", http.StatusOK, false),
		{name: "2fa_verify", limit: limitTwoFactor, setup: func(e *env) (rlReq, rlReq) {
			rlAddUser(e.t, e.store, rlVictim, goodPassword)
			secret := rlEnable2FA(e, rlVictim)
			// By IP: made-up session tokens, refused before any lookup once
			// the IP's budget is spent.
			byIP := rlReq{http.StatusUnauthorized, func(i int, ip string) response {
				return e.client().post("/2fa/verify-login/", map[string]string{
					"session_token": fmt.Sprintf("madeup%016d", i), "code": "123456"}, rlFrom(ip)...)
			}}
			// By account: a wrong code in a new pending session every time.
			byAccount := rlReq{http.StatusBadRequest, func(i int, ip string) response {
				tok := rlSession(e, rlVictim)
				return e.client().post("/2fa/verify-login/", map[string]string{
					"session_token": tok, "code": rlWrongCode(e, secret)}, rlFrom(ip)...)
			}}
			return byIP, byAccount
		}},
	}
}

// TestRateLimitTripsAndRecovers drives each limited endpoint at "3/min"
// (GCRA: a burst of 3, then one request every 20 s), counted by IP (a new
// account every request) and by account (a new IP every request), on the
// fake clock: the 4th request at once is refused with the time until one
// request of budget comes back; refused requests change nothing, so the
// budget comes back on time; one request comes back every 20 s, and the
// whole burst after an idle minute.
func TestRateLimitTripsAndRecovers(t *testing.T) {
	steps := []struct {
		advance   time.Duration
		throttled bool
		retry     string
	}{
		{0, false, ""}, // t=0s
		{0, false, ""},
		{0, false, ""},                 // the burst is spent
		{0, true, "20"},                // the 4th: refused until t=20s
		{10 * time.Second, true, "10"}, // refused requests did not push it back
		{9 * time.Second, true, "1"},
		{time.Second, false, ""}, // t=20s: one request came back
		{0, true, "20"},          // and only one
		{time.Minute, false, ""}, // t=80s: idle for a minute, the whole burst is back
		{0, false, ""},
		{0, false, ""},
		{0, true, "20"},
	}
	for _, ep := range rlEndpoints() {
		for _, by := range []string{"ip", "account"} {
			t.Run(ep.name+"/by_"+by, func(t *testing.T) {
				e := rlEnv(t, map[string]string{ep.limit: "3/min"})
				byIP, byAccount := ep.setup(e)
				req, ip := byIP, func(int) string { return "203.0.113.7" }
				if by == "account" {
					req, ip = byAccount, rlIP
				}
				for i, st := range steps {
					e.clock.Advance(st.advance)
					r := req.send(i, ip(i))
					if st.throttled {
						rlThrottled(t, r, st.retry)
						continue
					}
					if r.StatusCode != req.status {
						t.Fatalf("request %d: got status %d, want %d; body %s", i+1, r.StatusCode, req.status, r.body)
					}
				}
				if !e.events.has("throttled") {
					t.Error("no throttled event was emitted")
				}
			})
		}
	}
}

// TestRateLimitAccountAcrossProxyIPs guesses one account's password from 20
// client IPs behind a trusted proxy: the account budget (10/min: a burst
// of 10, then one every 6 s) trips on the 11th guess whatever the IP,
// refuses even the right password until budget comes back, and leaves each
// IP's own budget alone.
func TestRateLimitAccountAcrossProxyIPs(t *testing.T) {
	e := rlEnv(t, map[string]string{limitLogin: "10/min"})
	rlAddUser(t, e.store, rlVictim, goodPassword)
	rlAddUser(t, e.store, "bystander@example.com", goodPassword)
	for i := range 20 {
		r := e.client().post("/login/", map[string]string{"email": rlVariant(i), "password": fmt.Sprintf("guess number %d", i)}, rlFrom(rlIP(i))...)
		if i < 10 {
			expect(t, r, http.StatusUnauthorized, "invalid_credentials")
			continue
		}
		rlThrottled(t, r, "6")
	}
	rlThrottled(t, e.client().post("/login/", map[string]string{"email": rlVictim, "password": goodPassword}, rlFrom(rlIP(100))...), "6")
	// Each guessing IP spent one request of its own budget.
	expect(t, e.client().post("/login/", map[string]string{"email": "bystander@example.com", "password": goodPassword}, rlFrom(rlIP(0))...), http.StatusOK, "")

	e.clock.Advance(time.Minute)
	expect(t, e.client().post("/login/", map[string]string{"email": rlVictim, "password": goodPassword}, rlFrom(rlIP(100))...), http.StatusOK, "")
}

// TestRateLimitForwardedFor checks which X-Forwarded-For values count: only
// a trusted peer's, read right to left. The peer is always 127.0.0.1; each
// request names a different account, so only the IP budget (3/min) can
// trip.
func TestRateLimitForwardedFor(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		xff     func(i int) string
		shared  bool // all requests share one IP budget
	}{
		{"no trusted proxy, spoofed XFF", nil, rlIP, true},
		{"peer not in the trusted range", []string{"10.0.0.0/8", "::1/128"}, rlIP, true},
		{"trusted peer, client forges the left part", []string{"127.0.0.1/32"},
			func(i int) string { return rlIP(i) + ", 203.0.113.9" }, true},
		{"trusted peer, forged entries beside a trusted hop", []string{"127.0.0.1", "192.0.2.0/24"},
			func(i int) string { return rlIP(i) + ",203.0.113.9, 192.0.2.1" }, true},
		{"trusted peer, malformed XFF", []string{"127.0.0.1/32"},
			func(i int) string { return fmt.Sprintf("not-an-ip-%d", i) }, true},
		{"trusted peer, one client per IP", []string{"127.0.0.1/32"}, rlIP, false},
		// One IPv6 host commonly holds a whole /64: its addresses share
		// one budget; other /64s have their own.
		{"IPv6 addresses of one /64", []string{"127.0.0.1/32"},
			func(i int) string { return fmt.Sprintf("2001:db8:1:2::%x", i+1) }, true},
		{"IPv6 addresses of different /64s", []string{"127.0.0.1/32"},
			func(i int) string { return fmt.Sprintf("2001:db8:1:%x::1", i+1) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *authsys.Config) {
				c.RateLimits = testLimits(map[string]string{limitLogin: "3/min"})
				c.HTTP.TrustedProxies = tt.trusted
			})
			for i := range 6 {
				r := e.client().post("/login/", map[string]string{"email": fmt.Sprintf("u%d@example.com", i), "password": "not the password"},
					"X-Forwarded-For", tt.xff(i))
				if tt.shared && i >= 3 {
					rlThrottled(t, r, "")
					continue
				}
				expect(t, r, http.StatusUnauthorized, "invalid_credentials")
			}
		})
	}
}

// TestRateLimitTwoFactorBudgetAcrossSessions spends the account's 2FA
// budget (6/min: a burst of 6, then one every 10 s) with wrong codes in one
// pending session until it dies, then in a new one, each guess from a new
// IP: the budget follows the account, so the right code, in that session
// or a fresh one, is refused until budget comes back.
func TestRateLimitTwoFactorBudgetAcrossSessions(t *testing.T) {
	e := rlEnv(t, map[string]string{limitTwoFactor: "6/min"})
	rlAddUser(t, e.store, rlVictim, goodPassword)
	secret := rlEnable2FA(e, rlVictim)
	verify := func(tok, code string, i int) response {
		return e.client().post("/2fa/verify-login/", map[string]string{"session_token": tok, "code": code}, rlFrom(rlIP(i))...)
	}
	first := rlSession(e, rlVictim)
	for i := range 5 {
		expect(t, verify(first, rlWrongCode(e, secret), i), http.StatusBadRequest, "invalid_code")
	}
	// The fifth wrong code destroyed the session; a dead session names no
	// account, so this costs the IP only.
	expect(t, verify(first, rlCode(e, secret), 5), http.StatusUnauthorized, "session_expired")

	second := rlSession(e, rlVictim)
	expect(t, verify(second, rlWrongCode(e, secret), 6), http.StatusBadRequest, "invalid_code") // the 6th
	rlThrottled(t, verify(second, rlCode(e, secret), 7), "10")
	third := rlSession(e, rlVictim)
	rlThrottled(t, verify(third, rlCode(e, secret), 8), "10")

	// Refused by the account's budget: the event names the account.
	victim, err := e.store.UserByEmail(t.Context(), rlVictim)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range e.events.list() {
		if ev.Kind != "throttled" {
			continue
		}
		n++
		if ev.Reason != limitTwoFactor || ev.UserID != victim.ID {
			t.Errorf("got event %+v, want reason %s and user %s", ev, limitTwoFactor, victim.ID)
		}
	}
	if n != 2 {
		t.Errorf("got %d throttled events, want 2", n)
	}

	e.clock.Advance(10 * time.Second)
	expect(t, verify(third, rlCode(e, secret), 9), http.StatusOK, "")
}

// TestRateLimitRefusedRequestLeavesNoTrace refuses a request of each
// limited endpoint, once on the IP budget and once on the account budget,
// and checks that it did nothing else: no hashing (every hashing slot is
// held, so a hash would wait for the deadline and end in 503), no store
// call but the limiter's checks (and, for 2FA by account, the pending
// session lookup that names the account), no new user, no email; and that
// the refusal itself spent nothing: the same request, sent again at the
// same instant, is refused with the same Retry-After.
func TestRateLimitRefusedRequestLeavesNoTrace(t *testing.T) {
	const (
		limiterKeys = "auth:rl:"
		sessionKeys = "auth:pending:"
	)
	for _, ep := range rlEndpoints() {
		for _, by := range []string{"ip", "account"} {
			t.Run(ep.name+"/by_"+by, func(t *testing.T) {
				var spy *rlSpy
				e := rlEnv(t, map[string]string{ep.limit: "2/min"}, rlSpyOn(&spy), func(c *authsys.Config) {
					c.Passwords.MaxConcurrentHashes = 2
					c.HTTP.RequestTimeout = 3 * time.Second
				})
				byIP, byAccount := ep.setup(e)
				req, ip := byIP, func(int) string { return "203.0.113.7" }
				if by == "account" {
					req, ip = byAccount, rlIP
				}
				for i := range 2 {
					if r := req.send(i, ip(i)); r.StatusCode != req.status {
						t.Fatalf("request %d: got status %d, want %d; body %s", i+1, r.StatusCode, req.status, r.body)
					}
				}
				// What the refused request needs beforehand (a pending
				// session) is made now, outside the recorded window.
				send := func() response { return req.send(2, ip(2)) }
				if ep.name == "2fa_verify" && by == "account" {
					tok := rlSession(e, rlVictim)
					send = func() response {
						return e.client().post("/2fa/verify-login/", map[string]string{"session_token": tok, "code": "000000"}, rlFrom(ip(2))...)
					}
				}
				if err := e.auth.Shutdown(t.Context()); err != nil {
					t.Fatal(err)
				}
				mails := e.outbox.Len()
				users, err := e.store.ListUsers(t.Context(), "", "", 1000)
				if err != nil {
					t.Fatal(err)
				}
				release, err := authsys.RLHoldHashSlots(t.Context(), e.auth, 2)
				if err != nil {
					t.Fatal(err)
				}
				spy.take()
				r := send()
				calls := spy.take()
				release()
				// "2/min": a burst of 2, then one every 30 s.
				rlThrottled(t, r, "30")

				checks := 0
				live := map[string]bool{} // keys written and not deleted
				for _, c := range calls {
					method, key, _ := strings.Cut(c, " ")
					switch method {
					case "AllowRate", "IncrPending", "PutPending", "AddPendingIfAbsent":
						live[key] = true
					case "DeletePending", "TakePending":
						delete(live, key)
					}
					switch {
					case method == "AllowRate" && strings.HasPrefix(key, limiterKeys):
						checks++
					case ep.name == "2fa_verify" && by == "account" && strings.HasPrefix(key, sessionKeys) &&
						!strings.HasSuffix(key, ":fails") && method != "IncrPending" && method != "PutPending":
						// finding (and briefly claiming) the session that names the account
					default:
						t.Errorf("refused request made store call %q", c)
					}
				}
				for k := range live {
					if !strings.HasPrefix(k, limiterKeys) {
						t.Errorf("refused request left key %q in the store", k)
					}
				}
				// Refused on the IP budget: one check; on the account's:
				// the IP's and the account's.
				if want := map[string]int{"ip": 1, "account": 2}[by]; checks != want {
					t.Errorf("got %d limiter checks, want %d; calls %q", checks, want, calls)
				}
				// The refusal spent nothing: refused again, with the same
				// Retry-After at the same instant.
				rlThrottled(t, send(), "30")
				if err := e.auth.Shutdown(t.Context()); err != nil {
					t.Fatal(err)
				}
				if got := e.outbox.Len(); got != mails {
					t.Errorf("refused request sent %d emails, want 0", got-mails)
				}
				after, err := e.store.ListUsers(t.Context(), "", "", 1000)
				if err != nil {
					t.Fatal(err)
				}
				if len(after) != len(users) {
					t.Errorf("got %d users after the refused request, want %d", len(after), len(users))
				}
				if _, err := e.store.UserByEmail(t.Context(), "someone2@example.com"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("UserByEmail(someone2@example.com) = %v, want ErrNotFound", err)
				}
			})
		}
	}
}

// TestRateLimitReauthentication checks that an authenticated password check
// (change-password, change-email) spends the account's login budget, so a
// stolen session cannot guess the password without limit.
func TestRateLimitReauthentication(t *testing.T) {
	e := rlEnv(t, map[string]string{limitLogin: "3/min"})
	rlAddUser(t, e.store, rlVictim, goodPassword)
	c := e.loggedIn(rlVictim, goodPassword) // 1 of 3
	expect(t, c.post("/change-password/", map[string]string{"current_password": "guess one", "new_password": "a brand new passphrase"}, rlFrom(rlIP(1))...), http.StatusBadRequest, "")
	expect(t, c.post("/change-email/", map[string]string{"new_email": "new@example.com", "password": "guess two"}, rlFrom(rlIP(2))...), http.StatusBadRequest, "")
	rlThrottled(t, c.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "a brand new passphrase"}, rlFrom(rlIP(3))...), "20")
	rlThrottled(t, e.client().post("/login/", map[string]string{"email": rlVictim, "password": goodPassword}, rlFrom(rlIP(4))...), "20")
	e.clock.Advance(20 * time.Second)
	expect(t, c.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "a brand new passphrase"}, rlFrom(rlIP(5))...), http.StatusOK, "")
}

// TestRateLimitConcurrentBurst races 60 goroutines logging in to one
// account from 60 IPs at once: the limiter check is atomic, so exactly 10
// (the burst) get past the limiter.
func TestRateLimitConcurrentBurst(t *testing.T) {
	e := rlEnv(t, map[string]string{limitLogin: "10/min"})
	rlAddUser(t, e.store, rlVictim, goodPassword)
	rlBurst(t, 60, 10, func(i int) (rlResult, error) {
		return rlPost(t.Context(), e.srv.Client(), e.srv.URL, "/login/", map[string]string{"email": rlVariant(i), "password": "wrong password guess"}, rlIP(i))
	})
}

// rlBurst runs n requests at once and checks that exactly allowed of them
// got past the limiter (any status but 429) and the rest were throttled.
func rlBurst(t *testing.T, n, allowed int, send func(i int) (rlResult, error)) {
	t.Helper()
	results := make([]rlResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = send(i)
		})
	}
	close(start)
	wg.Wait()
	passed := 0
	for i, r := range results {
		switch {
		case errs[i] != nil:
			t.Fatalf("request %d: %v", i, errs[i])
		case r.status == http.StatusTooManyRequests:
			if r.code != "throttled" || r.retryAfter == "" {
				t.Errorf("request %d: got 429 with code %q and Retry-After %q, want throttled and a Retry-After", i, r.code, r.retryAfter)
			}
		case r.status == http.StatusUnauthorized || r.status == http.StatusOK:
			passed++
		default:
			t.Errorf("request %d: got status %d (%s), want 401 or 429", i, r.status, r.code)
		}
	}
	if passed != allowed {
		t.Errorf("got %d requests past the limiter, want %d", passed, allowed)
	}
}

// rlPlainPending hides every method but store.PendingStore's, as an
// application's own PendingStore without store.RateStore would.
type rlPlainPending struct{ store.PendingStore }

// TestRateLimitFixedWindowFallback runs the login limit ("3/min") on a
// PendingStore that does not implement store.RateStore: the limiter falls
// back to fixed windows on IncrPending counters, opened by the first
// request, in which refused requests count too.
func TestRateLimitFixedWindowFallback(t *testing.T) {
	e := rlEnv(t, map[string]string{limitLogin: "3/min"}, func(c *authsys.Config) {
		c.Pending = rlPlainPending{c.Pending}
	})
	login := func() response {
		return e.client().post("/login/", map[string]string{"email": rlVictim, "password": "not the password"}, rlFrom("203.0.113.7")...)
	}
	for range 3 {
		expect(t, login(), http.StatusUnauthorized, "invalid_credentials")
	}
	rlThrottled(t, login(), "60")
	e.clock.Advance(30 * time.Second)
	rlThrottled(t, login(), "30") // the window did not move
	e.clock.Advance(30 * time.Second)
	for range 3 {
		expect(t, login(), http.StatusUnauthorized, "invalid_credentials")
	}
	rlThrottled(t, login(), "60")
}

// TestRateLimitTwoFactorDaily spends the account's daily 2FA budget
// (3/day here) with wrong codes from different IPs and sessions: the next
// code, even the right one, is refused with a Retry-After of hours and an
// event naming the limit and the user, until the budget comes back.
func TestRateLimitTwoFactorDaily(t *testing.T) {
	e := rlEnv(t, map[string]string{limitTwoFactorDaily: "3/day"})
	rlAddUser(t, e.store, rlVictim, goodPassword)
	secret := rlEnable2FA(e, rlVictim) // enabling spends one
	verify := func(tok, code string, i int) response {
		return e.client().post("/2fa/verify-login/", map[string]string{"session_token": tok, "code": code}, rlFrom(rlIP(i))...)
	}
	for i := range 2 {
		expect(t, verify(rlSession(e, rlVictim), rlWrongCode(e, secret), i), http.StatusBadRequest, "invalid_code")
	}
	r := verify(rlSession(e, rlVictim), rlCode(e, secret), 3)
	rlThrottled(t, r, "")
	// One code every 8 hours comes back; the fake clock has moved a little.
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 7*3600 || ra > 8*3600 {
		t.Errorf("got Retry-After %q, want 7 to 8 hours", r.Header.Get("Retry-After"))
	}
	victim, err := e.store.UserByEmail(t.Context(), rlVictim)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range e.events.list() {
		if ev.Kind == "throttled" && ev.Reason == limitTwoFactorDaily && ev.UserID == victim.ID {
			found = true
		}
	}
	if !found {
		t.Errorf("no throttled event with reason %s for the user", limitTwoFactorDaily)
	}
	e.clock.Advance(8 * time.Hour)
	expect(t, verify(rlSession(e, rlVictim), rlCode(e, secret), 4), http.StatusOK, "")
}

// rlLoginMix is the i-th login of a flood: the right password, a wrong one,
// or an unknown email, in turn; every one costs one hash.
func rlLoginMix(i int) map[string]string {
	switch i % 3 {
	case 0:
		return map[string]string{"email": rlVictim, "password": goodPassword}
	case 1:
		return map[string]string{"email": rlVictim, "password": fmt.Sprintf("wrong password %d", i)}
	default:
		return map[string]string{"email": fmt.Sprintf("nobody%d@example.com", i), "password": goodPassword}
	}
}

// TestRateLimitHashConcurrencyBounded floods 200 concurrent logins through
// an Auth with MaxConcurrentHashes n: all are answered (they wait for a
// slot within the deadline) and never more than n hashes run at once.
func TestRateLimitHashConcurrencyBounded(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("MaxConcurrentHashes=%d", n), func(t *testing.T) {
			e := newEnv(t, func(c *authsys.Config) { c.Passwords.MaxConcurrentHashes = n })
			rlAddUser(t, e.store, rlVictim, goodPassword)
			const logins = 200
			results := make([]rlResult, logins)
			errs := make([]error, logins)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range logins {
				wg.Go(func() {
					<-start
					results[i], errs[i] = rlPost(t.Context(), e.srv.Client(), e.srv.URL, "/login/", rlLoginMix(i), "")
				})
			}
			close(start)
			wg.Wait()
			for i, r := range results {
				want := http.StatusUnauthorized
				if i%3 == 0 {
					want = http.StatusOK
				}
				if errs[i] != nil || r.status != want {
					t.Errorf("login %d: got %d %q, %v; want %d", i, r.status, r.code, errs[i], want)
				}
			}
			inFlight, peak := authsys.RLHashStats(e.auth)
			if peak < 1 || peak > n {
				t.Errorf("got a peak of %d hashes at once, want 1 to %d", peak, n)
			}
			if inFlight != 0 {
				t.Errorf("got %d hashes still running after every response, want 0", inFlight)
			}
			t.Logf("peak %d of %d", peak, n)
		})
	}
}

// TestRateLimitHashBusy fills every hashing slot and sends requests that
// must hash (logins, known and unknown, and signups): each waits until
// RequestTimeout and gets 503 service_unavailable with Retry-After, and a
// signup refused so creates no user. Once the slots free, logins work.
func TestRateLimitHashBusy(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) {
		c.Passwords.MaxConcurrentHashes = 2
		c.HTTP.RequestTimeout = 300 * time.Millisecond
	})
	rlAddUser(t, e.store, rlVictim, goodPassword)
	release, err := authsys.RLHoldHashSlots(t.Context(), e.auth, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	const n = 24
	results := make([]rlResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			path, body := "/login/", rlLoginMix(i)
			if i%4 == 3 {
				path, body = "/signup/", map[string]string{"email": fmt.Sprintf("new%d@example.com", i), "password": goodPassword}
			}
			results[i], errs[i] = rlPost(t.Context(), e.srv.Client(), e.srv.URL, path, body, "")
		})
	}
	wg.Wait()
	for i, r := range results {
		if errs[i] != nil || r.status != http.StatusServiceUnavailable || r.code != "service_unavailable" || r.retryAfter == "" {
			t.Errorf("request %d: got %d %q Retry-After %q, %v; want 503 service_unavailable with Retry-After", i, r.status, r.code, r.retryAfter, errs[i])
		}
		if i%4 == 3 {
			if _, err := e.store.UserByEmail(t.Context(), fmt.Sprintf("new%d@example.com", i)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("signup %d answered 503 but UserByEmail = %v, want ErrNotFound", i, err)
			}
		}
	}
	if inFlight, _ := authsys.RLHashStats(e.auth); inFlight != 2 {
		t.Errorf("got %d slots in use, want the 2 held", inFlight)
	}

	release()
	expect(t, e.client().post("/login/", rlLoginMix(0)), http.StatusOK, "")
}

// rlRedisStores is testenv.RedisStores.
func rlRedisStores(tb testing.TB, n int) []*redis.Store {
	tb.Helper()
	return testenv.RedisStores(tb, n)
}

// rlRedisEnvs returns n envs (application instances) with one user store
// and one Redis database between them, 127.0.0.1 trusted as a proxy.
func rlRedisEnvs(t *testing.T, n int, limits map[string]string) ([]*env, store.UserStore) {
	t.Helper()
	users := memory.New()
	var envs []*env
	for _, ps := range rlRedisStores(t, n) {
		envs = append(envs, rlEnv(t, limits, func(c *authsys.Config) {
			c.Users, c.Pending = users, ps
		}))
	}
	return envs, users
}

// TestRateLimitRedisSharedBudget splits 10 logins between two Auth
// instances on one Redis (GCRA in Redis, 10/min: a burst of 10): the 11th,
// on either, is refused until one request comes back, 6 s later. By
// account, each login comes from a new IP; by IP, each names a new
// account.
func TestRateLimitRedisSharedBudget(t *testing.T) {
	for _, by := range []string{"ip", "account"} {
		t.Run("by_"+by, func(t *testing.T) {
			envs, users := rlRedisEnvs(t, 2, map[string]string{limitLogin: "10/min"})
			rlAddUser(t, users, rlVictim, goodPassword)
			login := func(e *env, i int) response {
				email, ip := fmt.Sprintf("nobody%d@example.com", i), "203.0.113.7"
				if by == "account" {
					email, ip = rlVariant(i), rlIP(i)
				}
				return e.client().post("/login/", map[string]string{"email": email, "password": "not the password"}, rlFrom(ip)...)
			}
			for i := range 10 {
				expect(t, login(envs[i%2], i), http.StatusUnauthorized, "invalid_credentials")
			}
			for i := 10; i < 14; i++ {
				r := login(envs[i%2], i)
				rlThrottled(t, r, "")
				// At most one interval, however slow the machine.
				if secs, _ := strconv.Atoi(r.Header.Get("Retry-After")); secs > 6 {
					t.Errorf("request %d: got Retry-After %q, want at most 6", i+1, r.Header.Get("Retry-After"))
				}
			}
		})
	}
}

// TestRateLimitRedisConcurrentBurst races 40 logins to one account across
// two instances: exactly the budget of 10 gets through.
func TestRateLimitRedisConcurrentBurst(t *testing.T) {
	envs, users := rlRedisEnvs(t, 2, map[string]string{limitLogin: "10/min"})
	rlAddUser(t, users, rlVictim, goodPassword)
	rlBurst(t, 40, 10, func(i int) (rlResult, error) {
		e := envs[i%2]
		return rlPost(t.Context(), e.srv.Client(), e.srv.URL, "/login/", map[string]string{"email": rlVariant(i), "password": "wrong password guess"}, rlIP(i))
	})
}

// TestRateLimitRedisRecovers trips "3/3s" (a burst of 3, then one
// request a second) on real Redis and waits out the Retry-After: budget
// comes back. Should the machine be so slow that a real second passes
// before the 4th request, budget legitimately came back; the attempt is
// then repeated rather than failed.
func TestRateLimitRedisRecovers(t *testing.T) {
	envs, _ := rlRedisEnvs(t, 1, map[string]string{limitLogin: "3/3s"})
	e := envs[0]
	for attempt := 0; ; attempt++ {
		ip, email := rlIP(attempt), fmt.Sprintf("attempt%d@example.com", attempt)
		login := func() response {
			return e.client().post("/login/", map[string]string{"email": email, "password": "not the password"}, rlFrom(ip)...)
		}
		start := time.Now()
		for range 3 {
			expect(t, login(), http.StatusUnauthorized, "invalid_credentials")
		}
		r := login()
		if r.StatusCode != http.StatusTooManyRequests {
			if time.Since(start) >= time.Second && attempt < 5 {
				t.Logf("attempt %d: budget came back before the 4th request; again", attempt)
				continue
			}
			t.Fatalf("4th request within a second: got status %d, want 429; body %s", r.StatusCode, r.body)
		}
		rlThrottled(t, r, "1")
		secs, _ := strconv.Atoi(r.Header.Get("Retry-After"))
		// Retry-After is rounded up to whole seconds; the slack covers the
		// account's state, moved on a moment after the IP's.
		time.Sleep(time.Duration(secs)*time.Second + 50*time.Millisecond)
		expect(t, login(), http.StatusUnauthorized, "invalid_credentials")
		return
	}
}

// TestRateLimitUnixSocketProxy serves the API on a real Unix socket, as
// behind a reverse proxy connected that way, where requests carry no
// client IP of their own. With "unix" in TrustedProxies, X-Forwarded-For
// names the client and each has its own budget; without it, there is no
// IP budget at all (only the accounts'), rather than one budget shared by
// every client, which one of them could exhaust for all.
func TestRateLimitUnixSocketProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		xff     func(i int) string
		limited int // requests refused out of 6
	}{
		{"unix trusted, one client", []string{"unix"}, func(int) string { return "203.0.113.7" }, 3},
		{"unix trusted, six clients", []string{"unix"}, func(i int) string { return rlIP(i) }, 0},
		{"unix not trusted", nil, func(i int) string { return rlIP(i) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *authsys.Config) {
				c.RateLimits = testLimits(map[string]string{limitLogin: "3/min"})
				c.HTTP.TrustedProxies = tc.trusted
			})
			sock := filepath.Join(t.TempDir(), "auth.sock")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: e.srv.Config.Handler}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", sock)
			}}}
			limited := 0
			for i := range 6 {
				body := fmt.Sprintf(`{"email":"u%d@example.com","password":"not the password"}`, i)
				req, _ := http.NewRequest(http.MethodPost, "http://unix/api/auth/login/", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", tc.xff(i))
				res, _, err := e.harnessSend(hc, req, []byte(body))
				if err != nil {
					t.Fatal(err)
				}
				switch res.StatusCode {
				case http.StatusTooManyRequests:
					limited++
				case http.StatusUnauthorized:
				default:
					t.Fatalf("login %d: got %d, want 401 or 429", i, res.StatusCode)
				}
			}
			if limited != tc.limited {
				t.Errorf("got %d of 6 logins throttled, want %d", limited, tc.limited)
			}
		})
	}
}

// rlBench is an Auth served in-process (no network), on a memory store
// with a fake clock, 127.0.0.1 trusted as a proxy.
type rlBench struct {
	h     http.Handler
	auth  *authsys.Auth
	clock *authtest.Clock
	store *memory.Store
}

func newRLBench(b *testing.B, mutate func(*authsys.Config)) *rlBench {
	b.Helper()
	rb := &rlBench{clock: newClock()}
	rb.store = memory.New(memory.WithClock(rb.clock.Now))
	params := cheapParams
	cfg := authsys.Config{
		Keys:      authsys.Keys{Signing: authsys.Key{Secret: testKey}},
		Users:     rb.store,
		Pending:   rb.store,
		Mailer:    &mail.Outbox{},
		Links:     authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:      authsys.Mail{From: "noreply@example.com"},
		Now:       rb.clock.Now,
		Passwords: authsys.Passwords{Params: params},
		Logger:    discardLogger(),
		HTTP:      authsys.HTTP{TrustedProxies: []string{"127.0.0.1/32"}},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := authsys.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	rb.auth, rb.h = a, a.Handler()
	return rb
}

// addUser creates an active user whose hash has the Auth's params.
func (rb *rlBench) addUser(b *testing.B, email string, params authsys.PasswordParams) {
	b.Helper()
	hash, err := password.NewHasher(password.Params(params), 1).Hash(b.Context(), goodPassword)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := rb.store.CreateUser(b.Context(), authsys.User{Email: email, PasswordHash: hash, IsActive: true, EmailVerified: true}); err != nil {
		b.Fatal(err)
	}
}

// login serves one login from client ip and returns its status.
func (rb *rlBench) login(email, pw, ip string) int {
	req := httptest.NewRequest(http.MethodPost, "/login/", strings.NewReader(`{"email":"`+email+`","password":"`+pw+`"}`))
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	w := httptest.NewRecorder()
	rb.h.ServeHTTP(w, req)
	return w.Code
}

// BenchmarkLimiterCheck measures one limiter check (one GCRA AllowRate:
// an atomic read-modify-write, a Lua script on Redis) on the stores an
// application uses: memory and Redis, from one goroutine and from many.
func BenchmarkLimiterCheck(b *testing.B) {
	rate := ratelimit.Rate{N: 1 << 30, Per: time.Hour}
	run := func(b *testing.B, l *ratelimit.Limiter, parallel bool) {
		if !parallel {
			for b.Loop() {
				if _, _, err := l.Allow(b.Context(), "login:ip:203.0.113.7", rate); err != nil {
					b.Fatal(err)
				}
			}
			return
		}
		var id atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			key := fmt.Sprintf("login:ip:10.0.0.%d", id.Add(1))
			for pb.Next() {
				if _, _, err := l.Allow(b.Context(), key, rate); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for _, parallel := range []bool{false, true} {
		suffix := map[bool]string{false: "", true: "_parallel"}[parallel]
		b.Run("memory"+suffix, func(b *testing.B) {
			run(b, ratelimit.New(memory.New(), "auth:rl:"), parallel)
		})
		b.Run("redis"+suffix, func(b *testing.B) {
			run(b, ratelimit.New(rlRedisStores(b, 1)[0], "auth:rl:"), parallel)
		})
	}
}

// BenchmarkLoginFlood measures logins while a flood of throttled ones runs.
//
//   - refused: the cost of one throttled login (what each request of a
//     flood costs the server once its IP's budget is spent);
//   - legit_alone / legit_under_flood: a real login (right password, a new
//     client IP each time) without and with GOMAXPROCS goroutines flooding
//     the same Auth with guesses at another account from one IP. The fake
//     clock moves a minute on every 10 logins, which gives the legitimate
//     account its whole burst (10/min) back, so its budget never runs out
//     (the flood's IP then gets 10 more guesses, each a hash, as it would
//     in real time).
func BenchmarkLoginFlood(b *testing.B) {
	limits := map[string]string{limitLogin: "10/min"}
	b.Run("refused", func(b *testing.B) {
		rb := newRLBench(b, func(c *authsys.Config) { c.RateLimits = testLimits(limits) })
		for range 10 {
			rb.login("nobody@example.com", "wrong password", "203.0.113.66")
		}
		b.ReportAllocs()
		for b.Loop() {
			if code := rb.login("nobody@example.com", "wrong password", "203.0.113.66"); code != http.StatusTooManyRequests {
				b.Fatalf("got status %d, want 429", code)
			}
		}
	})
	for _, flood := range []bool{false, true} {
		b.Run(map[bool]string{false: "legit_alone", true: "legit_under_flood"}[flood], func(b *testing.B) {
			rb := newRLBench(b, func(c *authsys.Config) { c.RateLimits = testLimits(limits) })
			rb.addUser(b, rlVictim, cheapParams)
			var (
				stop    atomic.Bool
				wg      sync.WaitGroup
				flooded atomic.Int64
			)
			if flood {
				for range runtime.GOMAXPROCS(0) {
					wg.Go(func() {
						for !stop.Load() {
							rb.login("target@example.com", "a guess", "203.0.113.66")
							flooded.Add(1)
						}
					})
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i%10 == 0 {
					rb.clock.Advance(time.Minute)
				}
				code := rb.login(rlVictim, goodPassword, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
				if code != http.StatusOK {
					b.Fatalf("got status %d, want 200", code)
				}
				i++
			}
			stop.Store(true)
			wg.Wait()
			if flood {
				b.ReportMetric(float64(flooded.Load())/float64(b.N), "flood-req/op")
			}
		})
	}
}

// BenchmarkLoginPeakHeap sends n concurrent logins (right password, wrong
// password and unknown email in turn) to an Auth with the production
// argon2id parameters (19 MiB, t=2) and MaxConcurrentHashes = GOMAXPROCS,
// and reports the peak heap (live and not yet swept objects, sampled every
// 200µs) above the heap before the flood. With hashing bounded it stays
// near GOMAXPROCS × 19 MiB (plus what the GC lets accumulate between
// cycles) for 50 logins and 500 alike; without the bound it would grow
// with n. RequestTimeout is raised so that every login hashes.
func BenchmarkLoginPeakHeap(b *testing.B) {
	params := authsys.DefaultPasswordParams()
	for _, n := range []int{50, 500} {
		b.Run(fmt.Sprintf("concurrent=%d", n), func(b *testing.B) {
			rb := newRLBench(b, func(c *authsys.Config) {
				c.Passwords.Params = params
				c.HTTP.RequestTimeout = time.Hour
				c.RateLimits = testLimits(map[string]string{})
			})
			rb.addUser(b, rlVictim, params)
			sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
			heap := func() uint64 {
				metrics.Read(sample)
				return sample[0].Value.Uint64()
			}
			var peak, base uint64
			for b.Loop() {
				runtime.GC()
				base = heap()
				done := make(chan struct{})
				sampled := make(chan uint64)
				go func() {
					top := heap()
					t := time.NewTicker(200 * time.Microsecond)
					defer t.Stop()
					for {
						select {
						case <-done:
							sampled <- top
							return
						case <-t.C:
							top = max(top, heap())
						}
					}
				}()
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						body := rlLoginMix(i)
						code := rb.login(body["email"], body["password"], rlIP(i))
						if code != http.StatusOK && code != http.StatusUnauthorized {
							b.Errorf("login %d: got status %d, want 200 or 401", i, code)
						}
					})
				}
				wg.Wait()
				close(done)
				if p := <-sampled; p-base > peak {
					peak = p - base
				}
			}
			_, hashes := authsys.RLHashStats(rb.auth)
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(hashes), "max-hashes")
			b.ReportMetric(float64(hashes)*float64(params.Memory)/1024, "hashes×m-MiB")
		})
	}
}

// TestRateLimitTwoFactorDailyDefault checks the documented default of the
// daily 2FA budget: 50 codes a day per account (the hour rlEnable2FA
// lets pass gives back the code enabling spent), then one every 24h/50,
// about 29 minutes.
func TestRateLimitTwoFactorDailyDefault(t *testing.T) {
	off := authsys.Rate{Off: true}
	e := newEnv(t, func(c *authsys.Config) {
		c.RateLimits = authsys.RateLimits{Login: off, Signup: off, PasswordReset: off, TwoFactor: off, Refresh: off}
		c.HTTP.TrustedProxies = []string{"127.0.0.1"}
	})
	rlAddUser(t, e.store, rlVictim, goodPassword)
	secret := rlEnable2FA(e, rlVictim)
	verify := func(i int) response {
		return e.client().post("/2fa/verify-login/", map[string]string{"session_token": rlSession(e, rlVictim), "code": rlWrongCode(e, secret)}, rlFrom(rlIP(i))...)
	}
	for i := range 50 {
		expect(t, verify(i), http.StatusBadRequest, "invalid_code")
	}
	r := verify(50)
	rlThrottled(t, r, "")
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 25*60 || ra > 29*60 {
		t.Errorf("got Retry-After %q, want about 29 minutes (24 h / 50)", r.Header.Get("Retry-After"))
	}
}

// TestRateLimitMailDaily: each kind of mail to one address is capped per
// day (10 by default), on top of the per-minute limits of the requests:
// past the cap the answer is unchanged (it tells nothing) but no mail
// goes, a throttled event says why, and the next day mails go again.
func TestRateLimitMailDaily(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) { c.RateLimits = authsys.RateLimits{} }) // the defaults
	e.signupVerified("flood@example.com", goodPassword)
	resets := func() int { return len(coreMails(e, "flood@example.com", mail.KindPasswordReset)) }
	for i := range 15 {
		e.clock.Advance(13 * time.Second) // within the 5/min of the reset requests
		expect(t, e.client().post("/password-reset/", map[string]string{"email": "flood@example.com"}), http.StatusOK, "")
		if i == 9 && resets() != 10 {
			t.Fatalf("got %d reset mails after 10 requests, want 10", resets())
		}
	}
	if got := resets(); got != 10 {
		t.Fatalf("got %d reset mails after 15 requests, want the cap, 10", got)
	}
	found := false
	for _, ev := range e.events.list() {
		found = found || (ev.Kind == "throttled" && ev.Reason == limitMailDaily && ev.UserID == coreUser(e, "flood@example.com").ID)
	}
	if !found {
		t.Error("no throttled event with reason mail_daily")
	}
	e.clock.Advance(24 * time.Hour)
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "flood@example.com"}), http.StatusOK, "")
	if got := resets(); got != 11 {
		t.Fatalf("the next day: got %d reset mails, want 11", got)
	}
}
