package authsys_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authsys-go/authsys"
)

// TestJWKSEdDSA signs with EdDSA, then checks a login's access cookie the
// way another service would: with the public key GET /jwks.json serves and
// golang-jwt, without the signing key. The library's own middleware accepts
// the same cookie.
func TestJWKSEdDSA(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) { c.Keys.Signing.Algorithm = "EdDSA" })
	e.signupVerified("ed@example.com", goodPassword)
	c := e.loggedIn("ed@example.com", goodPassword)
	expect(t, c.do(http.MethodGet, "/api/private", nil), http.StatusOK, "")

	r := c.get("/jwks.json")
	expect(t, r, http.StatusOK, "")
	keys, _ := r.json(t)["keys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("got keys %v, want one", r.json(t)["keys"])
	}
	k := keys[0].(map[string]any)
	if k["kid"] != "k1" || k["alg"] != "EdDSA" || k["kty"] != "OKP" || k["crv"] != "Ed25519" {
		t.Errorf("got JWK %v, want kid k1, EdDSA, OKP, Ed25519", k)
	}
	x, err := base64.RawURLEncoding.DecodeString(k["x"].(string))
	if err != nil || len(x) != ed25519.PublicKeySize {
		t.Fatalf("got x %v, want an Ed25519 public key", k["x"])
	}
	tok, err := jwt.Parse(c.accessCookie(), func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] != k["kid"] {
			t.Errorf("got kid %v, want %v", tok.Header["kid"], k["kid"])
		}
		return ed25519.PublicKey(x), nil
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithTimeFunc(e.clock.Now),
		jwt.WithIssuer("authsys"), jwt.WithAudience("authsys"))
	if err != nil || !tok.Valid {
		t.Fatalf("verifying the access cookie with the published key: %v", err)
	}

	// The public key cannot sign: an HS256 token keyed with it is refused.
	claims, _ := tok.Claims.(jwt.MapClaims)
	forged := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	forged.Header["kid"] = "k1"
	s, err := forged.SignedString(x)
	if err != nil {
		t.Fatal(err)
	}
	hc := e.client()
	expect(t, hc.do(http.MethodGet, "/api/private", nil, "Cookie", "access_token="+s), http.StatusUnauthorized, "invalid_token")
}

// TestJWKSHS256 serves an empty key set: HMAC keys are secret.
func TestJWKSHS256(t *testing.T) {
	e := newEnv(t)
	r := e.client().get("/jwks.json")
	expect(t, r, http.StatusOK, "")
	if keys, ok := r.json(t)["keys"].([]any); !ok || len(keys) != 0 {
		t.Errorf("got %s, want {\"keys\": []}", r.body)
	}
}
