-- profile is store.User.Profile, the application's own account fields, as
-- one JSON object (text); NULL when the account has none, as every
-- existing account starts.

ALTER TABLE users ADD COLUMN profile TEXT CHECK (profile IS NULL OR json_valid(profile));
