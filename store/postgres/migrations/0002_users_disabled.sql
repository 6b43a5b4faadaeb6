-- disabled is store.User.Disabled: set by an administrator's deactivation,
-- cleared only by an administrator's activation. Existing accounts start
-- not disabled. Migrate runs this file with search_path set to the store's
-- schema.

ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false;
