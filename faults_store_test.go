package authsys_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/postgres"
	"github.com/authsys-go/authsys/store/redis"
)

// fltTimeout is the RequestTimeout of the fault tests: short, so that a
// hung dependency costs little; the assertions never depend on it.
const fltTimeout = 300 * time.Millisecond

// fltCall is one request made during an outage, and what it must answer.
type fltCall struct {
	name string
	do   func(c *client) response
	// ok is true when the request does not need the failed dependency and
	// must still succeed (200 or 201).
	ok bool
}

// fltCalls returns the requests to make while the users store (users ==
// true) or the pending store is down. c carries valid cookies; fresh is an
// email that has no account. checkRevoked is Config.CheckRevokedSessions:
// with it, authenticated requests read the pending store too.
func fltCalls(usersDown, checkRevoked bool, email, fresh string) []fltCall {
	authOK := !usersDown && !checkRevoked
	post := func(path string, body any) func(*client) response {
		return func(c *client) response { return c.post(path, body) }
	}
	get := func(path string) func(*client) response {
		return func(c *client) response { return c.get(path) }
	}
	calls := []fltCall{
		{name: "middleware", do: func(c *client) response { return c.do(http.MethodGet, "/api/private", nil) }, ok: authOK},
		{name: "me", do: get("/me/"), ok: authOK},
		{name: "login", do: post("/login/", map[string]string{"email": email, "password": goodPassword})},
		{name: "signup", do: post("/signup/", map[string]string{"email": fresh, "password": goodPassword})},
		{name: "password reset", do: post("/password-reset/", map[string]string{"email": email})},
		{name: "resend verification", do: post("/verify-account/resend/", map[string]string{"email": email})},
		{name: "refresh", do: post("/refresh/", nil)},
		{name: "logout", do: post("/logout/", nil)},
	}
	if !usersDown {
		calls = append(calls,
			fltCall{name: "2fa verify-login", do: post("/2fa/verify-login/", map[string]string{"session_token": "AAAAAAAAAAAAAAAAAAAAAA", "code": "123456"})},
		)
	} else {
		calls = append(calls,
			fltCall{name: "logout-all", do: post("/logout-all/", nil)},
			fltCall{name: "change password", do: post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "another long passphrase"})},
			fltCall{name: "verify account", do: get("/verify-account/?uid=0123456789abcdef&token=x")},
		)
	}
	return calls
}

// fltCheckCalls makes every call with the cookies of c and checks its
// answer: 503 with Retry-After and untouched cookies when the call needs
// the failed dependency, success otherwise.
func fltCheckCalls(t *testing.T, c *client, calls []fltCall) {
	t.Helper()
	for _, call := range calls {
		r := call.do(c)
		if call.ok {
			if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusCreated {
				t.Errorf("%s: got status %d, want success (it does not need the failed store); body %s", call.name, r.StatusCode, r.body)
			}
			continue
		}
		if r.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s: got status %d, want 503; body %s", call.name, r.StatusCode, r.body)
			continue
		}
		t.Run(call.name, func(t *testing.T) { bkExpectUnavailable(t, r) })
	}
}

// fltDeadRedis returns a Redis store whose client points at addr, where
// no Redis answers. No Redis server is needed. The client has no read or
// write timeouts of its own: only the request's deadline bounds a call.
func fltDeadRedis(t *testing.T, addr string, ctxTimeout bool) *redis.Store {
	c := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: ctxTimeout, MaxRetries: -1,
		DialTimeout: time.Hour, ReadTimeout: -1, WriteTimeout: -1})
	t.Cleanup(func() { _ = c.Close() })
	return redis.New(c)
}

// fltDeadPostgres returns a Postgres store on a pool pointing at addr,
// where no PostgreSQL answers. No PostgreSQL server is needed. The pool has
// no connect timeout: only the request's deadline bounds a call.
func fltDeadPostgres(t *testing.T, addr string) *postgres.Store {
	pool, err := pgxpool.New(t.Context(), "postgres://postgres@"+addr+"/test?sslmode=disable")
	if err != nil {
		t.Fatalf("pgxpool.New: %v", err)
	}
	t.Cleanup(pool.Close)
	return postgres.New(pool)
}

