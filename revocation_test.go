package authsys_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
)

// TestLogoutEndsAccessTokens checks Config.CheckRevokedSessions: by
// default an access token dies with its session, at logout or when the
// session is revoked for a replayed refresh token, while the user's other
// sessions live on; with the check off it lives until it expires, as in
// SimpleJWT.
func TestLogoutEndsAccessTokens(t *testing.T) {
	t.Run("logout", func(t *testing.T) {
		e := newEnv(t)
		e.signupVerified("out@example.com", goodPassword)
		c := e.loggedIn("out@example.com", goodPassword)
		other := e.loggedIn("out@example.com", goodPassword)
		stolen := c.accessCookie()
		expect(t, c.post("/logout/", nil), http.StatusOK, "")
		thief := e.client()
		thief.setCookie("access_token", stolen, "/")
		expect(t, thief.do(http.MethodGet, "/api/private", nil), http.StatusUnauthorized, "invalid_token")
		expect(t, thief.get("/me/"), http.StatusUnauthorized, "invalid_token")
		expect(t, other.get("/me/"), http.StatusOK, "")
	})
	t.Run("refresh token replayed", func(t *testing.T) {
		e := newEnv(t)
		e.signupVerified("replay@example.com", goodPassword)
		c := e.loggedIn("replay@example.com", goodPassword)
		old := c.refreshCookie()
		expect(t, c.post("/refresh/", nil), http.StatusOK, "")
		e.clock.Advance(time.Minute) // past the grace
		thief := e.client()
		thief.setCookie("refresh_token", old, "/api/auth/refresh/")
		expect(t, thief.post("/refresh/", nil), http.StatusUnauthorized, "token_reused")
		// The victim's fresh access token belongs to the revoked session.
		expect(t, c.get("/me/"), http.StatusUnauthorized, "invalid_token")
	})
	t.Run("check off", func(t *testing.T) {
		e := newEnv(t, func(c *authsys.Config) { c.Sessions.StatelessAccessTokens = !false })
		e.signupVerified("lax@example.com", goodPassword)
		c := e.loggedIn("lax@example.com", goodPassword)
		stolen := c.accessCookie()
		expect(t, c.post("/logout/", nil), http.StatusOK, "")
		thief := e.client()
		thief.setCookie("access_token", stolen, "/")
		expect(t, thief.get("/me/"), http.StatusOK, "")
		e.clock.Advance(16 * time.Minute)
		expect(t, thief.get("/me/"), http.StatusUnauthorized, "token_expired")
	})
}
