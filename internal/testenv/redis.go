package testenv

import (
	"context"
	"crypto/rand"
	"os"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsys-go/authsys/store/redis"
)

// RedisURLEnv names the environment variable with the test Redis URL.
const RedisURLEnv = "AUTHSYS_TEST_REDIS_URL"

// RedisStores returns n redis.Stores on the Redis of RedisURLEnv, each on
// its own client (n application instances), sharing one fresh key prefix
// whose keys are deleted when tb ends (SCAN MATCH + DEL; nothing else is
// touched). Without the variable it skips tb (see Skip).
func RedisStores(tb testing.TB, n int) []*redis.Store {
	tb.Helper()
	u := os.Getenv(RedisURLEnv)
	if u == "" {
		Skip(tb, "set "+RedisURLEnv+" (e.g. redis://127.0.0.1:6379/0) to run the Redis tests")
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
