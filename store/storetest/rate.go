package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
)

// Emission intervals of the RateStore cases. A case that lets budget come
// back uses the short one (on real time it sleeps past it); the others use
// the long one, so that on real time no budget can come back during the
// case, however slow the machine.
const (
	rateFakeInterval = 10 * time.Second
	rateRealInterval = 100 * time.Millisecond
	rateLongInterval = time.Minute
)

// rateEnv is one RateStore case's store and clock.
type rateEnv struct {
	pendingEnv
	rs store.RateStore
}

// interval returns the emission interval of cases that let budget come
// back.
func (e rateEnv) interval() time.Duration {
	if e.advance == nil {
		return rateRealInterval
	}
	return rateFakeInterval
}

// slack returns the extra wait that makes sure an instant has passed.
func (e rateEnv) slack() time.Duration {
	if e.advance == nil {
		return realSlack
	}
	return 0
}

// fake reports whether the store runs on the harness's fake clock, so that
// retry times are exact.
func (e rateEnv) fake() bool { return e.advance != nil }

// within returns a function that reports whether less than d has elapsed
// since now: always, on a fake clock, since it only moves when told to.
func (e rateEnv) within(d time.Duration) func() bool {
	if e.fake() {
		return func() bool { return true }
	}
	begin := time.Now()
	return func() bool { return time.Since(begin) < d }
}

// allow calls AllowRate and fails the case on an error.
func (e rateEnv) allow(key string, interval time.Duration, burst int) (bool, time.Duration) {
	e.t.Helper()
	ok, retry, err := e.rs.AllowRate(e.t.Context(), key, interval, burst)
	if err != nil {
		e.t.Fatalf("AllowRate(%q, %v, %d): got error %v, want nil", key, interval, burst, err)
	}
	if ok && retry != 0 {
		e.t.Errorf("AllowRate(%q, %v, %d): got true with retryAfter %v, want 0", key, interval, burst, retry)
	}
	return ok, retry
}

// wantAllowed checks that n events in a row on key are allowed.
func (e rateEnv) wantAllowed(key string, interval time.Duration, burst, n int, when string) {
	e.t.Helper()
	for i := range n {
		if ok, retry := e.allow(key, interval, burst); !ok {
			e.t.Fatalf("%s: event %d of %d on %q: got refused (retryAfter %v), want allowed", when, i+1, n, key, retry)
		}
	}
}

// wantRefused checks that an event on key is refused with a retryAfter in
// (0, interval], equal to want on a fake clock (want 0: any in the range),
// and returns the retryAfter.
func (e rateEnv) wantRefused(key string, interval time.Duration, burst int, want time.Duration, when string) time.Duration {
	e.t.Helper()
	ok, retry := e.allow(key, interval, burst)
	switch {
	case ok:
		e.t.Fatalf("%s: AllowRate(%q): got allowed, want refused", when, key)
	case retry <= 0 || retry > interval:
		e.t.Errorf("%s: AllowRate(%q): got retryAfter %v, want within (0, %v]", when, key, retry, interval)
	case e.fake() && want != 0 && retry != want:
		e.t.Errorf("%s: AllowRate(%q): got retryAfter %v, want %v", when, key, retry, want)
	}
	return retry
}

// runRateCases runs the store.RateStore cases as subtests of t, or skips
// them when the store does not implement the interface.
func runRateCases(t *testing.T, newStore func(t *testing.T) PendingHarness) {
	t.Helper()
	cases := []struct {
		name string
		run  func(e rateEnv)
	}{
		{"RateBurstThenRefused", testRateBurst},
		{"RateRecovers", testRateRecovers},
		{"RateRefusedDoesNotConsume", testRateRefusedDoesNotConsume},
		{"RateKeysIndependent", testRateKeysIndependent},
		{"RateDeleteResets", testRateDeleteResets},
		{"RateIdleKeyExpires", testRateIdleKeyExpires},
		{"RateInvalidArguments", testRateInvalid},
		{"RateConcurrent", testRateConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newStore(t)
			rs, ok := h.Store.(store.RateStore)
			if !ok {
				t.Skip("store does not implement store.RateStore")
			}
			c.run(rateEnv{pendingEnv{t: t, s: h.Store, advance: h.Advance}, rs})
		})
	}
}

