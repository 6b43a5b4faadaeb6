package redis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsys-go/authsys/store"
)

var _ store.SessionStore = (*Store)(nil)

// Session records (store.SessionStore) live in two kinds of keys under the
// Store's prefix:
//
//   - <prefix>session:{<id>}: a HASH per session, one field per Session
//     field (sessionFields), times as decimal microseconds since the Unix
//     epoch and "" for the zero time. It expires at the earlier of the
//     session's IdleExpiresAt and ExpiresAt (rounded up to a millisecond),
//     when it may be purged anyway; a rotation moves the expiry to the new
//     IdleExpiresAt (never past ExpiresAt).
//   - <prefix>user_sessions:{<user id>}: a SET of the IDs of the user's
//     sessions. It expires when the last of its sessions' ExpiresAt
//     passes. IDs of sessions that have expired are removed when
//     SessionsByUser or RevokeUserSessions meets them.
//
// The braces are Redis Cluster hash tags: each key is its own slot's, and
// every script touches one key only (KEYS[1]), so everything works on Redis
// Cluster (see the package documentation; the tests run every session
// operation on a three-master cluster too).
// Pending keys chosen by the library must not start with "session:" or
// "user_sessions:".

// sessionFields are the HASH fields of a session, in Session's order.
var sessionFields = []string{
	"id", "user_id", "created_at", "last_used_at", "idle_expires_at", "expires_at",
	"ip", "user_agent", "last_ip", "last_user_agent", "label", "refresh_id",
	"previous_refresh_id", "rotated_at", "revoked_at", "revoke_reason",
}

// sessionKey returns the key of the session id.
func (s *Store) sessionKey(id string) string { return s.prefix + "session:{" + id + "}" }

// userSessionsKey returns the key of the set of userID's session IDs.
func (s *Store) userSessionsKey(userID string) string {
	return s.prefix + "user_sessions:{" + userID + "}"
}

// luaEndMillis is the Lua function the session scripts share: the instant
// at which a session whose idle and absolute expiries are the microsecond
// strings idle and abs may go, in milliseconds, rounded up, as a decimal
// string for PEXPIREAT. A missing (zero) time counts as the earliest, and
// an instant before 1 ms after the epoch as that (PEXPIREAT then deletes
// the key at once). Lua numbers are doubles: microseconds since the epoch
// stay exact integers for centuries.
const luaEndMillis = `
local function end_ms(idle, abs)
	local a, b = tonumber(idle), tonumber(abs)
	local m = 0
	if a ~= nil and b ~= nil then
		m = math.min(a, b)
	end
	local ms = math.ceil(m / 1000)
	if ms < 1 then
		ms = 1
	end
	return string.format('%d', ms)
end
`

// createSessionScript stores the session KEYS[1] unless the key exists:
// ARGV holds its field-value pairs in sessionFields' order (ARGV[10] is
// idle_expires_at, ARGV[12] expires_at). It returns 1 when it stored the
// session and 0 when the ID was taken.
var createSessionScript = goredis.NewScript(luaEndMillis + `
if redis.call('EXISTS', KEYS[1]) == 1 then
	return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV))
redis.call('PEXPIREAT', KEYS[1], end_ms(ARGV[10], ARGV[12]))
return 1
`)

// addUserSessionScript adds the session ID ARGV[1] to the set KEYS[1] and
// makes the set live at least until ARGV[2], in milliseconds since the
// epoch (and at least one more second), by the server's clock. Redis
// replicates a script's effects (5.0 and later), so reading TIME before
// writing is allowed.
var addUserSessionScript = goredis.NewScript(`
redis.call('SADD', KEYS[1], ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want = math.max(tonumber(ARGV[2]), now + 1000)
local pttl = redis.call('PTTL', KEYS[1])
if pttl < 0 or now + pttl < want then
	redis.call('PEXPIREAT', KEYS[1], string.format('%d', want))
end
return 1
`)

