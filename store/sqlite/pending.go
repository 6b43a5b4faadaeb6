package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/authsys-go/authsys/store"
)

// The pending entries live in the pending table. Expired rows stay until a
// sweep removes them, but no method ever returns or counts one: every
// statement compares expires_at with the Store's clock, passed from Go, so
// a fake clock moves expiry in tests.

const (
	putPendingSQL = `INSERT INTO pending (key, value, counter, expires_at) VALUES (?1, ?2, 0, ?3)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, counter = 0, expires_at = excluded.expires_at`
	addPendingSQL = `INSERT INTO pending (key, value, counter, expires_at) VALUES (?1, ?2, 0, ?3)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, counter = 0, expires_at = excluded.expires_at
	WHERE pending.expires_at <= ?4
RETURNING 1`
	getPendingSQL    = `SELECT value FROM pending WHERE key = ?1 AND expires_at > ?2`
	takePendingSQL   = `DELETE FROM pending WHERE key = ?1 AND expires_at > ?2 RETURNING value`
	deletePendingSQL = `DELETE FROM pending WHERE key = ?1`
	incrPendingSQL   = `INSERT INTO pending (key, value, counter, expires_at) VALUES (?1, CAST('1' AS BLOB), 1, ?3)
ON CONFLICT (key) DO UPDATE SET
	counter = CASE WHEN pending.expires_at <= ?2 THEN 1 ELSE pending.counter + 1 END,
	value = CAST(CAST(CASE WHEN pending.expires_at <= ?2 THEN 1 ELSE pending.counter + 1 END AS TEXT) AS BLOB),
	expires_at = CASE WHEN pending.expires_at <= ?2 THEN excluded.expires_at ELSE pending.expires_at END
RETURNING counter, expires_at`
	sweepPendingSQL = `DELETE FROM pending WHERE expires_at <= ?1`
	// allowRateSQL is AllowRate's GCRA check: expires_at is the key's
	// theoretical arrival time (TAT), ?2 now, ?3 the emission interval and
	// ?4 the latest TAT that still allows an event (now + (burst-1)
	// intervals), all in microseconds. An allowed event moves the TAT one
	// interval on (from now when it has passed); a refused one keeps it.
	// counter records the outcome for RETURNING, which sees only the new
	// row: 1 allowed, 0 refused.
	allowRateSQL = `INSERT INTO pending (key, value, counter, expires_at) VALUES (?1, CAST('' AS BLOB), 1, ?2 + ?3)
ON CONFLICT (key) DO UPDATE SET
	value = CAST('' AS BLOB),
	counter = CASE WHEN max(pending.expires_at, ?2) <= ?4 THEN 1 ELSE 0 END,
	expires_at = CASE WHEN max(pending.expires_at, ?2) <= ?4 THEN max(pending.expires_at, ?2) + ?3 ELSE pending.expires_at END
RETURNING counter, expires_at`
)

// PutPending stores value under key for ttl, replacing any value (and any
// counter) the key had. ttl must be positive.
func (s *Store) PutPending(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkTTL("PutPending", ttl); err != nil {
		return err
	}
	now := s.clock()
	err := retryBusy(ctx, func() error {
		_, err := s.st.putPending.ExecContext(ctx, key, nonNil(value), micros(now.Add(ttl)))
		return err
	})
	if err != nil {
		return s.fail(ctx, "PutPending", err)
	}
	s.wrote(ctx, now)
	return nil
}

// AddPendingIfAbsent stores value under key for ttl only if the key is
// absent or expired, and reports whether it did. One upsert statement
// decides, so of concurrent callers on one key, in any number of
// processes, exactly one gets true. ttl must be positive.
func (s *Store) AddPendingIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkTTL("AddPendingIfAbsent", ttl); err != nil {
		return false, err
	}
	now := s.clock()
	var added bool
	err := retryBusy(ctx, func() error {
		var one int
		err := s.st.addPending.QueryRowContext(ctx, key, nonNil(value), micros(now.Add(ttl)), micros(now)).Scan(&one)
		added = err == nil
		if errors.Is(err, sql.ErrNoRows) { // the key is present and alive
			return nil
		}
		return err
	})
	if err != nil {
		return false, s.fail(ctx, "AddPendingIfAbsent", err)
	}
	s.wrote(ctx, now)
	return added, nil
}

// GetPending returns the value under key, or store.ErrNotFound when the key
// is absent or expired.
func (s *Store) GetPending(ctx context.Context, key string) ([]byte, error) {
	var value []byte
	err := retryBusy(ctx, func() error {
		return s.st.getPending.QueryRowContext(ctx, key, micros(s.clock())).Scan(&value)
	})
	if err != nil {
		return nil, s.fail(ctx, "GetPending", err)
	}
	return nonNil(value), nil
}

