package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/authsys-go/authsys/store"
)

// selectUser reads a user with its backup codes, in position order, as a
// JSON array; one statement sees one snapshot.
const selectUser = `SELECT u.id, u.email, u.password_hash, u.is_active, u.email_verified,
	u.disabled, u.is_staff, u.token_version, u.totp_secret, u.totp_pending_secret, u.totp_enabled,
	u.totp_last_step, u.date_joined, u.last_login, u.profile,
	(SELECT json_group_array(json_object('id', b.id, 'hash', b.hash, 'used_at', b.used_at) ORDER BY b.position)
		FROM backup_codes b WHERE b.user_id = u.id)
FROM users u`

const (
	userByIDSQL    = selectUser + ` WHERE u.id = ?`
	userByEmailSQL = selectUser + ` WHERE u.email_key = ?`
	listUsersSQL   = selectUser + ` WHERE u.email_key GLOB ?1 AND (?2 = '' OR u.email_key > ?2)
ORDER BY u.email_key LIMIT ?3`
	insertUserSQL = `INSERT INTO users (id, email, email_key, password_hash, is_active,
	email_verified, is_staff, token_version, totp_secret, totp_pending_secret, totp_enabled,
	totp_last_step, date_joined, last_login, disabled, profile)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)`
	updateUserSQL = `UPDATE users SET email = ?2, email_key = ?3, password_hash = ?4,
	is_active = ?5, email_verified = ?6, is_staff = ?7, token_version = ?8, totp_secret = ?9,
	totp_pending_secret = ?10, totp_enabled = ?11, totp_last_step = ?12, date_joined = ?13,
	last_login = ?14, disabled = ?15, profile = ?16
WHERE id = ?1`
	insertCodeSQL  = `INSERT INTO backup_codes (user_id, position, id, hash, used_at) VALUES (?, ?, ?, ?, ?)`
	deleteCodesSQL = `DELETE FROM backup_codes WHERE user_id = ?`
	updateCodeSQL  = `UPDATE backup_codes SET used_at = ? WHERE user_id = ? AND position = ?`
)

// errIDChanged is returned by UpdateUser when fn changes the user's ID.
var errIDChanged = errors.New("sqlite: UpdateUser: fn changed the user ID")

// CreateUser stores a new user and returns it as stored: with a random
// 128-bit hex ID when u.ID is empty, DateJoined set to the clock's time when
// zero, and times at microsecond precision in UTC. It returns
// store.ErrEmailTaken when another user has the same normalized email.
func (s *Store) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	u, profile, err := canonical(u)
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: CreateUser: %w", err)
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
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.StmtContext(ctx, s.st.insertUser).ExecContext(ctx, userArgs(u, profile)...); err != nil {
		return store.User{}, s.fail(ctx, "CreateUser", err)
	}
	if err := s.insertCodes(ctx, tx, u, 0); err != nil {
		return store.User{}, s.fail(ctx, "CreateUser", err)
	}
	if err := tx.Commit(); err != nil {
		return store.User{}, s.fail(ctx, "CreateUser", err)
	}
	return u, nil
}

// UserByID returns the user with the given ID, or store.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	var u store.User
	err := retryBusy(ctx, func() (err error) {
		u, err = scanUser(s.st.userByID.QueryRowContext(ctx, id))
		return err
	})
	return u, s.fail(ctx, "UserByID", err)
}

// UserByEmail returns the user whose normalized email equals the
// normalized email given, or store.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	var u store.User
	err := retryBusy(ctx, func() (err error) {
		u, err = scanUser(s.st.userByEmail.QueryRowContext(ctx, store.NormalizeEmail(email)))
		return err
	})
	return u, s.fail(ctx, "UserByEmail", err)
}

// UpdateUser reads the latest user, calls fn and writes the result inside
// one BEGIN IMMEDIATE transaction, which holds the database's write lock
// from its start, so concurrent updates of one user, from any number of
// goroutines or processes, run one after the other and fn runs once. fn's
// error is returned as it is and nothing is written. It returns
// store.ErrNotFound for an unknown id and store.ErrEmailTaken when fn gives
// the user another user's email.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return store.User{}, s.fail(ctx, "UpdateUser", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	old, err := scanUser(tx.StmtContext(ctx, s.st.txUserByID).QueryRowContext(ctx, id))
	if err != nil {
		return store.User{}, s.fail(ctx, "UpdateUser", err)
	}
	u := old.Clone()
	if err := fn(&u); err != nil {
		return store.User{}, err
	}
	if u.ID != id {
		return store.User{}, errIDChanged
	}
	u, profile, err := canonical(u)
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: UpdateUser: %w", err)
	}
	if _, err := tx.StmtContext(ctx, s.st.updateUser).ExecContext(ctx, userArgs(u, profile)...); err != nil {
		return store.User{}, s.fail(ctx, "UpdateUser", err)
	}
	if err := s.writeCodes(ctx, tx, old.BackupCodes, u); err != nil {
		return store.User{}, s.fail(ctx, "UpdateUser", err)
	}
	if err := tx.Commit(); err != nil {
		return store.User{}, s.fail(ctx, "UpdateUser", err)
	}
	return u, nil
}

