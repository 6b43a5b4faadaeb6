package authsys_test

import (
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authsys-go/authsys"
)

// TestRefreshGraceDuringRollingKeyRotation refreshes one refresh token at
// once on two instances that sign with different keys, as during a rolling
// rotation (each verifies the other's key). Within the grace both must
// issue the same successor (same jti), never two children of one token:
// the successor's ID is recorded with the first rotation, not derived from
// the instance's signing key.
func TestRefreshGraceDuringRollingKeyRotation(t *testing.T) {
	key2 := []byte("the second signing key, 32 bytes or more")
	a := newEnv(t, func(c *authsys.Config) {
		c.Keys.Verification = []authsys.Key{{ID: "k2", Secret: key2}}
	})
	b := newEnv(t, func(c *authsys.Config) {
		c.Users, c.Pending, c.Now = a.store, a.store, a.clock.Now
		c.Keys.Signing.Secret, c.Keys.Signing.ID = key2, "k2"
		c.Keys.Verification = []authsys.Key{{ID: "k1", Secret: testKey}}
	})
	a.signupVerified("roll@example.com", goodPassword)
	login := a.loggedIn("roll@example.com", goodPassword)
	parent := login.refreshCookie()

	jtiAfterRefresh := func(e *env) (jti, kid string) {
		t.Helper()
		c := e.client()
		c.setCookie("refresh_token", parent, "/api/auth/refresh/")
		r := c.post("/refresh/", nil)
		expect(t, r, http.StatusOK, "")
		var successor string
		for _, ck := range r.Cookies() {
			if ck.Name == "refresh_token" {
				successor = ck.Value
			}
		}
		tok, _, err := jwt.NewParser().ParseUnverified(successor, jwt.MapClaims{})
		if err != nil {
			t.Fatal(err)
		}
		jti, _ = tok.Claims.(jwt.MapClaims)["jti"].(string)
		kid, _ = tok.Header["kid"].(string)
		return jti, kid
	}
	jtiA, kidA := jtiAfterRefresh(a)
	jtiB, kidB := jtiAfterRefresh(b)
	if kidA != "k1" || kidB != "k2" {
		t.Fatalf("got kids %q and %q, want k1 and k2", kidA, kidB)
	}
	if jtiA == "" || jtiA != jtiB {
		t.Errorf("the two instances issued successors %q and %q, want one and the same", jtiA, jtiB)
	}
}
