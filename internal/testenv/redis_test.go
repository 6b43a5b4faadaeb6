package testenv

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

func TestSplitAddrs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"127.0.0.1:7001", []string{"127.0.0.1:7001"}},
		{"127.0.0.1:7001,127.0.0.1:7002, 127.0.0.1:7003 ,", []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"}},
	}
	for _, tt := range tests {
		if got := splitAddrs(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("splitAddrs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRedisCluster checks the test cluster and DeleteRedisKeys on it: keys
// spread over every master are all deleted, and keys outside the pattern
// are left alone.
func TestRedisCluster(t *testing.T) {
	c := goredis.NewClusterClient(RedisClusterOptions(t))
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := c.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
		return node.Ping(ctx).Err()
	}); err != nil {
		t.Fatalf("PING every master: %v", err)
	}

	prefix := RedisClusterPrefix(t)
	other := RedisClusterPrefix(t)
	const n = 64 // with keys in 64 slots, every master holds some
	for i := range n {
		for _, p := range []string{prefix, other} {
			if err := c.Set(ctx, fmt.Sprint(p, "k", i), "v", time.Minute).Err(); err != nil {
				t.Fatalf("SET: %v", err)
			}
		}
	}
	count := func(p string) (total int, nodes int) {
		t.Helper()
		var mu sync.Mutex // ForEachMaster runs fn on every master at once
		var perNode []int
		err := c.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			keys, err := node.Keys(ctx, p+"*").Result()
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			perNode = append(perNode, len(keys))
			return nil
		})
		if err != nil {
			t.Fatalf("KEYS: %v", err)
		}
		for _, k := range perNode {
			total += k
			if k > 0 {
				nodes++
			}
		}
		return total, nodes
	}
	if total, nodes := count(prefix); total != n || nodes < 2 {
		t.Fatalf("before: %d keys on %d masters, want %d on at least 2", total, nodes, n)
	}
	if err := DeleteRedisKeys(ctx, c, prefix+"*"); err != nil {
		t.Fatalf("DeleteRedisKeys: %v", err)
	}
	if total, _ := count(prefix); total != 0 {
		t.Errorf("after: %d keys left under the pattern, want 0", total)
	}
	if total, _ := count(other); total != n {
		t.Errorf("after: %d keys under another prefix, want all %d left", total, n)
	}
}
