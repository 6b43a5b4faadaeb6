package password

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// maxEncodedLen bounds the length of an encoded hash Verify reads.
const maxEncodedLen = 4096

// limits are the cost bounds Verify enforces on stored hashes.
type limits struct {
	argon2Memory     uint32
	argon2Iterations uint32
	argon2Work       uint64
	pbkdf2Iterations int
	bcryptCost       int
}

// defaultLimits are the limits documented on the Max constants.
var defaultLimits = limits{
	argon2Memory:     MaxArgon2Memory,
	argon2Iterations: MaxArgon2Iterations,
	argon2Work:       MaxArgon2Work,
	pbkdf2Iterations: MaxPBKDF2Iterations,
	bcryptCost:       MaxBcryptCost,
}

// scheme identifies the algorithm of a parsed hash.
type scheme int

const (
	schemeArgon2id scheme = iota + 1
	schemeArgon2i
	schemePBKDF2SHA256
	schemePBKDF2SHA1
	schemeBcrypt
	schemeBcryptSHA256
)

// parsed is a stored hash whose parameters have been read and checked.
type parsed struct {
	scheme scheme
	// django is true for Django's "algorithm$..." prefix forms.
	django bool

	// argon2
	memory, iterations uint32
	parallelism        uint8
	// argon2 and pbkdf2
	salt, key []byte
	// pbkdf2
	rounds int
	// bcrypt: the bare $2x$ string
	bcrypt []byte
}

// unknown wraps ErrUnknownFormat with a reason that never contains
// password or hash material.
func unknown(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnknownFormat, fmt.Sprintf(format, args...))
}

// parse reads encoded into a parsed hash, or returns an error wrapping
// ErrUnknownFormat. It computes nothing expensive.
func parse(encoded string, lim limits) (*parsed, error) {
	if len(encoded) > maxEncodedLen {
		return nil, unknown("encoded hash longer than %d bytes", maxEncodedLen)
	}
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"), strings.HasPrefix(encoded, "$argon2i$"):
		return parseArgon2(encoded, false, lim)
	case strings.HasPrefix(encoded, "argon2$"):
		return parseArgon2(encoded[len("argon2"):], true, lim)
	case strings.HasPrefix(encoded, "pbkdf2_sha256$"):
		return parsePBKDF2(encoded[len("pbkdf2_sha256$"):], schemePBKDF2SHA256, sha256.Size, lim)
	case strings.HasPrefix(encoded, "pbkdf2_sha1$"):
		return parsePBKDF2(encoded[len("pbkdf2_sha1$"):], schemePBKDF2SHA1, sha1.Size, lim)
	case strings.HasPrefix(encoded, "bcrypt_sha256$"):
		return parseBcrypt(encoded[len("bcrypt_sha256$"):], schemeBcryptSHA256, true, lim)
	case strings.HasPrefix(encoded, "bcrypt$"):
		return parseBcrypt(encoded[len("bcrypt$"):], schemeBcrypt, true, lim)
	case strings.HasPrefix(encoded, "$2"):
		return parseBcrypt(encoded, schemeBcrypt, false, lim)
	}
	return nil, unknown("unrecognised hash format")
}

// parseUint reads a canonical decimal number (no sign, no leading zeros)
// of at most bits bits.
func parseUint(s string, bits int) (uint64, bool) {
	n, err := strconv.ParseUint(s, 10, bits)
	if err != nil || strconv.FormatUint(n, 10) != s {
		return 0, false
	}
	return n, true
}

// decodeCanonical decodes s with enc and accepts it only when re-encoding
// gives s back (no newlines, no stray bits).
func decodeCanonical(enc *base64.Encoding, s string) ([]byte, bool) {
	b, err := enc.DecodeString(s)
	if err != nil || enc.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// parseArgon2 reads "$argon2id$v=19$m=M,t=T,p=P$salt$hash" (or argon2i).
func parseArgon2(s string, django bool, lim limits) (*parsed, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, unknown("argon2: want 5 $-separated fields")
	}
	p := &parsed{django: django}
	switch parts[1] {
	case "argon2id":
		p.scheme = schemeArgon2id
	case "argon2i":
		p.scheme = schemeArgon2i
	default:
		return nil, unknown("argon2: unsupported variant")
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return nil, unknown("argon2: unsupported version")
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return nil, unknown("argon2: want parameters m, t, p")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, found := strings.CutPrefix(kv[i], name)
		n, ok := parseUint(v, 32)
		if !found || !ok {
			return nil, unknown("argon2: bad parameter %q", strings.TrimSuffix(name, "="))
		}
		vals[i] = n
	}
	memory, iterations, parallelism := uint32(vals[0]), uint32(vals[1]), uint32(vals[2])
	if err := checkArgon2Cost(memory, iterations, parallelism); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnknownFormat, err)
	}
	if memory > lim.argon2Memory || iterations > lim.argon2Iterations || uint64(memory)*uint64(iterations) > lim.argon2Work {
		return nil, unknown("argon2: cost above limits")
	}
	p.memory, p.iterations, p.parallelism = memory, iterations, uint8(parallelism)
	var ok bool
	if p.salt, ok = decodeCanonical(base64.RawStdEncoding, parts[4]); !ok {
		return nil, unknown("argon2: bad salt encoding")
	}
	if len(p.salt) < minArgon2Salt || len(p.salt) > maxArgon2Salt {
		return nil, unknown("argon2: salt length %d outside [%d, %d]", len(p.salt), minArgon2Salt, maxArgon2Salt)
	}
	if p.key, ok = decodeCanonical(base64.RawStdEncoding, parts[5]); !ok {
		return nil, unknown("argon2: bad hash encoding")
	}
	if len(p.key) < minArgon2Key || len(p.key) > maxArgon2Key {
		return nil, unknown("argon2: hash length %d outside [%d, %d]", len(p.key), minArgon2Key, maxArgon2Key)
	}
	return p, nil
}

