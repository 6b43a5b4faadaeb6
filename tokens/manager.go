package tokens

import (
	"cmp"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token types, the value of the "typ" claim.
const (
	// TypeAccess marks a short-lived token that authenticates requests.
	TypeAccess = "access"
	// TypeRefresh marks a long-lived token that is exchanged for new tokens.
	TypeRefresh = "refresh"
)

// Sentinel errors returned by Parse and VerifyOneTime, wrapped with the
// cause. Check them with errors.Is.
var (
	// ErrInvalid reports a token that is malformed, forged, tampered with,
	// signed by an unknown key, or meant for another use.
	ErrInvalid = errors.New("tokens: invalid token")
	// ErrExpired reports a token that is genuine and otherwise valid but
	// past its expiry.
	ErrExpired = errors.New("tokens: token expired")
)

// MinSecretLen is the shortest accepted Key.Secret, in bytes.
const MinSecretLen = 32

// maxKeyIDLen is the longest accepted Key.ID, in bytes.
const maxKeyIDLen = 64

// Defaults applied by NewManager to zero Options fields.
const (
	// DefaultIssuer is the "iss" claim when Options.Issuer is empty.
	DefaultIssuer = "authsys"
	// DefaultAudience is the "aud" claim when Options.Audience is empty.
	DefaultAudience = "authsys"
	// DefaultAccessTTL is the access token lifetime when Options.AccessTTL
	// is zero.
	DefaultAccessTTL = 15 * time.Minute
	// DefaultRefreshTTL is the refresh token lifetime when
	// Options.RefreshTTL is zero.
	DefaultRefreshTTL = 7 * 24 * time.Hour
)

// HKDF info strings; each derived key serves one purpose only.
const (
	infoOneTime = "authsys/tokens one-time v1"
	infoEd25519 = "authsys/tokens ed25519 v1"
)

// JWT signing algorithms, the values of Key.Algorithm.
const (
	// HS256 is HMAC-SHA256 with the key's secret: only holders of the
	// secret can verify. The default.
	HS256 = "HS256"
	// EdDSA is Ed25519 with a key pair derived from the key's secret: the
	// public key (see Manager.JWKS) lets other services verify tokens
	// without being able to sign them.
	EdDSA = "EdDSA"
)

// Key is one HMAC key identified by ID (the JWT "kid").
type Key struct {
	// ID names the key inside tokens. It must be 1 to 64 characters from
	// the URL-safe alphabet A-Z, a-z, 0-9, '-' and '_', and unique among
	// Options.Keys.
	ID string
	// Secret is the key material: at least MinSecretLen (32) random bytes.
	// NewManager copies it.
	Secret []byte
	// Algorithm is the JWT algorithm of the key, HS256 (the default when
	// empty) or EdDSA. A token is verified only with the algorithm of the
	// key its kid names, so a key's algorithm is pinned. One-time tokens
	// use an HMAC key derived from Secret whatever the algorithm.
	Algorithm string
}

// Options configures a Manager. The zero value of every field but Keys means
// its default.
type Options struct {
	// Keys are the HMAC keys. Keys[0] signs; every key verifies, which lets
	// keys rotate by kid. Required.
	Keys []Key
	// Issuer is the "iss" claim written by Sign and required by Parse.
	// Default "authsys".
	Issuer string
	// Audience is the "aud" claim written by Sign and required by Parse.
	// Default "authsys".
	Audience string
	// AccessTTL is the lifetime of access tokens. Default 15m.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of refresh tokens. Default 7*24h.
	RefreshTTL time.Duration
	// Now returns the current time; it is the test seam. Default time.Now.
	Now func() time.Time
	// Leeway is the clock-skew allowance applied to expiry and issue times
	// of JWTs and to the expiry of one-time tokens. Default 0.
	Leeway time.Duration
}

// keyMaterial holds the keys derived from one configured Key.
type keyMaterial struct {
	id      string
	alg     string
	method  jwt.SigningMethod
	sign    any    // the HS256 secret, or the ed25519.PrivateKey
	verify  any    // the HS256 secret, or the ed25519.PublicKey
	oneTime []byte // HKDF(secret, infoOneTime)
}

// Manager signs and verifies tokens. It is immutable after NewManager and
// safe for concurrent use by multiple goroutines.
type Manager struct {
	keys       []keyMaterial // keys[0] signs
	byID       map[string]*keyMaterial
	issuer     string
	audience   string
	accessTTL  time.Duration
	refreshTTL time.Duration
	now        func() time.Time
	leeway     time.Duration
	parser     *jwt.Parser
}

// NewManager validates o, applies its defaults and returns a Manager. The
// error names the problem: no keys, a short secret, an empty, malformed or
// duplicate key ID, or a negative duration.
func NewManager(o Options) (*Manager, error) {
	if len(o.Keys) == 0 {
		return nil, errors.New("tokens: Options.Keys is empty: at least one key is required")
	}
	if o.AccessTTL < 0 {
		return nil, fmt.Errorf("tokens: Options.AccessTTL is negative (%v)", o.AccessTTL)
	}
	if o.RefreshTTL < 0 {
		return nil, fmt.Errorf("tokens: Options.RefreshTTL is negative (%v)", o.RefreshTTL)
	}
	if o.Leeway < 0 {
		return nil, fmt.Errorf("tokens: Options.Leeway is negative (%v)", o.Leeway)
	}
	m := &Manager{
		keys:       make([]keyMaterial, 0, len(o.Keys)),
		byID:       make(map[string]*keyMaterial, len(o.Keys)),
		issuer:     cmp.Or(o.Issuer, DefaultIssuer),
		audience:   cmp.Or(o.Audience, DefaultAudience),
		accessTTL:  cmp.Or(o.AccessTTL, DefaultAccessTTL),
		refreshTTL: cmp.Or(o.RefreshTTL, DefaultRefreshTTL),
		now:        o.Now,
		leeway:     o.Leeway,
	}
	if m.now == nil {
		m.now = time.Now
	}
	for i, k := range o.Keys {
		if k.ID == "" {
			return nil, fmt.Errorf("tokens: Options.Keys[%d].ID (kid) is empty", i)
		}
		if !validKeyID(k.ID) {
			return nil, fmt.Errorf("tokens: Options.Keys[%d].ID (kid) %q is malformed: want 1 to %d characters from A-Z a-z 0-9 - _", i, k.ID, maxKeyIDLen)
		}
		if len(k.Secret) < MinSecretLen {
			return nil, fmt.Errorf("tokens: Options.Keys[%d] (kid %q) secret is too short: %d bytes, want at least %d", i, k.ID, len(k.Secret), MinSecretLen)
		}
		for j := range i {
			if o.Keys[j].ID == k.ID {
				return nil, fmt.Errorf("tokens: Options.Keys[%d] and Options.Keys[%d] have the same ID (duplicate kid %q)", j, i, k.ID)
			}
		}
		secret := append([]byte(nil), k.Secret...)
		km := keyMaterial{id: k.ID, alg: cmp.Or(k.Algorithm, HS256)}
		var err error
		switch km.alg {
		case HS256:
			km.method, km.sign, km.verify = jwt.SigningMethodHS256, secret, secret
		case EdDSA:
			seed, err := hkdf.Key(sha256.New, secret, nil, infoEd25519, ed25519.SeedSize)
			if err != nil {
				return nil, fmt.Errorf("tokens: deriving the Ed25519 key of kid %q: %w", k.ID, err)
			}
			priv := ed25519.NewKeyFromSeed(seed)
			km.method, km.sign, km.verify = jwt.SigningMethodEdDSA, priv, priv.Public()
		default:
			return nil, fmt.Errorf("tokens: Options.Keys[%d] (kid %q) has algorithm %q: want %q or %q", i, k.ID, k.Algorithm, HS256, EdDSA)
		}
		if km.oneTime, err = hkdf.Key(sha256.New, secret, nil, infoOneTime, sha256.Size); err != nil {
			return nil, fmt.Errorf("tokens: deriving the one-time key of kid %q: %w", k.ID, err)
		}
		m.keys = append(m.keys, km)
	}
	for i := range m.keys {
		m.byID[m.keys[i].id] = &m.keys[i]
	}
	m.parser = jwt.NewParser(
		// Each key then pins its own algorithm (jwtKey).
		jwt.WithValidMethods([]string{HS256, EdDSA}),
		jwt.WithIssuer(m.issuer),
		jwt.WithAudience(m.audience),
		jwt.WithTimeFunc(m.now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(m.leeway),
		jwt.WithStrictDecoding(),
	)
	return m, nil
}

// AccessTTL returns the lifetime of access tokens.
func (m *Manager) AccessTTL() time.Duration { return m.accessTTL }

// RefreshTTL returns the lifetime of refresh tokens.
func (m *Manager) RefreshTTL() time.Duration { return m.refreshTTL }

// NewID returns a random 128-bit ID, base64url without padding (22
// characters).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it crashes the program instead.
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validKeyID reports whether id is 1 to maxKeyIDLen URL-safe characters.
func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > maxKeyIDLen {
		return false
	}
	for i := range len(id) {
		if !isURLSafe(id[i]) {
			return false
		}
	}
	return true
}

// isURLSafe reports whether c belongs to the base64url alphabet.
func isURLSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
