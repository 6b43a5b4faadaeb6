// Package redis implements store.PendingStore, store.RateStore and
// store.SessionStore on Redis with go-redis/v9, so that 2FA pending
// sessions, pending email changes, the refresh-token denylist, rate limits
// and, when the application's UserStore keeps no sessions, the session
// records are shared by every instance of an application.
//
// Every pending operation is one command on one key, so the store works on
// a single server, behind Sentinel and on Redis Cluster alike: PutPending
// is SET with an expiry (PX, or EX for whole seconds), AddPendingIfAbsent
// is the same with NX, GetPending is GET, TakePending is GETDEL (Redis 6.2
// or later), DeletePending is DEL, IncrPending is a short Lua script that
// increments the counter and sets its expiry in the same atomic step, and
// AllowRate (store.RateStore) is a short Lua script that reads the
// server's clock (TIME) and the key's theoretical arrival time, and moves
// it on and sets its expiry when the event is allowed. Scripts run by
// EVALSHA, so each is one round trip. Keys are prefixed (default
// "authsys:") so that the library can share a database with the
// application.
//
// Session records (store.SessionStore) are one HASH per session,
// <prefix>session:{<id>}, and one SET of session IDs per user,
// <prefix>user_sessions:{<user id>}; the braces are Redis Cluster hash
// tags. RotateSession and RevokeSession are Lua scripts on the session's
// key: one round trip, atomic, so of concurrent rotations from one refresh
// token exactly one wins. A session's key expires at the earlier of its
// IdleExpiresAt and ExpiresAt (a rotation moves it), by the Redis server's
// clock, so Redis deletes sessions by itself and PurgeSessions returns 0.
// Sessions in Redis are not durable: they live only as long as Redis
// keeps them. A FLUSHDB, a restart without persistence, or an eviction
// (every session key has an expiry, so any volatile-* or allkeys-*
// maxmemory-policy may evict it; use noeviction) loses them, and a lost
// session can no longer be refreshed: its user is logged out. An
// application that needs sessions to outlast Redis keeps them in its
// UserStore (every SQL store of this module implements store.SessionStore).
//
// A missing key is reported as store.ErrNotFound. A server that cannot be
// reached, that does not answer before the context's deadline, or that
// answers that it cannot serve (LOADING, READONLY, CLUSTERDOWN, MASTERDOWN,
// TRYAGAIN, OOM and similar) yields an error wrapping store.ErrUnavailable.
// As with any network store, a command whose answer is lost to a deadline
// may still have run on the server.
package redis
