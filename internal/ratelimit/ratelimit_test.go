package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsys-go/authsys/internal/ratelimit"
	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
	"github.com/authsys-go/authsys/store/redis"
)

// fakeStore is a store.PendingStore in memory with a settable clock, and
// no store.RateStore: the Limiter falls back to fixed windows on it. It
// records every key it is asked about, and IncrPending fails with err when
// err is set.
type fakeStore struct {
	mu      sync.Mutex
	now     time.Time
	entries map[string]fakeEntry
	keys    []string
	calls   atomic.Int64
	err     error
}

type fakeEntry struct {
	value   []byte
	count   int64
	expires time.Time
}

var _ store.PendingStore = (*fakeStore)(nil)

func newFake() *fakeStore {
	return &fakeStore{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), entries: map[string]fakeEntry{}}
}

// clock returns the fake's current time.
func (f *fakeStore) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeStore) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// live records the call and returns the unexpired entry under key; the
// caller holds f.mu.
func (f *fakeStore) live(key string) (fakeEntry, bool) {
	f.calls.Add(1)
	f.keys = append(f.keys, key)
	e, ok := f.entries[key]
	if ok && !f.now.Before(e.expires) {
		delete(f.entries, key)
		return fakeEntry{}, false
	}
	return e, ok
}

func (f *fakeStore) PutPending(_ context.Context, key string, value []byte, ttl time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live(key)
	f.entries[key] = fakeEntry{value: bytes.Clone(value), expires: f.now.Add(ttl)}
	return nil
}

func (f *fakeStore) AddPendingIfAbsent(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.live(key); ok {
		return false, nil
	}
	f.entries[key] = fakeEntry{value: bytes.Clone(value), expires: f.now.Add(ttl)}
	return true, nil
}

func (f *fakeStore) GetPending(_ context.Context, key string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.live(key)
	if !ok {
		return nil, store.ErrNotFound
	}
	return bytes.Clone(e.value), nil
}

func (f *fakeStore) TakePending(_ context.Context, key string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.live(key)
	if !ok {
		return nil, store.ErrNotFound
	}
	delete(f.entries, key)
	return e.value, nil
}

func (f *fakeStore) DeletePending(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live(key)
	delete(f.entries, key)
	return nil
}

func (f *fakeStore) IncrPending(_ context.Context, key string, ttl time.Duration) (int64, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.live(key)
	if f.err != nil {
		return 0, 0, f.err
	}
	if !ok {
		e = fakeEntry{expires: f.now.Add(ttl)}
	}
	e.count++
	f.entries[key] = e
	return e.count, e.expires.Sub(f.now), nil
}

// rateFake is a fakeStore that is also a store.RateStore: AllowRate runs
// the memory store's GCRA on the fake's clock, records the key and fails
// with err when err is set. IncrPending fails the test: a Limiter on a
// RateStore must not use it.
type rateFake struct {
	*fakeStore
	t   testing.TB
	gcr *memory.Store
}

var _ store.RateStore = (*rateFake)(nil)

func newRateFake(t testing.TB) *rateFake {
	f := newFake()
	return &rateFake{fakeStore: f, t: t, gcr: memory.New(memory.WithClock(f.clock))}
}

func (f *rateFake) AllowRate(ctx context.Context, key string, interval time.Duration, burst int) (bool, time.Duration, error) {
	f.mu.Lock()
	f.calls.Add(1)
	f.keys = append(f.keys, key)
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return false, 0, err
	}
	return f.gcr.AllowRate(ctx, key, interval, burst)
}

func (f *rateFake) IncrPending(context.Context, string, time.Duration) (int64, time.Duration, error) {
	f.t.Errorf("IncrPending called on a store.RateStore")
	return 0, 0, errors.New("IncrPending called on a store.RateStore")
}

// limitStore is the part of the fakes the backend-independent tests use.
type limitStore interface {
	store.PendingStore
	advance(d time.Duration)
	setErr(err error)
	storeCalls() int64
	storeKeys() []string
}

func (f *fakeStore) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeStore) storeCalls() int64 { return f.calls.Load() }

func (f *fakeStore) storeKeys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.keys)
}

