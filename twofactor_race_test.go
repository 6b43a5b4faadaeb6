package authsys_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/store/postgres"
	"github.com/authsys-go/authsys/store/redis"
	"github.com/authsys-go/authsys/tokens"
)

// tfaBackend configures the stores of a race test; it skips the test when
// its services are not configured.
type tfaBackend struct {
	name  string
	setup func(t *testing.T) func(*authsys.Config)
}

// tfaBackends are the stores the race tests run on: memory always; Redis
// for pending state and PostgreSQL for users, and PostgreSQL for both, when
// AUTHSYS_TEST_REDIS_URL and AUTHSYS_TEST_POSTGRES_URL are set.
var tfaBackends = []tfaBackend{
	{"memory", func(*testing.T) func(*authsys.Config) { return func(*authsys.Config) {} }},
	{"redis+postgres", func(t *testing.T) func(*authsys.Config) {
		users := tfaPostgres(t)
		pending := tfaRedis(t)
		return func(c *authsys.Config) { c.Users, c.Pending = users(c.Now), pending }
	}},
	{"postgres", func(t *testing.T) func(*authsys.Config) {
		users := tfaPostgres(t)
		return func(c *authsys.Config) {
			s := users(c.Now)
			c.Users, c.Pending = s, s
		}
	}},
}

// tfaRedis returns a Redis PendingStore under a fresh key prefix whose keys
// are deleted when the test ends, or skips the test.
func tfaRedis(t *testing.T) *redis.Store {
	t.Helper()
	u := os.Getenv("AUTHSYS_TEST_REDIS_URL")
	if u == "" {
		testenv.Skip(t, "AUTHSYS_TEST_REDIS_URL is not set; set it (e.g. redis://127.0.0.1:6379/0) to run the 2FA races on Redis")
	}
	o, err := goredis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	o.ContextTimeoutEnabled = true
	client := goredis.NewClient(o)
	prefix := "authsys_test_2fa:" + tokens.NewID() + ":"
	t.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			if err := client.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("deleting test keys %s*: %v", prefix, err)
			}
		}
	})
	return redis.New(client, redis.WithPrefix(prefix))
}

