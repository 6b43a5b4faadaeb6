// Package ratelimit enforces rates per key on a store.PendingStore, so that
// every instance of an application sharing the store (Redis, PostgreSQL)
// shares each budget. Rates are written as in Django REST Framework's
// throttles: "10/min", "5/hour", "100/day", or with any period, "10/5m".
//
// A rate N/Per is a generic cell rate algorithm (GCRA) limit: a burst of N
// events at once, then one event every Per/N. The state of a key is one
// instant, its theoretical arrival time, kept in the store by
// store.RateStore.AllowRate in one atomic round trip; a refused event
// changes nothing, and the time it reports is exactly when the next event
// will be allowed. A PendingStore that does not implement store.RateStore
// gets fixed windows on its IncrPending counters instead.
package ratelimit
