package storetest_test

import (
	"path/filepath"
	"testing"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/sqlite"
	"github.com/authsys-go/authsys/store/storetest"
)

// An application whose tests share one real database gives each subtest of
// the suite a fresh, empty store in a part of it named by Fresh: here a
// SQLite file per subtest in one directory; with PostgreSQL, a schema per
// subtest (CREATE SCHEMA, and DROP SCHEMA … CASCADE in t.Cleanup); with
// Redis, a key prefix per subtest. Break lets the Outage case check that
// the store reports a lost database as store.ErrUnavailable.
func ExampleFresh() {
	testUserStore := func(t *testing.T) {
		dir := t.TempDir()
		storetest.RunUserStoreHarness(t, storetest.Fresh(func(t *testing.T, name string) storetest.UserHarness {
			s, err := sqlite.Open(filepath.Join(dir, name+".db"))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			var users store.UserStore = s // or the application's own UserStore
			return storetest.UserHarness{Store: users, Break: func() { s.Close() }}
		}))
	}
	_ = testUserStore // func TestUserStore(t *testing.T) in the application's tests
}
