package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/authsys-go/authsys/store"
)

// maxUpdateAttempts bounds how often UpdateUser reruns a transaction that
// failed on a serialization failure or a deadlock.
const maxUpdateAttempts = 5

// errIDChanged is returned by UpdateUser when fn changes the user's ID.
var errIDChanged = errors.New("postgres: UpdateUser: fn changed the user ID")

// CreateUser stores a new user and returns it as stored: with a random
// 128-bit hex ID when u.ID is empty, DateJoined set to the clock's time when
// zero, and times at microsecond precision in UTC. It returns
// store.ErrEmailTaken when another user has the same normalized email.
func (s *Store) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	if s.err != nil {
		return store.User{}, s.err
	}
	u, profile, err := canonical(u)
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: CreateUser: %w", err)
	}
	if u.ID == "" {
		u.ID = newID()
	}
	if u.DateJoined.IsZero() {
		u.DateJoined = dbTime(s.now())
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return store.User{}, s.fail(ctx, "CreateUser", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, s.q.insertUser, userArgs(u, profile)...); err != nil {
		return store.User{}, s.fail(ctx, "CreateUser", err)
	}
	if err := s.insertCodes(ctx, tx, u); err != nil {
		return store.User{}, s.fail(ctx, "CreateUser", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return store.User{}, s.fail(ctx, "CreateUser", err)
	}
	return u, nil
}

// UserByID returns the user with the given ID, or store.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	if s.err != nil {
		return store.User{}, s.err
	}
	u, err := scanUser(s.db.QueryRow(ctx, s.q.userByID, id))
	return u, s.fail(ctx, "UserByID", err)
}

// UserByEmail returns the user whose normalized email equals the
// normalized email given, or store.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	if s.err != nil {
		return store.User{}, s.err
	}
	u, err := scanUser(s.db.QueryRow(ctx, s.q.userByEmail, store.NormalizeEmail(email)))
	return u, s.fail(ctx, "UserByEmail", err)
}

// UpdateUser locks the user's row (SELECT ... FOR UPDATE), calls fn with
// the latest version and writes the result, all in one transaction, so
// concurrent updates of one user, from any number of processes, run one
// after the other. A transaction that fails on a serialization failure or
// a deadlock runs again, calling fn again. fn's error is returned as it is
// and nothing is written. It returns store.ErrNotFound for an unknown id
// and store.ErrEmailTaken when fn gives the user another user's email.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	if s.err != nil {
		return store.User{}, s.err
	}
	for attempt := 1; ; attempt++ {
		u, err := s.updateOnce(ctx, id, fn)
		var fe fnError
		switch {
		case err == nil:
			return u, nil
		case errors.As(err, &fe):
			return store.User{}, fe.err
		case retryable(err) && attempt < maxUpdateAttempts && ctx.Err() == nil:
			continue
		}
		return store.User{}, s.fail(ctx, "UpdateUser", err)
	}
}

// fnError carries an error of UpdateUser's fn (or of fn breaking its
// contract) out of updateOnce, apart from database errors.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// updateOnce runs one UpdateUser transaction.
func (s *Store) updateOnce(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return store.User{}, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var one int
	if err := tx.QueryRow(ctx, s.q.lockUser, id).Scan(&one); err != nil {
		return store.User{}, err
	}
	// A new statement after the lock: under READ COMMITTED it sees what the
	// previous holder of the lock committed, backup codes included.
	old, err := scanUser(tx.QueryRow(ctx, s.q.userByID, id))
	if err != nil {
		return store.User{}, err
	}
	u := old.Clone()
	if err := fn(&u); err != nil {
		return store.User{}, fnError{err}
	}
	if u.ID != id {
		return store.User{}, fnError{errIDChanged}
	}
	u, profile, err := canonical(u)
	if err != nil {
		return store.User{}, fnError{err}
	}
	if _, err := tx.Exec(ctx, s.q.updateUser, userArgs(u, profile)...); err != nil {
		return store.User{}, err
	}
	if err := s.writeCodes(ctx, tx, old.BackupCodes, u); err != nil {
		return store.User{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return store.User{}, err
	}
	return u, nil
}

// ListUsers returns up to limit users whose normalized email starts with
// the normalized emailPrefix, ordered by normalized email byte-wise,
// starting strictly after the normalized email after.
func (s *Store) ListUsers(ctx context.Context, emailPrefix, after string, limit int) ([]store.User, error) {
	if s.err != nil {
		return nil, s.err
	}
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, s.q.listUsers,
		likePrefix(store.NormalizeEmail(emailPrefix)), store.NormalizeEmail(after), limit)
	if err != nil {
		return nil, s.fail(ctx, "ListUsers", err)
	}
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.User, error) {
		return scanUser(row)
	})
	if err != nil {
		return nil, s.fail(ctx, "ListUsers", err)
	}
	return users, nil
}

// likePrefix returns a LIKE pattern matching the strings that start with
// prefix, with the pattern characters in prefix escaped.
func likePrefix(prefix string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(prefix) + "%"
}

