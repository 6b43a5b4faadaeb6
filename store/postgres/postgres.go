package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/authsys-go/authsys/internal/sqlmigrate"
	"github.com/authsys-go/authsys/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DB is the part of a PostgreSQL connection pool that a Store uses. A
// *pgxpool.Pool implements it and is what applications pass to New. The
// value must be safe for concurrent use, which rules out a single *pgx.Conn.
type DB interface {
	// BeginTx starts a transaction with the given options.
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
	// Exec runs a statement that returns no rows.
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	// Query runs a statement that returns rows.
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	// QueryRow runs a statement that returns at most one row.
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Option configures a Store.
type Option func(*Store)

// WithSchema makes the Store keep its tables in the named schema, which
// Migrate creates when it does not exist. The name must be a plain
// identifier: a letter or underscore followed by letters, digits or
// underscores, at most 63 bytes. Stores with different schemas share
// nothing, so several applications (or tests) can use one database. The
// default is "public".
func WithSchema(name string) Option {
	return func(s *Store) { s.schema = name }
}

// WithClock sets the function the Store reads the current time from, for
// pending-entry expiry and for DateJoined when CreateUser receives a zero
// one. Tests pass a fake clock. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// sweepEvery is how many pending writes pass between two opportunistic
// sweeps of expired entries.
const sweepEvery = 100

// Store keeps users, pending entries, sessions and passkeys in PostgreSQL
// through pgx. It implements store.UserStore, store.UserLister,
// store.PendingStore, store.RateStore, store.SessionStore,
// store.PasskeyStore and store.ChangeNotifier. All methods
// are safe for concurrent use, also by several Store values (in one or
// many processes) on the same schema. Call Migrate before first use.
type Store struct {
	db     DB
	schema string
	now    func() time.Time
	err    error // a configuration error every method returns
	q      queries
	writes atomic.Uint64
	// listenConn opens the connection SubscribeChanges listens on; nil
	// for the default (changes.go).
	listenConn func(ctx context.Context) (*pgx.Conn, error)
}

var (
	_ store.UserStore    = (*Store)(nil)
	_ store.UserLister   = (*Store)(nil)
	_ store.PendingStore = (*Store)(nil)
	_ store.RateStore    = (*Store)(nil)
	_ store.SessionStore = (*Store)(nil)
)

// identifierRE matches the schema names WithSchema accepts.
var identifierRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// New returns a Store that uses db, normally a *pgxpool.Pool. The Store
// does not own db: closing the pool is the caller's business. New does not
// touch the database; Migrate creates the schema and tables. An invalid
// option (a bad schema name) is reported by Migrate and by every other
// method.
func New(db DB, opts ...Option) *Store {
	s := &Store{db: db, schema: "public", now: time.Now}
	for _, opt := range opts {
		opt(s)
	}
	switch {
	case db == nil:
		s.err = errors.New("postgres: New: nil DB")
	case s.now == nil:
		s.err = errors.New("postgres: WithClock: nil clock")
	case !identifierRE.MatchString(s.schema):
		s.err = fmt.Errorf("postgres: WithSchema: invalid schema name %q", s.schema)
	}
	s.q = newQueries(pgx.Identifier{s.schema}.Sanitize())
	return s
}

// Schema returns the name of the schema the Store keeps its tables in.
func (s *Store) Schema() string { return s.schema }

// begin starts a READ COMMITTED transaction, whatever the database's
// default isolation level: UpdateUser's lock-then-read relies on each
// statement seeing what was committed before it started.
func (s *Store) begin(ctx context.Context) (pgx.Tx, error) {
	return s.db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
}

// loadMigrations returns the embedded migrations ordered by version. A
// file is named NNNN_description.sql, NNNN being its version.
func loadMigrations() ([]sqlmigrate.Migration, error) {
	migs, err := sqlmigrate.Load(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return migs, nil
}

// Migrate creates the schema when it does not exist and applies, in one
// transaction, every embedded migration not yet recorded in the schema's
// schema_migrations table. It is idempotent, and safe to call from several
// processes at once: a transaction-scoped advisory lock keyed by the schema
// name serializes them, so exactly one applies each migration.
func (s *Store) Migrate(ctx context.Context) error {
	if s.err != nil {
		return s.err
	}
	migs, err := loadMigrations()
	if err != nil {
		return err
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return s.fail(ctx, "Migrate", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if err := s.migrate(ctx, tx, migs); err != nil {
		return s.fail(ctx, "Migrate", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return s.fail(ctx, "Migrate", err)
	}
	return nil
}

func (s *Store) migrate(ctx context.Context, tx pgx.Tx, migs []sqlmigrate.Migration) error {
	h := fnv.New64a()
	h.Write([]byte("authsys migrate " + s.schema))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
		return err
	}
	quoted := pgx.Identifier{s.schema}.Sanitize()
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", s.schema).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoted); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, s.q.createMigrations); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, s.q.appliedVersions)
	if err != nil {
		return err
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+quoted); err != nil {
		return err
	}
	for _, m := range migs {
		if slices.Contains(applied, m.Version) {
			continue
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, s.q.recordVersion, m.Version, m.Name); err != nil {
			return err
		}
	}
	return nil
}

// Unique constraint whose violation means the email is taken.
const emailConstraint = "users_email_key_unique"

// fail translates an error from pgx into the store's vocabulary: no rows
// become store.ErrNotFound, a duplicate email store.ErrEmailTaken, and
// everything that did not come from the server as an answer to the
// statement (connection failures, a closed pool, the context's deadline or
// cancellation, a server shutting down or refusing connections) wraps
// store.ErrUnavailable.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505" && pgErr.ConstraintName == emailConstraint:
			return fmt.Errorf("postgres: %s: %w", op, store.ErrEmailTaken)
		case unavailableCode(pgErr.Code) && ctx.Err() == nil:
			return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
		case ctx.Err() == nil:
			return fmt.Errorf("postgres: %s: %w", op, err)
		}
		// The server cancelled the statement because ctx ended.
		return fmt.Errorf("postgres: %s: %w: %w: %w", op, store.ErrUnavailable, ctx.Err(), err)
	}
	return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
}

// unavailableCode reports whether a SQLSTATE says the server cannot serve
// the request now rather than that the request is wrong.
func unavailableCode(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"): // connection exception
		return true
	case strings.HasPrefix(code, "53"): // insufficient resources
		return true
	case code == "57014", // query_canceled (statement timeout)
		code == "57P01", // admin_shutdown
		code == "57P02", // crash_shutdown
		code == "57P03", // cannot_connect_now
		code == "55P03": // lock_not_available (lock timeout)
		return true
	}
	return false
}

// retryable reports whether a transaction failed only because it lost a
// race and may simply run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// newID returns a random 128-bit identifier in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// dbTime returns t as the database keeps it: microsecond precision, UTC,
// no monotonic reading. The zero time stays zero.
func dbTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}