// rotateSessionScript is RotateSession's one conditional write on the
// session KEYS[1]: ARGV[1] from, ARGV[2] to, ARGV[3] at, ARGV[4] the idle
// expiry, ARGV[5] IP, ARGV[6] user agent. It returns {0} for a missing
// session, {1, fields} when it changed nothing and {2, fields} when it
// rotated, fields being HGETALL's reply.
var rotateSessionScript = goredis.NewScript(luaEndMillis + `
local cur = redis.call('HMGET', KEYS[1], 'refresh_id', 'revoked_at', 'expires_at')
if not cur[1] then
	return {0}
end
if cur[1] ~= ARGV[1] or cur[2] ~= '' then
	return {1, redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], 'previous_refresh_id', ARGV[1], 'refresh_id', ARGV[2],
	'rotated_at', ARGV[3], 'last_used_at', ARGV[3], 'idle_expires_at', ARGV[4],
	'last_ip', ARGV[5], 'last_user_agent', ARGV[6])
local fields = redis.call('HGETALL', KEYS[1])
redis.call('PEXPIREAT', KEYS[1], end_ms(ARGV[4], cur[3]))
return {2, fields}
`)

// revokeSessionScript revokes the session KEYS[1] if it is not revoked
// yet: ARGV[1] the time, ARGV[2] the reason, and ARGV[3] the user the
// session must belong to ("" for any). It returns {0} for a missing
// session (or another user's), {1, fields} when it changed nothing and
// {2, fields} when it revoked, fields being HGETALL's reply. The key keeps
// its expiry.
var revokeSessionScript = goredis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'revoked_at', 'user_id')
if not cur[1] or (ARGV[3] ~= '' and cur[2] ~= ARGV[3]) then
	return {0}
end
if cur[1] ~= '' then
	return {1, redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], 'revoked_at', ARGV[1], 'revoke_reason', ARGV[2])
