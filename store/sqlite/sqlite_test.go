package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/sqlite"
	"github.com/authsys-go/authsys/store/storetest"
)

// open opens a Store on path and closes it when t ends.
func open(t testing.TB, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path, opts...)
	if err != nil {
		t.Fatalf("Open(%q): got error %v, want nil", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: got error %v, want nil", err)
		}
	})
	return s
}

// newStore opens a Store on a fresh file.
func newStore(t testing.TB, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "authsys.db"), opts...)
}

// harness opens a Store on a fresh file whose Break closes it.
func harness(t *testing.T, opts ...sqlite.Option) (*sqlite.Store, func()) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "authsys.db")
	s, err := sqlite.Open(path, opts...)
	if err != nil {
		t.Fatalf("Open(%q): got error %v, want nil", path, err)
	}
	var once sync.Once
	closeStore := func() {
		once.Do(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: got error %v, want nil", err)
			}
		})
	}
	t.Cleanup(closeStore)
	return s, closeStore
}

func TestUserStore(t *testing.T) {
	storetest.RunUserStoreHarness(t, func(t *testing.T) storetest.UserHarness {
		s, closeStore := harness(t)
		return storetest.UserHarness{Store: s, Break: closeStore, Profile: storetest.JSONProfile()}
	})
}

func TestPendingStore(t *testing.T) {
	storetest.RunPendingStore(t, func(t *testing.T) storetest.PendingHarness {
		clock := storetest.NewClock()
		s, closeStore := harness(t, sqlite.WithClock(clock.Now))
		return storetest.PendingHarness{Store: s, Advance: clock.Advance, Break: closeStore}
	})
}

// rawDB opens path directly, to inspect what the Store wrote.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestPersistsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authsys.db")
	clock := storetest.NewClock()
	ctx := t.Context()
	s, err := sqlite.Open(path, sqlite.WithClock(clock.Now))
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	want, err := s.CreateUser(ctx, store.User{
		Email:       "a@example.test",
		TOTPEnabled: true,
		BackupCodes: []store.BackupCode{{ID: "1", Hash: "h1"}, {ID: "2", Hash: "h2", UsedAt: clock.Now()}},
	})
	if err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	if err := s.PutPending(ctx, "k", []byte("v"), time.Hour); err != nil {
		t.Fatalf("PutPending: got error %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}
	if _, err := s.UserByID(ctx, want.ID); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("UserByID after Close: got error %v, want one wrapping %v", err, store.ErrUnavailable)
	}

	s = open(t, path, sqlite.WithClock(clock.Now))
	got, err := s.UserByID(ctx, want.ID)
	if err != nil {
		t.Fatalf("UserByID after reopening: got error %v, want nil", err)
	}
	if got.Email != want.Email || !got.DateJoined.Equal(want.DateJoined) || len(got.BackupCodes) != 2 ||
		!got.BackupCodes[1].UsedAt.Equal(want.BackupCodes[1].UsedAt) {
		t.Errorf("UserByID after reopening: got %+v, want %+v", got, want)
	}
	if v, err := s.GetPending(ctx, "k"); err != nil || string(v) != "v" {
		t.Errorf("GetPending after reopening: got %q, %v; want \"v\", nil", v, err)
	}
	if n := count(t, rawDB(t, path), "SELECT count(*) FROM schema_migrations"); n != migrationCount(t) {
		t.Errorf("schema_migrations rows after reopening: got %d, want %d", n, migrationCount(t))
	}
}

func migrationCount(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: got %d, %v; want at least one", len(files), err)
	}
	return len(files)
}

func TestOpenSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authsys.db")
	open(t, path)
	db := rawDB(t, path)
	var mode string
	if err := db.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode: got %q, %v; want \"wal\", nil", mode, err)
	}
}

func TestMigrateIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authsys.db")
	s := open(t, path)
	for i := range 2 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate #%d: got error %v, want nil", i+1, err)
		}
	}
	if n := count(t, rawDB(t, path), "SELECT count(*) FROM schema_migrations"); n != migrationCount(t) {
		t.Errorf("schema_migrations rows: got %d, want %d", n, migrationCount(t))
	}
}

