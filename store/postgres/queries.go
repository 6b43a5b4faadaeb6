package postgres

import "strings"

// queries holds the Store's SQL with the schema name filled in.
type queries struct {
	createMigrations, appliedVersions, recordVersion string

	userByID, userByEmail, listUsers, lockUser      string
	insertUser, updateUser                          string
	insertCodes, deleteCodes, updateCodeUsedAt      string
	putPending, addPending, getPending, takePending string
	deletePending, incrPending, sweepPending        string
	allowRate                                       string

	sessionByID, sessionsByUser, insertSession       string
	rotateSession, revokeSession, revokeUserSessions string
	purgeSessions                                    string
}

// sessionColumns are the columns scanSession reads, in its order.
const sessionColumns = `id, user_id, created_at, last_used_at, idle_expires_at, expires_at,
	ip, user_agent, last_ip, last_user_agent, label, refresh_id, previous_refresh_id,
	rotated_at, revoked_at, revoke_reason`

// selectUser reads a user with its backup codes, in position order, as
// three parallel arrays; one statement sees one snapshot.
const selectUser = `SELECT u.id, u.email, u.password_hash, u.is_active, u.email_verified,
	u.disabled, u.is_staff, u.token_version, u.totp_secret, u.totp_pending_secret, u.totp_enabled,
	u.totp_last_step, u.date_joined, u.last_login, u.profile,
	ARRAY(SELECT b.id FROM {s}.backup_codes b WHERE b.user_id = u.id ORDER BY b.position),
	ARRAY(SELECT b.hash FROM {s}.backup_codes b WHERE b.user_id = u.id ORDER BY b.position),
	ARRAY(SELECT b.used_at FROM {s}.backup_codes b WHERE b.user_id = u.id ORDER BY b.position)
FROM {s}.users u`

