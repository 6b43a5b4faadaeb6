package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsys-go/authsys/store"
)

// DefaultPrefix is prepended to every key unless WithPrefix says otherwise.
const DefaultPrefix = "authsys:"

// pingTimeout bounds the connectivity check of NewFromURL.
const pingTimeout = 3 * time.Second

// Store is a store.PendingStore, store.RateStore, store.SessionStore and
// store.ChangeNotifier backed by Redis. It is safe for concurrent use by multiple goroutines,
// and several processes sharing one Redis database (and prefix) share its
// state: takes, put-if-absent, counters and session rotations stay atomic
// across them.
type Store struct {
	client goredis.UniversalClient
	prefix string
	// ctxAware is true when the client itself bounds network reads and
	// writes by the context's deadline (ContextTimeoutEnabled).
	ctxAware bool
	// owned is true when NewFromURL created the client, so Close closes it.
	owned bool
	// healthCheck is the silence after which a change subscription pings.
	healthCheck time.Duration
}

var (
	_ store.PendingStore = (*Store)(nil)
	_ store.RateStore    = (*Store)(nil)
)

// Option configures a Store.
type Option func(*Store)

// WithPrefix sets the string prepended to every key, so that several
// applications (or test runs) can share one database without colliding.
// The default is DefaultPrefix, "authsys:".
func WithPrefix(p string) Option {
	return func(s *Store) { s.prefix = p }
}

// New returns a Store that uses client, which may be a *goredis.Client, a
// failover (Sentinel) client, a *goredis.ClusterClient or a *goredis.Ring.
// The caller keeps ownership of client: Close does not close it.
//
// Every method honours its context's deadline. A client created with
// ContextTimeoutEnabled set passes the deadline to the connection itself;
// with any other client the Store stops waiting when the deadline passes,
// and the abandoned command finishes in the background within the client's
// ReadTimeout. Setting ContextTimeoutEnabled is therefore recommended.
func New(client goredis.UniversalClient, opts ...Option) *Store {
	s := &Store{
		client:      client,
		prefix:      DefaultPrefix,
		ctxAware:    contextAware(client),
		healthCheck: DefaultHealthCheck,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// NewFromURL connects to the Redis server named by a URL such as
// "redis://user:password@host:6379/0" or "rediss://…" (parsed by
// goredis.ParseURL, whose query parameters set the client's options), with
// ContextTimeoutEnabled set, and checks the connection with a PING bounded
// by 3 seconds. It returns an error when the URL is invalid (the error does
// not repeat the URL, which may hold a password) and an error wrapping
// store.ErrUnavailable when the server does not answer. Close closes the
// client it creates.
func NewFromURL(rawURL string, opts ...Option) (*Store, error) {
	o, err := goredis.ParseURL(rawURL)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("redis: invalid URL: %w", err)
	}
	o.ContextTimeoutEnabled = true
	client := goredis.NewClient(o)
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, wrap("ping "+o.Addr, err)
	}
	s := New(client, opts...)
	s.owned = true
	return s, nil
}

// Close closes the client when NewFromURL created it, and does nothing for a
// client passed to New. The Store must not be used after Close.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	return s.client.Close()
}

// PutPending stores value under key for ttl (SET with an expiry), replacing
// any value. A ttl below one millisecond is raised to one millisecond.
func (s *Store) PutPending(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	_, err := do(ctx, s, func(ctx context.Context) (string, error) {
		return s.client.Set(ctx, s.prefix+key, value, roundTTL(ttl)).Result()
	})
	return wrap("put", err)
}

// AddPendingIfAbsent stores value under key for ttl (SET NX with an expiry)
// only if the key is absent, and reports whether it did. Of concurrent
// callers on one key, in any number of processes, exactly one gets true. A
// ttl below one millisecond is raised to one millisecond.
func (s *Store) AddPendingIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ok, err := do(ctx, s, func(ctx context.Context) (bool, error) {
		return s.client.SetNX(ctx, s.prefix+key, value, roundTTL(ttl)).Result()
	})
	if err != nil {
		return false, wrap("add", err)
	}
	return ok, nil
}

