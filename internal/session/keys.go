package session

import (
	"crypto/sha256"
	"encoding/base64"
	"strconv"
)

// Keys names every PendingStore key authsys writes, each under the
// configured prefix (Config.Sessions.KeyPrefix, "auth:" by default). No
// other code builds a key. Tokens that are secrets (pending-login tokens,
// email-change tokens) appear in keys only as their SHA-256, so a store
// dump reveals no usable token.
type Keys struct {
	prefix string
}

// NewKeys returns the key names under prefix.
func NewKeys(prefix string) Keys { return Keys{prefix: prefix} }

// RateLimits is the prefix of the rate limiter's keys.
func (k Keys) RateLimits() string { return k.prefix + "rl:" }

// PendingLogin holds the pending login whose token is token.
func (k Keys) PendingLogin(token string) string { return k.prefix + "pending:" + Hash(token) }

// pendingBusy is the claim of the one code check in progress on the
// pending login stored at key.
func pendingBusy(key string) string { return key + ":busy" }

// pendingFails counts the wrong codes of the pending login stored at key.
func pendingFails(key string) string { return key + ":fails" }

// PendingSeq numbers the pending logins of userID.
func (k Keys) PendingSeq(userID string) string { return k.prefix + "pending:seq:" + userID }

// PendingIndex is the slot of the pending login numbered seq of userID.
func (k Keys) PendingIndex(userID string, seq int64) string {
	return k.prefix + "pending:idx:" + userID + ":" + strconv.FormatInt(seq, 10)
}

// EmailChange holds the email change whose link carries token.
func (k Keys) EmailChange(token string) string { return k.prefix + "email:" + Hash(token) }

// EmailChangeOf names the current email change of userID: its value is
// the EmailChange key of the newest request, so that older links die.
func (k Keys) EmailChangeOf(userID string) string { return k.prefix + "email:user:" + userID }

// PasskeyCeremony holds the passkey ceremony of kind ("register",
// "login", "2fa", "reauth") whose challenge is challenge, from its begin
// call to its finish call, which takes it: one key per ceremony, so that a
// challenge answers once and only the ceremony it was made for.
func (k Keys) PasskeyCeremony(kind, challenge string) string {
	return k.prefix + "passkey:" + kind + ":" + Hash(challenge)
}

// Hash is the SHA-256 of a secret token, base64url-encoded: what stands for
// the token in keys.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