// parsePBKDF2 reads Django's "<iterations>$<salt>$<base64 hash>" (the
// part after "pbkdf2_sha256$" or "pbkdf2_sha1$").
func parsePBKDF2(s string, sch scheme, size int, lim limits) (*parsed, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 3 {
		return nil, unknown("pbkdf2: want 3 $-separated fields")
	}
	n, ok := parseUint(parts[0], 31)
	if !ok || n < 1 || n > uint64(lim.pbkdf2Iterations) {
		return nil, unknown("pbkdf2: iterations outside [1, %d]", lim.pbkdf2Iterations)
	}
	if parts[1] == "" {
		return nil, unknown("pbkdf2: empty salt")
	}
	key, ok := decodeCanonical(base64.StdEncoding, parts[2])
	if !ok || len(key) != size {
		return nil, unknown("pbkdf2: hash is not %d bytes of base64", size)
	}
	return &parsed{scheme: sch, django: true, rounds: int(n), salt: []byte(parts[1]), key: key}, nil
}

// bcryptAlphabet is bcrypt's base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// parseBcrypt reads a bare "$2b$12$<53 chars>" bcrypt string.
func parseBcrypt(s string, sch scheme, django bool, lim limits) (*parsed, error) {
	if len(s) != 60 {
		return nil, unknown("bcrypt: want 60 characters")
	}
	switch s[:4] {
	case "$2a$", "$2b$", "$2y$":
	default:
		return nil, unknown("bcrypt: unsupported version")
	}
	cost, ok := parseUint(strings.TrimPrefix(s[4:6], "0"), 8)
	if !ok || s[6] != '$' || cost < uint64(bcrypt.MinCost) || cost > uint64(lim.bcryptCost) {
		return nil, unknown("bcrypt: cost outside [%d, %d]", bcrypt.MinCost, lim.bcryptCost)
	}
	for i := 7; i < len(s); i++ {
		if strings.IndexByte(bcryptAlphabet, s[i]) < 0 {
			return nil, unknown("bcrypt: bad character in salt or hash")
		}
	}
	return &parsed{scheme: sch, django: django, bcrypt: []byte(s)}, nil
}

// bcryptMaxPassword is the number of password bytes bcrypt uses.
const bcryptMaxPassword = 72

// matches runs the hash computation and compares in constant time.
func (p *parsed) matches(password string) (bool, error) {
	switch p.scheme {
	case schemeArgon2id:
		k := argon2.IDKey([]byte(password), p.salt, p.iterations, p.memory, p.parallelism, uint32(len(p.key)))
		return subtle.ConstantTimeCompare(k, p.key) == 1, nil
	case schemeArgon2i:
		k := argon2.Key([]byte(password), p.salt, p.iterations, p.memory, p.parallelism, uint32(len(p.key)))
		return subtle.ConstantTimeCompare(k, p.key) == 1, nil
	case schemePBKDF2SHA256:
		return pbkdf2Matches(sha256.New, password, p)
	case schemePBKDF2SHA1:
		return pbkdf2Matches(sha1.New, password, p)
	case schemeBcryptSHA256:
		sum := sha256.Sum256([]byte(password))
		return bcryptMatches(p.bcrypt, []byte(hex.EncodeToString(sum[:])))
	case schemeBcrypt:
		pw := []byte(password)
		if len(pw) > bcryptMaxPassword {
			pw = pw[:bcryptMaxPassword]
		}
		return bcryptMatches(p.bcrypt, pw)
	}
	return false, unknown("unrecognised scheme")
}

// pbkdf2Matches derives a key of the stored key's length and compares.
func pbkdf2Matches[H hash.Hash](h func() H, password string, p *parsed) (bool, error) {
	k, err := pbkdf2.Key(h, password, p.salt, p.rounds, len(p.key))
	if err != nil {
		return false, fmt.Errorf("password: pbkdf2: %w", err)
	}
	return subtle.ConstantTimeCompare(k, p.key) == 1, nil
}

// bcryptMatches compares password with a bare bcrypt hash.
func bcryptMatches(encoded, password []byte) (bool, error) {
	err := bcrypt.CompareHashAndPassword(encoded, password)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	}
	return false, fmt.Errorf("%w: bcrypt: %w", ErrUnknownFormat, err)
}
