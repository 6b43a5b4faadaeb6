package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/redis"
	"github.com/authsys-go/authsys/store/storetest"
)

// envURL names the environment variable that points the tests at a Redis
// server they may write to (only under their own random key prefixes).
const envURL = "AUTHSYS_TEST_REDIS_URL"

// redisOptions returns the client options for the test server, or skips.
func redisOptions(tb testing.TB) *goredis.Options {
	tb.Helper()
	u := os.Getenv(envURL)
	if u == "" {
		testenv.Skipf(tb, "set %s (e.g. redis://127.0.0.1:6379/0) to run the Redis tests", envURL)
	}
	o, err := goredis.ParseURL(u)
	if err != nil {
		tb.Fatalf("ParseURL(%s): %v", envURL, err)
	}
	return o
}

// newClient returns a client of the test server, closed at cleanup.
func newClient(tb testing.TB, contextTimeout bool) *goredis.Client {
	tb.Helper()
	o := redisOptions(tb)
	o.ContextTimeoutEnabled = contextTimeout
	c := goredis.NewClient(o)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// newClusterClient returns a client of the test Redis Cluster, closed at
// cleanup, or skips (testenv.RedisClusterAddrs).
func newClusterClient(tb testing.TB, contextTimeout bool) *goredis.ClusterClient {
	tb.Helper()
	o := testenv.RedisClusterOptions(tb)
	o.ContextTimeoutEnabled = contextTimeout
	c := goredis.NewClusterClient(o)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// backend is a Redis deployment the tests run on: a single server
// (AUTHSYS_TEST_REDIS_URL) or a Redis Cluster (AUTHSYS_TEST_REDIS_CLUSTER).
type backend struct {
	name string
	// client returns a new client, closed at cleanup, or skips.
	client func(tb testing.TB, contextTimeout bool) goredis.UniversalClient
	// named returns a new client, with ContextTimeoutEnabled, whose
	// connections carry the client name (CLIENT SETNAME), closed at
	// cleanup, or skips.
	named func(tb testing.TB, clientName string) goredis.UniversalClient
}

var (
	single = backend{
		name:   "single",
		client: func(tb testing.TB, ct bool) goredis.UniversalClient { return newClient(tb, ct) },
		named: func(tb testing.TB, clientName string) goredis.UniversalClient {
			o := redisOptions(tb)
			o.ContextTimeoutEnabled = true
			o.ClientName = clientName
			c := goredis.NewClient(o)
			tb.Cleanup(func() { _ = c.Close() })
			return c
		},
	}
	cluster = backend{
		name:   "cluster",
		client: func(tb testing.TB, ct bool) goredis.UniversalClient { return newClusterClient(tb, ct) },
		named: func(tb testing.TB, clientName string) goredis.UniversalClient {
			o := testenv.RedisClusterOptions(tb)
			o.ContextTimeoutEnabled = true
			o.ClientName = clientName
			c := goredis.NewClusterClient(o)
			tb.Cleanup(func() { _ = c.Close() })
			return c
		},
	}
)

// eachBackend runs f as a subtest on a single server and on a cluster, the
// two at once (they share nothing).
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range []backend{single, cluster} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// testPrefix returns a fresh key prefix and deletes every key under it at
// cleanup (SCAN MATCH + DEL, on every master of a cluster; nothing else in
// the database is touched).
func testPrefix(tb testing.TB, c goredis.UniversalClient) string {
	tb.Helper()
	prefix := "authsys_test:" + rand.Text() + ":"
	tb.Cleanup(func() { deleteKeys(tb, c, prefix+"*") })
	return prefix
}

// deleteKeys deletes the keys matching pattern.
func deleteKeys(tb testing.TB, c goredis.UniversalClient, pattern string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := testenv.DeleteRedisKeys(ctx, c, pattern); err != nil {
		tb.Errorf("cleanup: %v", err)
	}
}

// newStore returns a Store on b with its own prefix, and the raw client
// and prefix for looking behind it.
func newStore(tb testing.TB, b backend) (*redis.Store, goredis.UniversalClient, string) {
	tb.Helper()
	c := b.client(tb, true)
	prefix := testPrefix(tb, c)
	return redis.New(c, redis.WithPrefix(prefix)), c, prefix
}

func TestConformance(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		// The Store takes a different path for clients that bound network
		// I/O by the context's deadline and for those that do not: run
		// both. Each case gets a key prefix of its own through
		// storetest.Fresh, deleted through a client of its own, since
		// Break closes the Store's.
		for _, contextTimeout := range []bool{true, false} {
			t.Run(fmt.Sprint("ContextTimeoutEnabled=", contextTimeout), func(t *testing.T) {
				cleaner := b.client(t, true)
				storetest.RunPendingStore(t, storetest.Fresh(func(t *testing.T, name string) storetest.PendingHarness {
					prefix := "authsys_test:" + name + ":"
					t.Cleanup(func() { deleteKeys(t, cleaner, prefix+"*") })
					c := b.client(t, contextTimeout)
					return storetest.PendingHarness{
						Store: redis.New(c, redis.WithPrefix(prefix)),
						Break: func() { _ = c.Close() },
					}
				}))
			})
		}
	})
}