// backends are the two ways a Limiter keeps its state: GCRA on a
// store.RateStore, and fixed windows on a plain store.PendingStore.
func backends(t testing.TB) []struct {
	name string
	new  func() limitStore
} {
	return []struct {
		name string
		new  func() limitStore
	}{
		{"gcra", func() limitStore { return newRateFake(t) }},
		{"fixed_window", func() limitStore { return newFake() }},
	}
}

// rateStub answers AllowRate with fixed values.
type rateStub struct {
	store.PendingStore // nil: only AllowRate may be called
	ok                 bool
	retry              time.Duration
}

func (s rateStub) AllowRate(context.Context, string, time.Duration, int) (bool, time.Duration, error) {
	return s.ok, s.retry, nil
}

// incrStub answers IncrPending with fixed values.
type incrStub struct {
	store.PendingStore // nil: only IncrPending may be called
	count              int64
	ttlLeft            time.Duration
}

func (s incrStub) IncrPending(context.Context, string, time.Duration) (int64, time.Duration, error) {
	return s.count, s.ttlLeft, nil
}

func mustParse(t testing.TB, s string) ratelimit.Rate {
	t.Helper()
	r, err := ratelimit.ParseRate(s)
	if err != nil {
		t.Fatalf("ParseRate(%q): %v", s, err)
	}
	return r
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want ratelimit.Rate
	}{
		{"", ratelimit.Rate{}},
		{"10/min", ratelimit.Rate{N: 10, Per: time.Minute}},
		{"5/hour", ratelimit.Rate{N: 5, Per: time.Hour}},
		{"100/day", ratelimit.Rate{N: 100, Per: 24 * time.Hour}},
		{"3/s", ratelimit.Rate{N: 3, Per: time.Second}},
		{"20/sec", ratelimit.Rate{N: 20, Per: time.Second}},
		{"1/second", ratelimit.Rate{N: 1, Per: time.Second}},
		{"7/m", ratelimit.Rate{N: 7, Per: time.Minute}},
		{"7/minute", ratelimit.Rate{N: 7, Per: time.Minute}},
		{"2/h", ratelimit.Rate{N: 2, Per: time.Hour}},
		{"2/d", ratelimit.Rate{N: 2, Per: 24 * time.Hour}},
		{"10/5m", ratelimit.Rate{N: 10, Per: 5 * time.Minute}},
		{"10/2d", ratelimit.Rate{N: 10, Per: 48 * time.Hour}},
		{"10/15min", ratelimit.Rate{N: 10, Per: 15 * time.Minute}},
		{"10/1h30m", ratelimit.Rate{N: 10, Per: 90 * time.Minute}},
		{"10/500ms", ratelimit.Rate{N: 10, Per: 500 * time.Millisecond}},
		{"10/1.5h", ratelimit.Rate{N: 10, Per: 90 * time.Minute}},
		{"3/1s", ratelimit.Rate{N: 3, Per: time.Second}},
		{"007/min", ratelimit.Rate{N: 7, Per: time.Minute}},
	}
	for _, tt := range tests {
		got, err := ratelimit.ParseRate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseRateInvalid(t *testing.T) {
	for _, in := range []string{
		"10", "/min", "10/", "min/10", "ten/min", "-1/min", "+1/min", "0/min", "1.5/min",
		"10/week", "10/mins", "10/MIN", "10/0s", "10/-5m", "10/0d", "10/-2d", "10/5",
		" 10/min", "10/min ", "10 /min", "10/min/min", "10/m in",
		"99999999999999999999/min", "10/9999999999999999d", "10/106752d",
	} {
		r, err := ratelimit.ParseRate(in)
		if err == nil {
			t.Errorf("ParseRate(%q) = %+v, nil; want an error", in, r)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) {
			t.Errorf("ParseRate(%q): error %q does not name the string", in, err)
		}
	}
}

func TestRateString(t *testing.T) {
	tests := []struct {
		rate ratelimit.Rate
		want string
	}{
		{ratelimit.Rate{}, ""},
		{ratelimit.Rate{N: 3, Per: time.Second}, "3/s"},
		{ratelimit.Rate{N: 10, Per: time.Minute}, "10/min"},
		{ratelimit.Rate{N: 5, Per: time.Hour}, "5/hour"},
		{ratelimit.Rate{N: 100, Per: 24 * time.Hour}, "100/day"},
		{ratelimit.Rate{N: 10, Per: 5 * time.Minute}, "10/5m0s"},
		{ratelimit.Rate{N: 10, Per: 500 * time.Millisecond}, "10/500ms"},
	}
	for _, tt := range tests {
		if got := tt.rate.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.rate, got, tt.want)
		}
		// String and ParseRate round-trip.
		if back, err := ratelimit.ParseRate(tt.want); err != nil || back != tt.rate {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v, nil", tt.want, back, err, tt.rate)
		}
	}
}

