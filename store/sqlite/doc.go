// Package sqlite keeps authsys users, pending entries, sessions and
// passkeys in one SQLite database file, through the pure-Go
// modernc.org/sqlite driver (no cgo). One Store implements
// store.UserStore, store.UserLister, store.PendingStore, store.RateStore,
// store.SessionStore and store.PasskeyStore, which makes it a complete
// single-server setup:
//
//	st, err := sqlite.Open("authsys.db") // creates the file and its tables
//	if err != nil {
//		return err
//	}
//	defer st.Close()
//	auth, err := authsys.New(authsys.Config{Users: st, Pending: st /* , ... */})
//
// Open puts the database in WAL mode, enforces foreign keys, sets a busy
// timeout of 5 s and applies the SQL migrations embedded in the package
// (Migrate; recorded in the schema_migrations table). Times are stored as
// INTEGER microseconds since the Unix epoch. User.Profile is one JSON
// object in the users.profile column (NULL when empty), returned as
// encoding/json decodes it.
//
// UpdateUser runs the read, the caller's function and the writes in one
// BEGIN IMMEDIATE transaction, which holds the write lock throughout, so
// concurrent updates of a user never lose one. TakePending,
// AddPendingIfAbsent, IncrPending and AllowRate are single statements
// (DELETE ... RETURNING and INSERT ... ON CONFLICT); AllowRate keeps a rate
// limit's theoretical arrival time in the pending row's expires_at. All of
// this holds across processes sharing the file on one machine. Expiry and
// rate limits compare with the Store's clock (WithClock).
//
// Sessions (store.SessionStore) are rows of the sessions table. Every
// session write is one statement under the write lock: RotateSession is
// one conditional UPDATE (WHERE id = ? AND refresh_id = ? AND revoked_at
// IS NULL ... RETURNING), so of concurrent rotations from one refresh
// token exactly one wins; RevokeSession, RevokeUserSessions and
// PurgeSessions are one UPDATE or DELETE each. Sessions stay until
// PurgeSessions deletes them.
//
// Errors: store.ErrNotFound for a missing row, store.ErrEmailTaken for a
// duplicate email, and an error wrapping store.ErrUnavailable when the
// database stays locked past the busy timeout, fails to read or write, is
// closed, or the context ends first.
package sqlite