func TestKeysArePrefixed(t *testing.T) {
	tests := []struct {
		name   string
		opts   []redis.Option
		prefix string
	}{
		{"default", nil, redis.DefaultPrefix},
		{"custom", []redis.Option{redis.WithPrefix("authsys_test:custom:")}, "authsys_test:custom:"},
		{"empty", []redis.Option{redis.WithPrefix("")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, true)
			key := "authsys_test_key_" + rand.Text()
			full := tt.prefix + key
			t.Cleanup(func() { deleteKeys(t, c, full) })
			s := redis.New(c, tt.opts...)
			if err := s.PutPending(t.Context(), key, []byte("v"), time.Minute); err != nil {
				t.Fatalf("PutPending: %v", err)
			}
			if got, err := c.Get(t.Context(), full).Result(); err != nil || got != "v" {
				t.Fatalf("GET %s = %q, %v; want \"v\", nil", full, got, err)
			}
		})
	}
}

func TestTTL(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, c, prefix := newStore(t, b)
		ctx := t.Context()
		tests := []struct {
			name   string
			ttl    time.Duration
			maxTTL time.Duration
		}{
			{"minutes", 10 * time.Minute, 10 * time.Minute},
			{"sub-millisecond rounded up", 10 * time.Microsecond, time.Millisecond},
			{"zero rounded up", 0, time.Millisecond},
			{"negative rounded up", -time.Second, time.Millisecond},
		}
		ops := []struct {
			name string
			put  func(key string, ttl time.Duration) error
		}{
			{"PutPending", func(key string, ttl time.Duration) error {
				return s.PutPending(ctx, key, []byte("v"), ttl)
			}},
			{"AddPendingIfAbsent", func(key string, ttl time.Duration) error {
				_, err := s.AddPendingIfAbsent(ctx, key, []byte("v"), ttl)
				return err
			}},
			{"IncrPending", func(key string, ttl time.Duration) error {
				_, left, err := s.IncrPending(ctx, key, ttl)
				if err == nil && (left <= 0 || left > max(ttl, time.Millisecond)) {
					return fmt.Errorf("ttlLeft = %v, want in (0, %v]", left, max(ttl, time.Millisecond))
				}
				return err
			}},
		}
		for _, op := range ops {
			for _, tt := range tests {
				t.Run(op.name+"/"+tt.name, func(t *testing.T) {
					key := op.name + ":" + tt.name
					if err := op.put(key, tt.ttl); err != nil {
						t.Fatalf("%s(ttl %v): %v", op.name, tt.ttl, err)
					}
					// -2: already expired (a 1 ms key may be gone); -1 would
					// mean a key without expiry, which must never happen.
					pttl, err := c.PTTL(ctx, prefix+key).Result()
					if err != nil {
						t.Fatalf("PTTL: %v", err)
					}
					if pttl == -1 || pttl > tt.maxTTL {
						t.Fatalf("PTTL = %v, want at most %v and never persistent", pttl, tt.maxTTL)
					}
				})
			}
		}
	})
}