func TestRateZero(t *testing.T) {
	tests := []struct {
		rate ratelimit.Rate
		want bool
	}{
		{ratelimit.Rate{}, true},
		{ratelimit.Rate{N: 1, Per: time.Second}, false},
		{ratelimit.Rate{N: 1}, false},
		{ratelimit.Rate{Per: time.Second}, false},
	}
	for _, tt := range tests {
		if got := tt.rate.Zero(); got != tt.want {
			t.Errorf("%+v.Zero() = %v, want %v", tt.rate, got, tt.want)
		}
	}
}

// TestAllowTripsAndRecovers drives "3/min" (one event every 20 s, burst 3)
// on a store.RateStore, on a fake clock: the 4th event at once is refused
// with the exact time until the next one, refused events change nothing,
// budget comes back one event per 20 s, and all of it after a minute.
func TestAllowTripsAndRecovers(t *testing.T) {
	f := newRateFake(t)
	l := ratelimit.New(f, "rl:")
	ctx := t.Context()
	r := mustParse(t, "3/min")
	step := func(what string, wantOK bool, wantRetry time.Duration) {
		t.Helper()
		ok, retry, err := l.Allow(ctx, "alice", r)
		if err != nil || ok != wantOK || retry != wantRetry {
			t.Fatalf("%s: Allow = %v, %v, %v; want %v, %v, nil", what, ok, retry, err, wantOK, wantRetry)
		}
	}

	for i := range 3 {
		step(fmt.Sprintf("event %d", i+1), true, 0)
	}
	step("event 4", false, 20*time.Second)

	// Other keys have their own budget.
	if ok, _, err := l.Allow(ctx, "bob", r); err != nil || !ok {
		t.Fatalf("Allow(bob) = %v, %v; want true, nil", ok, err)
	}

	// Refused events change nothing: the retry time only counts down.
	f.advance(5 * time.Second)
	for range 10 {
		step("5 s later", false, 15*time.Second)
	}
	f.advance(14*time.Second + 500*time.Millisecond)
	step("half a second before the interval ends", false, time.Second) // rounded up
	f.advance(500 * time.Millisecond)
	step("20 s after the burst", true, 0)
	step("right after the regained event", false, 20*time.Second)

	// Idle for a minute (three intervals): the whole burst is back.
	f.advance(time.Minute)
	for i := range 3 {
		step(fmt.Sprintf("a minute later, event %d", i+1), true, 0)
	}
	step("a minute later, event 4", false, 20*time.Second)
}

// TestAllowFixedWindowFallback drives "3/min" on a PendingStore without
// store.RateStore: fixed windows on IncrPending, opened by a key's first
// event, in which refused events count too.
func TestAllowFixedWindowFallback(t *testing.T) {
	f := newFake()
	l := ratelimit.New(f, "rl:")
	ctx := t.Context()
	r := mustParse(t, "3/min")

	for i := range 3 {
		ok, retry, err := l.Allow(ctx, "alice", r)
		if err != nil || !ok || retry != 0 {
			t.Fatalf("event %d: Allow = %v, %v, %v; want true, 0, nil", i+1, ok, retry, err)
		}
	}
	ok, retry, err := l.Allow(ctx, "alice", r)
	if err != nil || ok || retry != time.Minute {
		t.Fatalf("event 4: Allow = %v, %v, %v; want false, 1m0s, nil", ok, retry, err)
	}

	// Other keys have their own budget.
	if ok, _, err := l.Allow(ctx, "bob", r); err != nil || !ok {
		t.Fatalf("Allow(bob) = %v, %v; want true, nil", ok, err)
	}

	// Refused calls still count, and the window does not move.
	f.advance(40 * time.Second)
	ok, retry, err = l.Allow(ctx, "alice", r)
	if err != nil || ok || retry != 20*time.Second {
		t.Fatalf("40 s later: Allow = %v, %v, %v; want false, 20s, nil", ok, retry, err)
	}
	f.advance(20*time.Second - time.Nanosecond)
	if ok, retry, err = l.Allow(ctx, "alice", r); err != nil || ok || retry != time.Second {
		t.Fatalf("just before the window ends: Allow = %v, %v, %v; want false, 1s, nil", ok, retry, err)
	}

	// A new window opens with a full budget.
	f.advance(time.Nanosecond)
	for i := range 3 {
		ok, retry, err := l.Allow(ctx, "alice", r)
		if err != nil || !ok || retry != 0 {
			t.Fatalf("new window, event %d: Allow = %v, %v, %v; want true, 0, nil", i+1, ok, retry, err)
		}
	}
	if ok, _, err := l.Allow(ctx, "alice", r); err != nil || ok {
		t.Fatalf("new window, event 4: Allow = %v, %v; want false, nil", ok, err)
	}
}

