package authsys_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/internal/password"
	"github.com/authsys-go/authsys/internal/ratelimit"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store/memory"
)

// rlBench is an Auth served in-process (no network), on a memory store
// with a fake clock, 127.0.0.1 trusted as a proxy.
type rlBench struct {
	h     http.Handler
	auth  *authsys.Auth
	clock *clock
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
