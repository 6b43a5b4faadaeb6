package tokens

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxTokenLen bounds the length of a JWT that Parse examines; longer input
// is refused before any decoding. Issued tokens are a few hundred bytes.
const maxTokenLen = 4096

// Claims are the contents of an access or refresh token.
type Claims struct {
	// Type is TypeAccess or TypeRefresh (claim "typ").
	Type string
	// Subject is the user ID (claim "sub").
	Subject string
	// TokenVersion is the user's token version at issue time (claim "tv");
	// a token whose version is behind the user's is revoked.
	TokenVersion int64
	// SessionID identifies the login session, the family of refresh tokens
	// descending from one login (claim "sid").
	SessionID string
	// ID is the unique token ID (claim "jti").
	ID string
	// IssuedAt is the issue time, whole seconds (claim "iat").
	IssuedAt time.Time
	// ExpiresAt is the expiry time, whole seconds (claim "exp").
	ExpiresAt time.Time
	// AuthTime is when the user last showed their credentials (password,
	// and second factor when required) in this session, whole seconds
	// (claim "auth_time", as in OpenID Connect); zero when unknown.
	AuthTime time.Time
}

// NewClaims returns fresh claims of typ for the user: a random 128-bit ID
// (base64url), IssuedAt = now truncated to seconds, and ExpiresAt = IssuedAt
// plus the TTL of typ. typ should be TypeAccess or TypeRefresh; any other
// value gets the access TTL and is refused by Sign.
func (m *Manager) NewClaims(typ, userID string, tokenVersion int64, sessionID string) Claims {
	now := m.now().UTC().Truncate(time.Second)
	ttl := m.accessTTL
	if typ == TypeRefresh {
		ttl = m.refreshTTL
	}
	return Claims{
		Type:         typ,
		Subject:      userID,
		TokenVersion: tokenVersion,
		SessionID:    sessionID,
		ID:           NewID(),
		IssuedAt:     now,
		ExpiresAt:    now.Add(ttl),
	}
}

// Sign encodes c as an HS256 JWT with header kid = Keys[0].ID and claims
// typ, sub, tv, sid, jti, iat, exp, iss and aud; times are truncated to whole
// seconds. It is deterministic: the same claims and key give the same
// string. It refuses claims that Parse would refuse for their content: an
// unknown type, an empty subject, session ID or ID, a zero time, or an
// expiry not after the issue time.
func (m *Manager) Sign(c Claims) (string, error) {
	if c.Type != TypeAccess && c.Type != TypeRefresh {
		return "", fmt.Errorf("tokens: sign: unknown token type %q", c.Type)
	}
	if c.Subject == "" || c.SessionID == "" || c.ID == "" {
		return "", errors.New("tokens: sign: subject, session ID and ID must not be empty")
	}
	if c.IssuedAt.IsZero() || c.ExpiresAt.IsZero() {
		return "", errors.New("tokens: sign: IssuedAt and ExpiresAt must be set")
	}
	iat, exp := c.IssuedAt.Unix(), c.ExpiresAt.Unix()
	if exp <= iat {
		return "", errors.New("tokens: sign: ExpiresAt must be after IssuedAt")
	}
	var authTime *int64
	if !c.AuthTime.IsZero() {
		// Never after iat: an AuthTime from an instance whose clock runs
		// ahead is lowered to the issue time (less fresh, never more).
		at := min(c.AuthTime.Unix(), iat)
		authTime = &at
	}
	wc := &wireClaims{
		AuthTime:     authTime,
		Type:         c.Type,
		Subject:      c.Subject,
		TokenVersion: c.TokenVersion,
		SessionID:    c.SessionID,
		ID:           c.ID,
		IssuedAt:     &iat,
		ExpiresAt:    &exp,
		Issuer:       m.issuer,
		Audience:     m.audience,
	}
	k := &m.keys[0]
	t := jwt.NewWithClaims(k.method, wc)
	t.Header["kid"] = k.id
	s, err := t.SignedString(k.sign)
	if err != nil {
		return "", fmt.Errorf("tokens: sign: %w", err)
	}
	return s, nil
}

// Parse verifies token and returns its claims. It accepts only HS256 (the
// algorithm is pinned: "none", RS256, HS384, HS512 and all others are
// refused), requires the kid header to name a configured key, checks the
// signature, requires exp and iat, refuses an iat in the future beyond the
// leeway, and requires iss and aud to match the Manager's, typ to equal
// wantType, and sub, jti and sid to be non-empty.
//
// A genuine token whose only fault is its expiry yields ErrExpired; every
// other failure, including an expired token with any further fault, yields
// ErrInvalid. Either wraps the cause, for logs.
func (m *Manager) Parse(token, wantType string) (Claims, error) {
	if wantType != TypeAccess && wantType != TypeRefresh {
		return Claims{}, fmt.Errorf("%w: unknown wanted type %q", ErrInvalid, wantType)
	}
	if len(token) > maxTokenLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, maxTokenLen)
	}
	// The base64 decoder skips CR and LF; refusing every byte outside the
	// JWS compact alphabet keeps one token to one spelling.
	for i := range len(token) {
		if c := token[i]; c != '.' && !isURLSafe(c) {
			return Claims{}, fmt.Errorf("%w: byte %d is outside the base64url alphabet", ErrInvalid, i)
		}
	}
	wc := &wireClaims{want: wantType}
	_, err := m.parser.ParseWithClaims(token, wc, m.jwtKey)
	switch {
	case err == nil:
	case onlyExpired(err):
		return Claims{}, fmt.Errorf("%w: %w", ErrExpired, err)
	default:
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	c := Claims{
		Type:         wc.Type,
		Subject:      wc.Subject,
		TokenVersion: wc.TokenVersion,
		SessionID:    wc.SessionID,
		ID:           wc.ID,
		IssuedAt:     time.Unix(*wc.IssuedAt, 0).UTC(),
		ExpiresAt:    time.Unix(*wc.ExpiresAt, 0).UTC(),
	}
	if wc.AuthTime != nil {
		c.AuthTime = time.Unix(*wc.AuthTime, 0).UTC()
	}
	return c, nil
}

