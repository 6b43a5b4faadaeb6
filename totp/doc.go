// Package totp implements the second factor of authsys: time-based one-time
// passwords (RFC 6238), the otpauth:// key URI and its QR code, single-use
// backup codes, and the encryption of TOTP secrets at rest.
//
// The code math is github.com/pquerna/otp (HMAC-SHA-1, 6 digits, 30-second
// steps, the parameters every authenticator app understands); QR codes are
// rendered by github.com/skip2/go-qrcode.
//
// Verify accepts the previous, current and next step and returns the step it
// matched. The caller stores that step (store.User.TOTPLastStep) inside the
// same atomic update that accepts the code and passes it back as lastStep
// next time, so that a code, or any older one, is never accepted twice.
//
// Backup codes are generated here, shown to the user once, and stored only as
// keyed hashes (HashBackupCode). Cipher encrypts TOTP secrets with
// AES-256-GCM under rotating keys.
//
// Randomness is injected as an io.Reader and time as a time.Time argument, so
// that tests never depend on the clock. Every function and every Cipher
// method is safe for concurrent use.
package totp