func TestIncrPendingLongerTTLDoesNotExtend(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _, _ := newStore(t, b)
		ctx := t.Context()

		n, left, err := s.IncrPending(ctx, "ctr", 10*time.Second)
		if err != nil || n != 1 || left <= 0 || left > 10*time.Second {
			t.Fatalf("first IncrPending = %d, %v, %v; want 1, (0, 10s], nil", n, left, err)
		}
		// A later increment with a longer ttl must not extend the window.
		n, left, err = s.IncrPending(ctx, "ctr", time.Hour)
		if err != nil || n != 2 || left <= 0 || left > 10*time.Second {
			t.Fatalf("second IncrPending = %d, %v, %v; want 2, (0, 10s], nil", n, left, err)
		}
	})
}

func TestIncrPendingRepairsMissingExpiry(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, c, prefix := newStore(t, b)
		ctx := t.Context()
		if err := c.Set(ctx, prefix+"ctr", "5", 0).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
		n, left, err := s.IncrPending(ctx, "ctr", time.Minute)
		if err != nil || n != 6 || left <= 0 || left > time.Minute {
			t.Fatalf("IncrPending = %d, %v, %v; want 6, (0, 1m], nil", n, left, err)
		}
		if pttl, err := c.PTTL(ctx, prefix+"ctr").Result(); err != nil || pttl <= 0 {
			t.Fatalf("PTTL = %v, %v; want a positive expiry", pttl, err)
		}
	})
}

func TestIncrPendingOnNonInteger(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _, _ := newStore(t, b)
		ctx := t.Context()
		if err := s.PutPending(ctx, "k", []byte("not a number"), time.Minute); err != nil {
			t.Fatalf("PutPending: %v", err)
		}
		_, _, err := s.IncrPending(ctx, "k", time.Minute)
		if err == nil || errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("IncrPending on a non-integer: got %v, want a plain error", err)
		}
	})
}

// TestAllowRateKey looks behind AllowRate: the state is one prefixed key
// holding the theoretical arrival time in microseconds of the server's
// clock, expiring at it.
func TestAllowRateKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, c, prefix := newStore(t, b)
		ctx := t.Context()
		for range 2 {
			if ok, _, err := s.AllowRate(ctx, "rk", 10*time.Second, 3); err != nil || !ok {
				t.Fatalf("AllowRate = %v, %v; want true, nil", ok, err)
			}
		}
		tm, err := c.Time(ctx).Result()
		if err != nil {
			t.Fatalf("TIME: %v", err)
		}
		tat, err := c.Get(ctx, prefix+"rk").Int64()
		if err != nil {
			t.Fatalf("GET %srk: %v", prefix, err)
		}
		// Two events from a full burst: the TAT is about 20 s ahead.
		if ahead := time.UnixMicro(tat).Sub(tm); ahead <= 10*time.Second || ahead > 20*time.Second {
			t.Errorf("TAT - server time: got %v, want within (10s, 20s]", ahead)
		}
		if pttl, err := c.PTTL(ctx, prefix+"rk").Result(); err != nil || pttl <= 10*time.Second || pttl > 20*time.Second {
			t.Errorf("PTTL = %v, %v; want within (10s, 20s]", pttl, err)
		}
		if n, err := c.Exists(ctx, "rk").Result(); err != nil || n != 0 {
			t.Errorf("EXISTS rk (unprefixed) = %d, %v; want 0, nil", n, err)
		}
	})
}

// TestAllowRateOnOtherValue checks that AllowRate on a key holding a value
// it did not write neither panics nor fails: the value counts as no state.
func TestAllowRateOnOtherValue(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _, _ := newStore(t, b)
		ctx := t.Context()
		if err := s.PutPending(ctx, "k", []byte("not a number"), time.Minute); err != nil {
			t.Fatalf("PutPending: %v", err)
		}
		if ok, _, err := s.AllowRate(ctx, "k", time.Minute, 1); err != nil || !ok {
			t.Fatalf("AllowRate over a non-numeric value = %v, %v; want true, nil", ok, err)
		}
	})
}

