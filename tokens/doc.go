// Package tokens issues and verifies the credentials of the account system:
// access and refresh JWTs, and stateless signed one-time tokens for email
// verification, password reset and similar single actions.
//
// A Manager holds one or more HMAC keys, each named by an ID that travels in
// the token (the JWT "kid" header, the first field of a one-time token).
// The first key signs; every key verifies, so a new key can be put first and
// the old one kept second until the tokens it signed have expired.
//
// JWTs are HS256 only, built and checked with github.com/golang-jwt/jwt/v5.
// Their claims are typ ("access" or "refresh"), sub (the user ID), tv (the
// user's token version), sid (the login session), jti, iat, exp, iss and aud.
// They carry no email address or other personal data. Parse pins the
// algorithm and checks every claim; a caller learns only ErrExpired or
// ErrInvalid, with the cause wrapped for logs.
//
// One-time tokens need no storage: they are an HMAC over a purpose, a user ID,
// an expiry and a caller-chosen fingerprint of the user's current state.
// Performing the action changes that state, which kills the token.
//
// Keys for one-time tokens are derived from each secret with HKDF and differ
// from the key that signs JWTs, so a value produced for one use can never be
// presented as another.
package tokens
