-- sessions holds store.Session: the durable record of one login (issue 11).
-- Times are INTEGER microseconds since the Unix epoch, UTC, as in
-- 0001_init.sql; rotated_at and revoked_at are NULL for the zero time.
-- user_id has no foreign key: a session store may serve users kept
-- elsewhere.

CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    last_used_at        INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    ip                  TEXT NOT NULL,
    user_agent          TEXT NOT NULL,
    last_ip             TEXT NOT NULL,
    last_user_agent     TEXT NOT NULL,
    label               TEXT NOT NULL,
    refresh_id          TEXT NOT NULL,
    previous_refresh_id TEXT NOT NULL,
    rotated_at          INTEGER,
    revoked_at          INTEGER,
    revoke_reason       TEXT NOT NULL
) STRICT;

-- SessionsByUser and RevokeUserSessions: a user's sessions, newest first.
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at DESC, id);

-- PurgeSessions: a session may go once the earlier of its two ends has
-- passed, which the statement compares with this very expression.
CREATE INDEX sessions_purge_idx ON sessions (min(idle_expires_at, expires_at));
