package ratelimit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsys-go/authsys/internal/ratelimit"
	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/redis"
)

// fakeStore is a store.PendingStore in memory with a settable clock. It
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

func TestAllowTripsAndRecovers(t *testing.T) {
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

func TestAllowSeparatesPeriods(t *testing.T) {
	f := newFake()
	l := ratelimit.New(f, "rl:")
	ctx := t.Context()
	perMin, perHour := ratelimit.Rate{N: 1, Per: time.Minute}, ratelimit.Rate{N: 1, Per: time.Hour}
	if ok, _, err := l.Allow(ctx, "k", perMin); err != nil || !ok {
		t.Fatalf("Allow(1/min) = %v, %v; want true, nil", ok, err)
	}
	if ok, _, err := l.Allow(ctx, "k", perHour); err != nil || !ok {
		t.Fatalf("Allow(1/hour) on the same key = %v, %v; want true, nil (its own counter)", ok, err)
	}
	if ok, _, err := l.Allow(ctx, "k", perMin); err != nil || ok {
		t.Fatalf("second Allow(1/min) = %v, %v; want false, nil", ok, err)
	}
}

func TestAllowZeroRateSkipsStore(t *testing.T) {
	f := newFake()
	f.err = store.ErrUnavailable // a store call would fail
	l := ratelimit.New(f, "rl:")
	for range 100 {
		ok, retry, err := l.Allow(t.Context(), "k", ratelimit.Rate{})
		if err != nil || !ok || retry != 0 {
			t.Fatalf("Allow(zero rate) = %v, %v, %v; want true, 0, nil", ok, retry, err)
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("store calls: got %d, want 0", n)
	}
}

func TestAllowInvalidRate(t *testing.T) {
	f := newFake()
	l := ratelimit.New(f, "rl:")
	for _, r := range []ratelimit.Rate{
		{N: 0, Per: time.Minute}, {N: -1, Per: time.Minute}, {N: 1}, {N: 1, Per: -time.Second},
	} {
		ok, _, err := l.Allow(t.Context(), "k", r)
		if err == nil || ok {
			t.Errorf("Allow(%+v) = %v, %v; want false and an error", r, ok, err)
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("store calls: got %d, want 0", n)
	}
}

func TestAllowStoreError(t *testing.T) {
	f := newFake()
	f.err = fmt.Errorf("backend: %w", store.ErrUnavailable)
	l := ratelimit.New(f, "rl:")
	ok, _, err := l.Allow(t.Context(), "k", ratelimit.Rate{N: 100, Per: time.Minute})
	if ok || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Allow on a failing store = %v, %v; want false and an error wrapping ErrUnavailable", ok, err)
	}
}

func TestRetryAfterRounding(t *testing.T) {
	tests := []struct {
		ttlLeft time.Duration
		want    time.Duration
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
		l := ratelimit.New(incrStub{count: 11, ttlLeft: tt.ttlLeft}, "rl:")
		ok, retry, err := l.Allow(t.Context(), "k", ratelimit.Rate{N: 10, Per: time.Hour})
		if err != nil || ok || retry != tt.want {
			t.Errorf("ttlLeft %v: Allow = %v, %v, %v; want false, %v, nil", tt.ttlLeft, ok, retry, err, tt.want)
		}
	}
}

func TestAllowHashesKeys(t *testing.T) {
	f := newFake()
	l := ratelimit.New(f, "auth:rl:")
	raw := []string{"alice@example.com", "Alice@Example.com", "203.0.113.7", "login:alice@example.com", ""}
	for _, k := range raw {
		if _, _, err := l.Allow(t.Context(), k, ratelimit.Rate{N: 5, Per: time.Minute}); err != nil {
			t.Fatalf("Allow(%q): %v", k, err)
		}
	}
	seen := map[string]bool{}
	for _, sk := range f.keys {
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
		t.Errorf("distinct store keys: got %d, want %d (one per key): %q", len(seen), len(raw), f.keys)
	}
}

func TestAllowConcurrent(t *testing.T) {
	f := newFake()
	// Two Limiters on one store stand for two instances of the application.
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
}

// redisStores returns n redis.Stores, each with its own client, on
// AUTHSYS_TEST_REDIS_URL under one fresh key prefix whose keys are deleted
// at cleanup (SCAN MATCH + DEL); it skips without the variable.
func redisStores(tb testing.TB, n int) []*redis.Store {
	tb.Helper()
	u := os.Getenv("AUTHSYS_TEST_REDIS_URL")
	if u == "" {
		testenv.Skip(tb, "set AUTHSYS_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run the Redis tests")
	}
	prefix := "authsys_test:" + rand.Text() + ":"
	o, err := goredis.ParseURL(u)
	if err != nil {
		tb.Fatalf("ParseURL: %v", err)
	}
	c := goredis.NewClient(o)
	tb.Cleanup(func() {
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				tb.Errorf("cleanup: DEL: %v", err)
			}
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("cleanup: SCAN: %v", err)
		}
	})
	stores := make([]*redis.Store, n)
	for i := range stores {
		s, err := redis.NewFromURL(u, redis.WithPrefix(prefix))
		if err != nil {
			tb.Fatalf("NewFromURL: %v", err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	return stores
}

func TestAllowRedisSharedBudget(t *testing.T) {
	// Two Limiters on two Redis clients stand for two instances of an
	// application.
	stores := redisStores(t, 2)
	a, b := ratelimit.New(stores[0], "rl:"), ratelimit.New(stores[1], "rl:")
	ctx := t.Context()
	r := mustParse(t, "3/1s")

	steps := []struct {
		l    *ratelimit.Limiter
		name string
		ok   bool
	}{{a, "a", true}, {b, "b", true}, {a, "a", true}, {b, "b", false}, {a, "a", false}}
	for i, st := range steps {
		ok, retry, err := st.l.Allow(ctx, "k", r)
		if err != nil || ok != st.ok {
			t.Fatalf("event %d on %s: Allow = %v, %v; want %v, nil", i+1, st.name, ok, err, st.ok)
		}
		if !ok && retry != time.Second {
			t.Fatalf("event %d on %s: retryAfter = %v, want 1s", i+1, st.name, retry)
		}
	}

	// The window ends and the budget comes back. The bound only stops a
	// broken store from hanging the test.
	recovered := false
	for range 200 {
		ok, _, err := b.Allow(ctx, "k", r)
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		if ok {
			recovered = true
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if !recovered {
		t.Fatal("the budget never came back after the window")
	}
	if ok, _, err := a.Allow(ctx, "k", r); err != nil || !ok {
		t.Fatalf("new window, second event on a: Allow = %v, %v; want true, nil", ok, err)
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