// testRateBurst: burst events at once are allowed, the next is refused
// with retryAfter one interval, and so is every one after it.
func testRateBurst(e rateEnv) {
	const burst = 5
	iv := rateLongInterval
	e.wantAllowed("k", iv, burst, burst, "a fresh key")
	for i := range 3 {
		e.wantRefused("k", iv, burst, iv, fmt.Sprintf("refusal %d after the burst", i+1))
	}
	// A burst of one allows one event per interval.
	e.wantAllowed("one", iv, 1, 1, "burst 1")
	e.wantRefused("one", iv, 1, iv, "burst 1, second event")
}

// testRateRecovers: an exhausted key gets one event back per interval,
// with an exact retryAfter in between, and its full burst back after an
// idle burst of intervals.
func testRateRecovers(e rateEnv) {
	const burst = 3
	iv := e.interval()
	fresh := e.within(iv)
	e.wantAllowed("k", iv, burst, burst, "a fresh key")
	ok, retry := e.allow("k", iv, burst)
	if ok {
		if !fresh() {
			e.t.Skip("the machine took longer than the interval to make the burst; skipping the rest of this real-time case")
		}
		e.t.Fatalf("event %d: got allowed, want refused", burst+1)
	}
	if retry <= 0 || retry > iv || (e.fake() && retry != iv) {
		e.t.Errorf("event %d: got retryAfter %v, want %v", burst+1, retry, iv)
	}
	if e.fake() {
		// Part of the way there, the retry time is what is left.
		e.wait(iv * 2 / 5)
		e.wantRefused("k", iv, burst, iv*3/5, "two fifths of an interval later")
		// Stores may keep time to the microsecond only.
		e.wait(iv*3/5 - time.Microsecond)
		e.wantRefused("k", iv, burst, time.Microsecond, "a microsecond before the interval ends")
		e.wait(time.Microsecond)
	} else {
		e.wait(retry + e.slack())
	}
	// One event back, and only one.
	e.wantAllowed("k", iv, burst, 1, "after the retry time")
	if e.fake() {
		e.wantRefused("k", iv, burst, iv, "right after the recovered event")
	}
	// After an idle burst of intervals, the whole burst is back.
	e.wait(burst*iv + e.slack())
	e.wantAllowed("k", iv, burst, burst, "after burst idle intervals")
	if e.fake() {
		e.wantRefused("k", iv, burst, iv, "after the second burst")
	}
}

// testRateRefusedDoesNotConsume: refused events leave the state alone, so
// budget comes back on time however many were refused.
func testRateRefusedDoesNotConsume(e rateEnv) {
	const burst = 2
	iv := e.interval()
	e.wantAllowed("k", iv, burst, burst, "a fresh key")
	fresh := e.within(iv)
	var last time.Duration
	for i := range 20 {
		ok, retry := e.allow("k", iv, burst)
		if ok {
			if !fresh() {
				e.t.Skip("the machine took longer than the interval to make twenty calls; skipping the rest of this real-time case")
			}
			e.t.Fatalf("refused event %d: got allowed, want refused", i+1)
		}
		if retry <= 0 || retry > iv || (e.fake() && retry != iv) {
			e.t.Errorf("refused event %d: got retryAfter %v, want %v (refusals must not push it back)", i+1, retry, iv)
		}
		last = retry
	}
	e.wait(last + e.slack())
	e.wantAllowed("k", iv, burst, 1, "after the retry time of twenty refusals")
}