// tfaPostgres returns a constructor of a PostgreSQL store in a fresh,
// migrated schema that is dropped when the test ends, or skips the test.
func tfaPostgres(t *testing.T) func(now func() time.Time) *postgres.Store {
	t.Helper()
	u := os.Getenv("AUTHSYS_TEST_POSTGRES_URL")
	if u == "" {
		testenv.Skip(t, "AUTHSYS_TEST_POSTGRES_URL is not set; set it (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the 2FA races on PostgreSQL")
	}
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	schema := "authsys_test_2fa_" + tokens.NewID()[:12]
	schema = "s" + pgxSafe(schema)
	t.Cleanup(func() {
		defer pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return func(now func() time.Time) *postgres.Store {
		s := postgres.New(pool, postgres.WithSchema(schema), postgres.WithClock(now))
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	}
}

// pgxSafe maps the base64url characters a schema name may not hold.
func pgxSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

// tfaRace runs n calls of f at once, released together, and returns their
// outcomes in order.
func tfaRace(n int, f func(i int) tfaOutcome) []tfaOutcome {
	out := make([]tfaOutcome, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// tfaHTTPClient returns an HTTP client with the cookies of c, or none.
func tfaHTTPClient(c *client) *http.Client {
	if c != nil {
		return c.hc
	}
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

// TestTwoFactorRaceSameCode posts one valid code on one pending session
// from 20 goroutines: exactly one logs in, and the code is spent. In the
// "slow winner" variant the winner is held after spending the code and
// before taking the session until every other request has answered, so
// that the losers' failures get every chance to destroy the session under
// it.
func TestTwoFactorRaceSameCode(t *testing.T) {
	for _, b := range tfaBackends {
		for _, slow := range []bool{false, true} {
			name := b.name
			if slow {
				name += "/slow winner"
			}
			t.Run(name, func(t *testing.T) {
				hold := &tfaHold{}
				e := newEnv(t, b.setup(t), func(c *authsys.Config) { hold.PendingStore, c.Pending = c.Pending, hold })
				u := e.tfaEnabled("race@example.com")
				_, token := e.tfaLogin(u.email)
				code := e.tfaFreshCode(u.secret)
				if slow {
					hold.arm(func(op, key string, _ []byte) bool { return op == "take" && tfaIsSessionKey(key) })
				}
				results := make(chan tfaOutcome)
				for range 20 {
					go func() {
						results <- e.tfaPost(tfaHTTPClient(nil), "/2fa/verify-login/", map[string]string{"session_token": token, "code": code})
					}()
				}
				var outs []tfaOutcome
				for held := 0; len(outs)+held < 20; {
					select {
					case o := <-results:
						outs = append(outs, o)
					case <-hold.blocked:
						held++
					}
				}
				hold.free()
				for len(outs) < 20 {
					outs = append(outs, <-results)
				}
				wins := 0
				for _, o := range outs {
					switch {
					case o.err != nil:
						t.Errorf("request failed: %v", o.err)
					case o.status == http.StatusOK:
						wins++
						if o.cookies < 2 {
							t.Errorf("the winner got %d cookies, want the access and refresh cookies", o.cookies)
						}
					case o.status == http.StatusConflict && o.code == "conflict",
						o.status == http.StatusUnauthorized && o.code == "session_expired":
						if o.cookies != 0 {
							t.Errorf("a loser got %d cookies", o.cookies)
						}
					default:
						t.Errorf("got %d %s, want 200, 409 conflict or 401 session_expired", o.status, o.body)
					}
				}
				if wins != 1 {
					t.Fatalf("got %d logins, want exactly 1; outcomes %v", wins, tfaTally(outs))
				}
				c, token := e.tfaLogin(u.email)
				expect(t, c.tfaVerify(token, code), http.StatusBadRequest, "invalid_code")
			})
		}
	}
}

// tfaHold is a PendingStore that, once armed, holds every TakePending and
// AddPendingIfAbsent its match accepts until free is called, and reports
// each hold on blocked.
type tfaHold struct {
	authsys.PendingStore
	mu      sync.Mutex
	match   func(op, key string, value []byte) bool
	hold    chan struct{}
	blocked chan struct{}
}

func (p *tfaHold) arm(match func(op, key string, value []byte) bool) {
	p.mu.Lock()
	p.match, p.hold, p.blocked = match, make(chan struct{}), make(chan struct{})
	p.mu.Unlock()
}

// disarm stops holding new calls; those held stay held until free.
func (p *tfaHold) disarm() {
	p.mu.Lock()
	p.match = nil
	p.mu.Unlock()
}

func (p *tfaHold) free() {
	p.mu.Lock()
	if p.hold != nil {
		close(p.hold)
		p.hold, p.match = nil, nil
	}
	p.mu.Unlock()
}

func (p *tfaHold) wait(ctx context.Context, op, key string, value []byte) error {
	p.mu.Lock()
	match, hold, blocked := p.match, p.hold, p.blocked
	p.mu.Unlock()
	if match == nil || !match(op, key, value) {
		return nil
	}
	select {
	case blocked <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-hold:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *tfaHold) TakePending(ctx context.Context, key string) ([]byte, error) {
	if err := p.wait(ctx, "take", key, nil); err != nil {
		return nil, err
	}
	return p.PendingStore.TakePending(ctx, key)
}

func (p *tfaHold) AddPendingIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := p.wait(ctx, "add", key, value); err != nil {
		return false, err
	}
	return p.PendingStore.AddPendingIfAbsent(ctx, key, value, ttl)
}

// tfaIsSessionKey reports whether key is a pending session's: the default
// prefix followed by the token hash alone.
func tfaIsSessionKey(key string) bool {
	rest, ok := strings.CutPrefix(key, "auth:pending:")
	return ok && !strings.Contains(rest, ":")
}

// TestTwoFactorRaceBackupCode races one backup code across ten pending
// sessions of its user (the five oldest already evicted by the five
// newest): exactly one logs in and one code is spent.
func TestTwoFactorRaceBackupCode(t *testing.T) {
	for _, b := range tfaBackends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.setup(t))
			u := e.tfaEnabled("backup-race@example.com")
			var tokens []string
			for range 10 {
				_, token := e.tfaLogin(u.email)
				tokens = append(tokens, token)
			}
			outs := tfaRace(len(tokens), func(i int) tfaOutcome {
				return e.tfaPost(tfaHTTPClient(nil), "/2fa/verify-login/", map[string]string{"session_token": tokens[i], "code": u.backup[2]})
			})
			tally := tfaTally(outs)
			if tally["OK"] != 1 || tally["Unauthorized session_expired"] != 5 || tally["Bad Request invalid_code"] != 4 {
				t.Fatalf("got %v, want 1 OK, 5 session_expired (evicted), 4 invalid_code", tally)
			}
			for i, o := range outs[:5] {
				if o.status != http.StatusUnauthorized {
					t.Errorf("evicted session %d: got %d, want 401", i, o.status)
				}
			}
			if got := u.c.tfaRemaining(); got != 9 {
				t.Errorf("got %d codes left, want 9", got)
			}
		})
	}
}

// TestTwoFactorRaceLogins opens twelve pending sessions of one user at
// once: exactly five stay alive, whatever order the evictions ran in.
func TestTwoFactorRaceLogins(t *testing.T) {
	for _, b := range tfaBackends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.setup(t))
			u := e.tfaEnabled("logins@example.com")
			outs := tfaRace(12, func(int) tfaOutcome {
				return e.tfaPost(tfaHTTPClient(nil), "/login/", map[string]string{"email": u.email, "password": goodPassword})
			})
			live := 0
			for _, o := range outs {
				if o.status != http.StatusOK {
					t.Fatalf("login: got %d %s", o.status, o.body)
				}
				var body struct {
					SessionToken string `json:"session_token"`
				}
				tfaUnmarshal(t, o.body, &body)
				// A wrong code tells a live session (invalid_code) from a
				// dead one (session_expired) without spending anything.
				r := e.client().tfaVerify(body.SessionToken, e.tfaWrongCode(u.secret))
				switch r.code() {
				case "invalid_code":
					live++
				case "session_expired":
				default:
					t.Fatalf("got %d %s", r.StatusCode, r.body)
				}
			}
			if live != 5 {
				t.Errorf("got %d live pending sessions, want 5", live)
			}
		})
	}
}

