package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/postgres"
	"github.com/authsys-go/authsys/store/storetest"
)

var _ postgres.DB = (*pgxpool.Pool)(nil)

// testPool connects to the database named by AUTHSYS_TEST_POSTGRES_URL, or
// skips the test when the variable is not set.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := os.Getenv("AUTHSYS_TEST_POSTGRES_URL")
	if url == "" {
		testenv.Skip(t, "AUTHSYS_TEST_POSTGRES_URL is not set; set it to run the Postgres tests "+
			"(e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("pgxpool.New: got error %v, want nil", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// testSchema returns a fresh schema name and drops the schema, if created,
// when t ends.
func testSchema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	name := "authsys_test_" + storetest.UniqueName(t)
	dropSchemaAtCleanup(t, pool, name)
	return name
}

// dropSchemaAtCleanup drops the schema name, if created, through pool when
// t ends.
func dropSchemaAtCleanup(t testing.TB, pool *pgxpool.Pool, name string) {
	t.Helper()
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
		}
	})
}

// newStore returns a migrated Store in a fresh schema.
func newStore(t testing.TB, pool *pgxpool.Pool, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s := postgres.New(pool, append([]postgres.Option{postgres.WithSchema(testSchema(t, pool))}, opts...)...)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: got error %v, want nil", err)
	}
	return s
}

// freshStore returns a migrated Store in the schema authsys_test_<name>,
// dropped through base when t ends, on a pool of its own, which it also
// returns so that a test can close it (the suites' Break).
func freshStore(t *testing.T, base *pgxpool.Pool, name string, opts ...postgres.Option) (*postgres.Store, *pgxpool.Pool) {
	t.Helper()
	schema := "authsys_test_" + name
	dropSchemaAtCleanup(t, base, schema)
	pool := testPool(t)
	s := postgres.New(pool, append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: got error %v, want nil", err)
	}
	return s, pool
}

// TestUserStore gives each case a schema of its own through
// storetest.Fresh, as an application sharing one database would.
func TestUserStore(t *testing.T) {
	base := testPool(t)
	storetest.RunUserStoreHarness(t, storetest.Fresh(func(t *testing.T, name string) storetest.UserHarness {
		s, pool := freshStore(t, base, name)
		return storetest.UserHarness{Store: s, Break: pool.Close, Profile: storetest.JSONProfile()}
	}))
}

func TestPendingStore(t *testing.T) {
	base := testPool(t)
	storetest.RunPendingStore(t, storetest.Fresh(func(t *testing.T, name string) storetest.PendingHarness {
		clock := storetest.NewClock()
		s, pool := freshStore(t, base, name, postgres.WithClock(clock.Now))
		return storetest.PendingHarness{Store: s, Advance: clock.Advance, Break: pool.Close}
	}))
}

func TestSessionStore(t *testing.T) {
	base := testPool(t)
	storetest.RunSessionStoreHarness(t, storetest.Fresh(func(t *testing.T, name string) storetest.SessionHarness {
		clock := storetest.NewClock()
		s, pool := freshStore(t, base, name, postgres.WithClock(clock.Now))
		return storetest.SessionHarness{Store: s, Break: pool.Close}
	}))
}

// migrationCount returns the number of embedded migration files.
func migrationCount(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: got %d, %v; want at least one", len(files), err)
	}
	return len(files)
}

// appliedMigrations returns the number of rows in the schema's
// schema_migrations table.
func appliedMigrations(t *testing.T, pool *pgxpool.Pool, schema string) int {
	t.Helper()
	var n int
	q := "SELECT count(*) FROM " + pgx.Identifier{schema, "schema_migrations"}.Sanitize()
	if err := pool.QueryRow(t.Context(), q).Scan(&n); err != nil {
		t.Fatalf("counting applied migrations: %v", err)
	}
	return n
}

func TestMigrateIdempotent(t *testing.T) {
	pool := testPool(t)
	schema := testSchema(t, pool)
	s := postgres.New(pool, postgres.WithSchema(schema))
	for i := range 3 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate #%d: got error %v, want nil", i+1, err)
		}
	}
	if got, want := appliedMigrations(t, pool, schema), migrationCount(t); got != want {
		t.Errorf("schema_migrations rows: got %d, want %d", got, want)
	}
	if _, err := s.CreateUser(t.Context(), store.User{Email: "a@example.test"}); err != nil {
		t.Errorf("CreateUser after Migrate: got error %v, want nil", err)
	}
}

