// Package handlers implements the authsys HTTP API: one file per flow
// (signup and verification, login and sessions, password, email, two-factor,
// admin), strict JSON decoding, and one writer that renders every error as
// an RFC 9457 problem detail with a stable code.
//
// Applications use it through the root package (authsys.New, Handler,
// Middleware); the handlers receive their collaborators in Deps, never the
// root Config.
package server
