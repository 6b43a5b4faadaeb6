package authsys_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
)

// TestClockSkewBetweenInstances issues tokens on an instance whose clock
// runs ahead and presents them at once to another: within
// Config.ClockSkew (default 5 s) they are accepted, not refused as issued
// in the future; beyond it they are.
func TestClockSkewBetweenInstances(t *testing.T) {
	for _, tc := range []struct {
		ahead  time.Duration
		status int
	}{
		{3 * time.Second, http.StatusOK},
		{10 * time.Second, http.StatusUnauthorized},
	} {
		t.Run(tc.ahead.String(), func(t *testing.T) {
			behind := newEnv(t, func(c *authsys.Config) { c.Sessions.ClockSkew = 0 }) // the default
			ahead := newEnv(t, func(c *authsys.Config) {
				c.Users, c.Pending = behind.store, behind.store
				c.Sessions.ClockSkew = 0
			})
			ahead.clock.Advance(tc.ahead)
			ahead.signupVerified("skew@example.com", goodPassword)
			c := ahead.loggedIn("skew@example.com", goodPassword)
			other := behind.client()
			other.setCookie("access_token", c.accessCookie(), "/")
			expect(t, other.get("/me/"), tc.status, "")
		})
	}
}