// TestAllowUsesRateStore checks which store method each kind of store
// gets, and the key prefixes: GCRA keys name the rate.
func TestAllowUsesRateStore(t *testing.T) {
	r := mustParse(t, "10/min")
	rf := newRateFake(t) // fails the test on IncrPending
	if _, _, err := ratelimit.New(rf, "auth:rl:").Allow(t.Context(), "k", r); err != nil {
		t.Fatal(err)
	}
	if keys := rf.storeKeys(); len(keys) != 1 || !strings.HasPrefix(keys[0], "auth:rl:gcra:10/1m0s:") {
		t.Errorf("RateStore keys: got %q, want one starting with \"auth:rl:gcra:10/1m0s:\"", keys)
	}
	f := newFake()
	if _, _, err := ratelimit.New(f, "auth:rl:").Allow(t.Context(), "k", r); err != nil {
		t.Fatal(err)
	}
	if keys := f.storeKeys(); len(keys) != 1 || !strings.HasPrefix(keys[0], "auth:rl:1m0s:") {
		t.Errorf("fixed-window keys: got %q, want one starting with \"auth:rl:1m0s:\"", keys)
	}
}

// TestAllowEmissionInterval checks the interval a Limiter asks a RateStore
// for: Per/N, rounded up to the nanosecond, with burst N.
func TestAllowEmissionInterval(t *testing.T) {
	tests := []struct {
		rate     ratelimit.Rate
		interval time.Duration
	}{
		{ratelimit.Rate{N: 10, Per: time.Minute}, 6 * time.Second},
		{ratelimit.Rate{N: 3, Per: time.Second}, 333333334 * time.Nanosecond},
		{ratelimit.Rate{N: 7, Per: time.Minute}, 8571428572 * time.Nanosecond},
		{ratelimit.Rate{N: 1, Per: time.Hour}, time.Hour},
		{ratelimit.Rate{N: 10, Per: 5 * time.Nanosecond}, time.Nanosecond},
	}
	for _, tt := range tests {
		var got recordedRate
		l := ratelimit.New(&got, "rl:")
		if _, _, err := l.Allow(t.Context(), "k", tt.rate); err != nil {
			t.Fatal(err)
		}
		if got.interval != tt.interval || got.burst != tt.rate.N {
			t.Errorf("%+v: AllowRate got interval %v, burst %d; want %v, %d", tt.rate, got.interval, got.burst, tt.interval, tt.rate.N)
		}
	}
}

// recordedRate is a store.RateStore that records the arguments of the last
// AllowRate and allows.
type recordedRate struct {
	store.PendingStore // nil: only AllowRate may be called
	interval           time.Duration
	burst              int
}

func (s *recordedRate) AllowRate(_ context.Context, _ string, interval time.Duration, burst int) (bool, time.Duration, error) {
	s.interval, s.burst = interval, burst
	return true, 0, nil
}

