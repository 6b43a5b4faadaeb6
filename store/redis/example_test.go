package redis_test

import (
	"log"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsys-go/authsys/store/redis"
)

// New wraps a client the application already has; ContextTimeoutEnabled
// lets the client itself honour request deadlines.
func ExampleNew() {
	rdb := goredis.NewClient(&goredis.Options{
		Addr:                  "localhost:6379",
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()

	pending := redis.New(rdb, redis.WithPrefix("myapp:auth:"))
	_ = pending // Config.Pending
}

// NewFromURL creates and checks its own client; Close closes it.
func ExampleNewFromURL() {
	pending, err := redis.NewFromURL("redis://localhost:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer pending.Close()
	_ = pending // Config.Pending
}
