// Package postgres keeps authsys users, pending entries, sessions and
// passkeys in PostgreSQL, through pgx. One Store implements
// store.UserStore, store.UserLister, store.PendingStore, store.RateStore,
// store.SessionStore, store.PasskeyStore and store.ChangeNotifier:
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	if err != nil {
//		return err
//	}
//	defer pool.Close()
//	st := postgres.New(pool, postgres.WithSchema("authsys"))
//	if err := st.Migrate(ctx); err != nil { // at every start; idempotent
//		return err
//	}
//	auth, err := authsys.New(authsys.Config{Users: st, Pending: st /* , ... */})
//
// Migrate creates the schema (default "public") and the tables users,
// backup_codes, pending, sessions and schema_migrations in it, and the
// triggers that announce changes, from SQL
// files embedded in the package. Several processes may run Migrate at once.
// User.Profile is one jsonb object in the users.profile column (NULL when
// empty), returned as encoding/json decodes it; PostgreSQL refuses a string
// holding the NUL character ("\u0000") in it.
//
// UpdateUser runs SELECT ... FOR UPDATE, the caller's function and the
// writes in one transaction, so concurrent updates of a user never lose
// one. TakePending, AddPendingIfAbsent, IncrPending and AllowRate are
// single statements (DELETE ... RETURNING and INSERT ... ON CONFLICT),
// atomic across every process sharing the database; AllowRate keeps a rate
// limit's theoretical arrival time in the pending row's expires_at. Expiry
// and rate limits compare with the Store's clock (WithClock), never the
// database server's, so processes sharing a database should keep their
// clocks in sync (NTP).
//
// Sessions (store.SessionStore) are rows of the sessions table. Every
// session write is one statement: RotateSession is one conditional UPDATE
// (WHERE id = $1 AND refresh_id = $2 AND revoked_at IS NULL ... RETURNING),
// so of concurrent rotations from one refresh token exactly one wins;
// RevokeSession, RevokeUserSessions and PurgeSessions are one UPDATE or
// DELETE each. Sessions stay until PurgeSessions deletes them.
//
// Changes (store.ChangeNotifier) travel by LISTEN and NOTIFY on a channel
// per schema (Store.ChangeChannel). NotifyChange runs SELECT pg_notify;
// the triggers of migration 0004 announce every UPDATE and DELETE of a
// row of users or sessions, direct SQL included, when its transaction
// commits. SubscribeChanges listens on a connection of its own, taken out
// of the pool for good (or opened by WithListenConn), and reconnects with
// backoff after losing it, telling its subscriber with ready(false) and
// ready(true). Each subscription holds one more connection to the server
// than the pool counts.
//
// Errors: store.ErrNotFound for a missing row, store.ErrEmailTaken for a
// unique violation on the email, and an error wrapping store.ErrUnavailable
// when the database cannot be reached or the context ends first.
package postgres