func TestAllowSeparatesPeriods(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := ratelimit.New(b.new(), "rl:")
			ctx := t.Context()
			perMin, perHour := ratelimit.Rate{N: 1, Per: time.Minute}, ratelimit.Rate{N: 1, Per: time.Hour}
			if ok, _, err := l.Allow(ctx, "k", perMin); err != nil || !ok {
				t.Fatalf("Allow(1/min) = %v, %v; want true, nil", ok, err)
			}
			if ok, _, err := l.Allow(ctx, "k", perHour); err != nil || !ok {
				t.Fatalf("Allow(1/hour) on the same key = %v, %v; want true, nil (its own state)", ok, err)
			}
			if ok, _, err := l.Allow(ctx, "k", perMin); err != nil || ok {
				t.Fatalf("second Allow(1/min) = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestAllowZeroRateSkipsStore(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			f := b.new()
			f.setErr(store.ErrUnavailable) // a store call would fail
			l := ratelimit.New(f, "rl:")
			for range 100 {
				ok, retry, err := l.Allow(t.Context(), "k", ratelimit.Rate{})
				if err != nil || !ok || retry != 0 {
					t.Fatalf("Allow(zero rate) = %v, %v, %v; want true, 0, nil", ok, retry, err)
				}
			}
			if n := f.storeCalls(); n != 0 {
				t.Fatalf("store calls: got %d, want 0", n)
			}
		})
	}
}

func TestAllowInvalidRate(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			f := b.new()
			l := ratelimit.New(f, "rl:")
			for _, r := range []ratelimit.Rate{
				{N: 0, Per: time.Minute}, {N: -1, Per: time.Minute}, {N: 1}, {N: 1, Per: -time.Second},
			} {
				ok, _, err := l.Allow(t.Context(), "k", r)
				if err == nil || ok {
					t.Errorf("Allow(%+v) = %v, %v; want false and an error", r, ok, err)
				}
			}
			if n := f.storeCalls(); n != 0 {
				t.Fatalf("store calls: got %d, want 0", n)
			}
		})
	}
}

func TestAllowStoreError(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			f := b.new()
			f.setErr(fmt.Errorf("backend: %w", store.ErrUnavailable))
			l := ratelimit.New(f, "rl:")
			ok, _, err := l.Allow(t.Context(), "k", ratelimit.Rate{N: 100, Per: time.Minute})
			if ok || !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("Allow on a failing store = %v, %v; want false and an error wrapping ErrUnavailable", ok, err)
			}
		})
	}
}

func TestRetryAfterRounding(t *testing.T) {
	tests := []struct {
		left time.Duration
		want time.Duration
	}{
		{-time.Second, time.Second},
		{0, time.Second},
		{time.Nanosecond, time.Second},
		{time.Millisecond, time.Second},
		{999 * time.Millisecond, time.Second},
		{time.Second, time.Second},
		{time.Second + time.Nanosecond, 2 * time.Second},
		{1500 * time.Millisecond, 2 * time.Second},
		{59*time.Second + 1, time.Minute},
		{time.Minute, time.Minute},
		{time.Hour - time.Millisecond, time.Hour},
	}
	for _, tt := range tests {
		for name, ps := range map[string]store.PendingStore{
			"gcra":         rateStub{retry: tt.left},
			"fixed_window": incrStub{count: 11, ttlLeft: tt.left},
		} {
			l := ratelimit.New(ps, "rl:")
			ok, retry, err := l.Allow(t.Context(), "k", ratelimit.Rate{N: 10, Per: time.Hour})
			if err != nil || ok || retry != tt.want {
				t.Errorf("%s: time left %v: Allow = %v, %v, %v; want false, %v, nil", name, tt.left, ok, retry, err, tt.want)
			}
		}
	}
}

func TestAllowHashesKeys(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			f := b.new()
			l := ratelimit.New(f, "auth:rl:")
			raw := []string{"alice@example.com", "Alice@Example.com", "203.0.113.7", "login:alice@example.com", ""}
			for _, k := range raw {
				if _, _, err := l.Allow(t.Context(), k, ratelimit.Rate{N: 5, Per: time.Minute}); err != nil {
					t.Fatalf("Allow(%q): %v", k, err)
				}
			}
			keys := f.storeKeys()
			seen := map[string]bool{}
			for _, sk := range keys {
				if !strings.HasPrefix(sk, "auth:rl:") {
					t.Errorf("store key %q: want the prefix \"auth:rl:\"", sk)
				}
				for _, k := range raw {
					if k != "" && strings.Contains(strings.ToLower(sk), strings.ToLower(k)) {
						t.Errorf("store key %q contains the raw key %q", sk, k)
					}
				}
				for _, part := range []string{"alice", "example", "203.0"} {
					if strings.Contains(strings.ToLower(sk), part) {
						t.Errorf("store key %q contains %q", sk, part)
					}
				}
				seen[sk] = true
			}
			if len(seen) != len(raw) {
				t.Errorf("distinct store keys: got %d, want %d (one per key): %q", len(seen), len(raw), keys)
			}
		})
	}
}

