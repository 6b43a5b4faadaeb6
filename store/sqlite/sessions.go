package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/authsys-go/authsys/store"
)

// The session records (store.SessionStore) live in the sessions table of
// 0003_sessions.sql. Every write is one statement on the writing
// connection: RotateSession and RevokeSession are conditional UPDATE ...
// RETURNING statements, never a read followed by a write.

// sessionColumns are the columns scanSession reads, in its order.
const sessionColumns = `id, user_id, created_at, last_used_at, idle_expires_at, expires_at,
	ip, user_agent, last_ip, last_user_agent, label, refresh_id, previous_refresh_id,
	rotated_at, revoked_at, revoke_reason`

const (
	sessionByIDSQL    = `SELECT ` + sessionColumns + ` FROM sessions WHERE id = ?1`
	sessionsByUserSQL = `SELECT ` + sessionColumns + ` FROM sessions WHERE user_id = ?1
ORDER BY created_at DESC, id`
	insertSessionSQL = `INSERT INTO sessions (` + sessionColumns + `)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)`
	// rotateSessionSQL: ?1 id, ?2 from, ?3 to, ?4 at, ?5 idle expiry,
	// ?6 IP, ?7 user agent.
	rotateSessionSQL = `UPDATE sessions SET previous_refresh_id = refresh_id, refresh_id = ?3,
	rotated_at = ?4, last_used_at = ?4, idle_expires_at = ?5, last_ip = ?6, last_user_agent = ?7
WHERE id = ?1 AND refresh_id = ?2 AND revoked_at IS NULL
RETURNING ` + sessionColumns
	revokeSessionSQL = `UPDATE sessions SET revoked_at = ?2, revoke_reason = ?3
WHERE id = ?1 AND revoked_at IS NULL
RETURNING ` + sessionColumns
	revokeUserSessionsSQL = `UPDATE sessions SET revoked_at = ?3, revoke_reason = ?4
WHERE user_id = ?1 AND id <> ?2 AND revoked_at IS NULL`
	// purgeSessionsSQL compares the expression sessions_purge_idx indexes.
	purgeSessionsSQL = `DELETE FROM sessions WHERE min(idle_expires_at, expires_at) < ?1`
)

// CreateSession stores s, its times at microsecond precision. An ID
// already stored gives an error (wrapping neither store.ErrNotFound nor
// store.ErrUnavailable) and changes nothing.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	err := retryBusy(ctx, func() error {
		_, err := s.st.insertSession.ExecContext(ctx,
			sess.ID, sess.UserID, micros(sess.CreatedAt), micros(sess.LastUsedAt),
			micros(sess.IdleExpiresAt), micros(sess.ExpiresAt), sess.IP, sess.UserAgent,
			sess.LastIP, sess.LastUserAgent, sess.Label, sess.RefreshID, sess.PreviousRefreshID,
			nullMicros(sess.RotatedAt), nullMicros(sess.RevokedAt), sess.RevokeReason)
		return err
	})
	return s.fail(ctx, "CreateSession", err)
}

// SessionByID returns the session id, revoked or expired ones included
// until purged, or store.ErrNotFound.
func (s *Store) SessionByID(ctx context.Context, id string) (store.Session, error) {
	var sess store.Session
	err := retryBusy(ctx, func() (err error) {
		sess, err = scanSession(s.st.sessionByID.QueryRowContext(ctx, id))
		return err
	})
	return sess, s.fail(ctx, "SessionByID", err)
}

