package authsys_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/internal/password"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
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

// rlSpy is a memory store that records every call made through it as
// "Method key" (the email for UserByEmail and CreateUser, the ID for
// UserByID and UpdateUser). Like the memory store it is a store.RateStore,
// so the limiter uses GCRA (AllowRate) on it.
type rlSpy struct {
	*memory.Store
	mu    sync.Mutex
	calls []string
}

// rlSpyOn returns a Config mutation that puts a spy around the env's memory
// store, as both Users and Pending, and stores the spy in *spy.
func rlSpyOn(spy **rlSpy) func(*authsys.Config) {
	return func(c *authsys.Config) {
		*spy = &rlSpy{Store: c.Users.(*memory.Store)}
		c.Users, c.Pending = *spy, *spy
	}
}

func (s *rlSpy) rec(method, key string) {
	s.mu.Lock()
	s.calls = append(s.calls, method+" "+key)
	s.mu.Unlock()
}

// take returns the calls recorded since the last take.
func (s *rlSpy) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

func (s *rlSpy) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	s.rec("CreateUser", u.Email)
	return s.Store.CreateUser(ctx, u)
}

func (s *rlSpy) UserByID(ctx context.Context, id string) (store.User, error) {
	s.rec("UserByID", id)
	return s.Store.UserByID(ctx, id)
}

func (s *rlSpy) UserByEmail(ctx context.Context, email string) (store.User, error) {
	s.rec("UserByEmail", email)
	return s.Store.UserByEmail(ctx, email)
}

func (s *rlSpy) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	s.rec("UpdateUser", id)
	return s.Store.UpdateUser(ctx, id, fn)
}

func (s *rlSpy) PutPending(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.rec("PutPending", key)
	return s.Store.PutPending(ctx, key, value, ttl)
}

func (s *rlSpy) AddPendingIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	s.rec("AddPendingIfAbsent", key)
	return s.Store.AddPendingIfAbsent(ctx, key, value, ttl)
}

func (s *rlSpy) GetPending(ctx context.Context, key string) ([]byte, error) {
	s.rec("GetPending", key)
	return s.Store.GetPending(ctx, key)
}

func (s *rlSpy) TakePending(ctx context.Context, key string) ([]byte, error) {
	s.rec("TakePending", key)
	return s.Store.TakePending(ctx, key)
}

func (s *rlSpy) DeletePending(ctx context.Context, key string) error {
	s.rec("DeletePending", key)
	return s.Store.DeletePending(ctx, key)
}

func (s *rlSpy) AllowRate(ctx context.Context, key string, interval time.Duration, burst int) (bool, time.Duration, error) {
	s.rec("AllowRate", key)
	return s.Store.AllowRate(ctx, key, interval, burst)
}

func (s *rlSpy) IncrPending(ctx context.Context, key string, ttl time.Duration) (int64, time.Duration, error) {
	s.rec("IncrPending", key)
	return s.Store.IncrPending(ctx, key, ttl)
}
