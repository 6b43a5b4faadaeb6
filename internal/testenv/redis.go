package testenv

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
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
		if err := DeleteRedisKeys(ctx, c, prefix+"*"); err != nil {
			tb.Errorf("cleanup: %v", err)
		}
	})
	return prefix
}

// RedisClusterEnv names the environment variable with the addresses of
// the test Redis Cluster's nodes, comma-separated, e.g.
// "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003" (.ci/run starts such a
// cluster of three masters).
const RedisClusterEnv = "AUTHSYS_TEST_REDIS_CLUSTER"

// RedisClusterAddrs returns the addresses of the test Redis Cluster's
// nodes, or skips tb without them (see Skip).
func RedisClusterAddrs(tb testing.TB) []string {
	tb.Helper()
	addrs := splitAddrs(os.Getenv(RedisClusterEnv))
	if len(addrs) == 0 {
		Skip(tb, "set "+RedisClusterEnv+" (e.g. 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003) to run the Redis Cluster tests")
	}
	return addrs
}

// splitAddrs splits a comma-separated list, dropping blanks.
func splitAddrs(v string) []string {
	var addrs []string
	for a := range strings.SplitSeq(v, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// RedisClusterOptions returns the options of a client of the test Redis
// Cluster, or skips tb (see RedisClusterAddrs).
func RedisClusterOptions(tb testing.TB) *goredis.ClusterOptions {
	tb.Helper()
	return &goredis.ClusterOptions{Addrs: RedisClusterAddrs(tb)}
}

// RedisClusterPrefix is RedisPrefix on the test Redis Cluster: a fresh key
// prefix whose keys are deleted, on every master, when tb ends.
func RedisClusterPrefix(tb testing.TB) string {
	tb.Helper()
	c := goredis.NewClusterClient(RedisClusterOptions(tb))
	prefix := "authsys_test:" + rand.Text() + ":"
	tb.Cleanup(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := DeleteRedisKeys(ctx, c, prefix+"*"); err != nil {
			tb.Errorf("cleanup: %v", err)
		}
	})
	return prefix
}

// DeleteRedisKeys deletes the keys matching pattern (SCAN MATCH, then DEL
// of one key at a time, pipelined): on every master of a
// *goredis.ClusterClient, on the server of any other client. Nothing else
// is touched (never a FLUSH).
func DeleteRedisKeys(ctx context.Context, c goredis.UniversalClient, pattern string) error {
	if cc, ok := c.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			return deleteKeys(ctx, node, pattern)
		})
	}
	return deleteKeys(ctx, c, pattern)
}

// deleteKeys deletes the keys matching pattern on c's server (one node).
func deleteKeys(ctx context.Context, c goredis.Cmdable, pattern string) error {
	var keys []string
	iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("SCAN %s: %w", pattern, err)
	}
	if len(keys) == 0 {
		return nil
	}
	// One key per DEL: the keys of a cluster node span many hash slots.
	_, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("DEL: %w", err)
	}
	return nil
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