func TestAllowConcurrent(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			f := b.new()
			// Two Limiters on one store stand for two instances of the
			// application.
			limiters := []*ratelimit.Limiter{ratelimit.New(f, "rl:"), ratelimit.New(f, "rl:")}
			const n, racers = 10, 64
			var allowed atomic.Int64
			var start, done sync.WaitGroup
			start.Add(1)
			for i := range racers {
				done.Go(func() {
					start.Wait()
					ok, _, err := limiters[i%2].Allow(t.Context(), "k", ratelimit.Rate{N: n, Per: time.Minute})
					if err != nil {
						t.Errorf("Allow: %v", err)
					}
					if ok {
						allowed.Add(1)
					}
				})
			}
			start.Done()
			done.Wait()
			if got := allowed.Load(); got != n {
				t.Fatalf("allowed: got %d, want %d", got, n)
			}
		})
	}
}

// redisStores is testenv.RedisStores.
func redisStores(tb testing.TB, n int) []*redis.Store {
	tb.Helper()
	return testenv.RedisStores(tb, n)
}

// TestAllowRedisSharedBudget runs two Limiters on two Redis clients, which
// stand for two instances of an application, at "3/3s" (one event a
// second, burst 3): they share the budget, and a refused client that waits
// out its retry time gets in.
func TestAllowRedisSharedBudget(t *testing.T) {
	stores := redisStores(t, 2)
	a, b := ratelimit.New(stores[0], "rl:"), ratelimit.New(stores[1], "rl:")
	ctx := t.Context()
	r := mustParse(t, "3/3s")

	steps := []struct {
		l    *ratelimit.Limiter
		name string
		ok   bool
	}{{a, "a", true}, {b, "b", true}, {a, "a", true}, {b, "b", false}, {a, "a", false}}
	var retry time.Duration
	for i, st := range steps {
		ok, rt, err := st.l.Allow(ctx, "k", r)
		if err != nil || ok != st.ok {
			t.Fatalf("event %d on %s: Allow = %v, %v; want %v, nil", i+1, st.name, ok, err, st.ok)
		}
		if !ok && rt != time.Second {
			t.Fatalf("event %d on %s: retryAfter = %v, want 1s (one interval, rounded up)", i+1, st.name, rt)
		}
		retry = rt
	}

	// Budget comes back within the retry time.
	time.Sleep(retry + 50*time.Millisecond)
	if ok, _, err := b.Allow(ctx, "k", r); err != nil || !ok {
		t.Fatalf("after the retry time, on b: Allow = %v, %v; want true, nil", ok, err)
	}
}

func BenchmarkAllowMemoryFake(b *testing.B) {
	l := ratelimit.New(newFake(), "rl:")
	r := ratelimit.Rate{N: 1 << 30, Per: time.Hour}
	ctx := b.Context()
	for b.Loop() {
		if _, _, err := l.Allow(ctx, "login:ip:203.0.113.7", r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAllowMemory(b *testing.B) {
	l := ratelimit.New(memory.New(), "rl:")
	r := ratelimit.Rate{N: 1 << 30, Per: time.Hour}
	ctx := b.Context()
	for b.Loop() {
		if _, _, err := l.Allow(ctx, "login:ip:203.0.113.7", r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAllowRedis(b *testing.B) {
	l := ratelimit.New(redisStores(b, 1)[0], "rl:")
	r := ratelimit.Rate{N: 1 << 30, Per: time.Hour}
	ctx := b.Context()
	for b.Loop() {
		if _, _, err := l.Allow(ctx, "login:ip:203.0.113.7", r); err != nil {
			b.Fatal(err)
		}
	}
}