func TestMigrateConcurrent(t *testing.T) {
	pool := testPool(t)
	schema := testSchema(t, pool)
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			s := postgres.New(pool, postgres.WithSchema(schema))
			<-gate
			errs[i] = s.Migrate(t.Context())
		})
	}
	close(gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate on store %d: got error %v, want nil", i, err)
		}
	}
	if got, want := appliedMigrations(t, pool, schema), migrationCount(t); got != want {
		t.Errorf("schema_migrations rows: got %d, want %d", got, want)
	}
}

// buildOldSchema builds, in the new schema schema, what the migrations up
// to and including version built, recorded in schema_migrations as Migrate
// records them, holding one user with the ID "old": what a deployment of
// an earlier release left.
func buildOldSchema(t *testing.T, pool *pgxpool.Pool, schema string, version int) {
	t.Helper()
	ctx := t.Context()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatalf("migration files: %v", err)
	}
	quoted := pgx.Identifier{schema}.Sanitize()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	stmts := []string{
		"CREATE SCHEMA " + quoted,
		"SET LOCAL search_path TO " + quoted,
		`CREATE TABLE schema_migrations (
	version    bigint PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`,
	}
	for i, file := range files[:version] {
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("reading %s: %v", file, err)
		}
		stmts = append(stmts, string(body), fmt.Sprintf(
			`INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')`, i+1, filepath.Base(file)))
	}
	stmts = append(stmts, `INSERT INTO users (id, email, email_key, password_hash, is_active, email_verified, is_staff,
	token_version, totp_secret, totp_pending_secret, totp_enabled, totp_last_step, date_joined, last_login)
VALUES ('old', 'Old@example.test', 'old@example.test', 'hash', true, true, false, 3, '', '', false, 0, now(), NULL)`)
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			t.Fatalf("building a version %d schema: %v", version, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// TestMigrateFromVersion1 upgrades a schema that only 0001_init.sql
// built, holding a user, as a deployment of an earlier release would: the
// later migrations run in the store's schema and the user comes back not
// disabled, with Disabled then written and read like any field, and
// sessions are kept.
func TestMigrateFromVersion1(t *testing.T) {
	pool := testPool(t)
	schema := testSchema(t, pool)
	ctx := t.Context()
	buildOldSchema(t, pool, schema, 1)

	s := postgres.New(pool, postgres.WithSchema(schema))
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: got error %v, want nil", err)
	}
	if got, want := appliedMigrations(t, pool, schema), migrationCount(t); got != want {
		t.Errorf("schema_migrations rows: got %d, want %d", got, want)
	}
	var cols int
	err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns
WHERE table_schema = $1 AND table_name = 'users' AND column_name = 'disabled'`, schema).Scan(&cols)
	if err != nil || cols != 1 {
		t.Errorf("column %s.users.disabled: got %d, %v; want 1, nil", schema, cols, err)
	}
	u, err := s.UserByID(ctx, "old")
	if err != nil {
		t.Fatalf("UserByID(old): got error %v, want nil", err)
	}
	if u.Disabled || !u.IsActive || u.TokenVersion != 3 {
		t.Errorf("UserByID(old): got Disabled %t IsActive %t TokenVersion %d, want false true 3", u.Disabled, u.IsActive, u.TokenVersion)
	}
	if _, err := s.UpdateUser(ctx, "old", func(u *store.User) error {
		u.Disabled, u.IsActive = true, false
		return nil
	}); err != nil {
		t.Fatalf("UpdateUser(old): got error %v, want nil", err)
	}
	if u, err := s.UserByID(ctx, "old"); err != nil || !u.Disabled || u.IsActive {
		t.Errorf("UserByID(old) after UpdateUser: got Disabled %t IsActive %t, %v; want true false, nil", u.Disabled, u.IsActive, err)
	}
	checkSessionsWork(t, s)
}

// TestMigrateFromVersion2 upgrades a schema that 0001 and 0002 built:
// Migrate adds the sessions table, and the user and sessions work.
func TestMigrateFromVersion2(t *testing.T) {
	pool := testPool(t)
	schema := testSchema(t, pool)
	buildOldSchema(t, pool, schema, 2)
	s := postgres.New(pool, postgres.WithSchema(schema))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: got error %v, want nil", err)
	}
	if got, want := appliedMigrations(t, pool, schema), migrationCount(t); got != want {
		t.Errorf("schema_migrations rows: got %d, want %d", got, want)
	}
	if u, err := s.UserByID(t.Context(), "old"); err != nil || u.Disabled || u.TokenVersion != 3 {
		t.Errorf("UserByID(old): got Disabled %t TokenVersion %d, %v; want false 3, nil", u.Disabled, u.TokenVersion, err)
	}
	checkSessionsWork(t, s)
}

// checkSessionsWork stores a session of the user "old", rotates it and
// reads it back.
func checkSessionsWork(t *testing.T, s *postgres.Store) {
	t.Helper()
	ctx := t.Context()
	now := time.Now().Truncate(time.Microsecond)
	in := store.Session{ID: "sid", UserID: "old", CreatedAt: now, LastUsedAt: now,
		IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour), RefreshID: "r0"}
	if err := s.CreateSession(ctx, in); err != nil {
		t.Fatalf("CreateSession after migrating: got error %v, want nil", err)
	}
	if got, ok, err := s.RotateSession(ctx, "sid", "r0", store.Rotation{To: "r1", At: now, IdleExpiresAt: now.Add(time.Hour)}); err != nil || !ok || got.RefreshID != "r1" {
		t.Errorf("RotateSession after migrating: got RefreshID %q, %t, %v; want \"r1\", true, nil", got.RefreshID, ok, err)
	}
	if got, err := s.SessionsByUser(ctx, "old"); err != nil || len(got) != 1 || !got[0].CreatedAt.Equal(now) {
		t.Errorf("SessionsByUser(old) after migrating: got %+v, %v; want the session, nil", got, err)
	}
}

// TestSessionQueriesUseIndexes checks, with sequential scans discouraged
// as on a large table, that listing a user's sessions and purging use the
// indexes of 0003_sessions.sql.
func TestSessionQueriesUseIndexes(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool)
	ctx := t.Context()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // nothing to keep
	if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
		t.Fatalf("SET enable_seqscan: %v", err)
	}
	table := pgx.Identifier{s.Schema(), "sessions"}.Sanitize()
	for _, tt := range []struct{ query, index string }{
		{"SELECT * FROM " + table + " WHERE user_id = 'u' ORDER BY created_at DESC, id", "sessions_user_idx"},
		{"UPDATE " + table + " SET revoked_at = now() WHERE user_id = 'u' AND id <> 'x' AND revoked_at IS NULL", "sessions_user_idx"},
		{"DELETE FROM " + table + " WHERE LEAST(idle_expires_at, expires_at) < now()", "sessions_purge_idx"},
	} {
		rows, err := tx.Query(ctx, "EXPLAIN "+tt.query)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", tt.query, err)
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", tt.query, err)
		}
		if joined := strings.Join(plan, "\n"); !strings.Contains(joined, tt.index) {
			t.Errorf("plan of %s: got\n%s\nwant one using %s", tt.query, joined, tt.index)
		}
	}
}

// TestRotateSessionUnderSerializableDefault races rotations on a database
// whose default isolation level is SERIALIZABLE, where the losers' UPDATE
// may end in a serialization failure: exactly one wins and none fails.
func TestRotateSessionUnderSerializableDefault(t *testing.T) {
	base := testPool(t)
	cfg, err := pgxpool.ParseConfig(os.Getenv("AUTHSYS_TEST_POSTGRES_URL"))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewWithConfig: %v", err)
	}
	t.Cleanup(pool.Close)
	s := postgres.New(pool, postgres.WithSchema(testSchema(t, base)))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: got error %v, want nil", err)
	}
	now := time.Now()
	if err := s.CreateSession(t.Context(), store.Session{ID: "sid", UserID: "u", CreatedAt: now, LastUsedAt: now,
		IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour), RefreshID: "r0"}); err != nil {
		t.Fatalf("CreateSession: got error %v, want nil", err)
	}
	const n = 20
	var wg sync.WaitGroup
	oks := make([]bool, n)
	errs := make([]error, n)
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			_, oks[i], errs[i] = s.RotateSession(t.Context(), "sid", "r0", store.Rotation{To: fmt.Sprint("r", i+1), At: now})
		})
	}
	close(gate)
	wg.Wait()
	winners := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("RotateSession #%d: got error %v, want nil", i, errs[i])
		}
		if oks[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("RotateSession winners: got %d, want 1", winners)
	}
}

func TestSchemasAreIsolated(t *testing.T) {
	pool := testPool(t)
	a, b := newStore(t, pool), newStore(t, pool)
	ctx := t.Context()
	u, err := a.CreateUser(ctx, store.User{Email: "same@example.test"})
	if err != nil {
		t.Fatalf("CreateUser in schema a: got error %v, want nil", err)
	}
	if _, err := b.UserByID(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByID in schema b: got error %v, want %v", err, store.ErrNotFound)
	}
	if _, err := b.CreateUser(ctx, store.User{Email: "same@example.test"}); err != nil {
		t.Errorf("CreateUser of the same email in schema b: got error %v, want nil", err)
	}
	if err := a.PutPending(ctx, "k", []byte("a"), time.Hour); err != nil {
		t.Fatalf("PutPending in schema a: got error %v, want nil", err)
	}
	if _, err := b.GetPending(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPending in schema b: got error %v, want %v", err, store.ErrNotFound)
	}
}

func TestInvalidSchema(t *testing.T) {
	// No database needed: the name is refused before any statement runs.
	for _, name := range []string{"", "1abc", `a"; DROP TABLE users; --`, "has space", "a-b", strings.Repeat("a", 64)} {
		s := postgres.New(nopDB{}, postgres.WithSchema(name))
		if err := s.Migrate(t.Context()); err == nil {
			t.Errorf("Migrate with schema %q: got nil error, want one", name)
		}
		if _, err := s.UserByID(t.Context(), "x"); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("UserByID with schema %q: got error %v, want a configuration error", name, err)
		}
		if err := s.PutPending(t.Context(), "k", nil, time.Minute); err == nil {
			t.Errorf("PutPending with schema %q: got nil error, want one", name)
		}
	}
}

