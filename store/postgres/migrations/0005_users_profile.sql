-- profile is store.User.Profile, the application's own account fields, as
-- one JSON object; NULL when the account has none, as every existing
-- account starts. Migrate runs this file with search_path set to the
-- store's schema.

ALTER TABLE users ADD COLUMN profile jsonb CHECK (profile IS NULL OR jsonb_typeof(profile) = 'object');
