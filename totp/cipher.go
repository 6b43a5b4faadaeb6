package totp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// ErrDecrypt is returned (wrapped) by Cipher.Decrypt for a ciphertext that
// is malformed, names an unknown key, or fails authentication.
var ErrDecrypt = errors.New("totp: cannot decrypt secret")

const (
	// MinKeySecret is the smallest Key.Secret NewCipher accepts, in bytes.
	MinKeySecret = 32
	// maxKeyID bounds the length of a Key.ID; it matches the JWT key IDs,
	// from which the default keys take their IDs.
	maxKeyID = 64
	// cipherVersion prefixes every ciphertext.
	cipherVersion = "v1"
	// hkdfInfo separates the AES keys derived here from any other use of
	// the same secret.
	hkdfInfo = "authsys totp secret"
)

// b64 is the unpadded URL-safe base64 of ciphertexts; Strict refuses
// non-zero trailing bits, so every ciphertext has a single encoding.
var b64 = base64.RawURLEncoding.Strict()

// Key is one encryption key of a Cipher.
type Key struct {
	// ID names the key inside ciphertexts: 1 to 64 characters of
	// A-Z, a-z, 0-9, "_" and "-". IDs of one Cipher are distinct.
	ID string
	// Secret is at least MinKeySecret bytes of secret random material; the
	// AES-256 key is derived from it with HKDF-SHA256.
	Secret []byte
}

// Cipher encrypts TOTP secrets at rest with AES-256-GCM. Keys rotate by ID:
// Encrypt uses the first key, Decrypt the key the ciphertext names, so a
// new key goes first and an old one stays behind it until no ciphertext
// uses it. A Cipher is safe for concurrent use. Build one with NewCipher.
type Cipher struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewCipher returns a Cipher over keys, the first of which encrypts. It
// fails when keys is empty, an ID is empty, too long, holds a character
// outside A-Z, a-z, 0-9, "_" and "-", or repeats, or a Secret is shorter
// than MinKeySecret. The Cipher keeps no reference to the Secret slices.
func NewCipher(keys []Key) (*Cipher, error) {
	if len(keys) == 0 {
		return nil, errors.New("totp: NewCipher needs at least one key")
	}
	c := &Cipher{current: keys[0].ID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if !validKeyID(k.ID) {
			return nil, fmt.Errorf("totp: key %d: ID must be 1 to %d characters of A-Z, a-z, 0-9, _ and -", i, maxKeyID)
		}
		if _, dup := c.aeads[k.ID]; dup {
			return nil, fmt.Errorf("totp: key %d: duplicate ID %q", i, k.ID)
		}
		if len(k.Secret) < MinKeySecret {
			return nil, fmt.Errorf("totp: key %q: secret is %d bytes, want at least %d", k.ID, len(k.Secret), MinKeySecret)
		}
		aesKey, err := hkdf.Key(sha256.New, k.Secret, nil, hkdfInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("totp: key %q: derive: %w", k.ID, err)
		}
		block, err := aes.NewCipher(aesKey)
		if err != nil {
			return nil, fmt.Errorf("totp: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("totp: key %q: %w", k.ID, err)
		}
		c.aeads[k.ID] = aead
	}
	return c, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > maxKeyID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Encrypt seals plaintext under the first key with a fresh random 96-bit
// nonce from crypto/rand and returns "v1.<key ID>.<base64url(nonce |
// ciphertext | tag)>". The version and key ID are authenticated too. It
// fails only on a Cipher not built by NewCipher.
func (c *Cipher) Encrypt(plaintext string) (string, error) {
	if c == nil || c.aeads == nil {
		return "", errors.New("totp: Cipher not built by NewCipher")
	}
	header := cipherVersion + "." + c.current
	sealed := c.aeads[c.current].Seal(nil, nil, []byte(plaintext), []byte(header))
	return header + "." + b64.EncodeToString(sealed), nil
}

// Rotate returns ciphertext sealed again under the current (first) key
// when it names another key of c, and reports whether it did; a ciphertext
// already under the current key comes back unchanged with false. Run on
// every stored secret (or on each as it is used), it lets an old key be
// dropped. Errors are Decrypt's.
func (c *Cipher) Rotate(ciphertext string) (string, bool, error) {
	plain, err := c.Decrypt(ciphertext)
	if err != nil {
		return "", false, err
	}
	if strings.HasPrefix(ciphertext, cipherVersion+"."+c.current+".") {
		return ciphertext, false, nil
	}
	fresh, err := c.Encrypt(plain)
	if err != nil {
		return "", false, err
	}
	return fresh, true, nil
}

// Decrypt opens a ciphertext made by Encrypt under any key of c. A
// malformed ciphertext, an unknown key ID or any tampering gives an error
// wrapping ErrDecrypt; it never panics.
func (c *Cipher) Decrypt(ciphertext string) (string, error) {
	if c == nil || c.aeads == nil {
		return "", errors.New("totp: Cipher not built by NewCipher")
	}
	version, rest, ok := strings.Cut(ciphertext, ".")
	if !ok || version != cipherVersion {
		return "", fmt.Errorf("%w: unsupported format", ErrDecrypt)
	}
	kid, body, ok := strings.Cut(rest, ".")
	if !ok {
		return "", fmt.Errorf("%w: unsupported format", ErrDecrypt)
	}
	aead, ok := c.aeads[kid]
	if !ok {
		return "", fmt.Errorf("%w: unknown key ID", ErrDecrypt)
	}
	// The decoder skips CR and LF even in strict mode; refuse them so that
	// a ciphertext has exactly one accepted spelling.
	if strings.ContainsAny(body, "\r\n") {
		return "", fmt.Errorf("%w: bad encoding", ErrDecrypt)
	}
	sealed, err := b64.DecodeString(body)
	if err != nil {
		return "", fmt.Errorf("%w: bad encoding", ErrDecrypt)
	}
	plain, err := aead.Open(nil, nil, sealed, []byte(version+"."+kid))
	if err != nil {
		return "", fmt.Errorf("%w: authentication failed", ErrDecrypt)
	}
	return string(plain), nil
}