// nopDB is a DB that fails the test's expectations if used: every method
// panics.
type nopDB struct{ postgres.DB }

func TestUnavailable(t *testing.T) {
	// Port 1 on the loopback has no server: every call fails to connect.
	pool, err := pgxpool.New(t.Context(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatalf("pgxpool.New: got error %v, want nil", err)
	}
	t.Cleanup(pool.Close)
	s := postgres.New(pool)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"UserByID", func() error { _, err := s.UserByID(ctx, "x"); return err }},
		{"CreateUser", func() error { _, err := s.CreateUser(ctx, store.User{Email: "a@example.test"}); return err }},
		{"UpdateUser", func() error {
			_, err := s.UpdateUser(ctx, "x", func(*store.User) error { return nil })
			return err
		}},
		{"TakePending", func() error { _, err := s.TakePending(ctx, "k"); return err }},
		{"IncrPending", func() error { _, _, err := s.IncrPending(ctx, "k", time.Minute); return err }},
		{"AllowRate", func() error { _, _, err := s.AllowRate(ctx, "k", time.Second, 3); return err }},
		{"Migrate", func() error { return s.Migrate(ctx) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s: got error %v, want one wrapping %v", c.name, err, store.ErrUnavailable)
		}
	}
}

// TestUpdateUserAcrossStores races increments through two Store values on
// one schema, as two processes would.
func TestUpdateUserAcrossStores(t *testing.T) {
	pool := testPool(t)
	a := newStore(t, pool)
	b := postgres.New(pool, postgres.WithSchema(a.Schema()))
	u, err := a.CreateUser(t.Context(), store.User{Email: "a@example.test"})
	if err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			_, errs[i] = s.UpdateUser(t.Context(), u.ID, func(u *store.User) error {
				u.TokenVersion++
				u.BackupCodes = append(u.BackupCodes, store.BackupCode{ID: "c", Hash: "h"})
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateUser #%d: got error %v, want nil", i, err)
		}
	}
	got, err := b.UserByID(t.Context(), u.ID)
	if err != nil || got.TokenVersion != n || len(got.BackupCodes) != n {
		t.Errorf("UserByID: got TokenVersion %d, %d backup codes, error %v; want %d, %d, nil",
			got.TokenVersion, len(got.BackupCodes), err, n, n)
	}
}

