-- sessions holds store.Session: the durable record of one login (issue 11).
-- Times are timestamptz, as in 0001_init.sql; rotated_at and revoked_at are
-- NULL for the zero time. user_id has no foreign key: a session store may
-- serve users kept elsewhere. Migrate runs this file with search_path set
-- to the store's schema.

CREATE TABLE sessions (
    -- COLLATE "C": ties in listings are ordered by ID byte-wise.
    id                  text COLLATE "C" PRIMARY KEY,
    user_id             text NOT NULL,
    created_at          timestamptz NOT NULL,
    last_used_at        timestamptz NOT NULL,
    idle_expires_at     timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    ip                  text NOT NULL,
    user_agent          text NOT NULL,
    last_ip             text NOT NULL,
    last_user_agent     text NOT NULL,
    label               text NOT NULL,
    refresh_id          text NOT NULL,
    previous_refresh_id text NOT NULL,
    rotated_at          timestamptz,
    revoked_at          timestamptz,
    revoke_reason       text NOT NULL
);

-- SessionsByUser and RevokeUserSessions: a user's sessions, newest first.
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at DESC, id);

-- PurgeSessions: a session may go once the earlier of its two ends has
-- passed, which the statement compares with this very expression.
CREATE INDEX sessions_purge_idx ON sessions (LEAST(idle_expires_at, expires_at));