// TestConcurrentOpen opens one new file from several goroutines at once, as
// several processes starting together would.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authsys.db")
	const n = 4
	stores := make([]*sqlite.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = sqlite.Open(path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: got error %v, want nil", i, err)
			continue
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	if n := count(t, rawDB(t, path), "SELECT count(*) FROM schema_migrations"); n != migrationCount(t) {
		t.Errorf("schema_migrations rows: got %d, want %d", n, migrationCount(t))
	}
}

// buildOldDatabase builds, at path, the database that the migrations up to
// and including version built, recorded in schema_migrations as Migrate
// records them, holding one user with the ID "old": what a deployment of
// an earlier release left.
func buildOldDatabase(t *testing.T, path string, version int) {
	t.Helper()
	ctx := t.Context()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatalf("migration files: %v", err)
	}
	db := rawDB(t, path)
	stmts := []string{`CREATE TABLE schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`}
	for i, file := range files[:version] {
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("reading %s: %v", file, err)
		}
		stmts = append(stmts, string(body), fmt.Sprintf(
			`INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, '%s', 0)`, i+1, filepath.Base(file)))
	}
	stmts = append(stmts, `INSERT INTO users (id, email, email_key, password_hash, is_active, email_verified, is_staff,
	token_version, totp_secret, totp_pending_secret, totp_enabled, totp_last_step, date_joined, last_login)
VALUES ('old', 'Old@example.test', 'old@example.test', 'hash', 1, 1, 0, 3, '', '', 0, 0, 0, NULL)`)
	for _, stmt := range stmts {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("building a version %d database: %v", version, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatalf("closing the version %d database: %v", version, err)
	}
}

// TestMigrateFromVersion1 upgrades a database that only 0001_init.sql
// built, holding a user, as a deployment of an earlier release would: Open
// runs the later migrations and the user comes back not disabled, with
// Disabled then written and read like any field, and sessions are kept.
func TestMigrateFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authsys.db")
	ctx := t.Context()
	buildOldDatabase(t, path, 1)

	s := open(t, path)
	if n := count(t, rawDB(t, path), "SELECT count(*) FROM schema_migrations"); n != migrationCount(t) {
		t.Errorf("schema_migrations rows: got %d, want %d", n, migrationCount(t))
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

// TestMigrateFromVersion2 upgrades a database that 0001 and 0002 built:
// Open adds the sessions table, and the user and sessions work.
func TestMigrateFromVersion2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authsys.db")
	buildOldDatabase(t, path, 2)
	s := open(t, path)
	if n := count(t, rawDB(t, path), "SELECT count(*) FROM schema_migrations"); n != migrationCount(t) {
		t.Errorf("schema_migrations rows: got %d, want %d", n, migrationCount(t))
	}
	if u, err := s.UserByID(t.Context(), "old"); err != nil || u.Disabled || u.TokenVersion != 3 {
		t.Errorf("UserByID(old): got Disabled %t TokenVersion %d, %v; want false 3, nil", u.Disabled, u.TokenVersion, err)
	}
	checkSessionsWork(t, s)
}

// checkSessionsWork stores a session of the user "old" and reads it back.
func checkSessionsWork(t *testing.T, s *sqlite.Store) {
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

// TestSessionQueriesUseIndexes checks the plans of the session statements
// that could otherwise scan the table: listing by user and purging.
func TestSessionQueriesUseIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authsys.db")
	open(t, path)
	db := rawDB(t, path)
	for _, tt := range []struct{ query, index string }{
		{"SELECT * FROM sessions WHERE user_id = 'u' ORDER BY created_at DESC, id", "sessions_user_idx"},
		{"UPDATE sessions SET revoked_at = 1 WHERE user_id = 'u' AND id <> 'x' AND revoked_at IS NULL", "sessions_user_idx"},
		{"DELETE FROM sessions WHERE min(idle_expires_at, expires_at) < 5", "sessions_purge_idx"},
	} {
		rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tt.query)
		if err != nil {
			t.Fatalf("EXPLAIN QUERY PLAN %s: %v", tt.query, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				t.Fatalf("scanning the plan: %v", err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if joined := strings.Join(plan, "; "); !strings.Contains(joined, tt.index) {
			t.Errorf("plan of %s: got %q, want one using %s", tt.query, joined, tt.index)
		}
	}
}

// TestUpdateUserAcrossStores races updates through two Stores on one file,
// as two processes would: BEGIN IMMEDIATE and the busy timeout serialize
// them.
func TestUpdateUserAcrossStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authsys.db")
	a, b := open(t, path), open(t, path)
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

// TestTakeAcrossStores races TakePending through two Stores on one file.
func TestTakeAcrossStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authsys.db")
	a, b := open(t, path), open(t, path)
	if err := a.PutPending(t.Context(), "k", []byte("v"), time.Hour); err != nil {
		t.Fatalf("PutPending: got error %v, want nil", err)
	}
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() { _, errs[i] = s.TakePending(t.Context(), "k") })
	}
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("TakePending #%d: got error %v, want nil or %v", i, err, store.ErrNotFound)
		}
	}
	if winners != 1 {
		t.Errorf("TakePending winners: got %d, want 1", winners)
	}
}

