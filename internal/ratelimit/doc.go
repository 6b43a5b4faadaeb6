// Package ratelimit counts events per key in fixed time windows on a
// store.PendingStore, so that every instance of an application sharing the
// store (Redis, for instance) shares each budget. Rates are written as in
// Django REST Framework's throttles: "10/min", "5/hour", "100/day", or with
// any period, "10/5m".
package ratelimit
