package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/authsys-go/authsys/internal/sqlmigrate"
	"github.com/authsys-go/authsys/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Option configures a Store.
type Option func(*Store)

// WithClock sets the function the Store reads the current time from, for
// pending-entry expiry and for DateJoined when CreateUser receives a zero
// one. Tests pass a fake clock. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// busyTimeout is how long a write waits for the database's write lock,
// held by another process, before failing with store.ErrUnavailable. The
// wait ends earlier when the context does.
const busyTimeout = 5 * time.Second

// sqliteBusyTimeout is the busy timeout SQLite itself applies, in
// milliseconds, once a connection is set up. It is short because SQLite's
// busy handler ignores the context; retryBusy, which honours it, repeats
// the attempt up to busyTimeout. While a connection is being set up (the
// switch to WAL may need the lock) SQLite waits the full busyTimeout.
const sqliteBusyTimeout = 20

// sweepEvery is how many pending writes pass between two opportunistic
// sweeps of expired entries.
const sweepEvery = 100

// Store keeps users, pending entries, sessions and passkeys in one SQLite
// database file, through the pure-Go modernc.org/sqlite driver. It
// implements store.UserStore, store.UserLister, store.PendingStore,
// store.RateStore, store.SessionStore and store.PasskeyStore. All methods are safe for concurrent use, also by
// several processes opening the same file.
//
// The database runs in WAL mode: readers never block the writer or each
// other. Writes go through a single connection, so within one process they
// queue in order; across processes they take the database's write lock
// with BEGIN IMMEDIATE and wait for it up to a busy timeout of 5 s.
type Store struct {
	w      *sql.DB // the one writing connection
	r      *sql.DB // read-only connections
	st     statements
	now    func() time.Time
	closed atomic.Bool
	writes atomic.Uint64
}

var (
	_ store.UserStore    = (*Store)(nil)
	_ store.UserLister   = (*Store)(nil)
	_ store.PendingStore = (*Store)(nil)
	_ store.RateStore    = (*Store)(nil)
	_ store.SessionStore = (*Store)(nil)
)

// Open opens, and creates when missing, the SQLite database at the file
// path, and runs Migrate. The file is put in WAL mode, with foreign keys
// enforced and a busy timeout of 5 s. An in-memory database (":memory:")
// is refused: each connection would see a different one. Call Close when
// done.
func Open(path string, opts ...Option) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: Open: %q is not a file path", path)
	}
	s := &Store{now: time.Now}
	for _, opt := range opts {
		opt(s)
	}
	if s.now == nil {
		return nil, errors.New("sqlite: WithClock: nil clock")
	}
	// Percent-encode what SQLite's URI syntax reserves in a path.
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	params := "?_pragma=busy_timeout(" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + ")" +
		"&_pragma=foreign_keys(1)"
	w, err := openDB(uri + params + "&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: Open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err := openDB(uri + params + "&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: Open: %w", err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	s.w, s.r = w, r
	if err := s.Migrate(context.Background()); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepare(context.Background()); err != nil {
		s.Close()
		return nil, s.fail(context.Background(), "Open", err)
	}
	return s, nil
}

// statements are the Store's prepared statements: SQLite compiles each
// once per connection instead of once per call.
type statements struct {
	userByID, userByEmail, listUsers, getPending *sql.Stmt // readers

	txUserByID, insertUser, updateUser, insertCode, deleteCodes, updateCode *sql.Stmt // writer
	putPending, addPending, takePending, deletePending, incrPending, sweep  *sql.Stmt // writer
	allowRate                                                               *sql.Stmt // writer

	sessionByID, sessionsByUser                                                    *sql.Stmt // readers
	insertSession, rotateSession, revokeSession, revokeUserSessions, purgeSessions *sql.Stmt // writer
}