// GetPending returns the value under key (GET), or an error wrapping
// store.ErrNotFound when it is missing or expired.
func (s *Store) GetPending(ctx context.Context, key string) ([]byte, error) {
	v, err := do(ctx, s, func(ctx context.Context) ([]byte, error) {
		return s.client.Get(ctx, s.prefix+key).Bytes()
	})
	if err != nil {
		return nil, wrap("get", err)
	}
	return v, nil
}

// TakePending atomically returns and deletes the value under key (GETDEL,
// Redis 6.2 or later), or returns an error wrapping store.ErrNotFound. Of
// concurrent callers on one key, in any number of processes, exactly one
// gets the value.
func (s *Store) TakePending(ctx context.Context, key string) ([]byte, error) {
	v, err := do(ctx, s, func(ctx context.Context) ([]byte, error) {
		return s.client.GetDel(ctx, s.prefix+key).Bytes()
	})
	if err != nil {
		return nil, wrap("take", err)
	}
	return v, nil
}

// DeletePending removes key (DEL); deleting a missing key is not an error.
func (s *Store) DeletePending(ctx context.Context, key string) error {
	_, err := do(ctx, s, func(ctx context.Context) (int64, error) {
		return s.client.Del(ctx, s.prefix+key).Result()
	})
	return wrap("delete", err)
}

// incrScript increments KEYS[1] and, when the counter is new (or has somehow
// lost its expiry), gives it a life of ARGV[1] milliseconds; it returns the
// count and the remaining time to live in milliseconds. Redis runs a script
// atomically, and the script touches one key only, so it is safe on Redis
// Cluster.
var incrScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
	ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// IncrPending atomically adds one to the counter under key and returns the
// new count and the counter's remaining time to live, in one round trip. A
// missing or expired counter starts at 1 and lives for ttl (raised to one
// millisecond when below); later increments do not extend its life. It
// returns an error when key holds a value that is not an integer.
func (s *Store) IncrPending(ctx context.Context, key string, ttl time.Duration) (int64, time.Duration, error) {
	ms := roundTTL(ttl).Milliseconds()
	vals, err := do(ctx, s, func(ctx context.Context) ([]int64, error) {
		return incrScript.Run(ctx, s.client, []string{s.prefix + key}, ms).Int64Slice()
	})
	if err != nil {
		return 0, 0, wrap("incr", err)
	}
	if len(vals) != 2 {
		return 0, 0, fmt.Errorf("redis: incr: unexpected reply %v", vals)
	}
	return vals[0], time.Duration(vals[1]) * time.Millisecond, nil
}

// rateScript is the GCRA check of AllowRate on KEYS[1], which holds the
// theoretical arrival time (TAT) in microseconds since the Unix epoch of
// the server's clock (TIME). ARGV[1] is the emission interval and ARGV[2]
// how far ahead of now the TAT may be for an event to be allowed
// ((burst-1)*interval), both in microseconds. An allowed event moves the
// TAT one interval on and makes the key expire at it; a refused one
// changes nothing. The script returns {1, 0} or {0, microseconds until an
// event would be allowed}. A missing, passed or non-numeric TAT counts as
// now. Redis runs a script atomically (since 5.0 replicating its effects,
// so reading TIME before writing is allowed), and the script touches one
// key only, so it is safe on Redis Cluster. Lua numbers are doubles:
// microseconds since the epoch stay exact integers for centuries.
var rateScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '')
if tat == nil or tat < now then
	tat = now
end
if tat - now > limit then
	return {0, tat - now - limit}
