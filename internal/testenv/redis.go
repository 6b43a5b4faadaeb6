package testenv

import (
	"context"
	"crypto/rand"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsys-go/authsys/store/redis"
)

// RedisURLEnv names the environment variable with the test Redis URL.
const RedisURLEnv = "AUTHSYS_TEST_REDIS_URL"

// RedisURL returns the test Redis URL, or skips tb without it (see Skip).
func RedisURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(RedisURLEnv)
	if u == "" {
		Skip(tb, "set "+RedisURLEnv+" (e.g. redis://127.0.0.1:6379/0) to run the Redis tests")
	}
	return u
}

// RedisPrefix returns a fresh key prefix in the test Redis whose keys are
// deleted when tb ends (SCAN MATCH + DEL through a client of its own, as
// the test's clients may point at a dead address by then; nothing else is
// touched).
func RedisPrefix(tb testing.TB) string {
	tb.Helper()
	o, err := goredis.ParseURL(RedisURL(tb))
	if err != nil {
		tb.Fatalf("%s: %v", RedisURLEnv, err)
	}
	prefix := "authsys_test:" + rand.Text() + ":"
	c := goredis.NewClient(o)
	tb.Cleanup(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				tb.Errorf("cleanup: DEL: %v", err)
			}
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("cleanup: SCAN %s*: %v", prefix, err)
		}
	})
	return prefix
}

// RedisStores returns n redis.Stores on the test Redis, each on its own
// client (n application instances), sharing one RedisPrefix.
func RedisStores(tb testing.TB, n int) []*redis.Store {
	tb.Helper()
	u, prefix := RedisURL(tb), RedisPrefix(tb)
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
