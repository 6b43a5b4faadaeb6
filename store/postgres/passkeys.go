package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/authsys-go/authsys/store"
)

var _ store.PasskeyStore = (*Store)(nil)

// The passkeys (store.PasskeyStore) live in the passkeys table of
// 0006_passkeys.sql, whose rows go with their user's. Every write is one
// statement: UsePasskey is a conditional UPDATE ... RETURNING, never a read
// followed by a write; a concurrent use of the row waits for its lock and
// then re-checks the condition on the row the other left.

// credentialConstraint is the unique constraint whose violation means the
// credential ID is taken.
const credentialConstraint = "passkeys_credential_id_unique"

// passkeyColumns are the columns scanPasskey reads, in its order.
const passkeyColumns = `id, user_id, name, credential_id, user_handle, public_key, sign_count,
	aaguid, transports, attestation_format, backup_eligible, backup_state, created_at, last_used_at`

// passkeyQuery returns query with the Store's schema filled in for {s}.
func (s *Store) passkeyQuery(query string) string {
	return strings.ReplaceAll(query, "{s}", pgx.Identifier{s.schema}.Sanitize())
}

// CreatePasskey stores p, its times at microsecond precision. A credential
// ID already stored gives store.ErrCredentialTaken, an ID already stored
// another error, and a user the store does not have an error too (the
// foreign key); nothing is stored then.
func (s *Store) CreatePasskey(ctx context.Context, p store.Passkey) error {
	if s.err != nil {
		return s.err
	}
	q := s.passkeyQuery(`INSERT INTO {s}.passkeys (` + passkeyColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`)
	err := s.retry(ctx, func() error {
		_, err := s.db.Exec(ctx, q,
			p.ID, p.UserID, p.Name, nonNilBytes(p.CredentialID), nonNilBytes(p.UserHandle), nonNilBytes(p.PublicKey),
			int64(p.SignCount), nonNilBytes(p.AAGUID), nonNilStrings(p.Transports), p.AttestationFormat,
			p.BackupEligible, p.BackupState, p.CreatedAt, nullTime(p.LastUsedAt))
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == credentialConstraint {
		return fmt.Errorf("postgres: CreatePasskey: %w", store.ErrCredentialTaken)
	}
	return s.fail(ctx, "CreatePasskey", err)
}

// PasskeysByUser returns the passkeys of userID, oldest CreatedAt first
// and ties by ID (byte-wise); none for an unknown user.
func (s *Store) PasskeysByUser(ctx context.Context, userID string) ([]store.Passkey, error) {
	if s.err != nil {
		return nil, s.err
	}
	rows, err := s.db.Query(ctx, s.passkeyQuery(`SELECT `+passkeyColumns+` FROM {s}.passkeys WHERE user_id = $1
ORDER BY created_at, id`), userID)
	if err != nil {
		return nil, s.fail(ctx, "PasskeysByUser", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Passkey, error) {
		return scanPasskey(row)
	})
	if err != nil {
		return nil, s.fail(ctx, "PasskeysByUser", err)
	}
	return out, nil
}

// PasskeyByCredentialID returns the passkey whose credential ID is
// credentialID, or store.ErrNotFound.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (store.Passkey, error) {
	return s.onePasskey(ctx, "PasskeyByCredentialID",
		`SELECT `+passkeyColumns+` FROM {s}.passkeys WHERE credential_id = $1`, nonNilBytes(credentialID))
}

// UsePasskey records a use of the passkey id in one conditional UPDATE
// (WHERE the stored counter is below signCount, or both are zero ...
// RETURNING) and returns the passkey and true. When no row matches it
// reads the passkey and returns it as stored and false, or
// store.ErrNotFound. Of concurrent callers with the same non-zero
// signCount, in any number of processes, exactly one gets true.
func (s *Store) UsePasskey(ctx context.Context, id string, signCount uint32, backupState bool, at time.Time) (store.Passkey, bool, error) {
	p, err := s.onePasskey(ctx, "UsePasskey", `UPDATE {s}.passkeys SET sign_count = $2, backup_state = $3, last_used_at = $4
WHERE id = $1 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))
RETURNING `+passkeyColumns, id, int64(signCount), backupState, at)
	if err == nil {
		return p, true, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return store.Passkey{}, false, err
	}
	p, err = s.onePasskey(ctx, "UsePasskey", `SELECT `+passkeyColumns+` FROM {s}.passkeys WHERE id = $1`, id)
	if err != nil {
		return store.Passkey{}, false, err
	}
	return p, false, nil
}

// RenamePasskey sets the name of the passkey id of userID in one UPDATE
// and returns the passkey, or store.ErrNotFound.
func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) (store.Passkey, error) {
	return s.onePasskey(ctx, "RenamePasskey", `UPDATE {s}.passkeys SET name = $3 WHERE user_id = $1 AND id = $2
RETURNING `+passkeyColumns, userID, id, name)
}

// DeletePasskey deletes the passkey id of userID in one DELETE and returns
// it as it was, or store.ErrNotFound.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) (store.Passkey, error) {
	return s.onePasskey(ctx, "DeletePasskey", `DELETE FROM {s}.passkeys WHERE user_id = $1 AND id = $2
RETURNING `+passkeyColumns, userID, id)
}

// onePasskey runs query (with {s} for the schema), one statement that
// returns at most one passkey row.
func (s *Store) onePasskey(ctx context.Context, op, query string, args ...any) (store.Passkey, error) {
	if s.err != nil {
		return store.Passkey{}, s.err
	}
	q := s.passkeyQuery(query)
	var p store.Passkey
	err := s.retry(ctx, func() (err error) {
		p, err = scanPasskey(s.db.QueryRow(ctx, q, args...))
		return err
	})
	if err != nil {
		return store.Passkey{}, s.fail(ctx, op, err)
	}
	return p, nil
}

// scanPasskey reads one row of passkeyColumns.
func scanPasskey(row pgx.Row) (store.Passkey, error) {
	var (
		p         store.Passkey
		signCount int64
		lastUsed  pgtype.Timestamptz
	)
	err := row.Scan(&p.ID, &p.UserID, &p.Name, &p.CredentialID, &p.UserHandle, &p.PublicKey, &signCount,
		&p.AAGUID, &p.Transports, &p.AttestationFormat, &p.BackupEligible, &p.BackupState, &p.CreatedAt, &lastUsed)
	if err != nil {
		return store.Passkey{}, err
	}
	p.SignCount = uint32(signCount)
	p.CreatedAt = dbTime(p.CreatedAt)
	if lastUsed.Valid {
		p.LastUsedAt = dbTime(lastUsed.Time)
	}
	return p, nil
}

// nonNilBytes returns b, or an empty slice for nil: a NOT NULL bytea
// column takes no NULL.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// nonNilStrings returns ss, or an empty slice for nil: a NOT NULL text[]
// column takes no NULL.
func nonNilStrings(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
