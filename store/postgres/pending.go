package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/authsys-go/authsys/store"
)

// The pending entries live in the pending table. Expired rows stay until a
// sweep removes them, but no method ever returns or counts one: every
// statement compares expires_at with the Store's clock, passed from Go, so
// a fake clock moves expiry in tests.

// PutPending stores value under key for ttl, replacing any value (and any
// counter) the key had. ttl must be positive.
func (s *Store) PutPending(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.checkTTL("PutPending", ttl); err != nil {
		return err
	}
	now := s.clock()
	_, err := s.db.Exec(ctx, s.q.putPending, key, nonNil(value), now.Add(ttl))
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
	if err := s.checkTTL("AddPendingIfAbsent", ttl); err != nil {
		return false, err
	}
	now := s.clock()
	rows, err := s.db.Query(ctx, s.q.addPending, key, nonNil(value), now.Add(ttl), now)
	if err != nil {
		return false, s.fail(ctx, "AddPendingIfAbsent", err)
	}
	added := false
	for rows.Next() {
		added = true
	}
	if err := rows.Err(); err != nil {
		return false, s.fail(ctx, "AddPendingIfAbsent", err)
	}
	s.wrote(ctx, now)
	return added, nil
}

// GetPending returns the value under key, or store.ErrNotFound when the key
// is absent or expired.
func (s *Store) GetPending(ctx context.Context, key string) ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	var value []byte
	err := s.db.QueryRow(ctx, s.q.getPending, key, s.clock()).Scan(&value)
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
	if s.err != nil {
		return nil, s.err
	}
	now := s.clock()
	var value []byte
	err := s.db.QueryRow(ctx, s.q.takePending, key, now).Scan(&value)
	if err != nil {
		return nil, s.fail(ctx, "TakePending", err)
	}
	s.wrote(ctx, now)
	return nonNil(value), nil
}

// DeletePending removes key, expired or not; a missing key is not an
// error.
func (s *Store) DeletePending(ctx context.Context, key string) error {
	if s.err != nil {
		return s.err
	}
	if _, err := s.db.Exec(ctx, s.q.deletePending, key); err != nil {
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
	if err := s.checkTTL("IncrPending", ttl); err != nil {
		return 0, 0, err
	}
	now := s.clock()
	var (
		count     int64
		expiresAt time.Time
	)
	err := s.db.QueryRow(ctx, s.q.incrPending, key, now, now.Add(ttl)).Scan(&count, &expiresAt)
	if err != nil {
		return 0, 0, s.fail(ctx, "IncrPending", err)
	}
	s.wrote(ctx, now)
	return count, expiresAt.Sub(now), nil
}

// AllowRate checks one event against the GCRA rate limit under key, of
// emission interval interval (rounded up to whole microseconds) and burst
// burst, in one INSERT ... ON CONFLICT DO UPDATE ... RETURNING statement
// on the Store's clock (see store.RateStore). It allows up to burst events
// at once, then one every interval; a refused event keeps the state, and
// AllowRate then returns false and the exact time until the next event
// would be allowed. The row's expires_at is the theoretical arrival time,
// so the row expires when the key is back to a full burst. Of concurrent
// callers on one key, in any number of processes, exactly as many are
// allowed as the budget holds. It returns an error when interval is not
// positive, burst is below one or burst*interval overflows a
// time.Duration.
func (s *Store) AllowRate(ctx context.Context, key string, interval time.Duration, burst int) (bool, time.Duration, error) {
	if s.err != nil {
		return false, 0, s.err
	}
	interval, err := store.RateInterval(interval, burst)
	if err != nil {
		return false, 0, fmt.Errorf("postgres: AllowRate: %w", err)
	}
	now := s.clock()
	limit := now.Add(time.Duration(burst-1) * interval)
	var (
		ok  bool
		tat time.Time
	)
	err = s.db.QueryRow(ctx, s.q.allowRate, key, now, interval.Microseconds(), limit).Scan(&ok, &tat)
	if err != nil {
		return false, 0, s.fail(ctx, "AllowRate", err)
	}
	s.wrote(ctx, now)
	if ok {
		return true, 0, nil
	}
	return false, tat.Sub(limit), nil
}

// Sweep deletes the expired pending entries and returns how many it
// deleted. Expired entries are invisible anyway; sweeping only reclaims
// their space. The Store also sweeps by itself after every 100th write of a
// pending entry, so calling Sweep is optional.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	if s.err != nil {
		return 0, s.err
	}
	tag, err := s.db.Exec(ctx, s.q.sweepPending, s.clock())
	if err != nil {
		return 0, s.fail(ctx, "Sweep", err)
	}
	return tag.RowsAffected(), nil
}

// wrote counts a pending write and runs the opportunistic sweep on every
// sweepEvery-th one. A failed sweep is retried by a later one, so its
// error is dropped.
func (s *Store) wrote(ctx context.Context, now time.Time) {
	if s.writes.Add(1)%sweepEvery != 0 {
		return
	}
	_, _ = s.db.Exec(ctx, s.q.sweepPending, now)
}

// clock returns the Store's current time at the database's precision.
func (s *Store) clock() time.Time {
	return dbTime(s.now())
}

// checkTTL returns the configuration error, or an error when ttl is not
// positive.
func (s *Store) checkTTL(op string, ttl time.Duration) error {
	if s.err != nil {
		return s.err
	}
	if ttl <= 0 {
		return fmt.Errorf("postgres: %s: ttl %v is not positive", op, ttl)
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
