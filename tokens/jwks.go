package tokens

import (
	"crypto/ed25519"
	"encoding/base64"
)

// JWK is the public half of an EdDSA key as a JSON Web Key (RFC 8037).
type JWK struct {
	KeyType   string `json:"kty"` // "OKP"
	Curve     string `json:"crv"` // "Ed25519"
	X         string `json:"x"`   // the public key, base64url
	KeyID     string `json:"kid"`
	Algorithm string `json:"alg"` // "EdDSA"
	Use       string `json:"use"` // "sig"
}

// JWKSet is a JSON Web Key Set: {"keys": [...]}.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the public keys of the Manager's EdDSA keys, the signing key
// first, for services that verify access tokens themselves. HS256 keys are
// secret and never listed, so a Manager without EdDSA keys returns an
// empty set.
func (m *Manager) JWKS() JWKSet {
	set := JWKSet{Keys: []JWK{}}
	for _, k := range m.keys {
		pub, ok := k.verify.(ed25519.PublicKey)
		if !ok {
			continue
		}
		set.Keys = append(set.Keys, JWK{
			KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub),
			KeyID: k.id, Algorithm: EdDSA, Use: "sig",
		})
	}
	return set
}