// TestTwoFactorSlowLoginEvicted holds the first of six logins after it
// stored its session and before it indexed it, while the other five run:
// the sixth evicts the first before it is indexed, and the first must die
// at birth rather than live as a sixth session.
func TestTwoFactorSlowLoginEvicted(t *testing.T) {
	for _, b := range tfaBackends {
		t.Run(b.name, func(t *testing.T) {
			hold := &tfaHold{}
			e := newEnv(t, b.setup(t), func(c *authsys.Config) { hold.PendingStore, c.Pending = c.Pending, hold })
			u := e.tfaEnabled("slow-login@example.com")
			hold.arm(func(op, key string, value []byte) bool {
				return op == "add" && strings.Contains(key, ":idx:") && tfaIsSessionKey(string(value))
			})
			first := make(chan tfaOutcome, 1)
			go func() {
				first <- e.tfaPost(tfaHTTPClient(nil), "/login/", map[string]string{"email": u.email, "password": goodPassword})
			}()
			<-hold.blocked
			hold.disarm()
			var tokens []string
			for range 5 {
				_, token := e.tfaLogin(u.email)
				tokens = append(tokens, token)
			}
			hold.free()
			o := <-first
			var body struct {
				SessionToken string `json:"session_token"`
			}
			tfaUnmarshal(t, o.body, &body)
			if o.status != http.StatusOK || body.SessionToken == "" {
				t.Fatalf("first login: got %d %s", o.status, o.body)
			}
			expect(t, e.client().tfaVerify(body.SessionToken, u.backup[0]), http.StatusUnauthorized, "session_expired")
			for i, token := range tokens {
				expect(t, e.client().tfaVerify(token, u.backup[i+1]), http.StatusOK, "")
			}
		})
	}
}

