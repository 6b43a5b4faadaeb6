// Package password hashes, verifies and validates passwords.
//
// New hashes are argon2id in PHC format
// ($argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>). Verify also reads
// argon2i, bcrypt (bare $2a$/$2b$/$2y$) and the formats Django writes
// (pbkdf2_sha256, pbkdf2_sha1, argon2, bcrypt, bcrypt_sha256), and reports
// when a stored hash should be replaced by a fresh one, so accounts migrate
// to the current parameters on their next successful login.
//
// A Hasher bounds how many hash computations run at once, whatever their
// algorithm, so that a flood of logins cannot exhaust memory or CPU; callers
// that find no free slot before their context ends get ErrBusy.
//
// Validate checks a new password against simple rules (length, not only
// digits, not the email address, not a common password or a simple variant
// of one) and returns the codes of the problems found.
package password