// testRateKeysIndependent: each key has its own budget, and rate keys
// leave pending entries alone.
func testRateKeysIndependent(e rateEnv) {
	const burst = 2
	iv := rateLongInterval
	e.put("value", []byte("kept"), longTTL)
	e.wantAllowed("a", iv, burst, burst, "key a")
	e.wantRefused("a", iv, burst, iv, "key a, after its burst")
	for _, k := range []string{"b", "A", "ab", "a:", "a ", ""} {
		e.wantAllowed(k, iv, burst, burst, fmt.Sprintf("key %q after key a's burst", k))
		e.wantRefused(k, iv, burst, iv, fmt.Sprintf("key %q, after its burst", k))
	}
	e.wantValue("value", []byte("kept"))
	e.wantMissing("value2")
}

// testRateDeleteResets: DeletePending on a rate key gives it its full
// burst back.
func testRateDeleteResets(e rateEnv) {
	const burst = 3
	iv := rateLongInterval
	e.wantAllowed("k", iv, burst, burst, "a fresh key")
	e.wantRefused("k", iv, burst, iv, "after the burst")
	if err := e.s.DeletePending(e.t.Context(), "k"); err != nil {
		e.t.Fatalf("DeletePending: got error %v, want nil", err)
	}
	e.wantAllowed("k", iv, burst, burst, "after DeletePending")
	e.wantRefused("k", iv, burst, iv, "after the second burst")
}

// testRateIdleKeyExpires: a key expires when it is back to a full burst
// (its theoretical arrival time), so idle keys take no room.
func testRateIdleKeyExpires(e rateEnv) {
	const burst = 4
	iv := e.interval()
	e.wantAllowed("k", iv, burst, 2, "a fresh key")
	e.wait(2*iv + e.slack())
	e.wantMissing("k")
	e.wantAllowed("k", iv, burst, burst, "after the key expired")
}

// testRateInvalid: a non-positive interval or burst is an error, not a
// refusal, and writes nothing.
func testRateInvalid(e rateEnv) {
	ctx := e.t.Context()
	for _, a := range []struct {
		interval time.Duration
		burst    int
	}{
		{0, 1}, {-time.Second, 1}, {time.Second, 0}, {time.Second, -1}, {0, 0},
		{time.Hour, int(^uint(0) >> 1)},
	} {
		ok, _, err := e.rs.AllowRate(ctx, "k", a.interval, a.burst)
		if err == nil || ok {
			e.t.Errorf("AllowRate(interval %v, burst %d): got %v, %v; want false and an error", a.interval, a.burst, ok, err)
		}
		if errors.Is(err, store.ErrUnavailable) {
			e.t.Errorf("AllowRate(interval %v, burst %d): got %v, want an error not wrapping %v", a.interval, a.burst, err, store.ErrUnavailable)
		}
	}
	e.wantMissing("k")
	e.wantAllowed("k", rateLongInterval, 1, 1, "after the invalid calls")
}

// testRateConcurrent races 20 goroutines on one key of burst 5, on fresh
// keys several times: exactly 5 are allowed each time.
func testRateConcurrent(e rateEnv) {
	const (
		n     = 20
		burst = 5
	)
	iv := time.Hour // no budget comes back during the race, however slow
	for r := range raceRounds {
		key := fmt.Sprint("race-", r)
		oks := make([]bool, n)
		retries := make([]time.Duration, n)
		errs := make([]error, n)
		start(n, func(i int) {
			oks[i], retries[i], errs[i] = e.rs.AllowRate(e.t.Context(), key, iv, burst)
		})
		allowed := 0
		for i := range n {
			switch {
			case errs[i] != nil:
				e.t.Errorf("goroutine %d: AllowRate(%q): got error %v, want nil", i, key, errs[i])
			case oks[i]:
				allowed++
			case retries[i] <= 0 || retries[i] > iv:
				e.t.Errorf("goroutine %d: AllowRate(%q): got retryAfter %v, want within (0, %v]", i, key, retries[i], iv)
			}
		}
		if allowed != burst {
			e.t.Errorf("AllowRate(%q) allowed: got %d of %d, want %d", key, allowed, n, burst)
		}
		e.wantRefused(key, iv, burst, iv, "after the race")
	}
}