// TestTwoFactorRaceRegenerate regenerates backup codes from ten goroutines
// with the password, all of which have read the same codes before any
// writes (a barrier holds every UpdateUser until all ten arrive): exactly
// one succeeds, the others get 409, and the winner's codes are the ones
// that work.
func TestTwoFactorRaceRegenerate(t *testing.T) {
	for _, b := range tfaBackends {
		t.Run(b.name, func(t *testing.T) {
			users := &tfaBarrierUsers{}
			setup := b.setup(t)
			e := newEnv(t, setup, func(c *authsys.Config) { users.UserStore, c.Users = c.Users, users })
			u := e.tfaEnabled("regen-race@example.com")
			users.arm(10)
			outs := tfaRace(10, func(int) tfaOutcome {
				return e.tfaPost(u.c.hc, "/2fa/backup-codes/", map[string]string{"password": goodPassword})
			})
			var winner []string
			for _, o := range outs {
				switch {
				case o.err != nil:
					t.Errorf("request failed: %v", o.err)
				case o.status == http.StatusOK:
					if winner != nil {
						t.Fatalf("two regenerations of the same codes succeeded: %v", tfaTally(outs))
					}
					winner = tfaCodes(t, response{body: o.body})
				case o.status != http.StatusConflict || o.code != "conflict":
					t.Errorf("got %d %s, want 200 or 409 conflict", o.status, o.body)
				}
			}
			if winner == nil {
				t.Fatalf("no regeneration succeeded: %v", tfaTally(outs))
			}
			for i := range 2 {
				c, token := e.tfaLogin(u.email)
				expect(t, c.tfaVerify(token, winner[i]), http.StatusOK, "")
			}
		})
	}
}

// tfaBarrierUsers is a UserStore whose next n UpdateUser calls, once armed,
// all wait until the n-th arrives, so that every caller has read the user
// before any of them writes.
type tfaBarrierUsers struct {
	authsys.UserStore
	mu      sync.Mutex
	waiting int
	release chan struct{}
}

func (s *tfaBarrierUsers) arm(n int) {
	s.mu.Lock()
	s.waiting, s.release = n, make(chan struct{})
	s.mu.Unlock()
}

func (s *tfaBarrierUsers) UpdateUser(ctx context.Context, id string, fn func(*authsys.User) error) (authsys.User, error) {
	s.mu.Lock()
	release := s.release
	if s.waiting > 0 {
		if s.waiting--; s.waiting == 0 {
			close(release)
			s.release = nil
		}
	}
	s.mu.Unlock()
	if release != nil {
		select {
		case <-release:
		case <-ctx.Done():
			return authsys.User{}, ctx.Err()
		}
	}
	return s.UserStore.UpdateUser(ctx, id, fn)
}

// TestTwoFactorRaceEnable enables 2FA from ten goroutines with one code:
// exactly one succeeds, and its backup codes are the ones stored.
func TestTwoFactorRaceEnable(t *testing.T) {
	for _, b := range tfaBackends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.setup(t))
			e.signupVerified("enable-race@example.com", goodPassword)
			c := e.loggedIn("enable-race@example.com", goodPassword)
			code := tfaCodeAt(t, c.tfaSetup(), e.clock.Now())
			outs := tfaRace(10, func(int) tfaOutcome {
				return e.tfaPost(c.hc, "/2fa/enable/", map[string]string{"code": code})
			})
			var winner []string
			for _, o := range outs {
				switch {
				case o.status == http.StatusOK:
					if winner != nil {
						t.Fatalf("two enables succeeded: %v", tfaTally(outs))
					}
					winner = tfaCodes(t, response{body: o.body})
				case o.status == http.StatusBadRequest && o.code == "invalid_code",
					o.status == http.StatusConflict && o.code == "two_factor_already_enabled":
				default:
					t.Errorf("got %d %s (%v), want 200, 400 invalid_code or 409 two_factor_already_enabled", o.status, o.body, o.err)
				}
			}
			if winner == nil {
				t.Fatalf("no enable succeeded: %v", tfaTally(outs))
			}
			lc, token := e.tfaLogin("enable-race@example.com")
			expect(t, lc.tfaVerify(token, winner[9]), http.StatusOK, "")
		})
	}
}
