package authsys_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
	"github.com/authsys-go/authsys/store/redis"
)

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