// newQueries returns the statements for the schema quoted as schema.
func newQueries(schema string) queries {
	r := strings.NewReplacer("{s}", schema)
	return queries{
		createMigrations: r.Replace(`CREATE TABLE IF NOT EXISTS {s}.schema_migrations (
	version    bigint PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`),
		appliedVersions: r.Replace(`SELECT version FROM {s}.schema_migrations`),
		recordVersion:   r.Replace(`INSERT INTO {s}.schema_migrations (version, name) VALUES ($1, $2)`),

		userByID:    r.Replace(selectUser + ` WHERE u.id = $1`),
		userByEmail: r.Replace(selectUser + ` WHERE u.email_key = $1`),
		listUsers: r.Replace(selectUser + ` WHERE u.email_key LIKE $1 ESCAPE '\' AND ($2 = '' OR u.email_key > $2)
ORDER BY u.email_key LIMIT $3`),
		lockUser: r.Replace(`SELECT 1 FROM {s}.users WHERE id = $1 FOR UPDATE`),
		insertUser: r.Replace(`INSERT INTO {s}.users (id, email, email_key, password_hash, is_active,
	email_verified, is_staff, token_version, totp_secret, totp_pending_secret, totp_enabled,
	totp_last_step, date_joined, last_login, disabled, profile)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`),
		updateUser: r.Replace(`UPDATE {s}.users SET email = $2, email_key = $3, password_hash = $4,
	is_active = $5, email_verified = $6, is_staff = $7, token_version = $8, totp_secret = $9,
	totp_pending_secret = $10, totp_enabled = $11, totp_last_step = $12, date_joined = $13,
	last_login = $14, disabled = $15, profile = $16
WHERE id = $1`),
		insertCodes: r.Replace(`INSERT INTO {s}.backup_codes (user_id, position, id, hash, used_at)
SELECT $1, c.ord, c.id, c.hash, c.used_at
FROM unnest($2::text[], $3::text[], $4::timestamptz[]) WITH ORDINALITY AS c (id, hash, used_at, ord)`),
		deleteCodes:      r.Replace(`DELETE FROM {s}.backup_codes WHERE user_id = $1`),
		updateCodeUsedAt: r.Replace(`UPDATE {s}.backup_codes SET used_at = $3 WHERE user_id = $1 AND position = $2`),

		putPending: r.Replace(`INSERT INTO {s}.pending AS p (key, value, counter, expires_at)
VALUES ($1, $2, 0, $3)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, counter = 0, expires_at = excluded.expires_at`),
		addPending: r.Replace(`INSERT INTO {s}.pending AS p (key, value, counter, expires_at)
VALUES ($1, $2, 0, $3)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, counter = 0, expires_at = excluded.expires_at
	WHERE p.expires_at <= $4
RETURNING true`),
		getPending:    r.Replace(`SELECT value FROM {s}.pending WHERE key = $1 AND expires_at > $2`),
		takePending:   r.Replace(`DELETE FROM {s}.pending WHERE key = $1 AND expires_at > $2 RETURNING value`),
		deletePending: r.Replace(`DELETE FROM {s}.pending WHERE key = $1`),
		incrPending: r.Replace(`INSERT INTO {s}.pending AS p (key, value, counter, expires_at)
VALUES ($1, '1', 1, $3)
ON CONFLICT (key) DO UPDATE SET
	counter = CASE WHEN p.expires_at <= $2 THEN 1 ELSE p.counter + 1 END,
	value = convert_to((CASE WHEN p.expires_at <= $2 THEN 1 ELSE p.counter + 1 END)::text, 'UTF8'),
	expires_at = CASE WHEN p.expires_at <= $2 THEN excluded.expires_at ELSE p.expires_at END
RETURNING counter, expires_at`),
		// allowRate is AllowRate's GCRA check: expires_at is the key's
		// theoretical arrival time (TAT), $2 now, $3 the emission interval
		// in microseconds and $4 the latest TAT that still allows an event
		// (now + (burst-1) intervals). An allowed event moves the TAT one
		// interval on (from now when it has passed); a refused one keeps
		// it. The conflicting row is locked, so concurrent checks on one
		// key queue. counter records the outcome for RETURNING, which sees
		// only the new row: 1 allowed, 0 refused.
		allowRate: r.Replace(`INSERT INTO {s}.pending AS p (key, value, counter, expires_at)
VALUES ($1, '', 1, $2::timestamptz + $3::bigint * interval '1 microsecond')
ON CONFLICT (key) DO UPDATE SET
	value = '',
	counter = CASE WHEN GREATEST(p.expires_at, $2::timestamptz) <= $4::timestamptz THEN 1 ELSE 0 END,
	expires_at = CASE WHEN GREATEST(p.expires_at, $2::timestamptz) <= $4::timestamptz
		THEN GREATEST(p.expires_at, $2::timestamptz) + $3::bigint * interval '1 microsecond'
		ELSE p.expires_at END
RETURNING counter = 1, expires_at`),
		sweepPending: r.Replace(`DELETE FROM {s}.pending WHERE expires_at <= $1`),

		sessionByID: r.Replace(`SELECT ` + sessionColumns + ` FROM {s}.sessions WHERE id = $1`),
		sessionsByUser: r.Replace(`SELECT ` + sessionColumns + ` FROM {s}.sessions WHERE user_id = $1
ORDER BY created_at DESC, id`),
		insertSession: r.Replace(`INSERT INTO {s}.sessions (` + sessionColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`),
		// rotateSession is RotateSession's one conditional write: $1 id, $2
		// from, $3 to, $4 at, $5 the idle expiry, $6 IP, $7 user agent. A
		// concurrent rotation of the row makes this one wait for it and
		// then re-check the WHERE clause on the row it left, which no
		// longer matches.
		rotateSession: r.Replace(`UPDATE {s}.sessions SET previous_refresh_id = refresh_id, refresh_id = $3,
	rotated_at = $4, last_used_at = $4, idle_expires_at = $5, last_ip = $6, last_user_agent = $7
WHERE id = $1 AND refresh_id = $2 AND revoked_at IS NULL
RETURNING ` + sessionColumns),
		revokeSession: r.Replace(`UPDATE {s}.sessions SET revoked_at = $2, revoke_reason = $3
WHERE id = $1 AND revoked_at IS NULL
RETURNING ` + sessionColumns),
		revokeUserSessions: r.Replace(`UPDATE {s}.sessions SET revoked_at = $3, revoke_reason = $4
WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL`),
		// purgeSessions compares the expression sessions_purge_idx indexes.
		purgeSessions: r.Replace(`DELETE FROM {s}.sessions WHERE LEAST(idle_expires_at, expires_at) < $1`),
	}
}