// TestAllowRateRaceAcrossClients races 40 checks of burst 10 on one key
// from two clients: exactly 10 are allowed.
func TestAllowRateRaceAcrossClients(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		c1, c2 := b.client(t, true), b.client(t, false)
		prefix := testPrefix(t, c1)
		stores := []*redis.Store{redis.New(c1, redis.WithPrefix(prefix)), redis.New(c2, redis.WithPrefix(prefix))}
		ctx := t.Context()
		const n, burst = 40, 10
		oks := make([]bool, n)
		errs := make([]error, n)
		race(n, func(i int) {
			oks[i], _, errs[i] = stores[i%2].AllowRate(ctx, "k", time.Hour, burst)
		})
		allowed := 0
		for i := range n {
			if errs[i] != nil {
				t.Errorf("AllowRate %d: %v", i, errs[i])
			}
			if oks[i] {
				allowed++
			}
		}
		if allowed != burst {
			t.Errorf("allowed: got %d, want %d", allowed, burst)
		}
	})
}

// race runs fn on n goroutines released together.
func race(n int, fn func(i int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Go(func() {
			start.Wait()
			fn(i)
		})
	}
	start.Done()
	done.Wait()
}

// The race tests below complement the conformance suite's: two Stores on
// two clients (one bounding I/O by the context, one not) stand for two
// processes sharing one Redis.

func TestTakePendingRaceAcrossClients(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		c1, c2 := b.client(t, true), b.client(t, false)
		prefix := testPrefix(t, c1)
		stores := []*redis.Store{redis.New(c1, redis.WithPrefix(prefix)), redis.New(c2, redis.WithPrefix(prefix))}
		ctx := t.Context()
		const keys, racers = 20, 16
		for k := range keys {
			key := fmt.Sprint("take", k)
			if err := stores[0].PutPending(ctx, key, []byte(key), time.Minute); err != nil {
				t.Fatalf("PutPending: %v", err)
			}
			var mu sync.Mutex
			var winners []int
			race(racers, func(i int) {
				v, err := stores[i%2].TakePending(ctx, key)
				switch {
				case err == nil:
					if string(v) != key {
						t.Errorf("TakePending(%s) = %q, want %q", key, v, key)
					}
					mu.Lock()
					winners = append(winners, i)
					mu.Unlock()
				case !errors.Is(err, store.ErrNotFound):
					t.Errorf("TakePending(%s): %v", key, err)
				}
			})
			if len(winners) != 1 {
				t.Fatalf("key %s: got %d winners, want 1", key, len(winners))
			}
		}
	})
}

func TestAddPendingIfAbsentRaceAcrossClients(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		c1, c2 := b.client(t, true), b.client(t, false)
		prefix := testPrefix(t, c1)
		stores := []*redis.Store{redis.New(c1, redis.WithPrefix(prefix)), redis.New(c2, redis.WithPrefix(prefix))}
		ctx := t.Context()
		const keys, racers = 20, 16
		for k := range keys {
			key := fmt.Sprint("add", k)
			var mu sync.Mutex
			var winners []string
			race(racers, func(i int) {
				v := fmt.Sprint("racer", i)
				ok, err := stores[i%2].AddPendingIfAbsent(ctx, key, []byte(v), time.Minute)
				if err != nil {
					t.Errorf("AddPendingIfAbsent: %v", err)
				}
				if ok {
					mu.Lock()
					winners = append(winners, v)
					mu.Unlock()
				}
			})
			if len(winners) != 1 {
				t.Fatalf("key %s: got %d winners, want 1", key, len(winners))
			}
			if got, err := stores[0].GetPending(ctx, key); err != nil || string(got) != winners[0] {
				t.Fatalf("GetPending(%s) = %q, %v; want the winner's %q", key, got, err, winners[0])
			}
		}
	})
}

func TestIncrPendingRaceAcrossClients(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		c1, c2 := b.client(t, true), b.client(t, false)
		prefix := testPrefix(t, c1)
		stores := []*redis.Store{redis.New(c1, redis.WithPrefix(prefix)), redis.New(c2, redis.WithPrefix(prefix))}
		ctx := t.Context()
		const racers = 64
		counts := make([]int64, racers)
		race(racers, func(i int) {
			n, left, err := stores[i%2].IncrPending(ctx, "ctr", time.Minute)
			if err != nil {
				t.Errorf("IncrPending: %v", err)
			}
			if left <= 0 || left > time.Minute {
				t.Errorf("ttlLeft = %v, want in (0, 1m]", left)
			}
			counts[i] = n
		})
		slices.Sort(counts)
		for i, n := range counts {
			if n != int64(i+1) {
				t.Fatalf("sorted counts[%d] = %d, want %d (every count 1..%d exactly once): %v", i, n, i+1, racers, counts)
			}
		}
	})
}

