package totp

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

const (
	// BackupAlphabet is the 32-symbol alphabet of backup codes: Crockford's
	// base32, digits and lower-case letters without i, l, o and u. Because
	// it holds 0 and 1, NormalizeBackupCode reads a typed o as 0 and a
	// typed i or l as 1, so that no misreading of a printed code is
	// refused.
	BackupAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	// BackupCodeLen is the number of symbols of a backup code: 10 symbols of
	// 5 bits each, 50 bits of entropy.
	BackupCodeLen = 10

	// maxBackupInput bounds the input NormalizeBackupCode looks at.
	maxBackupInput = 64
	// maxDuplicates is how many repeated codes GenerateBackupCodes draws
	// again before it declares its random source broken.
	maxDuplicates = 3
)

// GenerateBackupCodes returns n distinct backup codes read from r, each
// BackupCodeLen symbols of BackupAlphabet shown as two dash-separated
// groups of five, like "7k3dq-x9mfa". Every symbol takes the low five bits
// of one byte of r, so symbols are uniform. Production code passes
// crypto/rand.Reader. It fails when n is negative, when r fails (the error
// is wrapped), or when r keeps repeating itself.
func GenerateBackupCodes(r io.Reader, n int) ([]string, error) {
	if n < 0 {
		return nil, fmt.Errorf("totp: negative backup code count %d", n)
	}
	codes := make([]string, 0, n)
	seen := make(map[string]bool, n)
	buf := make([]byte, BackupCodeLen)
	out := make([]byte, BackupCodeLen+1)
	for dups := 0; len(codes) < n; {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("totp: read random backup code: %w", err)
		}
		for i, j := 0, 0; i < BackupCodeLen; i, j = i+1, j+1 {
			if i == BackupCodeLen/2 {
				out[j] = '-'
				j++
			}
			out[j] = BackupAlphabet[buf[i]&31]
		}
		code := string(out)
		if seen[code] {
			if dups++; dups > maxDuplicates {
				return nil, errors.New("totp: random source repeats itself")
			}
			continue
		}
		seen[code] = true
		codes = append(codes, code)
	}
	return codes, nil
}

// NormalizeBackupCode returns the canonical form of a backup code as typed
// by a user: ASCII letters lower-cased, dashes and ASCII white space
// removed, o read as 0, i and l read as 1. ok is false unless the result is
// exactly BackupCodeLen symbols of BackupAlphabet (inputs longer than 64
// bytes are refused outright).
func NormalizeBackupCode(code string) (norm string, ok bool) {
	if len(code) > maxBackupInput {
		return "", false
	}
	out := make([]byte, 0, BackupCodeLen)
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		switch c {
		case 'o':
			c = '0'
		case 'i', 'l':
			c = '1'
		}
		if !isBackupSymbol(c) || len(out) == BackupCodeLen {
			return "", false
		}
		out = append(out, c)
	}
	if len(out) != BackupCodeLen {
		return "", false
	}
	return string(out), true
}

func isBackupSymbol(c byte) bool {
	for i := 0; i < len(BackupAlphabet); i++ {
		if BackupAlphabet[i] == c {
			return true
		}
	}
	return false
}

// BackupCodeKey returns the key that hashes the backup codes of the account
// userID whose TOTP secret (base32, as GenerateSecret makes it) is secret:
// HKDF-SHA256 of the secret, salted with the account ID. The codes are thus
// keyed by a secret that is stored only encrypted, and that stays the same
// when the server's keys rotate (the encryption of the secret changes, not
// the secret), so rotation never invalidates backup codes.
func BackupCodeKey(secret, userID string) ([]byte, error) {
	norm, err := normalizeSecret(secret)
	if err != nil {
		return nil, err
	}
	return hkdf.Key(sha256.New, []byte(norm), []byte(userID), "authsys backup codes v1", sha256.Size)
}

// HashBackupCode returns the keyed hash under which a normalized backup code
// is stored: HMAC-SHA256 of normalized under key, in lower-case hex. key is
// a secret (BackupCodeKey, or at least 32 random bytes); without it a
// leaked hash cannot be brute-forced offline.
func HashBackupCode(key []byte, normalized string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(normalized))
	return hex.EncodeToString(m.Sum(nil))
}

// MatchBackupCode reports whether normalized hashes to hash under key,
// comparing in constant time.
func MatchBackupCode(key []byte, normalized, hash string) bool {
	want := HashBackupCode(key, normalized)
	return subtle.ConstantTimeCompare([]byte(want), []byte(hash)) == 1
}
