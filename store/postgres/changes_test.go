package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/postgres"
	"github.com/authsys-go/authsys/store/storetest"
)

// killListeners terminates, through pool, every backend listening on
// channel (whose last statement is the LISTEN, which a subscription also
// repeats as its heartbeat), and returns how many it terminated.
func killListeners(t *testing.T, pool *pgxpool.Pool, channel string) int {
	t.Helper()
	var n int
	err := pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND query = $1`,
		"LISTEN "+pgx.Identifier{channel}.Sanitize()).Scan(&n)
	if err != nil {
		t.Fatalf("terminating the listeners of %s: %v", channel, err)
	}
	return n
}

// TestChangeNotifier runs the suite on two Stores on one schema, each on a
// pool of its own, as two instances of an application; Break kills the
// subscriptions' backends with pg_terminate_backend.
func TestChangeNotifier(t *testing.T) {
	base := testPool(t)
	storetest.RunChangeNotifierHarness(t, storetest.Fresh(func(t *testing.T, name string) storetest.ChangeNotifierHarness {
		a, _ := freshStore(t, base, name)
		b := postgres.New(testPool(t), postgres.WithSchema(a.Schema()))
		return storetest.ChangeNotifierHarness{A: a, B: b, Break: func() {
			if n := killListeners(t, base, b.ChangeChannel()); n == 0 {
				t.Errorf("Break: found no backend listening on %s", b.ChangeChannel())
			}
		}}
	}))
}

// subscriber records a subscription's changes and ready calls.
type subscriber struct {
	changes chan store.Change
	ready   chan bool
}

func subscribe(t *testing.T, s *postgres.Store) *subscriber {
	t.Helper()
	sub := &subscriber{changes: make(chan store.Change, 100), ready: make(chan bool, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := s.SubscribeChanges(ctx, func(c store.Change) { sub.changes <- c }, func(ok bool) { sub.ready <- ok }); err != nil {
		t.Fatalf("SubscribeChanges: got error %v, want nil", err)
	}
	sub.waitReady(t, true)
	return sub
}

func (sub *subscriber) waitReady(t *testing.T, want bool) {
	t.Helper()
	select {
	case got := <-sub.ready:
		if got != want {
			t.Fatalf("ready: got %t, want %t", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("got no ready(%t) within 10 s", want)
	}
}

// expect waits for want, failing the test if another change comes first
// or none within 10 s.
func (sub *subscriber) expect(t *testing.T, label string, want store.Change) {
	t.Helper()
	select {
	case got := <-sub.changes:
		if got != want {
			t.Fatalf("%s: got change %+v, want %+v", label, got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: got no change within 10 s, want %+v", label, want)
	}
}

// quiet fails the test if a change arrives within 200 ms.
func (sub *subscriber) quiet(t *testing.T, label string) {
	t.Helper()
	select {
	case got := <-sub.changes:
		t.Fatalf("%s: got change %+v, want none", label, got)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestDirectSQLNotifies: the triggers announce an UPDATE or DELETE of a
// user or a session made in plain SQL, when its transaction commits, and
// nothing when it rolls back; INSERTs announce nothing.
func TestDirectSQLNotifies(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool)
	ctx := t.Context()
	sub := subscribe(t, s)
	u, err := s.CreateUser(ctx, store.User{Email: "direct@example.test", IsActive: true})
	if err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	now := time.Now()
	if err := s.CreateSession(ctx, store.Session{ID: "sid:1", UserID: u.ID, CreatedAt: now, LastUsedAt: now,
		IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour), RefreshID: "r0"}); err != nil {
		t.Fatalf("CreateSession: got error %v, want nil", err)
	}
	sub.quiet(t, "after inserting a user and a session")

	users := pgx.Identifier{s.Schema(), "users"}.Sanitize()
	sessions := pgx.Identifier{s.Schema(), "sessions"}.Sanitize()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if _, err := tx.Exec(ctx, "UPDATE "+users+" SET is_active = false WHERE id = $1", u.ID); err != nil {
		t.Fatalf("UPDATE users: %v", err)
	}
	sub.quiet(t, "before the UPDATE's commit")
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	sub.expect(t, "UPDATE users committed", store.Change{Kind: store.ChangeUser, ID: u.ID})

	tx, err = pool.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if _, err := tx.Exec(ctx, "UPDATE "+users+" SET token_version = token_version + 1 WHERE id = $1", u.ID); err != nil {
		t.Fatalf("UPDATE users: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	sub.quiet(t, "after a rolled back UPDATE")

	if _, err := pool.Exec(ctx, "UPDATE "+sessions+" SET revoked_at = now() WHERE id = $1", "sid:1"); err != nil {
		t.Fatalf("UPDATE sessions: %v", err)
	}
	sub.expect(t, "UPDATE sessions", store.Change{Kind: store.ChangeSession, ID: "sid:1"})
	if _, err := pool.Exec(ctx, "DELETE FROM "+sessions+" WHERE id = $1", "sid:1"); err != nil {
		t.Fatalf("DELETE sessions: %v", err)
	}
	sub.expect(t, "DELETE sessions", store.Change{Kind: store.ChangeSession, ID: "sid:1"})

	// The Store's own writes fire the triggers too.
	if _, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error { u.TokenVersion++; return nil }); err != nil {
		t.Fatalf("UpdateUser: got error %v, want nil", err)
	}
	sub.expect(t, "UpdateUser", store.Change{Kind: store.ChangeUser, ID: u.ID})
	if _, err := pool.Exec(ctx, "DELETE FROM "+users+" WHERE id = $1", u.ID); err != nil {
		t.Fatalf("DELETE users: %v", err)
	}
	sub.expect(t, "DELETE users", store.Change{Kind: store.ChangeUser, ID: u.ID})
}

// TestLongSchemaChannel: with a schema name of 63 bytes the channel is
// hashed to 63 bytes, and the triggers compute the same name as Go.
func TestLongSchemaChannel(t *testing.T) {
	pool := testPool(t)
	schema := "authsys_test_" + storetest.UniqueName(t)
	schema += strings.Repeat("x", 63-len(schema))
	dropSchemaAtCleanup(t, pool, schema)
	s := postgres.New(pool, postgres.WithSchema(schema))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: got error %v, want nil", err)
	}
	ch := s.ChangeChannel()
	if len(ch) != 63 || !strings.HasPrefix(ch, "authsys_changes_"+schema[:30]+"_") {
		t.Errorf("ChangeChannel: got %q (%d bytes), want 63 bytes: the prefix, 30 bytes of the schema, _ and a hash", ch, len(ch))
	}
	other := postgres.New(pool, postgres.WithSchema(schema[:62]+"y"))
	if other.ChangeChannel() == ch {
		t.Errorf("ChangeChannel of two long schemas differing in their last byte: both %q, want different", ch)
	}
	sub := subscribe(t, s)
	u, err := s.CreateUser(t.Context(), store.User{Email: "long@example.test"})
	if err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	if _, err := pool.Exec(t.Context(), "UPDATE "+pgx.Identifier{schema, "users"}.Sanitize()+" SET is_staff = true"); err != nil {
		t.Fatalf("UPDATE users: %v", err)
	}
	sub.expect(t, "UPDATE users in a long-named schema", store.Change{Kind: store.ChangeUser, ID: u.ID})
}

// TestShortSchemaChannel: with a short schema name the channel is the
// prefix and the name, in Go and in the triggers alike.
func TestShortSchemaChannel(t *testing.T) {
	if got := postgres.New(nopDB{}).ChangeChannel(); got != "authsys_changes_public" {
		t.Errorf("ChangeChannel of the default schema: got %q, want authsys_changes_public", got)
	}
	pool := testPool(t)
	name := storetest.UniqueName(t)
	schema := "Ts" + name[len(name)-16:] // mixed case, 18 bytes
	dropSchemaAtCleanup(t, pool, schema)
	s := postgres.New(pool, postgres.WithSchema(schema))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: got error %v, want nil", err)
	}
	if got, want := s.ChangeChannel(), "authsys_changes_"+schema; got != want {
		t.Errorf("ChangeChannel: got %q, want %q", got, want)
	}
	sub := subscribe(t, s)
	u, err := s.CreateUser(t.Context(), store.User{Email: "short@example.test"})
	if err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	if _, err := pool.Exec(t.Context(), "UPDATE "+pgx.Identifier{schema, "users"}.Sanitize()+" SET is_staff = true"); err != nil {
		t.Fatalf("UPDATE users: %v", err)
	}
	sub.expect(t, "UPDATE users in a short-named schema", store.Change{Kind: store.ChangeUser, ID: u.ID})
}

// TestSchemasHaveTheirOwnChannel: a change on one schema is not heard on
// another.
func TestSchemasHaveTheirOwnChannel(t *testing.T) {
	pool := testPool(t)
	a, b := newStore(t, pool), newStore(t, pool)
	sub := subscribe(t, b)
	if err := a.NotifyChange(t.Context(), store.Change{Kind: store.ChangeUser, ID: "u"}); err != nil {
		t.Fatalf("NotifyChange: got error %v, want nil", err)
	}
	sub.quiet(t, "a change announced on another schema")
}

// TestKilledListenerReconnects: a subscription whose backend is
// terminated calls ready(false), reconnects, calls ready(true) and hears
// the changes announced after; its connection is not one of the pool's.
func TestKilledListenerReconnects(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool)
	ctx := t.Context()
	sub := subscribe(t, s)
	// The pool's connections are all free: the listener is not one.
	if st := pool.Stat(); st.AcquiredConns() != 0 {
		t.Errorf("pool: got %d acquired connections while subscribed, want 0", st.AcquiredConns())
	}
	for round := range 3 {
		if n := killListeners(t, pool, s.ChangeChannel()); n != 1 {
			t.Fatalf("round %d: terminated %d listening backends, want 1", round, n)
		}
		sub.waitReady(t, false)
		sub.waitReady(t, true)
		c := store.Change{Kind: store.ChangeSession, ID: "after-kill"}
		if err := s.NotifyChange(ctx, c); err != nil {
			t.Fatalf("NotifyChange: got error %v, want nil", err)
		}
		sub.expect(t, "after a reconnect", c)
	}
}

// TestNotifyChangeRefuses: an ID too long for a notification, or an
// unknown kind, is refused before the database is asked.
func TestNotifyChangeRefuses(t *testing.T) {
	s := postgres.New(nopDB{})
	for _, c := range []store.Change{
		{Kind: store.ChangeUser, ID: strings.Repeat("x", 7899)},
		{Kind: "group", ID: "g"},
		{Kind: "", ID: "g"},
	} {
		if err := s.NotifyChange(t.Context(), c); err == nil || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("NotifyChange(%q, %d bytes): got error %v, want a refusal", c.Kind, len(c.ID), err)
		}
	}
	// A DB that is not a pool needs WithListenConn.
	if err := s.SubscribeChanges(t.Context(), func(store.Change) {}, func(bool) {}); err == nil {
		t.Error("SubscribeChanges on a DB that is not a pool, without WithListenConn: got nil error, want one")
	}
}

// TestLongestIDRoundTrips: an ID of 7,898 bytes, the longest that fits,
// arrives whole.
func TestLongestIDRoundTrips(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool)
	sub := subscribe(t, s)
	c := store.Change{Kind: store.ChangeUser, ID: strings.Repeat("é", 3949)}
	if err := s.NotifyChange(t.Context(), c); err != nil {
		t.Fatalf("NotifyChange(%d bytes): got error %v, want nil", len(c.ID), err)
	}
	sub.expect(t, "the longest ID", c)
}

// TestWithListenConn: the connection comes from the function given, a
// new one at each reconnection.
func TestWithListenConn(t *testing.T) {
	base := testPool(t)
	var mu sync.Mutex
	calls := 0
	connect := func(ctx context.Context) (*pgx.Conn, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return pgx.ConnectConfig(ctx, base.Config().ConnConfig)
	}
	s := newStore(t, base, postgres.WithListenConn(connect))
	sub := subscribe(t, s)
	killListeners(t, base, s.ChangeChannel())
	sub.waitReady(t, false)
	sub.waitReady(t, true)
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Errorf("connect calls: got %d, want 2", calls)
	}
}

// TestSubscribeEndedContext: a context that has already ended subscribes
// nothing.
func TestSubscribeEndedContext(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.SubscribeChanges(ctx, func(store.Change) {}, func(bool) {})
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("SubscribeChanges with a cancelled context: got error %v, want one wrapping %v and %v", err, store.ErrUnavailable, context.Canceled)
	}
	if err := s.NotifyChange(ctx, store.Change{Kind: store.ChangeUser, ID: "u"}); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("NotifyChange with a cancelled context: got error %v, want one wrapping %v and %v", err, store.ErrUnavailable, context.Canceled)
	}
}

// TestMigrateFromVersion3 upgrades a schema that 0001 to 0003 built: the
// triggers come, and a direct UPDATE of the old user notifies.
func TestMigrateFromVersion3(t *testing.T) {
	pool := testPool(t)
	schema := testSchema(t, pool)
	buildOldSchema(t, pool, schema, 3)
	s := postgres.New(pool, postgres.WithSchema(schema))
	sub := subscribe(t, s)
	if _, err := pool.Exec(t.Context(), "UPDATE "+pgx.Identifier{schema, "users"}.Sanitize()+" SET is_active = false"); err != nil {
		t.Fatalf("UPDATE users: %v", err)
	}
	sub.quiet(t, "an UPDATE before migration 0004")
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: got error %v, want nil", err)
	}
	if got, want := appliedMigrations(t, pool, schema), migrationCount(t); got != want {
		t.Errorf("schema_migrations rows: got %d, want %d", got, want)
	}
	if _, err := pool.Exec(t.Context(), "UPDATE "+pgx.Identifier{schema, "users"}.Sanitize()+" SET is_active = true"); err != nil {
		t.Fatalf("UPDATE users: %v", err)
	}
	sub.expect(t, "an UPDATE after migration 0004", store.Change{Kind: store.ChangeUser, ID: "old"})
	checkSessionsWork(t, s)
	sub.expect(t, "RotateSession after migration 0004", store.Change{Kind: store.ChangeSession, ID: "sid"})
}