end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
return {1, 0}
`)

// maxRateMicros bounds burst*interval in AllowRate, in microseconds
// (about 142 years), so that the script's arithmetic stays exact.
const maxRateMicros = 1 << 52

// AllowRate checks one event against the GCRA rate limit under key, of
// emission interval interval (rounded up to whole microseconds) and burst
// burst, in one round trip: a Lua script (EVALSHA, falling back to EVAL
// once per server) on one key, on the Redis server's clock (see
// store.RateStore). It allows up to burst events at once, then one every
// interval; a refused event changes nothing, and AllowRate then returns
// false and the exact time until the next event would be allowed. The key
// holds the theoretical arrival time and expires at it. Of concurrent
// callers on one key, in any number of processes, exactly as many are
// allowed as the budget holds. It returns an error when interval is not
// positive, burst is below one or burst*interval exceeds about 142 years.
func (s *Store) AllowRate(ctx context.Context, key string, interval time.Duration, burst int) (bool, time.Duration, error) {
	interval, err := store.RateInterval(interval, burst)
	if err != nil {
		return false, 0, fmt.Errorf("redis: rate: %w", err)
	}
	us := interval / time.Microsecond
	if int64(burst) > maxRateMicros/int64(us) {
		return false, 0, fmt.Errorf("redis: rate: burst %d of interval %v is too long", burst, interval)
	}
	vals, err := do(ctx, s, func(ctx context.Context) ([]int64, error) {
		return rateScript.Run(ctx, s.client, []string{s.prefix + key}, int64(us), int64(burst-1)*int64(us)).Int64Slice()
	})
	if err != nil {
		return false, 0, wrap("rate", err)
	}
	if len(vals) != 2 {
		return false, 0, fmt.Errorf("redis: rate: unexpected reply %v", vals)
	}
	if vals[0] == 1 {
		return true, 0, nil
	}
	return false, time.Duration(vals[1]) * time.Microsecond, nil
}

// roundTTL rounds ttl up to a whole number of milliseconds, at least one:
// Redis expiries have millisecond precision and reject zero.
func roundTTL(ttl time.Duration) time.Duration {
	if ttl < time.Millisecond {
		return time.Millisecond
	}
	return (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
}

// wrap translates a go-redis error at the package boundary: goredis.Nil
// becomes store.ErrNotFound; failures to reach or be served by the server
// wrap store.ErrUnavailable (and the cause); other server errors are
// returned with the operation's name.
func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, goredis.Nil):
		return fmt.Errorf("redis: %s: %w", op, store.ErrNotFound)
	case unavailable(err):
		return fmt.Errorf("redis: %s: %w: %w", op, store.ErrUnavailable, err)
	default:
		return fmt.Errorf("redis: %s: %w", op, err)
	}
}

// unavailable reports whether err means the server could not be reached or
// could not serve the command: any error that is not a reply from the
// server (network failures, timeouts, context errors, pool exhaustion, a
// closed client), or a reply saying the server is not ready to serve.
func unavailable(err error) bool {
	var reply goredis.Error
	if !errors.As(err, &reply) {
		return true
	}
	return goredis.IsLoadingError(err) ||
		goredis.IsReadOnlyError(err) ||
		goredis.IsClusterDownError(err) ||
		goredis.IsTryAgainError(err) ||
		goredis.IsMasterDownError(err) ||
		goredis.IsMaxClientsError(err) ||
		goredis.IsOOMError(err) ||
		goredis.IsNoReplicasError(err)
}

// contextAware reports whether client bounds its network reads and writes
// by the context's deadline.
func contextAware(client goredis.UniversalClient) bool {
	switch c := client.(type) {
	case *goredis.Client:
		return c.Options().ContextTimeoutEnabled
	case *goredis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *goredis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// result carries the outcome of a command run in the background by do.
type result[T any] struct {
	v   T
	err error
}

// do runs fn, honouring ctx's deadline and cancellation even when the client
// does not: then fn runs in its own goroutine, and do returns ctx's error as
// soon as ctx is done, leaving fn to finish within the client's timeouts.
// fn's result wins when both are ready.
func do[T any](ctx context.Context, s *Store, fn func(context.Context) (T, error)) (T, error) {
	if s.ctxAware || ctx.Done() == nil {
		return fn(ctx)
	}
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	ch := make(chan result[T], 1)
	go func() {
		v, err := fn(ctx)
		ch <- result[T]{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		select {
		case r := <-ch:
			return r.v, r.err
		default:
			return zero, ctx.Err()
		}
	}
}