// TakePending deletes the entry under key and returns its value, in one
// DELETE ... RETURNING statement, or returns store.ErrNotFound when the key
// is absent or expired. Of concurrent callers on one key exactly one gets
// the value.
func (s *Store) TakePending(ctx context.Context, key string) ([]byte, error) {
	now := s.clock()
	var value []byte
	err := retryBusy(ctx, func() error {
		return s.st.takePending.QueryRowContext(ctx, key, micros(now)).Scan(&value)
	})
	if err != nil {
		return nil, s.fail(ctx, "TakePending", err)
	}
	s.wrote(ctx, now)
	return nonNil(value), nil
}

// DeletePending removes key, expired or not; a missing key is not an
// error.
func (s *Store) DeletePending(ctx context.Context, key string) error {
	err := retryBusy(ctx, func() error {
		_, err := s.st.deletePending.ExecContext(ctx, key)
		return err
	})
	if err != nil {
		return s.fail(ctx, "DeletePending", err)
	}
	return nil
}

// IncrPending adds one to the counter under key in one upsert statement and
// returns the new count and the time the counter has left. An absent or
// expired counter starts at 1 and lives for ttl; later increments keep its
// expiry (a fixed window). GetPending on a counter returns the count in
// decimal. ttl must be positive.
func (s *Store) IncrPending(ctx context.Context, key string, ttl time.Duration) (int64, time.Duration, error) {
	if err := checkTTL("IncrPending", ttl); err != nil {
		return 0, 0, err
	}
	now := s.clock()
	var count, expiresAt int64
	err := retryBusy(ctx, func() error {
		return s.st.incrPending.QueryRowContext(ctx, key, micros(now), micros(now.Add(ttl))).Scan(&count, &expiresAt)
	})
	if err != nil {
		return 0, 0, s.fail(ctx, "IncrPending", err)
	}
	s.wrote(ctx, now)
	return count, fromMicros(expiresAt).Sub(now), nil
}

// AllowRate checks one event against the GCRA rate limit under key, of
// emission interval interval (rounded up to whole microseconds) and burst
// burst, in one INSERT ... ON CONFLICT DO UPDATE ... RETURNING statement
// on the Store's clock (see store.RateStore). It allows up to burst events
// at once, then one every interval; a refused event keeps the state, and
// AllowRate then returns false and the exact time until the next event
// would be allowed. The row's expires_at is the theoretical arrival time,
// so the row expires when the key is back to a full burst. The statement
// runs on the writing connection, under the database's write lock, so of
// concurrent callers on one key, in any number of processes, exactly as
// many are allowed as the budget holds. It returns an error when interval
// is not positive, burst is below one or burst*interval overflows a
// time.Duration.
func (s *Store) AllowRate(ctx context.Context, key string, interval time.Duration, burst int) (bool, time.Duration, error) {
	interval, err := store.RateInterval(interval, burst)
	if err != nil {
		return false, 0, fmt.Errorf("sqlite: AllowRate: %w", err)
	}
	now := s.clock()
	us := interval.Microseconds()
	limit := micros(now) + int64(burst-1)*us
	var allowed, tat int64
	err = retryBusy(ctx, func() error {
		return s.st.allowRate.QueryRowContext(ctx, key, micros(now), us, limit).Scan(&allowed, &tat)
	})
	if err != nil {
		return false, 0, s.fail(ctx, "AllowRate", err)
	}
	s.wrote(ctx, now)
	if allowed == 1 {
		return true, 0, nil
	}
	return false, time.Duration(tat-limit) * time.Microsecond, nil
}

// Sweep deletes the expired pending entries and returns how many it
// deleted. Expired entries are invisible anyway; sweeping only reclaims
// their space. The Store also sweeps by itself after every 100th write of a
// pending entry, so calling Sweep is optional.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	var n int64
	err := retryBusy(ctx, func() error {
		res, err := s.st.sweep.ExecContext(ctx, micros(s.clock()))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.fail(ctx, "Sweep", err)
	}
	return n, nil
}

// wrote counts a pending write and runs the opportunistic sweep on every
// sweepEvery-th one. A failed sweep is retried by a later one, so its
// error is dropped.
func (s *Store) wrote(ctx context.Context, now time.Time) {
	if s.writes.Add(1)%sweepEvery != 0 {
		return
	}
	_, _ = s.st.sweep.ExecContext(ctx, micros(now))
}

// clock returns the Store's current time at the database's precision.
func (s *Store) clock() time.Time {
	return dbTime(s.now())
}

// checkTTL returns an error when ttl is not positive.
func checkTTL(op string, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("sqlite: %s: ttl %v is not positive", op, ttl)
	}
	return nil
}

// nonNil returns b, or an empty slice for nil, since the value column is
// NOT NULL and callers expect a non-nil value back.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