// ops calls each PendingStore method once.
var ops = []struct {
	name string
	call func(ctx context.Context, s store.PendingStore) error
}{
	{"PutPending", func(ctx context.Context, s store.PendingStore) error {
		return s.PutPending(ctx, "k", []byte("v"), time.Minute)
	}},
	{"AddPendingIfAbsent", func(ctx context.Context, s store.PendingStore) error {
		_, err := s.AddPendingIfAbsent(ctx, "k", []byte("v"), time.Minute)
		return err
	}},
	{"GetPending", func(ctx context.Context, s store.PendingStore) error {
		_, err := s.GetPending(ctx, "k")
		return err
	}},
	{"TakePending", func(ctx context.Context, s store.PendingStore) error {
		_, err := s.TakePending(ctx, "k")
		return err
	}},
	{"DeletePending", func(ctx context.Context, s store.PendingStore) error {
		return s.DeletePending(ctx, "k")
	}},
	{"IncrPending", func(ctx context.Context, s store.PendingStore) error {
		_, _, err := s.IncrPending(ctx, "k", time.Minute)
		return err
	}},
	{"AllowRate", func(ctx context.Context, s store.PendingStore) error {
		_, _, err := s.(store.RateStore).AllowRate(ctx, "rate", time.Second, 3)
		return err
	}},
}

// allOps calls every PendingStore method on s, one after the other, and
// returns their errors by method name.
func allOps(ctx context.Context, s store.PendingStore) map[string]error {
	errs := map[string]error{}
	for _, op := range ops {
		errs[op.name] = op.call(ctx, s)
	}
	return errs
}

func TestUnreachableServer(t *testing.T) {
	// Nothing listens on port 1: every dial is refused.
	c := goredis.NewClient(&goredis.Options{
		Addr:               "127.0.0.1:1",
		MaxRetries:         -1,
		DialerRetries:      1,
		DialerRetryTimeout: time.Millisecond,
	})
	t.Cleanup(func() { _ = c.Close() })
	s := redis.New(c)
	for op, err := range allOps(t.Context(), s) {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s: got %v, want an error wrapping ErrUnavailable", op, err)
		}
	}
}

// silentServer accepts connections and never answers. It returns the
// address; the listener and every accepted connection close at cleanup.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func TestUnresponsiveServer(t *testing.T) {
	tests := []struct {
		name string
		opts goredis.Options
	}{
		// The client bounds its reads by the context's deadline.
		{"context timeout enabled", goredis.Options{ContextTimeoutEnabled: true}},
		// The client would wait forever: the Store must stop waiting itself.
		{"client without timeouts", goredis.Options{ReadTimeout: -1, WriteTimeout: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Addr = silentServer(t)
			o.MaxRetries = -1
			c := goredis.NewClient(&o)
			t.Cleanup(func() { _ = c.Close() })
			s := redis.New(c)

			// Every method at once, each with its own deadline, so that
			// each one meets the silent server (not an expired context).
			errs := make([]error, len(ops))
			done := make(chan struct{})
			go func() {
				defer close(done)
				var wg sync.WaitGroup
				for i, op := range ops {
					wg.Go(func() {
						ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
						defer cancel()
						errs[i] = op.call(ctx, s)
					})
				}
				wg.Wait()
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second): // a watchdog against a hang, not a speed check
				t.Fatal("the calls did not return after their context's deadline")
			}
			for i, err := range errs {
				if !errors.Is(err, store.ErrUnavailable) {
					t.Errorf("%s: got %v, want an error wrapping ErrUnavailable", ops[i].name, err)
				}
			}
		})
	}
}

