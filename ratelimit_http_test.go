package authsys_test

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/store"
)

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
	e.events.mu.Lock()
	n := 0
	for _, ev := range e.events.ev {
		if ev.Kind != "throttled" {
			continue
		}
		n++
		if ev.Reason != limitTwoFactor || ev.UserID != victim.ID {
			t.Errorf("got event %+v, want reason %s and user %s", ev, limitTwoFactor, victim.ID)
		}
	}
	e.events.mu.Unlock()
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
	e.events.mu.Lock()
	for _, ev := range e.events.ev {
		if ev.Kind == "throttled" && ev.Reason == limitTwoFactorDaily && ev.UserID == victim.ID {
			found = true
		}
	}
	e.events.mu.Unlock()
	if !found {
		t.Errorf("no throttled event with reason %s for the user", limitTwoFactorDaily)
	}
	e.clock.Advance(8 * time.Hour)
	expect(t, verify(rlSession(e, rlVictim), rlCode(e, secret), 4), http.StatusOK, "")
}
