-- disabled is store.User.Disabled: set by an administrator's deactivation,
-- cleared only by an administrator's activation. Existing accounts start
-- not disabled. Booleans are INTEGER 0 or 1, as in 0001_init.sql.

ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
