package authsys_test

import (
	"net/http"
	"testing"
)

// TestLifecycle walks the whole account lifecycle as a browser would.
func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("alice@example.com", goodPassword)
	c := e.loggedIn("Alice@Example.com", goodPassword)

	r := c.get("/me/")
	expect(t, r, http.StatusOK, "")
	if got := r.json(t)["user"].(map[string]any)["email"]; got != "alice@example.com" {
		t.Fatalf("got email %v, want alice@example.com", got)
	}
	if r := c.do(http.MethodGet, "/api/private", nil); r.StatusCode != http.StatusOK || string(r.body) != "alice@example.com" {
		t.Fatalf("protected route: got %d %s", r.StatusCode, r.body)
	}

	old := c.accessCookie()
	expect(t, c.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "a new long passphrase"}), http.StatusOK, "")
	stale := e.client()
	stale.setCookie("access_token", old, "/")
	expect(t, stale.get("/me/"), http.StatusUnauthorized, "invalid_token")
	expect(t, c.get("/me/"), http.StatusOK, "")

	refresh := c.refreshCookie()
	expect(t, c.post("/logout/", nil), http.StatusOK, "")
	if c.accessCookie() != "" {
		t.Fatal("logout left the access cookie")
	}
	replay := e.client()
	replay.setCookie("refresh_token", refresh, "/api/auth/")
	expect(t, replay.post("/refresh/", nil), http.StatusUnauthorized, "invalid_token")
}