// prepare prepares s.st, after Migrate has created the tables.
func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		db    *sql.DB
		stmt  **sql.Stmt
		query string
	}{
		{s.r, &s.st.userByID, userByIDSQL},
		{s.r, &s.st.userByEmail, userByEmailSQL},
		{s.r, &s.st.listUsers, listUsersSQL},
		{s.r, &s.st.getPending, getPendingSQL},
		{s.w, &s.st.txUserByID, userByIDSQL},
		{s.w, &s.st.insertUser, insertUserSQL},
		{s.w, &s.st.updateUser, updateUserSQL},
		{s.w, &s.st.insertCode, insertCodeSQL},
		{s.w, &s.st.deleteCodes, deleteCodesSQL},
		{s.w, &s.st.updateCode, updateCodeSQL},
		{s.w, &s.st.putPending, putPendingSQL},
		{s.w, &s.st.addPending, addPendingSQL},
		{s.w, &s.st.takePending, takePendingSQL},
		{s.w, &s.st.deletePending, deletePendingSQL},
		{s.w, &s.st.incrPending, incrPendingSQL},
		{s.w, &s.st.sweep, sweepPendingSQL},
		{s.w, &s.st.allowRate, allowRateSQL},
		{s.r, &s.st.sessionByID, sessionByIDSQL},
		{s.r, &s.st.sessionsByUser, sessionsByUserSQL},
		{s.w, &s.st.insertSession, insertSessionSQL},
		{s.w, &s.st.rotateSession, rotateSessionSQL},
		{s.w, &s.st.revokeSession, revokeSessionSQL},
		{s.w, &s.st.revokeUserSessions, revokeUserSessionsSQL},
		{s.w, &s.st.purgeSessions, purgeSessionsSQL},
	} {
		err := retryBusy(ctx, func() (err error) {
			*p.stmt, err = p.db.PrepareContext(ctx, p.query)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// openDB returns a pool of connections to dsn whose busy timeout, once
// they are set up with the one in dsn, drops to sqliteBusyTimeout.
func openDB(dsn string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(shortBusy{c}), nil
}

// shortBusy is a driver.Connector that sets sqliteBusyTimeout on each new
// connection.
type shortBusy struct{ driver.Connector }

// Connect opens a connection and shortens its busy timeout.
func (c shortBusy) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, errors.New("driver connection cannot execute statements")
	}
	if _, err := ex.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.Itoa(sqliteBusyTimeout), nil); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Close closes the database. Calls made after Close return an error
// wrapping store.ErrUnavailable.
func (s *Store) Close() error {
	s.closed.Store(true)
	var errs []error
	for _, st := range []*sql.Stmt{
		s.st.userByID, s.st.userByEmail, s.st.listUsers, s.st.getPending,
		s.st.txUserByID, s.st.insertUser, s.st.updateUser, s.st.insertCode, s.st.deleteCodes, s.st.updateCode,
		s.st.putPending, s.st.addPending, s.st.takePending, s.st.deletePending, s.st.incrPending, s.st.sweep,
		s.st.allowRate,
		s.st.sessionByID, s.st.sessionsByUser,
		s.st.insertSession, s.st.rotateSession, s.st.revokeSession, s.st.revokeUserSessions, s.st.purgeSessions,
	} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(append(errs, s.w.Close(), s.r.Close())...)
}

// begin starts a write transaction: BEGIN IMMEDIATE, which takes the
// database's write lock, retried while another process holds it.
func (s *Store) begin(ctx context.Context) (*sql.Tx, error) {
	var tx *sql.Tx
	err := retryBusy(ctx, func() (err error) {
		tx, err = s.w.BeginTx(ctx, nil)
		return err
	})
	return tx, err
}

// retryBusy runs op, and runs it again while it fails with SQLITE_BUSY
// (another connection holds the lock it needs; nothing was done), for up to
// busyTimeout or until ctx ends.
func retryBusy(ctx context.Context, op func() error) error {
	deadline := time.Now().Add(busyTimeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		err := op()
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || !time.Now().Before(deadline) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// loadMigrations returns the embedded migrations ordered by version. A
// file is named NNNN_description.sql, NNNN being its version.
func loadMigrations() ([]sqlmigrate.Migration, error) {
	migs, err := sqlmigrate.Load(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return migs, nil
}

// Migrate applies, in one transaction, every embedded migration not yet
// recorded in the schema_migrations table. It is idempotent and safe to
// run from several processes at once: the transaction holds the
// database's write lock from its start. Open calls it.
func (s *Store) Migrate(ctx context.Context) error {
	migs, err := loadMigrations()
	if err != nil {
		return err
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return s.fail(ctx, "Migrate", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := migrate(ctx, tx, migs, s.now()); err != nil {
		return s.fail(ctx, "Migrate", err)
	}
	if err := tx.Commit(); err != nil {
		return s.fail(ctx, "Migrate", err)
	}
	return nil
}

func migrate(ctx context.Context, tx *sql.Tx, migs []sqlmigrate.Migration, now time.Time) error {
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`
	if _, err := tx.ExecContext(ctx, create); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return err
	}
	var applied []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied = append(applied, v)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, m := range migs {
		if slices.Contains(applied, m.Version) {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, now.UnixMicro())
		if err != nil {
			return err
		}
	}
	return nil
}

// fail translates an error from database/sql and the driver into the
// store's vocabulary: no rows become store.ErrNotFound, a duplicate email
// store.ErrEmailTaken, and a database that stays locked past the busy
// timeout, an I/O failure, a closed Store or an ended context wrap
// store.ErrUnavailable.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	var se *sqlite.Error
	isSQLite := errors.As(err, &se)
	if isSQLite && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(se.Error(), "users.email_key") {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrEmailTaken)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(err, ctxErr) {
			return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrUnavailable, err)
		}
		return fmt.Errorf("sqlite: %s: %w: %w: %w", op, store.ErrUnavailable, ctxErr, err)
	}
	if isSQLite {
		switch se.Code() & 0xff { // the primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_INTERRUPT:
			return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrUnavailable, err)
		}
	}
	if s.closed.Load() || errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
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

// micros returns t in microseconds since the Unix epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros returns t in microseconds since the Unix epoch, or NULL for
// the zero time.
func nullMicros(t time.Time) sql.NullInt64 {
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: !t.IsZero()}
}

// fromMicros is the inverse of micros.
func fromMicros(us int64) time.Time { return dbTime(time.UnixMicro(us)) }