// SessionsByUser returns every stored session of userID, revoked and
// expired ones included until purged, newest CreatedAt first and ties by
// ID; none for an unknown user.
func (s *Store) SessionsByUser(ctx context.Context, userID string) ([]store.Session, error) {
	var out []store.Session
	err := retryBusy(ctx, func() error {
		out = nil
		rows, err := s.st.sessionsByUser.QueryContext(ctx, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			sess, err := scanSession(rows)
			if err != nil {
				return err
			}
			out = append(out, sess)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.fail(ctx, "SessionsByUser", err)
	}
	return out, nil
}

// RotateSession moves the session id on to r.To in one conditional UPDATE
// (WHERE id = ? AND refresh_id = from AND revoked_at IS NULL ...
// RETURNING), on the writing connection under the database's write lock,
// and returns the session and true. When no row matches it reads the
// session and returns it as stored and false, or store.ErrNotFound. Of
// concurrent callers with the same from, in any number of processes,
// exactly one gets true.
func (s *Store) RotateSession(ctx context.Context, id, from string, r store.Rotation) (store.Session, bool, error) {
	var sess store.Session
	err := retryBusy(ctx, func() (err error) {
		sess, err = scanSession(s.st.rotateSession.QueryRowContext(ctx,
			id, from, r.To, micros(r.At), micros(r.IdleExpiresAt), r.IP, r.UserAgent))
		return err
	})
	return s.updated(ctx, "RotateSession", id, sess, err)
}

// RevokeSession sets RevokedAt to at and RevokeReason to reason in one
// conditional UPDATE (WHERE revoked_at IS NULL) if the session is not
// revoked yet, and reports whether it did, with the session as stored. It
// returns store.ErrNotFound for an unknown id.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time, reason string) (store.Session, bool, error) {
	var sess store.Session
	err := retryBusy(ctx, func() (err error) {
		sess, err = scanSession(s.st.revokeSession.QueryRowContext(ctx, id, micros(at), reason))
		return err
	})
	return s.updated(ctx, "RevokeSession", id, sess, err)
}

// updated finishes a conditional UPDATE ... RETURNING of the session id
// that returned sess and err: true when it updated the row; otherwise the
// row as stored now and false, or store.ErrNotFound.
func (s *Store) updated(ctx context.Context, op, id string, sess store.Session, err error) (store.Session, bool, error) {
	if err == nil {
		return sess, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, false, s.fail(ctx, op, err)
	}
	sess, err = s.SessionByID(ctx, id)
	if err != nil {
		return store.Session{}, false, s.fail(ctx, op, err)
	}
	return sess, false, nil
}

// RevokeUserSessions revokes, in one UPDATE, every session of userID not
// yet revoked except the one whose ID is except, and returns how many it
// revoked.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, except string, at time.Time, reason string) (int, error) {
	return s.execCount(ctx, "RevokeUserSessions", s.st.revokeUserSessions, userID, except, micros(at), reason)
}

// PurgeSessions deletes, in one DELETE, every session whose IdleExpiresAt
// or ExpiresAt is before before, revoked or not, and returns how many it
// deleted.
func (s *Store) PurgeSessions(ctx context.Context, before time.Time) (int, error) {
	return s.execCount(ctx, "PurgeSessions", s.st.purgeSessions, ceilMicros(before))
}

// ceilMicros returns t in microseconds since the Unix epoch, rounded up:
// a stored time (whole microseconds) is before t exactly when it is below
// ceilMicros(t).
func ceilMicros(t time.Time) int64 {
	us := t.UnixMicro()
	if t.Nanosecond()%1000 != 0 {
		us++
	}
	return us
}

// execCount runs stmt with args and returns the number of rows it changed.
func (s *Store) execCount(ctx context.Context, op string, stmt *sql.Stmt, args ...any) (int, error) {
	var n int64
	err := retryBusy(ctx, func() error {
		res, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.fail(ctx, op, err)
	}
	return int(n), nil
}

// scanSession reads one row of sessionColumns.
func scanSession(row interface{ Scan(...any) error }) (store.Session, error) {
	var (
		sess                             store.Session
		created, lastUsed, idle, expires int64
		rotated, revoked                 sql.NullInt64
	)
	err := row.Scan(&sess.ID, &sess.UserID, &created, &lastUsed, &idle, &expires,
		&sess.IP, &sess.UserAgent, &sess.LastIP, &sess.LastUserAgent, &sess.Label,
		&sess.RefreshID, &sess.PreviousRefreshID, &rotated, &revoked, &sess.RevokeReason)
	if err != nil {
		return store.Session{}, err
	}
	sess.CreatedAt, sess.LastUsedAt = fromMicros(created), fromMicros(lastUsed)
	sess.IdleExpiresAt, sess.ExpiresAt = fromMicros(idle), fromMicros(expires)
	if rotated.Valid {
		sess.RotatedAt = fromMicros(rotated.Int64)
	}
	if revoked.Valid {
		sess.RevokedAt = fromMicros(revoked.Int64)
	}
	return sess, nil
}
