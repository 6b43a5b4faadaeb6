// Package redis implements store.PendingStore, store.RateStore,
// store.SessionStore and store.ChangeNotifier on Redis with go-redis/v9, so
// that 2FA pending sessions, pending email changes, the refresh-token
// denylist, rate limits and, when the application's UserStore keeps no
// sessions, the session records are shared by every instance of an
// application, and every instance hears of the changes the others make.
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
// Changes (store.ChangeNotifier) travel on the pub/sub channel
// <prefix>changes: NotifyChange is one PUBLISH of "u:<user id>" or
// "s:<session id>", and SubscribeChanges holds a connection of its own
// subscribed to the channel, with a health check (a PING after a silence,
// see WithHealthCheck) so that a connection that dies without being closed
// is noticed too. It reconnects by itself, and tells the caller, through
// its ready callback, whenever changes may have been missed.
//
// # Redis Cluster
//
// The Store works on Redis Cluster (a *goredis.ClusterClient) because no
// operation touches keys of two hash slots. Every operation, script and
// pipelined command was checked for it:
//
//   - PutPending (SET), AddPendingIfAbsent (SET NX), GetPending (GET),
//     TakePending (GETDEL), DeletePending (DEL): one key each.
//   - IncrPending and AllowRate: a script whose only key is KEYS[1], the
//     counter or the rate state (AllowRate also reads TIME, which is no
//     key).
//   - CreateSession: one script on the session's HASH, then one on the
//     user's SET (and a DEL of the HASH when the second fails): one key
//     each. The two are separate steps, not one atomic script, because a
//     session's key and its user's key are found by different IDs
//     (SessionByID knows only the session's).
//   - SessionByID (HGETALL), RotateSession and RevokeSession (scripts):
//     the session's HASH only.
//   - SessionsByUser and RevokeUserSessions: SMEMBERS of the user's SET,
//     then one pipelined command per session (HGETALL, or the revoking
//     script with the session's HASH as its only key), which go-redis
//     splits by node, then SREM on the user's SET.
//   - PurgeSessions: PING, no key.
//   - NotifyChange: PUBLISH on <prefix>changes, and SubscribeChanges:
//     SUBSCRIBE to it. A channel is no key: a plain PUBLISH reaches the
//     subscribers of every node. Both go to the master of the channel's
//     slot, so that one process's changes arrive in order.
//
// Session keys carry a hash tag, <prefix>session:{<session id>} and
// <prefix>user_sessions:{<user id>}, so that everything about one session
// or one user stays in one slot as the layout grows; pending keys, each
// used alone, need none. Scripts name every key they touch in KEYS. The
// prefix should contain no braces: a "{" in it would make the prefix the
// hash tag of every key, all of them in one slot (correct, but on one
// node).
//
// A missing key is reported as store.ErrNotFound. A server that cannot be
// reached, that does not answer before the context's deadline, or that
// answers that it cannot serve (LOADING, READONLY, CLUSTERDOWN, MASTERDOWN,
// TRYAGAIN, OOM and similar) yields an error wrapping store.ErrUnavailable.
// As with any network store, a command whose answer is lost to a deadline
// may still have run on the server.
package redis
