package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/authsys-go/authsys/store"
)

// The session records (store.SessionStore) live in the sessions table of
// 0003_sessions.sql. Every write is one statement: RotateSession and
// RevokeSession are conditional UPDATE ... RETURNING statements, never a
// read followed by a write. A statement that fails on a serialization
// failure or a deadlock (possible when the database's default isolation
// level is SERIALIZABLE) changed nothing and runs again.

// CreateSession stores s, its times at microsecond precision. An ID
// already stored gives an error (wrapping neither store.ErrNotFound nor
// store.ErrUnavailable) and changes nothing.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	if s.err != nil {
		return s.err
	}
	err := s.retry(ctx, func() error {
		_, err := s.db.Exec(ctx, s.q.insertSession,
			sess.ID, sess.UserID, sess.CreatedAt, sess.LastUsedAt, sess.IdleExpiresAt, sess.ExpiresAt,
			sess.IP, sess.UserAgent, sess.LastIP, sess.LastUserAgent, sess.Label,
			sess.RefreshID, sess.PreviousRefreshID, nullTime(sess.RotatedAt), nullTime(sess.RevokedAt),
			sess.RevokeReason)
		return err
	})
	return s.fail(ctx, "CreateSession", err)
}

// SessionByID returns the session id, revoked or expired ones included
// until purged, or store.ErrNotFound.
func (s *Store) SessionByID(ctx context.Context, id string) (store.Session, error) {
	if s.err != nil {
		return store.Session{}, s.err
	}
	sess, err := scanSession(s.db.QueryRow(ctx, s.q.sessionByID, id))
	return sess, s.fail(ctx, "SessionByID", err)
}

// SessionsByUser returns every stored session of userID, revoked and
// expired ones included until purged, newest CreatedAt first and ties by
// ID (byte-wise); none for an unknown user.
func (s *Store) SessionsByUser(ctx context.Context, userID string) ([]store.Session, error) {
	if s.err != nil {
		return nil, s.err
	}
	rows, err := s.db.Query(ctx, s.q.sessionsByUser, userID)
	if err != nil {
		return nil, s.fail(ctx, "SessionsByUser", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Session, error) {
		return scanSession(row)
	})
	if err != nil {
		return nil, s.fail(ctx, "SessionsByUser", err)
	}
	return out, nil
}

// RotateSession moves the session id on to r.To in one conditional UPDATE
// (WHERE id = $1 AND refresh_id = from AND revoked_at IS NULL ...
// RETURNING) and returns the session and true. When no row matches it
// reads the session and returns it as stored and false, or
// store.ErrNotFound. Of concurrent callers with the same from, in any
// number of processes, exactly one gets true: the others wait for its row
// lock and then find that the refresh ID has moved on.
func (s *Store) RotateSession(ctx context.Context, id, from string, r store.Rotation) (store.Session, bool, error) {
	if s.err != nil {
		return store.Session{}, false, s.err
	}
	var sess store.Session
	err := s.retry(ctx, func() (err error) {
		sess, err = scanSession(s.db.QueryRow(ctx, s.q.rotateSession,
			id, from, r.To, r.At, r.IdleExpiresAt, r.IP, r.UserAgent))
		return err
	})
	return s.updated(ctx, "RotateSession", id, sess, err)
}

// RevokeSession sets RevokedAt to at and RevokeReason to reason in one
// conditional UPDATE (WHERE revoked_at IS NULL) if the session is not
// revoked yet, and reports whether it did, with the session as stored. It
// returns store.ErrNotFound for an unknown id.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time, reason string) (store.Session, bool, error) {
	if s.err != nil {
		return store.Session{}, false, s.err
	}
	var sess store.Session
	err := s.retry(ctx, func() (err error) {
		sess, err = scanSession(s.db.QueryRow(ctx, s.q.revokeSession, id, at, reason))
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
	if !errors.Is(err, pgx.ErrNoRows) {
		return store.Session{}, false, s.fail(ctx, op, err)
	}
	sess, err = scanSession(s.db.QueryRow(ctx, s.q.sessionByID, id))
	if err != nil {
		return store.Session{}, false, s.fail(ctx, op, err)
	}
	return sess, false, nil
}

// RevokeUserSessions revokes, in one UPDATE, every session of userID not
// yet revoked except the one whose ID is except, and returns how many it
// revoked.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, except string, at time.Time, reason string) (int, error) {
	return s.execCount(ctx, "RevokeUserSessions", s.q.revokeUserSessions, userID, except, at, reason)
}

// PurgeSessions deletes, in one DELETE, every session whose IdleExpiresAt
// or ExpiresAt is before before, revoked or not, and returns how many it
// deleted.
func (s *Store) PurgeSessions(ctx context.Context, before time.Time) (int, error) {
	// Stored times are whole microseconds: one is before before exactly
	// when it is before before rounded up to a microsecond.
	if t := before.Truncate(time.Microsecond); !t.Equal(before) {
		before = t.Add(time.Microsecond)
	}
	return s.execCount(ctx, "PurgeSessions", s.q.purgeSessions, before)
}

// execCount runs the statement query with args and returns the number of
// rows it changed.
func (s *Store) execCount(ctx context.Context, op, query string, args ...any) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	var n int64
	err := s.retry(ctx, func() error {
		tag, err := s.db.Exec(ctx, query, args...)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.fail(ctx, op, err)
	}
	return int(n), nil
}

// retry runs the single statement op, and runs it again, up to
// maxUpdateAttempts times in all, while it fails on a serialization
// failure or a deadlock (it then changed nothing) and ctx has not ended.
func (s *Store) retry(ctx context.Context, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || !retryable(err) || attempt >= maxUpdateAttempts || ctx.Err() != nil {
			return err
		}
	}
}

// scanSession reads one row of sessionColumns.
func scanSession(row pgx.Row) (store.Session, error) {
	var (
		sess             store.Session
		rotated, revoked pgtype.Timestamptz
	)
	err := row.Scan(&sess.ID, &sess.UserID, &sess.CreatedAt, &sess.LastUsedAt, &sess.IdleExpiresAt, &sess.ExpiresAt,
		&sess.IP, &sess.UserAgent, &sess.LastIP, &sess.LastUserAgent, &sess.Label,
		&sess.RefreshID, &sess.PreviousRefreshID, &rotated, &revoked, &sess.RevokeReason)
	if err != nil {
		return store.Session{}, err
	}
	for _, p := range []*time.Time{&sess.CreatedAt, &sess.LastUsedAt, &sess.IdleExpiresAt, &sess.ExpiresAt} {
		*p = dbTime(*p)
	}
	if rotated.Valid {
		sess.RotatedAt = dbTime(rotated.Time)
	}
	if revoked.Valid {
		sess.RevokedAt = dbTime(revoked.Time)
	}
	return sess, nil
}