func TestNewFromURL(t *testing.T) {
	u := os.Getenv(envURL)
	if u == "" {
		testenv.Skipf(t, "set %s to run the Redis tests", envURL)
	}
	c := newClient(t, true)
	prefix := testPrefix(t, c)
	s, err := redis.NewFromURL(u, redis.WithPrefix(prefix))
	if err != nil {
		t.Fatalf("NewFromURL: %v", err)
	}
	ctx := t.Context()
	if err := s.PutPending(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatalf("PutPending: %v", err)
	}
	if got, err := c.Get(ctx, prefix+"k").Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want \"v\", nil", got, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.GetPending(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("GetPending after Close: got %v, want ErrUnavailable", err)
	}
}

func TestNewFromURLErrors(t *testing.T) {
	tests := []struct {
		name        string
		url         string
		unavailable bool
	}{
		{"bad syntax", "redis://user:s3cret@[::1", false},
		{"bad scheme", "http://user:s3cret@localhost:6379", false},
		{"bad database", "redis://user:s3cret@localhost:6379/x", false},
		{"nothing listening", "redis://user:s3cret@127.0.0.1:1/0?max_retries=-1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := redis.NewFromURL(tt.url)
			if err == nil {
				_ = s.Close()
				t.Fatal("got nil error, want one")
			}
			if got := errors.Is(err, store.ErrUnavailable); got != tt.unavailable {
				t.Errorf("errors.Is(%v, ErrUnavailable) = %v, want %v", err, got, tt.unavailable)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q repeats the password", err)
			}
		})
	}
}

func TestCloseLeavesCallerClientOpen(t *testing.T) {
	c := newClient(t, true)
	s := redis.New(c)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING after Store.Close: got %v, want nil (the caller owns the client)", err)
	}
}

