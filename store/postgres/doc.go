// Package postgres keeps authsys users and pending entries in PostgreSQL,
// through pgx. One Store implements store.UserStore, store.UserLister,
// store.PendingStore and store.RateStore:
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
// backup_codes, pending and schema_migrations in it, from SQL files embedded
// in the package. Several processes may run Migrate at once.
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
// Errors: store.ErrNotFound for a missing row, store.ErrEmailTaken for a
// unique violation on the email, and an error wrapping store.ErrUnavailable
// when the database cannot be reached or the context ends first.
package postgres