// canonical returns a deep copy of u in the form the database returns it,
// and the value of its profile column: NULL for an empty Profile, else its
// JSON, which the copy's Profile is decoded from (a Profile that
// encoding/json cannot encode is an error).
func canonical(u store.User) (store.User, any, error) {
	u = u.Clone()
	var profile any
	if len(u.Profile) == 0 {
		u.Profile = nil
	} else {
		b, err := json.Marshal(u.Profile)
		if err != nil {
			return store.User{}, nil, fmt.Errorf("encoding Profile: %w", err)
		}
		if u.Profile, err = decodeProfile(b); err != nil {
			return store.User{}, nil, err
		}
		profile = string(b)
	}
	u.DateJoined = dbTime(u.DateJoined)
	u.LastLogin = dbTime(u.LastLogin)
	if len(u.BackupCodes) == 0 {
		u.BackupCodes = nil
	}
	for i := range u.BackupCodes {
		u.BackupCodes[i].UsedAt = dbTime(u.BackupCodes[i].UsedAt)
	}
	return u, profile, nil
}

// decodeProfile decodes a profile column's JSON object.
func decodeProfile(b []byte) (map[string]any, error) {
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decoding profile: %w", err)
	}
	if len(p) == 0 {
		return nil, nil
	}
	return p, nil
}

// nullTime returns t as a nullable timestamptz: NULL for the zero time.
func nullTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// userArgs returns the arguments of insertUser and updateUser; profile is
// canonical's value of the profile column.
func userArgs(u store.User, profile any) []any {
	return []any{
		u.ID, u.Email, store.NormalizeEmail(u.Email), u.PasswordHash, u.IsActive,
		u.EmailVerified, u.IsStaff, u.TokenVersion, u.TOTPSecret, u.TOTPPendingSecret,
		u.TOTPEnabled, u.TOTPLastStep, u.DateJoined, nullTime(u.LastLogin), u.Disabled,
		profile,
	}
}

// scanUser reads one row of selectUser.
func scanUser(row pgx.Row) (store.User, error) {
	var (
		u         store.User
		lastLogin pgtype.Timestamptz
		profile   []byte
		ids       []string
		hashes    []string
		usedAt    []pgtype.Timestamptz
	)
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.IsActive, &u.EmailVerified,
		&u.Disabled, &u.IsStaff, &u.TokenVersion, &u.TOTPSecret, &u.TOTPPendingSecret, &u.TOTPEnabled,
		&u.TOTPLastStep, &u.DateJoined, &lastLogin, &profile, &ids, &hashes, &usedAt)
	if err != nil {
		return store.User{}, err
	}
	if profile != nil {
		if u.Profile, err = decodeProfile(profile); err != nil {
			return store.User{}, err
		}
	}
	u.DateJoined = dbTime(u.DateJoined)
	if lastLogin.Valid {
		u.LastLogin = dbTime(lastLogin.Time)
	}
	if len(ids) != len(hashes) || len(ids) != len(usedAt) {
		return store.User{}, errors.New("backup code arrays differ in length")
	}
	if len(ids) > 0 {
		u.BackupCodes = make([]store.BackupCode, len(ids))
		for i := range ids {
			u.BackupCodes[i] = store.BackupCode{ID: ids[i], Hash: hashes[i]}
			if usedAt[i].Valid {
				u.BackupCodes[i].UsedAt = dbTime(usedAt[i].Time)
			}
		}
	}
	return u, nil
}

// insertCodes inserts all of u's backup codes.
func (s *Store) insertCodes(ctx context.Context, tx pgx.Tx, u store.User) error {
	if len(u.BackupCodes) == 0 {
		return nil
	}
	ids := make([]string, len(u.BackupCodes))
	hashes := make([]string, len(u.BackupCodes))
	usedAt := make([]pgtype.Timestamptz, len(u.BackupCodes))
	for i, c := range u.BackupCodes {
		ids[i], hashes[i], usedAt[i] = c.ID, c.Hash, nullTime(c.UsedAt)
	}
	_, err := tx.Exec(ctx, s.q.insertCodes, u.ID, ids, hashes, usedAt)
	return err
}

// writeCodes brings the stored backup codes from old to u.BackupCodes. When
// only UsedAt changed (a code was consumed) it updates those rows;
// otherwise it replaces the set.
func (s *Store) writeCodes(ctx context.Context, tx pgx.Tx, old []store.BackupCode, u store.User) error {
	if slices.Equal(old, u.BackupCodes) {
		return nil
	}
	sameCodes := slices.EqualFunc(old, u.BackupCodes, func(a, b store.BackupCode) bool {
		return a.ID == b.ID && a.Hash == b.Hash
	})
	if !sameCodes {
		if _, err := tx.Exec(ctx, s.q.deleteCodes, u.ID); err != nil {
			return err
		}
		return s.insertCodes(ctx, tx, u)
	}
	for i, c := range u.BackupCodes {
		if c.UsedAt.Equal(old[i].UsedAt) {
			continue
		}
		// Positions count from 1, as WITH ORDINALITY does.
		if _, err := tx.Exec(ctx, s.q.updateCodeUsedAt, u.ID, i+1, nullTime(c.UsedAt)); err != nil {
			return err
		}
	}
	return nil
}