func BenchmarkAllowRate(b *testing.B) {
	s, _, _ := newStore(b, single)
	ctx := b.Context()
	for b.Loop() {
		if _, _, err := s.AllowRate(ctx, "rate", time.Microsecond, 1<<30); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIncrPending(b *testing.B) {
	s, _, _ := newStore(b, single)
	ctx := b.Context()
	for b.Loop() {
		if _, _, err := s.IncrPending(ctx, "ctr", time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTakePending(b *testing.B) {
	s, c, prefix := newStore(b, single)
	ctx := b.Context()
	pipe := c.Pipeline()
	for i := range b.N {
		pipe.Set(ctx, fmt.Sprint(prefix, "take", i), "v", time.Minute)
		if pipe.Len() == 1000 || i == b.N-1 {
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = fmt.Sprint("take", i)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.TakePending(ctx, keys[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSessionStore(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		for _, contextTimeout := range []bool{true, false} {
			t.Run(fmt.Sprint("ContextTimeoutEnabled=", contextTimeout), func(t *testing.T) {
				cleaner := b.client(t, true)
				storetest.RunSessionStoreHarness(t, storetest.Fresh(func(t *testing.T, name string) storetest.SessionHarness {
					prefix := "authsys_test:" + name + ":"
					t.Cleanup(func() { deleteKeys(t, cleaner, prefix+"*") })
					c := b.client(t, contextTimeout)
					return storetest.SessionHarness{
						Store:           redis.New(c, redis.WithPrefix(prefix)),
						Break:           func() { _ = c.Close() },
						ExpiresByItself: true,
					}
				}))
			})
		}
	})
}

// TestSessionKeys looks behind the SessionStore: one HASH per session and
// one SET per user, both with a hash tag, the session expiring at the
// earlier of its two ends (moved by a rotation), the set at the later of
// its sessions' ends, and expired IDs leaving the set.
func TestSessionKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, c, prefix := newStore(t, b)
		ctx := t.Context()
		now := time.Now().Truncate(time.Microsecond)
		in := store.Session{ID: "sid", UserID: "uid", CreatedAt: now, LastUsedAt: now,
			IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour), RefreshID: "r0"}
		if err := s.CreateSession(ctx, in); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		sessKey, userKey := prefix+"session:{sid}", prefix+"user_sessions:{uid}"
		if typ, err := c.Type(ctx, sessKey).Result(); err != nil || typ != "hash" {
			t.Fatalf("TYPE %s = %q, %v; want \"hash\", nil", sessKey, typ, err)
		}
		if got, err := c.HGet(ctx, sessKey, "refresh_id").Result(); err != nil || got != "r0" {
			t.Errorf("HGET %s refresh_id = %q, %v; want \"r0\", nil", sessKey, got, err)
		}
		if ids, err := c.SMembers(ctx, userKey).Result(); err != nil || !slices.Equal(ids, []string{"sid"}) {
			t.Errorf("SMEMBERS %s = %q, %v; want [sid], nil", userKey, ids, err)
		}
		wantTTL := func(key string, lo, hi time.Duration) {
			t.Helper()
			ttl, err := c.PTTL(ctx, key).Result()
			if err != nil || ttl < lo || ttl > hi {
				t.Errorf("PTTL %s = %v, %v; want in [%v, %v]", key, ttl, err, lo, hi)
			}
		}
		wantTTL(sessKey, time.Hour-time.Minute, time.Hour+time.Millisecond)
		wantTTL(userKey, 24*time.Hour-time.Minute, 24*time.Hour+time.Millisecond)

		// A rotation moves the session's expiry to its new idle end, never
		// past its absolute end.
		r := store.Rotation{To: "r1", At: now, IdleExpiresAt: now.Add(48 * time.Hour)}
		if _, ok, err := s.RotateSession(ctx, "sid", "r0", r); err != nil || !ok {
			t.Fatalf("RotateSession: %t, %v; want true, nil", ok, err)
		}
		wantTTL(sessKey, 24*time.Hour-time.Minute, 24*time.Hour+time.Millisecond)
		r = store.Rotation{To: "r2", At: now, IdleExpiresAt: now.Add(2 * time.Hour)}
		if _, ok, err := s.RotateSession(ctx, "sid", "r1", r); err != nil || !ok {
			t.Fatalf("RotateSession: %t, %v; want true, nil", ok, err)
		}
		wantTTL(sessKey, 2*time.Hour-time.Minute, 2*time.Hour+time.Millisecond)
		if _, ok, err := s.RevokeSession(ctx, "sid", now, "logout"); err != nil || !ok {
			t.Fatalf("RevokeSession: %t, %v; want true, nil", ok, err)
		}
		wantTTL(sessKey, 2*time.Hour-time.Minute, 2*time.Hour+time.Millisecond)

		// A session whose key has gone leaves its user's set when met.
		if err := c.Del(ctx, sessKey).Err(); err != nil {
			t.Fatalf("DEL: %v", err)
		}
		if got, err := s.SessionsByUser(ctx, "uid"); err != nil || len(got) != 0 {
			t.Errorf("SessionsByUser after the key went: %d sessions, %v; want 0, nil", len(got), err)
		}
		if ids, err := c.SMembers(ctx, userKey).Result(); err != nil || len(ids) != 0 {
			t.Errorf("SMEMBERS %s after SessionsByUser = %q, %v; want none", userKey, ids, err)
		}
	})
}

// TestRotateSessionRaceAcrossClients races rotations from one refresh ID
// through several clients, as several instances would: one wins.
func TestRotateSessionRaceAcrossClients(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		c := b.client(t, true)
		prefix := testPrefix(t, c)
		now := time.Now()
		if err := redis.New(c, redis.WithPrefix(prefix)).CreateSession(t.Context(), store.Session{ID: "sid", UserID: "uid",
			CreatedAt: now, LastUsedAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour), RefreshID: "r0"}); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		const n = 20
		stores := make([]*redis.Store, 4)
		for i := range stores {
			stores[i] = redis.New(b.client(t, i%2 == 0), redis.WithPrefix(prefix))
		}
		oks := make([]bool, n)
		errs := make([]error, n)
		race(n, func(i int) {
			_, oks[i], errs[i] = stores[i%len(stores)].RotateSession(t.Context(), "sid", "r0",
				store.Rotation{To: fmt.Sprint("r", i+1), At: now, IdleExpiresAt: now.Add(time.Hour)})
		})
		winners := 0
		for i := range n {
			if errs[i] != nil {
				t.Errorf("RotateSession #%d: %v", i, errs[i])
			}
			if oks[i] {
				winners++
			}
		}
		if winners != 1 {
			t.Errorf("RotateSession winners: got %d, want 1", winners)
		}
	})
}
