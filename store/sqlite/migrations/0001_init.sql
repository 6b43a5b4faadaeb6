-- Accounts, their 2FA backup codes and the short-lived pending entries.
-- Times are INTEGER microseconds since the Unix epoch, UTC.

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL,
    -- email_key is store.NormalizeEmail(email), computed by the store; it
    -- makes the address unique whatever its case and orders listings
    -- byte-wise.
    email_key           TEXT NOT NULL UNIQUE,
    password_hash       TEXT NOT NULL,
    is_active           INTEGER NOT NULL,
    email_verified      INTEGER NOT NULL,
    is_staff            INTEGER NOT NULL,
    token_version       INTEGER NOT NULL,
    totp_secret         TEXT NOT NULL,
    totp_pending_secret TEXT NOT NULL,
    totp_enabled        INTEGER NOT NULL,
    totp_last_step      INTEGER NOT NULL,
    date_joined         INTEGER NOT NULL,
    last_login          INTEGER
) STRICT;

CREATE TABLE backup_codes (
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    id       TEXT NOT NULL,
    hash     TEXT NOT NULL,
    used_at  INTEGER,
    PRIMARY KEY (user_id, position)
) STRICT, WITHOUT ROWID;

CREATE TABLE pending (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    -- counter is the IncrPending count; value then holds it in decimal.
    counter    INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX pending_expires_at_idx ON pending (expires_at);
