package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/authsys-go/authsys/store"
)

var _ store.PasskeyStore = (*Store)(nil)

// The passkeys (store.PasskeyStore) live in the passkeys table of
// 0005_passkeys.sql, whose rows go with their user's. Every write is one
// statement on the writing connection: UsePasskey is a conditional
// UPDATE ... RETURNING, never a read followed by a write.

// passkeyColumns are the columns scanPasskey reads, in its order.
const passkeyColumns = `id, user_id, name, credential_id, user_handle, public_key, sign_count,
	aaguid, transports, attestation_format, backup_eligible, backup_state, created_at, last_used_at`

const (
	insertPasskeySQL = `INSERT INTO passkeys (` + passkeyColumns + `)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)`
	passkeysByUserSQL = `SELECT ` + passkeyColumns + ` FROM passkeys WHERE user_id = ?1
ORDER BY created_at, id`
	passkeyByCredentialSQL = `SELECT ` + passkeyColumns + ` FROM passkeys WHERE credential_id = ?1`
	passkeyByIDSQL         = `SELECT ` + passkeyColumns + ` FROM passkeys WHERE id = ?1`
	// usePasskeySQL: ?1 id, ?2 the counter, ?3 the backup state, ?4 at.
	usePasskeySQL = `UPDATE passkeys SET sign_count = ?2, backup_state = ?3, last_used_at = ?4
WHERE id = ?1 AND (sign_count < ?2 OR (sign_count = 0 AND ?2 = 0))
RETURNING ` + passkeyColumns
	renamePasskeySQL = `UPDATE passkeys SET name = ?3 WHERE user_id = ?1 AND id = ?2
RETURNING ` + passkeyColumns
	deletePasskeySQL = `DELETE FROM passkeys WHERE user_id = ?1 AND id = ?2
RETURNING ` + passkeyColumns
)

// CreatePasskey stores p, its times at microsecond precision. A credential
// ID already stored gives store.ErrCredentialTaken, an ID already stored
// another error, and a user the store does not have an error too (the
// foreign key); nothing is stored then.
func (s *Store) CreatePasskey(ctx context.Context, p store.Passkey) error {
	transports, err := json.Marshal(nonNilStrings(p.Transports))
	if err != nil {
		return fmt.Errorf("sqlite: CreatePasskey: %w", err)
	}
	err = retryBusy(ctx, func() error {
		_, err := s.w.ExecContext(ctx, insertPasskeySQL,
			p.ID, p.UserID, p.Name, nonNilBytes(p.CredentialID), nonNilBytes(p.UserHandle), nonNilBytes(p.PublicKey),
			int64(p.SignCount), nonNilBytes(p.AAGUID), string(transports), p.AttestationFormat,
			p.BackupEligible, p.BackupState, micros(p.CreatedAt), nullMicros(p.LastUsedAt))
		return err
	})
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(se.Error(), "passkeys.credential_id") {
		return fmt.Errorf("sqlite: CreatePasskey: %w", store.ErrCredentialTaken)
	}
	return s.fail(ctx, "CreatePasskey", err)
}

// PasskeysByUser returns the passkeys of userID, oldest CreatedAt first
// and ties by ID; none for an unknown user.
func (s *Store) PasskeysByUser(ctx context.Context, userID string) ([]store.Passkey, error) {
	var out []store.Passkey
	err := retryBusy(ctx, func() error {
		out = nil
		rows, err := s.r.QueryContext(ctx, passkeysByUserSQL, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanPasskey(rows)
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.fail(ctx, "PasskeysByUser", err)
	}
	return out, nil
}

// PasskeyByCredentialID returns the passkey whose credential ID is
// credentialID, or store.ErrNotFound.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (store.Passkey, error) {
	return s.onePasskey(ctx, "PasskeyByCredentialID", s.r, passkeyByCredentialSQL, nonNilBytes(credentialID))
}

// UsePasskey records a use of the passkey id in one conditional UPDATE
// (WHERE the stored counter is below signCount, or both are zero ...
// RETURNING), on the writing connection under the database's write lock,
// and returns the passkey and true. When no row matches it reads the
// passkey and returns it as stored and false, or store.ErrNotFound. Of
// concurrent callers with the same non-zero signCount, in any number of
// processes, exactly one gets true.
func (s *Store) UsePasskey(ctx context.Context, id string, signCount uint32, backupState bool, at time.Time) (store.Passkey, bool, error) {
	p, err := s.onePasskey(ctx, "UsePasskey", s.w, usePasskeySQL, id, int64(signCount), backupState, micros(at))
	if err == nil {
		return p, true, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return store.Passkey{}, false, err
	}
	p, err = s.onePasskey(ctx, "UsePasskey", s.w, passkeyByIDSQL, id)
	if err != nil {
		return store.Passkey{}, false, err
	}
	return p, false, nil
}

// RenamePasskey sets the name of the passkey id of userID in one UPDATE
// and returns the passkey, or store.ErrNotFound.
func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) (store.Passkey, error) {
	return s.onePasskey(ctx, "RenamePasskey", s.w, renamePasskeySQL, userID, id, name)
}

// DeletePasskey deletes the passkey id of userID in one DELETE and returns
// it as it was, or store.ErrNotFound.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) (store.Passkey, error) {
	return s.onePasskey(ctx, "DeletePasskey", s.w, deletePasskeySQL, userID, id)
}

// onePasskey runs query, which returns at most one passkey row, on db.
func (s *Store) onePasskey(ctx context.Context, op string, db *sql.DB, query string, args ...any) (store.Passkey, error) {
	var p store.Passkey
	err := retryBusy(ctx, func() (err error) {
		p, err = scanPasskey(db.QueryRowContext(ctx, query, args...))
		return err
	})
	if err != nil {
		return store.Passkey{}, s.fail(ctx, op, err)
	}
	return p, nil
}

// scanPasskey reads one row of passkeyColumns.
func scanPasskey(row interface{ Scan(...any) error }) (store.Passkey, error) {
	var (
		p          store.Passkey
		signCount  int64
		transports string
		created    int64
		lastUsed   sql.NullInt64
	)
	err := row.Scan(&p.ID, &p.UserID, &p.Name, &p.CredentialID, &p.UserHandle, &p.PublicKey, &signCount,
		&p.AAGUID, &transports, &p.AttestationFormat, &p.BackupEligible, &p.BackupState, &created, &lastUsed)
	if err != nil {
		return store.Passkey{}, err
	}
	if err := json.Unmarshal([]byte(transports), &p.Transports); err != nil {
		return store.Passkey{}, err
	}
	p.SignCount = uint32(signCount)
	p.CreatedAt = fromMicros(created)
	if lastUsed.Valid {
		p.LastUsedAt = fromMicros(lastUsed.Int64)
	}
	return p, nil
}

// nonNilBytes returns b, or an empty slice for nil: a NOT NULL BLOB column
// takes no NULL.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// nonNilStrings returns ss, or an empty slice for nil, which JSON writes
// as [].
func nonNilStrings(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
