package authsys_test

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/store"
)

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
