-- passkeys holds store.Passkey: the WebAuthn credentials of the accounts
-- (issue 16). Times are timestamptz, as in 0001_init.sql; last_used_at is
-- NULL for the zero time. A user's passkeys go with the user: a deleted
-- account leaves none behind. No change trigger: no instance caches
-- passkeys. Migrate runs this file with search_path set to the store's
-- schema.

CREATE TABLE passkeys (
    -- COLLATE "C": ties in listings are ordered by ID byte-wise.
    id                 text COLLATE "C" PRIMARY KEY,
    user_id            text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               text NOT NULL,
    credential_id      bytea NOT NULL,
    user_handle        bytea NOT NULL,
    public_key         bytea NOT NULL,
    -- The authenticator's counter, an unsigned 32-bit integer.
    sign_count         bigint NOT NULL,
    aaguid             bytea NOT NULL,
    transports         text[] NOT NULL,
    attestation_format text NOT NULL,
    backup_eligible    boolean NOT NULL,
    backup_state       boolean NOT NULL,
    created_at         timestamptz NOT NULL,
    last_used_at       timestamptz,
    CONSTRAINT passkeys_credential_id_unique UNIQUE (credential_id)
);

-- PasskeysByUser: a user's passkeys, oldest first.
CREATE INDEX passkeys_user_idx ON passkeys (user_id, created_at, id);
