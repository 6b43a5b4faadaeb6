// Package storetest is the conformance suite for implementations of the
// store interfaces. Every backend of this module runs it, and an application
// that implements store.UserStore over its own database proves the
// implementation with a few lines:
//
//	func TestUserStore(t *testing.T) {
//		storetest.RunUserStore(t, func(t *testing.T) store.UserStore {
//			db := openEmptyTestDB(t) // closed by t.Cleanup
//			return myapp.NewUserStore(db)
//		})
//	}
//
// RunUserStore covers the store.UserLister cases too when the store
// implements it, RunPendingStore covers store.PendingStore, with the
// store.RateStore cases when the store implements that too,
// RunSessionStore covers store.SessionStore, and RunPasskeyStore
// store.PasskeyStore. Each case is a
// named subtest that receives a fresh, empty store, so a failure names the
// property that broke. The suite imports no implementation.
//
// RunUserStoreHarness, RunSessionStoreHarness, RunPasskeyStoreHarness, and
// the Break field of PendingHarness, add the Outage case: Break makes the store's database unreachable, and every
// method must then fail with an error wrapping store.ErrUnavailable rather
// than a raw driver error. Fresh gives each subtest a unique name (a schema,
// a key prefix, a file) so that tests sharing one real database still get
// an empty store per subtest, and Clock is a fake clock for
// PendingHarness.Advance.
package storetest