// TestUpdateUserUnderSerializableDefault races updates on a database whose
// default isolation level is SERIALIZABLE, where a lost race ends in a
// serialization failure: no update may fail or be lost.
func TestUpdateUserUnderSerializableDefault(t *testing.T) {
	base := testPool(t)
	cfg, err := pgxpool.ParseConfig(os.Getenv("AUTHSYS_TEST_POSTGRES_URL"))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewWithConfig: %v", err)
	}
	t.Cleanup(pool.Close)
	s := postgres.New(pool, postgres.WithSchema(testSchema(t, base)))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: got error %v, want nil", err)
	}
	u, err := s.CreateUser(t.Context(), store.User{Email: "a@example.test"})
	if err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			_, errs[i] = s.UpdateUser(t.Context(), u.ID, func(u *store.User) error {
				u.TokenVersion++
				return nil
			})
		})
	}
	close(gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateUser #%d: got error %v, want nil", i, err)
		}
	}
	if got, err := s.UserByID(t.Context(), u.ID); err != nil || got.TokenVersion != n {
		t.Errorf("UserByID: got TokenVersion %d, error %v; want %d, nil", got.TokenVersion, err, n)
	}
}

// pendingRows returns how many rows, expired or not, the pending table
// holds.
func pendingRows(t *testing.T, pool *pgxpool.Pool, schema string) int {
	t.Helper()
	var n int
	q := "SELECT count(*) FROM " + pgx.Identifier{schema, "pending"}.Sanitize()
	if err := pool.QueryRow(t.Context(), q).Scan(&n); err != nil {
		t.Fatalf("counting pending rows: %v", err)
	}
	return n
}

