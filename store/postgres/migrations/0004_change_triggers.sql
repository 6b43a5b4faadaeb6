-- Triggers that announce changes of users and sessions on the store's
-- channel of changes (store.ChangeNotifier, issue 12), so that a change
-- made outside the library, such as a direct
-- UPDATE users SET is_active = false, reaches every instance's cache too.
-- PostgreSQL delivers a notification when its transaction commits, and
-- drops it when it rolls back. Migrate runs this file with search_path set
-- to the store's schema.
--
-- The channel is the one Store.ChangeChannel names in Go, derived from the
-- schema of the table that fired (TG_TABLE_SCHEMA, not the caller's
-- search_path): 'authsys_changes_' || schema, or, when that would exceed
-- the 63 bytes of an identifier, 'authsys_changes_', the first 30 bytes of
-- the schema, '_' and the first 16 hex digits of the schema's SHA-256.
-- The payload is 'u:' or 's:' followed by the row's ID (its old ID when an
-- UPDATE changes it). An INSERT announces nothing: no instance can have
-- cached a row before it existed.

CREATE FUNCTION authsys_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    channel text := 'authsys_changes_' || TG_TABLE_SCHEMA;
BEGIN
    IF octet_length(channel) > 63 THEN
        channel := 'authsys_changes_' || left(TG_TABLE_SCHEMA, 30) || '_'
            || left(encode(sha256(convert_to(TG_TABLE_SCHEMA, 'UTF8')), 'hex'), 16);
    END IF;
    PERFORM pg_notify(channel, TG_ARGV[0] || OLD.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER users_notify_change AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION authsys_notify_change('u:');

CREATE TRIGGER sessions_notify_change AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION authsys_notify_change('s:');
