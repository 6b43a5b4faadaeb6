// Package redis implements store.PendingStore and store.RateStore on Redis
// with go-redis/v9, so that 2FA pending sessions, pending email changes,
// the refresh-token denylist and rate limits are shared by every instance
// of an application.
//
// Every operation is one command on one key, so the store works on a single
// server, behind Sentinel and on Redis Cluster alike: PutPending is SET with
// an expiry (PX, or EX for whole seconds), AddPendingIfAbsent is the same
// with NX, GetPending is GET, TakePending is GETDEL (Redis 6.2 or later),
// DeletePending is DEL, IncrPending is a short Lua script that increments
// the counter and sets its expiry in the same atomic step, and AllowRate
// (store.RateStore) is a short Lua script that reads the server's clock
// (TIME) and the key's theoretical arrival time, and moves it on and sets
// its expiry when the event is allowed. Scripts run by EVALSHA, so each is
// one round trip. Keys are prefixed (default "authsys:") so that the
// library can share a database with the application.
//
// A missing key is reported as store.ErrNotFound. A server that cannot be
// reached, that does not answer before the context's deadline, or that
// answers that it cannot serve (LOADING, READONLY, CLUSTERDOWN, MASTERDOWN,
// TRYAGAIN, OOM and similar) yields an error wrapping store.ErrUnavailable.
// As with any network store, a command whose answer is lost to a deadline
// may still have run on the server.
package redis
