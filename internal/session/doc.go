// Package session is the session core of authsys, below the HTTP layer: it
// issues a session's tokens at login, rotates refresh tokens with reuse
// detection, ends sessions, authenticates access tokens against the user
// and the session, and keeps the pending login between a correct password
// and its second factor. keys.go names every PendingStore key the library
// writes.
//
// It knows nothing of requests, cookies or problem details: the handlers
// decode a request, call the core and render what it returns, mapping its
// sentinel errors to responses.
package session