return {2, redis.call('HGETALL', KEYS[1])}
`)

// Script replies.
const (
	replyMissing   = 0
	replyUnchanged = 1
	replyChanged   = 2
)

// CreateSession stores s in two round trips: a script that creates the
// session's HASH unless its ID is taken (then an error wrapping neither
// store.ErrNotFound nor store.ErrUnavailable, and nothing changes), then a
// script that adds the ID to the user's set. When the second fails the
// first is undone as far as the server allows, and the error returned.
// Times are kept to the microsecond.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	args := make([]any, 0, 2*len(sessionFields))
	for i, v := range sessionValues(sess) {
		args = append(args, sessionFields[i], v)
	}
	key := s.sessionKey(sess.ID)
	created, err := do(ctx, s, func(ctx context.Context) (int64, error) {
		return createSessionScript.Run(ctx, s.client, []string{key}, args...).Int64()
	})
	if err != nil {
		return wrap("create session", err)
	}
	if created != 1 {
		return fmt.Errorf("redis: create session: session ID %q already exists", sess.ID)
	}
	setEnd := max(ceilMillis(sess.ExpiresAt), ceilMillis(sess.IdleExpiresAt))
	_, err = do(ctx, s, func(ctx context.Context) (int64, error) {
		return addUserSessionScript.Run(ctx, s.client, []string{s.userSessionsKey(sess.UserID)}, sess.ID, setEnd).Int64()
	})
	if err != nil {
		// A session missing from its user's set would escape
		// RevokeUserSessions: take it back.
		_, _ = do(ctx, s, func(ctx context.Context) (int64, error) { return s.client.Del(ctx, key).Result() })
		return wrap("create session", err)
	}
	return nil
}

// SessionByID returns the session id (HGETALL), revoked ones included, or
// store.ErrNotFound, also once it has expired.
func (s *Store) SessionByID(ctx context.Context, id string) (store.Session, error) {
	m, err := do(ctx, s, func(ctx context.Context) (map[string]string, error) {
		return s.client.HGetAll(ctx, s.sessionKey(id)).Result()
	})
	if err != nil {
		return store.Session{}, wrap("session", err)
	}
	if len(m) == 0 {
		return store.Session{}, fmt.Errorf("redis: session: %w", store.ErrNotFound)
	}
	return parseSession(m)
}

// SessionsByUser returns every stored session of userID, revoked ones
// included, newest CreatedAt first and ties by ID; none for an unknown
// user. It reads the user's set, then every session in one pipelined
// round trip, and removes from the set the IDs of sessions that have
// expired.
func (s *Store) SessionsByUser(ctx context.Context, userID string) ([]store.Session, error) {
	ids, err := s.userSessionIDs(ctx, userID)
	if err != nil {
		return nil, wrap("sessions", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cmds, err := do(ctx, s, func(ctx context.Context) ([]*goredis.MapStringStringCmd, error) {
		cmds := make([]*goredis.MapStringStringCmd, len(ids))
		_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = p.HGetAll(ctx, s.sessionKey(id))
			}
			return nil
		})
		return cmds, err
	})
	if err != nil {
		return nil, wrap("sessions", err)
	}
	out := make([]store.Session, 0, len(ids))
	var gone []string
	for i, cmd := range cmds {
		m := cmd.Val()
		if len(m) == 0 {
			gone = append(gone, ids[i])
			continue
		}
		sess, err := parseSession(m)
		if err != nil {
			return nil, err
		}
		if sess.UserID == userID {
			out = append(out, sess)
		}
	}
	s.forget(ctx, userID, gone)
	slices.SortFunc(out, func(a, b store.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// userSessionIDs returns the members of userID's set (SMEMBERS).
func (s *Store) userSessionIDs(ctx context.Context, userID string) ([]string, error) {
	return do(ctx, s, func(ctx context.Context) ([]string, error) {
		return s.client.SMembers(ctx, s.userSessionsKey(userID)).Result()
	})
}

// forget removes the IDs of expired sessions from userID's set. It is
// housekeeping: its failure changes no answer, so its error is dropped.
func (s *Store) forget(ctx context.Context, userID string, ids []string) {
	if len(ids) == 0 {
		return
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	_, _ = do(ctx, s, func(ctx context.Context) (int64, error) {
		return s.client.SRem(ctx, s.userSessionsKey(userID), members...).Result()
	})
}

// RotateSession moves the session id on to r.To in one script (one round
// trip, atomic) if it is not revoked and its RefreshID is from, extends
// its key's life to the new IdleExpiresAt (never past ExpiresAt), and
// returns the session and true; otherwise it returns the session as
// stored and false. Of concurrent callers with the same from, in any
// number of processes, exactly one gets true. It returns
// store.ErrNotFound for an unknown or expired id.
func (s *Store) RotateSession(ctx context.Context, id, from string, r store.Rotation) (store.Session, bool, error) {
	reply, err := do(ctx, s, func(ctx context.Context) (any, error) {
		return rotateSessionScript.Run(ctx, s.client, []string{s.sessionKey(id)},
			from, r.To, encodeTime(r.At), encodeTime(r.IdleExpiresAt), r.IP, r.UserAgent).Result()
	})
	if err != nil {
		return store.Session{}, false, wrap("rotate session", err)
	}
	return parseScriptReply("rotate session", reply)
}

// RevokeSession sets RevokedAt to at and RevokeReason to reason in one
// script (one round trip, atomic) if the session is not revoked yet, and
// reports whether it did, with the session as stored. The session's key
// keeps its expiry. It returns store.ErrNotFound for an unknown or expired
// id.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time, reason string) (store.Session, bool, error) {
	reply, err := do(ctx, s, func(ctx context.Context) (any, error) {
		return revokeSessionScript.Run(ctx, s.client, []string{s.sessionKey(id)}, encodeTime(at), reason, "").Result()
	})
	if err != nil {
		return store.Session{}, false, wrap("revoke session", err)
	}
	return parseScriptReply("revoke session", reply)
}

// RevokeUserSessions revokes every session of userID not yet revoked
// except the one whose ID is except, and returns how many it revoked: it
// reads the user's set, then runs RevokeSession's script on each session
// in one pipelined round trip. Each revocation is atomic; the whole is
// not (the sessions are in different hash slots), so a session created
// while it runs may stay live, as if created just after.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, except string, at time.Time, reason string) (int, error) {
	ids, err := s.userSessionIDs(ctx, userID)
	if err != nil {
		return 0, wrap("revoke user sessions", err)
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { return id == except })
	if len(ids) == 0 {
		return 0, nil
	}
	cmds, err := do(ctx, s, func(ctx context.Context) ([]*goredis.Cmd, error) {
		cmds := make([]*goredis.Cmd, len(ids))
		_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, id := range ids {
				// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT.
				cmds[i] = revokeSessionScript.Eval(ctx, p, []string{s.sessionKey(id)}, encodeTime(at), reason, userID)
			}
			return nil
		})
		return cmds, err
	})
	if err != nil {
		return 0, wrap("revoke user sessions", err)
	}
	n := 0
	var gone []string
	for i, cmd := range cmds {
		vals, err := cmd.Slice()
		if err != nil || len(vals) == 0 {
			return n, fmt.Errorf("redis: revoke user sessions: unexpected reply %v, %v", vals, err)
		}
		switch vals[0] {
		case int64(replyChanged):
			n++
		case int64(replyMissing):
			gone = append(gone, ids[i])
		}
	}
	s.forget(ctx, userID, gone)
	return n, nil
}

// PurgeSessions returns 0: Redis deletes a session's key by itself once
// the earlier of its IdleExpiresAt and ExpiresAt has passed (by the
// server's clock), and the IDs of expired sessions leave their user's set
// when SessionsByUser or RevokeUserSessions meets them, or with the set.
// It only checks that the server answers (PING), so that a maintenance
// loop notices an outage: store.ErrUnavailable when it does not.
func (s *Store) PurgeSessions(ctx context.Context, _ time.Time) (int, error) {
	_, err := do(ctx, s, func(ctx context.Context) (string, error) {
		return s.client.Ping(ctx).Result()
	})
	if err != nil {
		return 0, wrap("purge sessions", err)
	}
	return 0, nil
}

// sessionValues returns the values of sess's HASH fields, in
// sessionFields' order.
func sessionValues(sess store.Session) []string {
	return []string{
		sess.ID, sess.UserID, encodeTime(sess.CreatedAt), encodeTime(sess.LastUsedAt),
		encodeTime(sess.IdleExpiresAt), encodeTime(sess.ExpiresAt),
		sess.IP, sess.UserAgent, sess.LastIP, sess.LastUserAgent, sess.Label, sess.RefreshID,
		sess.PreviousRefreshID, encodeTime(sess.RotatedAt), encodeTime(sess.RevokedAt), sess.RevokeReason,
	}
}

// parseSession reads a session's HASH.
func parseSession(m map[string]string) (store.Session, error) {
	var sess store.Session
	var err error
	decode := func(field string) time.Time {
		t, e := decodeTime(m[field])
		if e != nil && err == nil {
			err = fmt.Errorf("redis: session %q: field %s: %w", m["id"], field, e)
		}
		return t
	}
	sess = store.Session{
		ID:                m["id"],
		UserID:            m["user_id"],
		CreatedAt:         decode("created_at"),
		LastUsedAt:        decode("last_used_at"),
		IdleExpiresAt:     decode("idle_expires_at"),
		ExpiresAt:         decode("expires_at"),
		IP:                m["ip"],
		UserAgent:         m["user_agent"],
		LastIP:            m["last_ip"],
		LastUserAgent:     m["last_user_agent"],
		Label:             m["label"],
		RefreshID:         m["refresh_id"],
		PreviousRefreshID: m["previous_refresh_id"],
		RotatedAt:         decode("rotated_at"),
		RevokedAt:         decode("revoked_at"),
		RevokeReason:      m["revoke_reason"],
	}
	if err != nil {
		return store.Session{}, err
	}
	return sess, nil
}

// parseScriptReply reads the reply of rotateSessionScript or
// revokeSessionScript.
func parseScriptReply(op string, reply any) (store.Session, bool, error) {
	vals, ok := reply.([]any)
	if !ok || len(vals) == 0 {
		return store.Session{}, false, fmt.Errorf("redis: %s: unexpected reply %v", op, reply)
	}
	switch vals[0] {
	case int64(replyMissing):
		return store.Session{}, false, fmt.Errorf("redis: %s: %w", op, store.ErrNotFound)
	case int64(replyUnchanged), int64(replyChanged):
	default:
		return store.Session{}, false, fmt.Errorf("redis: %s: unexpected reply %v", op, reply)
	}
	flat, ok := vals[1].([]any)
	if len(vals) != 2 || !ok || len(flat)%2 != 0 {
		return store.Session{}, false, fmt.Errorf("redis: %s: unexpected reply %v", op, reply)
	}
	m := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		m[k] = v
	}
	sess, err := parseSession(m)
	if err != nil {
		return store.Session{}, false, err
	}
	return sess, vals[0] == int64(replyChanged), nil
}

// encodeTime returns t as a HASH value: microseconds since the Unix epoch
// in decimal, or "" for the zero time.
func encodeTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

// decodeTime is the inverse of encodeTime, in UTC.
func decodeTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	us, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMicro(us).UTC(), nil
}

// ceilMillis returns t as milliseconds since the Unix epoch, rounded up;
// the zero time counts as the epoch.
func ceilMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	us := t.UnixMicro()
	ms := us / 1000
	if us%1000 > 0 {
		ms++
	}
	return ms
}