// TestLockedIsUnavailable holds the write lock from outside the Store: a
// write that cannot get it before its context's deadline fails with
// store.ErrUnavailable, and reads go on meanwhile (WAL).
func TestLockedIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authsys.db")
	s := open(t, path)
	u, err := s.CreateUser(t.Context(), store.User{Email: "a@example.test"})
	if err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	db := rawDB(t, path)
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatalf("Conn: %v", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("BEGIN IMMEDIATE: %v", err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck

	if _, err := s.UserByID(t.Context(), u.ID); err != nil {
		t.Errorf("UserByID while another connection writes: got error %v, want nil", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = s.UpdateUser(ctx, u.ID, func(u *store.User) error { u.TokenVersion++; return nil })
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("UpdateUser while locked: got error %v, want one wrapping %v", err, store.ErrUnavailable)
	}
	ctx, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if ok, _, err := s.AllowRate(ctx, "k", time.Second, 3); ok || !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("AllowRate while locked: got %v, %v; want false and an error wrapping %v", ok, err, store.ErrUnavailable)
	}
}

// TestWaitsForLock holds the write lock from outside the Store for longer
// than SQLite's own short busy timeout: writes wait for it and then
// succeed.
func TestWaitsForLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authsys.db")
	s := open(t, path)
	u, err := s.CreateUser(t.Context(), store.User{Email: "a@example.test"})
	if err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	conn, err := rawDB(t, path).Conn(t.Context())
	if err != nil {
		t.Fatalf("Conn: %v", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("BEGIN IMMEDIATE: %v", err)
	}
	var updateErr, putErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		_, updateErr = s.UpdateUser(t.Context(), u.ID, func(u *store.User) error { u.TokenVersion++; return nil })
	})
	wg.Go(func() { putErr = s.PutPending(t.Context(), "k", []byte("v"), time.Hour) })
	time.Sleep(200 * time.Millisecond) // let both run into the lock
	if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatalf("ROLLBACK: %v", err)
	}
	wg.Wait()
	if updateErr != nil {
		t.Errorf("UpdateUser waiting for the lock: got error %v, want nil", updateErr)
	}
	if putErr != nil {
		t.Errorf("PutPending waiting for the lock: got error %v, want nil", putErr)
	}
	if got, err := s.UserByID(t.Context(), u.ID); err != nil || got.TokenVersion != 1 {
		t.Errorf("UserByID: got TokenVersion %d, error %v; want 1, nil", got.TokenVersion, err)
	}
}

func TestOpenRefusesNonFiles(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file::memory:?cache=shared"} {
		if s, err := sqlite.Open(path); err == nil {
			s.Close()
			t.Errorf("Open(%q): got nil error, want one", path)
		}
	}
}

func TestOpenOddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd ?#%name.db")
	s := open(t, path)
	if _, err := s.CreateUser(t.Context(), store.User{Email: "a@example.test"}); err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	if n := count(t, rawDB(t, "file:"+filepath.ToSlash(filepath.Dir(path))+"/odd%20%3f%23%25name.db"), "SELECT count(*) FROM users"); n != 1 {
		t.Errorf("users in the file at the literal path: got %d, want 1", n)
	}
}

func TestSweep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authsys.db")
	clock := storetest.NewClock()
	s := open(t, path, sqlite.WithClock(clock.Now))
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
	if n := count(t, rawDB(t, path), "SELECT count(*) FROM pending"); n != 1 {
		t.Errorf("pending rows after Sweep: got %d, want 1", n)
	}
}

func TestWritesSweepExpiredEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authsys.db")
	clock := storetest.NewClock()
	s := open(t, path, sqlite.WithClock(clock.Now))
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
	if n := count(t, rawDB(t, path), "SELECT count(*) FROM pending"); n != 1 {
		t.Errorf("pending rows after 103 writes: got %d, want 1 (the counter)", n)
	}
}

// TestNonPositiveTTL: SQLite refuses a ttl that is not positive (Redis
// raises it to a millisecond, so this is not a storetest case).
func TestNonPositiveTTL(t *testing.T) {
	s := newStore(t)
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
	s := newStore(b)
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
	s := newStore(b)
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

func TestSessionStore(t *testing.T) {
	storetest.RunSessionStoreHarness(t, func(t *testing.T) storetest.SessionHarness {
		s, closeStore := harness(t, sqlite.WithClock(storetest.NewClock().Now))
		return storetest.SessionHarness{Store: s, Break: closeStore}
	})
}