// TestFaultsDeadDependency builds an Auth whose Redis pending store or
// Postgres user store sits at a closed port or behind a listener that
// never answers, and proves that every request needing it answers 503
// service_unavailable with Retry-After and no cookie change, that requests
// not needing it still work, and that nothing is half-written. The valid
// cookies come from a healthy Auth with the same key.
func TestFaultsDeadDependency(t *testing.T) {
	cases := []struct {
		name      string
		usersDown bool
		store     func(t *testing.T) any
	}{
		{"redis closed port", false, func(t *testing.T) any { return fltDeadRedis(t, bkClosedAddr(t), true) }},
		{"redis unresponsive", false, func(t *testing.T) any { return fltDeadRedis(t, bkSilentAddr(t), true) }},
		{"redis unresponsive, client without context timeouts", false, func(t *testing.T) any { return fltDeadRedis(t, bkSilentAddr(t), false) }},
		{"postgres closed port", true, func(t *testing.T) any { return fltDeadPostgres(t, bkClosedAddr(t)) }},
		{"postgres unresponsive", true, func(t *testing.T) any { return fltDeadPostgres(t, bkSilentAddr(t)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			healthy := newEnv(t)
			healthy.signupVerified("alice@example.com", goodPassword)
			good := healthy.loggedIn("alice@example.com", goodPassword)

			dead := tc.store(t)
			sick := newEnv(t, func(c *authsys.Config) {
				if tc.usersDown {
					c.Users = dead.(authsys.UserStore)
				} else {
					c.Users = healthy.store
					c.Pending = dead.(authsys.PendingStore)
				}
				c.RateLimits = authsys.RateLimits{} // the defaults: limits touch the pending store
				c.HTTP.RequestTimeout = fltTimeout
			})
			c := sick.client()
			c.setCookie("access_token", good.accessCookie(), "/")
			c.setCookie("refresh_token", good.refreshCookie(), "/api/auth/")
			// The default CheckRevokedSessions: authenticated requests
			// need the pending store too.
			fltCheckCalls(t, c, fltCalls(tc.usersDown, true, "alice@example.com", "bob@example.com"))

			// Fail closed: a bad token is still refused outright, an
			// outage never lets a request through.
			bad := sick.client()
			bad.setCookie("access_token", "not-a-token", "/")
			expect(t, bad.do(http.MethodGet, "/api/private", nil), http.StatusUnauthorized, "invalid_token")
			none := sick.client()
			expect(t, none.do(http.MethodGet, "/api/private", nil), http.StatusUnauthorized, "not_authenticated")

			if !tc.usersDown {
				// Nothing half-written: the refused signup created no
				// account, and the cookies still work on the healthy Auth.
				if _, err := healthy.store.UserByEmail(t.Context(), "bob@example.com"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("signup during the outage: got UserByEmail error %v, want ErrNotFound", err)
				}
			}
			expect(t, good.get("/me/"), http.StatusOK, "")
			expect(t, good.post("/refresh/", nil), http.StatusOK, "")
		})
	}
}

// TestFaultsHungDependencyManyRequests fires many concurrent requests at an
// Auth whose dependencies never answer: each must come back with 503
// within its deadline instead of pinning a goroutine forever (the client
// gives up only after 30 seconds, which fails the test). The dead clients
// have no timeouts of their own: Config.RequestTimeout alone bounds them.
func TestFaultsHungDependencyManyRequests(t *testing.T) {
	healthy := newEnv(t)
	healthy.signupVerified("alice@example.com", goodPassword)
	good := healthy.loggedIn("alice@example.com", goodPassword)
	sick := newEnv(t, func(c *authsys.Config) {
		c.Users = fltDeadPostgres(t, bkSilentAddr(t))
		c.Pending = fltDeadRedis(t, bkSilentAddr(t), false)
		c.RateLimits = authsys.RateLimits{}
		c.HTTP.RequestTimeout = fltTimeout
	})
	hc := &http.Client{Timeout: 30 * time.Second}
	paths := []struct{ method, path, body string }{
		{http.MethodGet, "/api/private", ""},
		{http.MethodGet, "/api/auth/me/", ""},
		{http.MethodPost, "/api/auth/refresh/", ""},
		{http.MethodPost, "/api/auth/login/", `{"email":"alice@example.com","password":"x"}`},
	}
	const perPath = 8
	access, refresh := good.accessCookie(), good.refreshCookie()
	var wg sync.WaitGroup
	errs := make(chan error, perPath*len(paths))
	for range perPath {
		for _, p := range paths {
			wg.Go(func() {
				req, err := http.NewRequestWithContext(t.Context(), p.method, sick.srv.URL+p.path, nil)
				if p.body != "" {
					req, err = http.NewRequestWithContext(t.Context(), p.method, sick.srv.URL+p.path, strings.NewReader(p.body))
					req.Header.Set("Content-Type", "application/json")
				}
				if err != nil {
					errs <- err
					return
				}
				req.AddCookie(&http.Cookie{Name: "access_token", Value: access})
				req.AddCookie(&http.Cookie{Name: "refresh_token", Value: refresh})
				res, _, err := sick.harnessSend(hc, req, []byte(p.body))
				if err != nil {
					errs <- fmt.Errorf("%s %s: %w", p.method, p.path, err)
					return
				}
				if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
					errs <- fmt.Errorf("%s %s: got %d (Retry-After %q), want 503 with Retry-After", p.method, p.path, res.StatusCode, res.Header.Get("Retry-After"))
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFaultsDependencyStopsAndReturns runs an Auth on the real Redis and
// PostgreSQL through proxies, then stops or freezes one of them: requests
// needing it answer 503 with the cookies kept; once it is back, the same
// cookies work (an outage is not a logout) and nothing attempted during
// the outage was half-written.
func TestFaultsDependencyStopsAndReturns(t *testing.T) {
	bkRedisURL(t)
	bkPostgresURL(t)
	cases := []struct {
		name      string
		usersDown bool
		mode      bkMode
	}{
		{"redis stopped", false, bkDown},
		{"redis hung", false, bkHang},
		{"postgres stopped", true, bkDown},
		{"postgres hung", true, bkHang},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rproxy := bkNewProxy(t, bkRedisClient(t, "").Options().Addr)
			direct := bkPostgresPool(t, "")
			pproxy := bkNewProxy(t, net.JoinHostPort(direct.Config().ConnConfig.Host, strconv.Itoa(int(direct.Config().ConnConfig.Port))))
			users := postgres.New(bkPostgresPool(t, pproxy.addr()), postgres.WithSchema(bkPostgresSchema(t, direct)))
			pending := bkRedisStore(t, bkRedisClient(t, rproxy.addr()))
			e := newEnv(t, func(c *authsys.Config) {
				c.Users = users
				c.Pending = pending
				c.RateLimits = testLimits(map[string]string{limitLogin: "1000/min", limitSignup: "1000/min", limitPasswordReset: "1000/min"})
				c.HTTP.RequestTimeout = fltTimeout
				// Without the revocation check, authenticated requests
				// need the user store only and ride out a Redis outage.
				c.Sessions.StatelessAccessTokens = !false
			})
			e.signupVerified("alice@example.com", goodPassword)
			c := e.loggedIn("alice@example.com", goodPassword)
			access, refresh := c.accessCookie(), c.refreshCookie()

			proxy := rproxy
			if tc.usersDown {
				proxy = pproxy
			}
			proxy.set(tc.mode)
			fltCheckCalls(t, c, fltCalls(tc.usersDown, false, "alice@example.com", "bob@example.com"))
			if got := c.accessCookie(); got != access {
				t.Errorf("the outage changed the access cookie")
			}
			if got := c.refreshCookie(); got != refresh {
				t.Errorf("the outage changed the refresh cookie")
			}

			proxy.set(bkUp)
			bkWaitHealthy(t, func(ctx context.Context) error {
				if _, err := users.UserByEmail(ctx, "alice@example.com"); err != nil {
					return err
				}
				_, err := pending.GetPending(ctx, "probe")
				if errors.Is(err, store.ErrNotFound) {
					err = nil
				}
				return err
			})
			expect(t, c.get("/me/"), http.StatusOK, "")
			expect(t, c.post("/refresh/", nil), http.StatusOK, "")
			expect(t, c.do(http.MethodGet, "/api/private", nil), http.StatusOK, "")
			// Nothing half-written: no account for the refused signup,
			// the password unchanged, the session alive.
			if _, err := users.UserByEmail(t.Context(), "bob@example.com"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("signup during the outage: got UserByEmail error %v, want ErrNotFound", err)
			}
			e.loggedIn("alice@example.com", goodPassword)
			expect(t, c.post("/logout/", nil), http.StatusOK, "")
		})
	}
}

// fltDeadlines records every store and mailer call made without a context
// deadline, or with one further away than allowed.
type fltDeadlines struct {
	mu       sync.Mutex
	calls    int
	problems []string
}

func (d *fltDeadlines) check(ctx context.Context, op string, limit time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	dl, ok := ctx.Deadline()
	switch {
	case !ok:
		d.problems = append(d.problems, op+": no deadline")
	case time.Until(dl) > limit:
		d.problems = append(d.problems, fmt.Sprintf("%s: deadline %v away, want at most %v", op, time.Until(dl).Round(time.Millisecond), limit))
	}
}

// fltDeadlineStore checks the context of every UserStore and PendingStore
// call against RequestTimeout.
type fltDeadlineStore struct {
	users   authsys.UserStore
	pending authsys.PendingStore
	d       *fltDeadlines
	limit   time.Duration
}

func (s *fltDeadlineStore) CreateUser(ctx context.Context, u authsys.User) (authsys.User, error) {
	s.d.check(ctx, "CreateUser", s.limit)
	return s.users.CreateUser(ctx, u)
}

func (s *fltDeadlineStore) UserByID(ctx context.Context, id string) (authsys.User, error) {
	s.d.check(ctx, "UserByID", s.limit)
	return s.users.UserByID(ctx, id)
}

func (s *fltDeadlineStore) UserByEmail(ctx context.Context, email string) (authsys.User, error) {
	s.d.check(ctx, "UserByEmail", s.limit)
	return s.users.UserByEmail(ctx, email)
}

func (s *fltDeadlineStore) UpdateUser(ctx context.Context, id string, fn func(*authsys.User) error) (authsys.User, error) {
	s.d.check(ctx, "UpdateUser", s.limit)
	return s.users.UpdateUser(ctx, id, fn)
}

func (s *fltDeadlineStore) PutPending(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	s.d.check(ctx, "PutPending", s.limit)
	return s.pending.PutPending(ctx, key, v, ttl)
}

func (s *fltDeadlineStore) AddPendingIfAbsent(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, error) {
	s.d.check(ctx, "AddPendingIfAbsent", s.limit)
	return s.pending.AddPendingIfAbsent(ctx, key, v, ttl)
}

func (s *fltDeadlineStore) GetPending(ctx context.Context, key string) ([]byte, error) {
	s.d.check(ctx, "GetPending", s.limit)
	return s.pending.GetPending(ctx, key)
}

func (s *fltDeadlineStore) TakePending(ctx context.Context, key string) ([]byte, error) {
	s.d.check(ctx, "TakePending", s.limit)
	return s.pending.TakePending(ctx, key)
}

func (s *fltDeadlineStore) DeletePending(ctx context.Context, key string) error {
	s.d.check(ctx, "DeletePending", s.limit)
	return s.pending.DeletePending(ctx, key)
}

func (s *fltDeadlineStore) IncrPending(ctx context.Context, key string, ttl time.Duration) (int64, time.Duration, error) {
	s.d.check(ctx, "IncrPending", s.limit)
	return s.pending.IncrPending(ctx, key, ttl)
}

// fltDeadlineMailer checks the context of every send against MailTimeout.
type fltDeadlineMailer struct {
	next  authsys.Mailer
	d     *fltDeadlines
	limit time.Duration
}

func (m *fltDeadlineMailer) Send(ctx context.Context, msg mail.Message) error {
	m.d.check(ctx, "Mailer.Send", m.limit)
	return m.next.Send(ctx, msg)
}

// TestFaultsEveryCallHasADeadline walks every flow with stores and a mailer
// that record the context of each call: every store call carries a
// deadline within Config.RequestTimeout and every send one within
// Config.MailTimeout, so a hung dependency can never pin a goroutine.
func TestFaultsEveryCallHasADeadline(t *testing.T) {
	const requestTimeout, mailTimeout = 7 * time.Second, 9 * time.Second
	d := &fltDeadlines{}
	e := newEnv(t, func(c *authsys.Config) {
		s := &fltDeadlineStore{users: c.Users, pending: c.Pending, d: d, limit: requestTimeout}
		c.Users, c.Pending = s, s
		c.Mailer = &fltDeadlineMailer{next: c.Mailer, d: d, limit: mailTimeout}
		c.HTTP.RequestTimeout, c.Mail.Timeout = requestTimeout, mailTimeout
		c.RateLimits = authsys.RateLimits{} // the defaults, so that the limiter's calls count too
	})
	const email = "alice@example.com"
	e.signupVerified(email, goodPassword)
	c := e.loggedIn(email, goodPassword)
	expect(t, c.get("/me/"), http.StatusOK, "")
	expect(t, c.do(http.MethodGet, "/api/private", nil), http.StatusOK, "")
	expect(t, c.post("/refresh/", nil), http.StatusOK, "")
	expect(t, c.post("/verify-account/resend/", map[string]string{"email": email}), http.StatusOK, "")
	expect(t, c.post("/change-email/", map[string]string{"new_email": "alice2@example.com", "password": goodPassword}), http.StatusOK, "")
	token := linkParams(t, e.waitMail("alice2@example.com")).Get("token")
	expect(t, c.post("/change-email-confirm/", map[string]string{"token": token}), http.StatusOK, "")
	c = e.loggedIn("alice2@example.com", goodPassword)
	secret := bkEnable2FA(t, e, c, e.clock)
	expect(t, c.get("/2fa/backup-codes/"), http.StatusOK, "")
	expect(t, c.post("/2fa/backup-codes/", map[string]string{"password": goodPassword}), http.StatusOK, "")
	expect(t, c.post("/logout/", nil), http.StatusOK, "")
	l := e.client()
	r := l.post("/login/", map[string]string{"email": "alice2@example.com", "password": goodPassword})
	expect(t, r, http.StatusOK, "")
	sess, _ := r.json(t)["session_token"].(string)
	e.clock.Advance(30 * time.Second)
	expect(t, l.post("/2fa/verify-login/", map[string]string{"session_token": sess, "code": "000000x"}), http.StatusBadRequest, "")
	expect(t, l.post("/2fa/verify-login/", map[string]string{"session_token": sess, "code": bkCode(t, secret, e.clock.Now())}), http.StatusOK, "")
	e.clock.Advance(30 * time.Second)
	expect(t, l.post("/2fa/disable/", map[string]string{"password": goodPassword, "code": bkCode(t, secret, e.clock.Now())}), http.StatusOK, "")
	expect(t, l.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "a new long passphrase"}), http.StatusOK, "")
	expect(t, l.post("/password-reset/", map[string]string{"email": "alice2@example.com"}), http.StatusOK, "")
	q := linkParams(t, e.waitMail("alice2@example.com"))
	expect(t, l.post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "yet another passphrase"}), http.StatusOK, "")
	l = e.loggedIn("alice2@example.com", "yet another passphrase")
	expect(t, l.post("/logout-all/", nil), http.StatusOK, "")
	if err := e.auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.calls < 50 {
		t.Errorf("only %d calls were checked: the wrappers are not in use", d.calls)
	}
	for _, p := range d.problems {
		t.Error(p)
	}
}
