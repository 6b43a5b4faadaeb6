package tokens

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// oneTimeDomain opens every one-time MAC input, separating it from any other
// use of the same derived key.
const oneTimeDomain = "authsys one-time token v1"

// maxOneTimeLen bounds the length of a one-time token that VerifyOneTime
// examines: a maximal kid, a base36 int64 and the MAC, with room to spare.
const maxOneTimeLen = 256

// SignOneTime returns a URL-safe token proving purpose (for example
// "verify_account" or "password_reset") for userID. The token is valid for
// ttl from now (a non-positive ttl gives a token that is already expired),
// and only while state is unchanged. state is a fingerprint of the user's
// current row chosen by the caller, such as the password hash and token
// version: once the action changes the row, the token dies, which makes it
// single-use without storage.
//
// The format is "<kid>.<exp>.<mac>": the signing key's ID, the expiry in
// Unix seconds in base 36, and the base64url HMAC-SHA256, under a key derived
// by HKDF from the signing key, over purpose, userID, exp and state. Keys
// rotate as for JWTs.
func (m *Manager) SignOneTime(purpose, userID, state string, ttl time.Duration) string {
	k := &m.keys[0]
	exp := m.now().Add(ttl).Unix()
	return k.id + "." + strconv.FormatInt(exp, 36) + "." + oneTimeMAC(k, purpose, userID, state, exp)
}

// VerifyOneTime checks a token made by SignOneTime for the same purpose,
// userID and state. It returns ErrInvalid, wrapping the cause, for any
// mismatch (another purpose, user or state, tampering, an unknown kid, a
// malformed token) and ErrExpired for a genuine token past its expiry (plus
// the leeway). The MAC is compared in constant time and checked before the
// expiry, so an edited expiry is invalid, not expired.
func (m *Manager) VerifyOneTime(token, purpose, userID, state string) error {
	if len(token) > maxOneTimeLen {
		return fmt.Errorf("%w: one-time token longer than %d bytes", ErrInvalid, maxOneTimeLen)
	}
	kid, rest, ok1 := strings.Cut(token, ".")
	expText, mac, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(mac, ".") {
		return fmt.Errorf("%w: one-time token is not three dot-separated fields", ErrInvalid)
	}
	k, ok := m.byID[kid]
	if !ok {
		return fmt.Errorf("%w: one-time token has unknown kid %q", ErrInvalid, kid)
	}
	exp, err := strconv.ParseInt(expText, 36, 64)
	// Only the canonical spelling is accepted: no sign, no leading zero,
	// lower case.
	if err != nil || exp <= 0 || strconv.FormatInt(exp, 36) != expText {
		return fmt.Errorf("%w: one-time token has a malformed expiry %q", ErrInvalid, expText)
	}
	// Comparing the encoded forms keeps the check canonical (base64
	// decoding tolerates line breaks and stray trailing bits).
	want := oneTimeMAC(k, purpose, userID, state, exp)
	if subtle.ConstantTimeCompare([]byte(mac), []byte(want)) != 1 {
		return fmt.Errorf("%w: one-time token signature mismatch", ErrInvalid)
	}
	if !m.now().Before(time.Unix(exp, 0).Add(m.leeway)) {
		return fmt.Errorf("%w: one-time token expired at %v", ErrExpired, time.Unix(exp, 0).UTC())
	}
	return nil
}

// oneTimeMAC returns the base64url HMAC-SHA256 under k's one-time key of an
// unambiguous encoding of the fields: the domain string, then each string
// preceded by its length, then exp.
func oneTimeMAC(k *keyMaterial, purpose, userID, state string, exp int64) string {
	mac := hmac.New(sha256.New, k.oneTime)
	var n [8]byte
	for _, s := range [...]string{oneTimeDomain, purpose, userID, state} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		mac.Write(n[:])
		mac.Write([]byte(s))
	}
	binary.BigEndian.PutUint64(n[:], uint64(exp))
	mac.Write(n[:])
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
