package tokens_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authsys-go/authsys/tokens"
)

var edKey = tokens.Key{ID: "ed1", Secret: secret(7), Algorithm: tokens.EdDSA}

// TestEdDSA signs with an EdDSA key and checks the token with the public key
// of JWKS alone, through golang-jwt directly, as another service would.
func TestEdDSA(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, edKey)
	tok, want := mustSign(t, m, tokens.TypeAccess)
	if h := decodeSegment(t, tok, 0); h["alg"] != "EdDSA" || h["kid"] != "ed1" {
		t.Errorf("header: got %v, want alg EdDSA and kid ed1", h)
	}
	got, err := m.Parse(tok, tokens.TypeAccess)
	if err != nil || got != want {
		t.Fatalf("Parse: got %+v, %v; want %+v", got, err, want)
	}

	set := m.JWKS()
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc.Keys) != 1 {
		t.Fatalf("JWKS: got %s, want one key", raw)
	}
	k := doc.Keys[0]
	if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["kid"] != "ed1" || k["alg"] != "EdDSA" || k["use"] != "sig" {
		t.Errorf("JWK: got %v", k)
	}
	x, err := base64.RawURLEncoding.DecodeString(k["x"])
	if err != nil || len(x) != ed25519.PublicKeySize {
		t.Fatalf("JWK x: got %q (%v), want %d bytes of base64url", k["x"], err, ed25519.PublicKeySize)
	}
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return ed25519.PublicKey(x), nil },
		jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithTimeFunc(c.Now))
	if err != nil || !parsed.Valid {
		t.Fatalf("verifying with the published public key: %v", err)
	}
	if sub, _ := parsed.Claims.GetSubject(); sub != "u1" {
		t.Errorf("sub: got %q, want u1", sub)
	}

	// HS256 keys are secret: never published.
	if got := newManager(t, c, key1).JWKS(); len(got.Keys) != 0 {
		t.Errorf("JWKS of an HS256 manager: got %+v, want no keys", got)
	}
	if got := newManager(t, c, edKey, key1).JWKS(); len(got.Keys) != 1 {
		t.Errorf("JWKS of EdDSA + HS256 keys: got %+v, want the EdDSA key only", got)
	}
}

// TestEdDSAKeyIsPinned refuses tokens whose algorithm is not their key's:
// an HS256 token under an EdDSA kid (signed with the public key as the HMAC
// secret, the classic confusion attack, or with the key's secret itself)
// and an EdDSA token under an HS256 kid.
func TestEdDSAKeyIsPinned(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, edKey, key1)
	x, _ := base64.RawURLEncoding.DecodeString(m.JWKS().Keys[0].X)
	payload := validPayload(t0)
	for name, tok := range map[string]string{
		"HS256 with the public key":                      rawToken(t, validHeader("ed1"), payload, hs256(x)),
		"HS256 with the secret":                          rawToken(t, validHeader("ed1"), payload, hs256(edKey.Secret)),
		"EdDSA under an HS256 kid":                       edSigned(t, "k1", payload),
		"EdDSA with a foreign key":                       edSigned(t, "ed1", payload),
		"none":                                           rawToken(t, map[string]any{"alg": "none", "typ": "JWT", "kid": "ed1"}, payload, nil),
		"EdDSA with an empty sig":                        rawToken(t, map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": "ed1"}, payload, nil),
		"HS256 kid, HMAC under the k1 key but alg EdDSA": rawToken(t, map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": "k1"}, payload, hs256(key1.Secret)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := m.Parse(tok, tokens.TypeAccess)
			wantKind(t, err, tokens.ErrInvalid)
		})
	}
	// The control: the same payload signed properly under each key parses.
	if _, err := m.Parse(rawToken(t, validHeader("k1"), payload, hs256(key1.Secret)), tokens.TypeAccess); err != nil {
		t.Errorf("a valid HS256 token: %v", err)
	}
}

// edSigned signs payload with a fresh Ed25519 key unknown to any Manager.
func edSigned(t *testing.T, kid string, payload map[string]any) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return rawToken(t, map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": kid}, payload, func(input string) []byte {
		return ed25519.Sign(priv, []byte(input))
	})
}

// TestRotationToEdDSA moves from an HS256 key to an EdDSA key without
// logging anyone out: during the rotation both verify, each with its own
// algorithm.
func TestRotationToEdDSA(t *testing.T) {
	c := newClock(t0)
	before := newManager(t, c, key1)
	during := newManager(t, c, edKey, key1)
	oldTok, _ := mustSign(t, before, tokens.TypeRefresh)
	newTok, _ := mustSign(t, during, tokens.TypeRefresh)
	if _, err := during.Parse(oldTok, tokens.TypeRefresh); err != nil {
		t.Errorf("an HS256 token during the rotation: %v", err)
	}
	if _, err := during.Parse(newTok, tokens.TypeRefresh); err != nil {
		t.Errorf("an EdDSA token during the rotation: %v", err)
	}
	if _, err := before.Parse(newTok, tokens.TypeRefresh); err == nil {
		t.Error("an EdDSA token before the rotation: got nil error, want ErrInvalid")
	}
}

func TestUnknownAlgorithm(t *testing.T) {
	for _, alg := range []string{"RS256", "none", "hs256", "ES256"} {
		_, err := tokens.NewManager(tokens.Options{Keys: []tokens.Key{{ID: "k", Secret: secret(1), Algorithm: alg}}})
		if err == nil {
			t.Errorf("algorithm %q: got nil error, want one", alg)
		}
	}
}