// ListUsers returns up to limit users whose normalized email starts with
// the normalized emailPrefix, ordered by normalized email byte-wise,
// starting strictly after the normalized email after.
func (s *Store) ListUsers(ctx context.Context, emailPrefix, after string, limit int) ([]store.User, error) {
	if limit <= 0 {
		return nil, nil
	}
	var users []store.User
	err := retryBusy(ctx, func() error {
		users = nil
		rows, err := s.st.listUsers.QueryContext(ctx,
			globPrefix(store.NormalizeEmail(emailPrefix)), store.NormalizeEmail(after), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			users = append(users, u)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.fail(ctx, "ListUsers", err)
	}
	return users, nil
}

// globPrefix returns a GLOB pattern matching the strings that start with
// prefix, byte-wise and case-sensitively, with the pattern characters in
// prefix escaped.
func globPrefix(prefix string) string {
	r := strings.NewReplacer("*", "[*]", "?", "[?]", "[", "[[]")
	return r.Replace(prefix) + "*"
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

// userArgs returns the arguments of insertUserSQL and updateUserSQL;
// profile is canonical's value of the profile column.
func userArgs(u store.User, profile any) []any {
	return []any{
		u.ID, u.Email, store.NormalizeEmail(u.Email), u.PasswordHash, u.IsActive,
		u.EmailVerified, u.IsStaff, u.TokenVersion, u.TOTPSecret, u.TOTPPendingSecret,
		u.TOTPEnabled, u.TOTPLastStep, micros(u.DateJoined), nullMicros(u.LastLogin), u.Disabled,
		profile,
	}
}

// jsonCode is one element of selectUser's backup code array.
type jsonCode struct {
	ID     string `json:"id"`
	Hash   string `json:"hash"`
	UsedAt *int64 `json:"used_at"`
}

// scanUser reads one row of selectUser.
func scanUser(row interface{ Scan(...any) error }) (store.User, error) {
	var (
		u          store.User
		dateJoined int64
		lastLogin  sql.NullInt64
		profile    sql.NullString
		codesJSON  string
	)
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.IsActive, &u.EmailVerified,
		&u.Disabled, &u.IsStaff, &u.TokenVersion, &u.TOTPSecret, &u.TOTPPendingSecret, &u.TOTPEnabled,
		&u.TOTPLastStep, &dateJoined, &lastLogin, &profile, &codesJSON)
	if err != nil {
		return store.User{}, err
	}
	if profile.Valid {
		if u.Profile, err = decodeProfile([]byte(profile.String)); err != nil {
			return store.User{}, err
		}
	}
	u.DateJoined = fromMicros(dateJoined)
	if lastLogin.Valid {
		u.LastLogin = fromMicros(lastLogin.Int64)
	}
	var codes []jsonCode
	if err := json.Unmarshal([]byte(codesJSON), &codes); err != nil {
		return store.User{}, err
	}
	if len(codes) > 0 {
		u.BackupCodes = make([]store.BackupCode, len(codes))
		for i, c := range codes {
			u.BackupCodes[i] = store.BackupCode{ID: c.ID, Hash: c.Hash}
			if c.UsedAt != nil {
				u.BackupCodes[i].UsedAt = fromMicros(*c.UsedAt)
			}
		}
	}
	return u, nil
}

// insertCodes inserts u's backup codes from index from on.
func (s *Store) insertCodes(ctx context.Context, tx *sql.Tx, u store.User, from int) error {
	if from >= len(u.BackupCodes) {
		return nil
	}
	stmt := tx.StmtContext(ctx, s.st.insertCode)
	for i, c := range u.BackupCodes[from:] {
		if _, err := stmt.ExecContext(ctx, u.ID, from+i, c.ID, c.Hash, nullMicros(c.UsedAt)); err != nil {
			return err
		}
	}
	return nil
}

// writeCodes brings the stored backup codes from old to u.BackupCodes. When
// only UsedAt changed (a code was consumed) it updates those rows;
// otherwise it replaces the set.
func (s *Store) writeCodes(ctx context.Context, tx *sql.Tx, old []store.BackupCode, u store.User) error {
	if slices.Equal(old, u.BackupCodes) {
		return nil
	}
	sameCodes := slices.EqualFunc(old, u.BackupCodes, func(a, b store.BackupCode) bool {
		return a.ID == b.ID && a.Hash == b.Hash
	})
	if !sameCodes {
		if _, err := tx.StmtContext(ctx, s.st.deleteCodes).ExecContext(ctx, u.ID); err != nil {
			return err
		}
		return s.insertCodes(ctx, tx, u, 0)
	}
	for i, c := range u.BackupCodes {
		if c.UsedAt.Equal(old[i].UsedAt) {
			continue
		}
		if _, err := tx.StmtContext(ctx, s.st.updateCode).ExecContext(ctx, nullMicros(c.UsedAt), u.ID, i); err != nil {
			return err
		}
	}
	return nil
}
