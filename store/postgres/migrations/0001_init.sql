-- Accounts, their 2FA backup codes and the short-lived pending entries.
-- Migrate runs this file with search_path set to the store's schema.

CREATE TABLE users (
    id                  text PRIMARY KEY,
    email               text NOT NULL,
    -- email_key is store.NormalizeEmail(email), computed by the store; it
    -- makes the address unique whatever its case and orders listings
    -- byte-wise.
    email_key           text COLLATE "C" NOT NULL,
    password_hash       text NOT NULL,
    is_active           boolean NOT NULL,
    email_verified      boolean NOT NULL,
    is_staff            boolean NOT NULL,
    token_version       bigint NOT NULL,
    totp_secret         text NOT NULL,
    totp_pending_secret text NOT NULL,
    totp_enabled        boolean NOT NULL,
    totp_last_step      bigint NOT NULL,
    date_joined         timestamptz NOT NULL,
    last_login          timestamptz,
    CONSTRAINT users_email_key_unique UNIQUE (email_key)
);

CREATE TABLE backup_codes (
    user_id  text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position integer NOT NULL,
    id       text NOT NULL,
    hash     text NOT NULL,
    used_at  timestamptz,
    PRIMARY KEY (user_id, position)
);

CREATE TABLE pending (
    key        text PRIMARY KEY,
    value      bytea NOT NULL,
    -- counter is the IncrPending count; value then holds it in decimal.
    counter    bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL
);

CREATE INDEX pending_expires_at_idx ON pending (expires_at);