func TestSweep(t *testing.T) {
	pool := testPool(t)
	clock := storetest.NewClock()
	s := newStore(t, pool, postgres.WithClock(clock.Now))
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c"} {
		if err := s.PutPending(ctx, k, []byte("v"), time.Minute); err != nil {
			t.Fatalf("PutPending(%q): got error %v, want nil", k, err)
		}
	}
	if err := s.PutPending(ctx, "kept", []byte("v"), time.Hour); err != nil {
		t.Fatalf("PutPending(kept): got error %v, want nil", err)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("Sweep before expiry: got %d, %v; want 0, nil", n, err)
	}
	clock.Advance(time.Minute)
	if n, err := s.Sweep(ctx); err != nil || n != 3 {
		t.Errorf("Sweep after expiry: got %d, %v; want 3, nil", n, err)
	}
	if got := pendingRows(t, pool, s.Schema()); got != 1 {
		t.Errorf("pending rows after Sweep: got %d, want 1", got)
	}
}

func TestWritesSweepExpiredEntries(t *testing.T) {
	pool := testPool(t)
	clock := storetest.NewClock()
	s := newStore(t, pool, postgres.WithClock(clock.Now))
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c"} {
		if err := s.PutPending(ctx, k, []byte("v"), time.Minute); err != nil {
			t.Fatalf("PutPending(%q): got error %v, want nil", k, err)
		}
	}
	clock.Advance(time.Hour)
	for range 100 {
		if _, _, err := s.IncrPending(ctx, "counter", time.Hour); err != nil {
			t.Fatalf("IncrPending: got error %v, want nil", err)
		}
	}
	if got := pendingRows(t, pool, s.Schema()); got != 1 {
		t.Errorf("pending rows after 103 writes: got %d, want 1 (the counter)", got)
	}
}

// TestNonPositiveTTL: PostgreSQL refuses a ttl that is not positive (Redis
// raises it to a millisecond, so this is not a storetest case).
func TestNonPositiveTTL(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool)
	ctx := t.Context()
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := s.PutPending(ctx, "k", []byte("v"), ttl); err == nil {
			t.Errorf("PutPending(ttl %v): got nil error, want one", ttl)
		}
		if _, err := s.AddPendingIfAbsent(ctx, "k", []byte("v"), ttl); err == nil {
			t.Errorf("AddPendingIfAbsent(ttl %v): got nil error, want one", ttl)
		}
		if _, _, err := s.IncrPending(ctx, "k", ttl); err == nil {
			t.Errorf("IncrPending(ttl %v): got nil error, want one", ttl)
		}
	}
}

func BenchmarkUserByID(b *testing.B) {
	pool := testPool(b)
	s := newStore(b, pool)
	u, err := s.CreateUser(b.Context(), benchUser())
	if err != nil {
		b.Fatalf("CreateUser: %v", err)
	}
	for b.Loop() {
		if _, err := s.UserByID(b.Context(), u.ID); err != nil {
			b.Fatalf("UserByID: %v", err)
		}
	}
}

func BenchmarkUpdateUser(b *testing.B) {
	pool := testPool(b)
	s := newStore(b, pool)
	u, err := s.CreateUser(b.Context(), benchUser())
	if err != nil {
		b.Fatalf("CreateUser: %v", err)
	}
	for b.Loop() {
		_, err := s.UpdateUser(b.Context(), u.ID, func(u *store.User) error {
			u.TokenVersion++
			return nil
		})
		if err != nil {
			b.Fatalf("UpdateUser: %v", err)
		}
	}
}

// benchUser returns a user with ten backup codes, as after enabling 2FA.
func benchUser() store.User {
	u := store.User{Email: "bench@example.test", PasswordHash: "hash", IsActive: true, TOTPEnabled: true}
	for i := range 10 {
		u.BackupCodes = append(u.BackupCodes, store.BackupCode{ID: string(rune('a' + i)), Hash: "hash"})
	}
	return u
}
