// Package memory implements store.UserStore, store.UserLister,
// store.PendingStore, store.RateStore, store.SessionStore and
// store.PasskeyStore in process memory. It suits tests, development and a single-instance deployment
// whose accounts may vanish on restart: nothing is persisted and nothing
// is shared between processes.
//
// A Store is safe for concurrent use. It copies every value on the way in
// and out, so callers never alias its state. Pending entries (rate-limit
// states included) expire by the clock given with WithClock (time.Now by
// default); expired entries are never returned and are swept lazily, so
// memory does not grow without bound. Session records stay until
// PurgeSessions deletes them.
//
// A Store is also a store.ChangeNotifier in process: every Auth sharing
// the Store hears what any announces. A subscription is ready at once,
// and NotifyChange never waits for a subscriber: each subscription queues
// up to WithChangeBuffer changes, and one whose queue overflows calls
// ready(false), drops the queue, and calls ready(true) again.
package memory