// jwtKey is the jwt.Keyfunc of Parse: it returns the verification key named
// by the kid header, and nothing when the token's algorithm is not that
// key's.
func (m *Manager) jwtKey(t *jwt.Token) (any, error) {
	kid, ok := t.Header["kid"].(string)
	if !ok {
		return nil, errors.New("kid header missing or not a string")
	}
	k, ok := m.byID[kid]
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	// The key's own algorithm, never the one the token asks for: an
	// EdDSA key's public half is no HMAC secret.
	if t.Method != k.method {
		return nil, fmt.Errorf("signing method %v, want %s for kid %q", t.Header["alg"], k.alg, kid)
	}
	return k.verify, nil
}

// onlyExpired reports whether err, returned by jwt.Parser.ParseWithClaims,
// carries jwt.ErrTokenExpired and no other fault. The walk refuses any leaf
// it does not know, so a new kind of failure counts as invalid.
func onlyExpired(err error) bool {
	expired := false
	ok := true
	var walk func(error)
	walk = func(e error) {
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		default:
			switch e {
			case jwt.ErrTokenExpired:
				expired = true
			case jwt.ErrTokenInvalidClaims:
				// The wrapper the parser puts around claim failures.
			default:
				ok = false
			}
		}
	}
	walk(err)
	return expired && ok
}

// wireClaims is the JSON payload of a JWT. It implements jwt.Claims itself
// rather than embedding jwt.RegisteredClaims so that the encoding (field
// order, aud as a single string, integral times) depends on no package-level
// setting of the jwt module.
type wireClaims struct {
	Type         string `json:"typ"`
	Subject      string `json:"sub"`
	TokenVersion int64  `json:"tv"`
	SessionID    string `json:"sid"`
	ID           string `json:"jti"`
	IssuedAt     *int64 `json:"iat"`
	ExpiresAt    *int64 `json:"exp"`
	Issuer       string `json:"iss"`
	Audience     string `json:"aud"`
	AuthTime     *int64 `json:"auth_time,omitempty"`

	want string // the type Parse expects; not encoded
}

var _ jwt.ClaimsValidator = (*wireClaims)(nil)

// GetExpirationTime implements jwt.Claims.
func (c *wireClaims) GetExpirationTime() (*jwt.NumericDate, error) { return numericDate(c.ExpiresAt) }

// GetIssuedAt implements jwt.Claims.
func (c *wireClaims) GetIssuedAt() (*jwt.NumericDate, error) { return numericDate(c.IssuedAt) }

// GetNotBefore implements jwt.Claims; the tokens carry no nbf.
func (c *wireClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }

// GetIssuer implements jwt.Claims.
func (c *wireClaims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements jwt.Claims.
func (c *wireClaims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience implements jwt.Claims.
func (c *wireClaims) GetAudience() (jwt.ClaimStrings, error) {
	if c.Audience == "" {
		return nil, nil
	}
	return jwt.ClaimStrings{c.Audience}, nil
}

// Validate implements jwt.ClaimsValidator: the checks the jwt module does
// not make. The parser runs it only after the signature has been verified.
func (c *wireClaims) Validate() error {
	var errs []error
	if c.Type != c.want {
		errs = append(errs, fmt.Errorf("token type %q, want %q", c.Type, c.want))
	}
	if c.Subject == "" {
		errs = append(errs, errors.New("sub claim is empty"))
	}
	if c.ID == "" {
		errs = append(errs, errors.New("jti claim is empty"))
	}
	if c.SessionID == "" {
		errs = append(errs, errors.New("sid claim is empty"))
	}
	if c.IssuedAt == nil {
		errs = append(errs, errors.New("iat claim is missing"))
	}
	if c.IssuedAt != nil && c.ExpiresAt != nil && *c.ExpiresAt <= *c.IssuedAt {
		errs = append(errs, errors.New("exp claim is not after iat"))
	}
	if c.AuthTime != nil && c.IssuedAt != nil && *c.AuthTime > *c.IssuedAt {
		errs = append(errs, errors.New("auth_time claim is after iat"))
	}
	return errors.Join(errs...)
}

// numericDate converts a Unix time in seconds to a jwt.NumericDate.
func numericDate(sec *int64) (*jwt.NumericDate, error) {
	if sec == nil {
		return nil, nil
	}
	return &jwt.NumericDate{Time: time.Unix(*sec, 0)}, nil
}
