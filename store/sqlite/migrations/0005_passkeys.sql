-- passkeys holds store.Passkey: the WebAuthn credentials of the accounts
-- (issue 16). Times are INTEGER microseconds since the Unix epoch, UTC, as
-- in 0001_init.sql; last_used_at is NULL for the zero time. Booleans are
-- INTEGER 0 or 1. transports is a JSON array of strings. A user's passkeys
-- go with the user: a deleted account leaves none behind.

CREATE TABLE passkeys (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    -- BLOBs compare byte for byte: a credential ID is unique as bytes.
    credential_id      BLOB NOT NULL UNIQUE,
    user_handle        BLOB NOT NULL,
    public_key         BLOB NOT NULL,
    sign_count         INTEGER NOT NULL,
    aaguid             BLOB NOT NULL,
    transports         TEXT NOT NULL,
    attestation_format TEXT NOT NULL,
    backup_eligible    INTEGER NOT NULL,
    backup_state       INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER
) STRICT;

-- PasskeysByUser: a user's passkeys, oldest first.
CREATE INDEX passkeys_user_idx ON passkeys (user_id, created_at, id);
