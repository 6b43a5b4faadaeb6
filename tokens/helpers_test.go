package tokens_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys/tokens"
)

// t0 is the fake clock's starting time; its fractional second checks that
// times are truncated.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

// clock is a settable time source, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// secret returns a 32-byte secret filled with b.
func secret(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// key1 and key2 are two distinct test keys.
var (
	key1 = tokens.Key{ID: "k1", Secret: secret(1)}
	key2 = tokens.Key{ID: "k2", Secret: secret(2)}
)

// newManager returns a Manager over keys with the clock c and otherwise
// default options.
func newManager(t testing.TB, c *clock, keys ...tokens.Key) *tokens.Manager {
	t.Helper()
	return newManagerOpts(t, tokens.Options{Keys: keys, Now: c.Now})
}

func newManagerOpts(t testing.TB, o tokens.Options) *tokens.Manager {
	t.Helper()
	m, err := tokens.NewManager(o)
	if err != nil {
		t.Fatalf("NewManager: got error %v, want nil", err)
	}
	return m
}

// mustSign signs fresh claims of typ for user "u1" at token version 3 in
// session "s1".
func mustSign(t testing.TB, m *tokens.Manager, typ string) (string, tokens.Claims) {
	t.Helper()
	c := m.NewClaims(typ, "u1", 3, "s1")
	tok, err := m.Sign(c)
	if err != nil {
		t.Fatalf("Sign: got error %v, want nil", err)
	}
	return tok, c
}

var b64 = base64.RawURLEncoding

// rawToken assembles a compact JWS from a header, a payload and a signature
// function over the signing input (nil gives an empty signature).
func rawToken(t testing.TB, header, payload any, sign func(input string) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	var sig []byte
	if sign != nil {
		sig = sign(input)
	}
	return input + "." + b64.EncodeToString(sig)
}

// hmacWith returns a signature function computing HMAC with h and key.
func hmacWith(h func() hash.Hash, key []byte) func(string) []byte {
	return func(input string) []byte {
		mac := hmac.New(h, key)
		mac.Write([]byte(input))
		return mac.Sum(nil)
	}
}

// hs256 signs with HMAC-SHA256 under key.
func hs256(key []byte) func(string) []byte { return hmacWith(sha256.New, key) }

// validHeader returns the header Sign writes for kid.
func validHeader(kid string) map[string]any {
	return map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}
}

// validPayload returns the payload of an access token issued at iat with the
// default TTL, issuer and audience.
func validPayload(iat time.Time) map[string]any {
	return map[string]any{
		"typ": tokens.TypeAccess,
		"sub": "u1",
		"tv":  3,
		"sid": "s1",
		"jti": "j1",
		"iat": iat.Unix(),
		"exp": iat.Add(tokens.DefaultAccessTTL).Unix(),
		"iss": tokens.DefaultIssuer,
		"aud": tokens.DefaultAudience,
	}
}

// decodeSegment decodes the i-th JSON segment of a compact JWS into a map.
func decodeSegment(t testing.TB, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	raw, err := b64.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("decoding segment %d: %v", i, err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("unmarshal segment %d: %v", i, err)
	}
	return m
}

// replaceSegment returns tok with its i-th segment replaced by the base64url
// JSON encoding of v.
func replaceSegment(t testing.TB, tok string, i int, v any) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	parts[i] = b64.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// wantKind checks that err is exactly the sentinel want (nil, ErrInvalid or
// ErrExpired) and not the other one.
func wantKind(t testing.TB, err, want error) {
	t.Helper()
	switch want {
	case nil:
		if err != nil {
			t.Errorf("got error %v, want nil", err)
		}
	case tokens.ErrInvalid:
		if !errors.Is(err, tokens.ErrInvalid) || errors.Is(err, tokens.ErrExpired) {
			t.Errorf("got error %v, want ErrInvalid", err)
		}
	case tokens.ErrExpired:
		if !errors.Is(err, tokens.ErrExpired) || errors.Is(err, tokens.ErrInvalid) {
			t.Errorf("got error %v, want ErrExpired", err)
		}
	default:
		t.Fatalf("wantKind: unexpected sentinel %v", want)
	}
}
